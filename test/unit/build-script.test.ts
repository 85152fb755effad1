/**
 * Issue 22 §3: `npm start` twice at once must not break. The build compiles into a fresh
 * directory and swaps it in, and skips the compile when nothing changed, so a second build
 * leaves the files a running `tessera` loads where they are (it was `rm -rf dist` first).
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');

describe('npm run build (issue 22)', function () {
  this.timeout(60_000);

  it('a build with nothing changed keeps dist/ as it is (same files, same inodes)', function () {
    const stamp = path.join(ROOT, 'dist', '.built');
    // Only meaningful on a tree built by scripts/build.sh with no edits since.
    const changed = spawnSync('find', ['src', 'test', 'bench', 'tsconfig.json', 'package.json', '-newer', stamp, '-print', '-quit'], { cwd: ROOT, encoding: 'utf8' });
    if (!fs.existsSync(stamp) || changed.stdout.trim() !== '') this.skip();
    const main = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
    const before = fs.statSync(main).ino;
    const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'build.sh')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(fs.statSync(main).ino).to.equal(before);
  });
});
