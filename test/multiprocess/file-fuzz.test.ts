/**
 * Issue #16, section 5: a bounded, fixed-seed run of the file fuzzer (bench/fuzz/fuzz-files.ts,
 * the same code as `npm run fuzz`): hostile Criteo, Avazu and `tessera gen` TSV files (plain and
 * gzip: truncated, corrupted, junk, a 10 MB line) through the data readers and the feature
 * transform, and hostile YAML/JSON job specs through the spec loader, in a watched child
 * process. Each case must parse or be refused with the one line `tessera` prints: no stack, no
 * multi-line or unbounded message, no NaN feature, no hang, no crash. Before this issue the same
 * run found an alias bomb printing a ReferenceError stack and spec errors quoting 10 MB values.
 * Then the same refusals through the real binary: one error line on stderr, exit 2.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { runFileFuzz } from '../../bench/fuzz/fuzz-files';
import { runTessera } from '../helpers/tessera';

describe('fuzzing the data readers and the spec loader (issue #16)', function () {
  this.timeout(120_000);

  it('300 fixed-seed file cases: each parses or is refused in one clear line; no stack, hang or crash', async () => {
    const r = await runFileFuzz({ seed: 16, cases: 300, hangMs: 5_000 }) as Record<string, any>;
    const why = JSON.stringify(r.examples);
    expect(r.cases).to.equal(300);
    for (const k of ['stacks', 'long_lines', 'non_finite', 'hangs', 'crashes']) expect(r[k], `${k}: ${why}`).to.equal(0);
    // The run exercised what it claims to: every kind, both outcomes.
    expect(Object.keys(r.by_kind).sort()).to.deep.equal(['avazu', 'criteo', 'gen-tsv', 'spec']);
    for (const [kind, outcomes] of Object.entries(r.by_kind as Record<string, Record<string, number>>)) {
      expect(outcomes.parsed, `${kind} parsed`).to.be.greaterThan(5);
      expect(outcomes.refused, `${kind} refused`).to.be.greaterThan(5);
    }
    expect(r.rss_after_mb).to.be.a('number');
  });

  it('the real binary refuses a truncated gzip file and an alias-bomb spec with one line (exit 2)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-file-fuzz-'));
    try {
      const bomb = path.join(dir, 'bomb.yaml');
      fs.writeFileSync(bomb, ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghij'.split('').map((c, i) => `${c}: &${c} [${`*${String.fromCharCode(97 + i)}, `.repeat(4).slice(0, -2)}]`)].join('\n'));
      const data = path.join(dir, 'train.txt.gz');
      const gz = gzipSync(Buffer.from(`1${'\t1'.repeat(13)}${'\tab'.repeat(26)}\n`.repeat(200)));
      fs.writeFileSync(data, gz.subarray(0, gz.length >> 1));
      const cases: [string[], RegExp][] = [
        [['train', '--job', bomb], /bomb\.yaml: invalid YAML: Excessive alias count .* \[TESSERA_ERR_CONFIG\]$/],
        [['train', '--data', data, '--epochs', '1'], /train\.txt\.gz: corrupt gzip data \(unexpected end of file\)/],
      ];
      for (const [args, re] of cases) {
        // wasm: no GPU probe warnings; train's own progress lines come before the error.
        const run = await runTessera(args, { env: { TESSERA_TF_BACKEND: 'wasm' } });
        expect(run.code, run.stderr).to.equal(2);
        const lines = run.stderr.trim().split('\n');
        expect(lines.filter((l) => /TESSERA_ERR_|Error|^\s+at /.test(l)), run.stderr).to.have.length(1);
        expect(lines[lines.length - 1]).to.match(re);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
