/**
 * Issue #22 §7: Tessera as a user installs it. `npm pack` of this checkout, installed offline into
 * a scratch project: the scoped name resolves from CommonJS, the declarations and native sources
 * ship, the `tessera` binary runs from node_modules/.bin, and README's library example compiles
 * against the installed types and pulls and pushes against the installed `tessera ps`.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PsProcess, spawnPs } from '../../src/local/ps-process';
import { installPacked, ScratchInstall } from '../helpers/scratch-install';

const ROOT = path.resolve(__dirname, '..', '..', '..');

function run(cwd: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { cwd }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('npm pack, installed into a scratch project (issue #22 §7)', function () {
  this.timeout(300_000);
  let tmp: string;
  let inst: ScratchInstall;
  let ps: PsProcess | undefined;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-pack-'));
    inst = await installPacked(ROOT, tmp);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  afterEach(async () => {
    await ps?.stop();
    ps = undefined;
  });

  it('is @tessera-ps/tessera, with declarations, native sources and a Node 22/24 engines range', () => {
    expect(inst.name).to.equal('@tessera-ps/tessera');
    for (const f of ['dist/src/index.d.ts', 'dist/src/model/models.d.ts', 'native/tessera_blas.c', 'scripts/build-native.sh']) {
      expect(fs.existsSync(path.join(inst.pkgDir, f)), f).to.equal(true);
    }
    const { engines } = JSON.parse(fs.readFileSync(path.join(inst.pkgDir, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(engines.node).to.match(/\^22\./).and.match(/\^24\./);
  });

  it('require()s both entry points from CommonJS', async () => {
    const r = await run(inst.dir, ['-e', `const t = require('${inst.name}'); const m = require('${inst.name}/model');
      console.log(typeof t.PsClient, typeof t.idsFrom, m.MODEL_KINDS.includes('deepfm'))`]);
    expect(r.stderr).to.equal('');
    expect(r.stdout.trim()).to.equal('function function true');
  });

  it('runs the tessera binary from node_modules/.bin under its own name', async () => {
    const r = await run(inst.dir, [path.join(inst.dir, 'node_modules', '.bin', 'tessera'), '--version']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.contain(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });

  it("compiles README's library example against the installed types and pulls and pushes against the installed tessera ps", async () => {
    fs.copyFileSync(path.join(ROOT, 'examples', 'library', 'pull-push.ts'), path.join(inst.dir, 'pull-push.ts'));
    fs.writeFileSync(path.join(inst.dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, skipLibCheck: true,
        typeRoots: [path.join(ROOT, 'node_modules', '@types')], types: ['node'], outDir: 'out',
      },
      files: ['pull-push.ts'],
    }));
    const tsc = await run(inst.dir, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
    expect(tsc.stdout + tsc.stderr, 'tsc output').to.equal('');
    ps = await spawnPs({ bin: path.join(inst.pkgDir, 'bin', 'tessera.js') });
    const r = await run(inst.dir, [path.join('out', 'pull-push.js'), ps.addr]);
    expect(r.stderr).to.equal('');
    const { before, after } = JSON.parse(r.stdout) as { before: number[]; after: number[] };
    for (let d = 0; d < 4; d++) expect(after[4 + d]).to.be.closeTo(before[4 + d] - 0.05, 1e-6); // id 7: one push, SGD lr 0.5
  });
});
