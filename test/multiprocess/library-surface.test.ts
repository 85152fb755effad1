/**
 * Issue #13: the package's public surface. The examples in examples/library/ are compiled by tsc
 * against the published types (package.json `exports`, resolved as `@tessera-ps/tessera`
 * and `@tessera-ps/tessera/model`) and run: a pull and a push through a real `tessera ps` process.
 * Issue #22 §6: README.md's library snippet is that pull-push example, character for character,
 * and the README stays under 10 KB.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PsProcess, spawnPs } from '../../src/local/ps-process';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const OUT = path.join(ROOT, 'dist', 'examples', 'library');

function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The code of a source file: everything after its leading TSDoc block. */
function codeOf(file: string): string {
  const text = fs.readFileSync(file, 'utf8');
  return text.slice(text.indexOf('*/\n') + 3);
}

/** The fenced `ts` block under the README heading `heading`. */
function readmeBlock(heading: string): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`## ${heading}\n`);
  expect(at, `README heading "${heading}"`).to.be.greaterThan(-1);
  const open = readme.indexOf('```ts\n', at) + '```ts\n'.length;
  return readme.slice(open, readme.indexOf('```\n', open));
}

describe('README.md (issue #22 §6)', () => {
  it('shows examples/library/pull-push.ts as its library snippet, character for character', () => {
    expect(readmeBlock('Use it as a library')).to.equal(codeOf(path.join(ROOT, 'examples', 'library', 'pull-push.ts')));
  });

  it('stays under 10 KB', () => {
    expect(fs.statSync(path.join(ROOT, 'README.md')).size).to.be.below(10 * 1024);
  });
});

describe('the tessera package as a library (issue #13)', function () {
  this.timeout(120_000);
  let ps: PsProcess | undefined;
  afterEach(async () => {
    await ps?.stop();
    ps = undefined;
  });

  before(async () => {
    const tsc = await run([require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'examples', 'library', 'tsconfig.json')]);
    expect(tsc.stdout + tsc.stderr, 'tsc output').to.equal('');
    expect(tsc.code).to.equal(0);
  });

  it('pulls and pushes through `@tessera-ps/tessera` against a real tessera ps process', async () => {
    ps = await spawnPs();
    const r = await run([path.join(OUT, 'pull-push.js'), ps.addr]);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    const { before, after } = JSON.parse(r.stdout) as { before: number[]; after: number[] };
    expect(before).to.have.length(12);
    expect(before.slice(8)).to.deep.equal(before.slice(0, 4)); // id 42 twice: the same row
    expect(new Set(before).size).to.be.greaterThan(1);          // initialised, not zeros
    // SGD lr 0.5: id 42 was pushed twice (0.1 + 0.1, summed), id 7 once.
    for (let d = 0; d < 4; d++) {
      expect(after[d]).to.be.closeTo(before[d] - 0.1, 1e-6);
      expect(after[4 + d]).to.be.closeTo(before[4 + d] - 0.05, 1e-6);
      expect(after[8 + d]).to.equal(after[d]);
    }
  });

  it('builds a model through `@tessera-ps/tessera/model`', async () => {
    const r = await run([path.join(OUT, 'model.js'), 'lr']);
    expect(r.code, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { kinds: string[]; kind: string; denseSize: number };
    expect(out.kinds).to.include.members(['lr', 'fm', 'deepfm', 'widedeep', 'dcn']);
    expect(out.kind).to.equal('lr');
    expect(out.denseSize).to.be.greaterThan(0);
  });
});
