import { expect } from 'chai';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** bin/tessera.js, from dist/test/unit/gen/. It loads dist/, which tsc has just built. */
const BIN = resolve(__dirname, '..', '..', '..', '..', 'bin', 'tessera.js');

function tessera(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
}

function lastLine(text: string): string {
  const all = text.trimEnd().split('\n');
  return all[all.length - 1];
}

describe('tessera gen (the real binary)', function () {
  this.timeout(60_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-gen-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes rows and prints a summary plus a JSON last line', () => {
    const out = join(dir, 'train.tsv');
    const res = tessera(['gen', '--rows', '2000', '--out', out, '--json']);
    expect(res.status, res.stderr).to.equal(0);
    // With --json stdout holds only the JSON; the summary moves to stderr (issue 22).
    expect(res.stderr).to.match(/oracle AUC 0\.\d{4}/);
    const j = JSON.parse(res.stdout);
    expect(j).to.include({ rows: 2000, out });
    expect(j.oracle_auc).to.be.within(0.65, 0.95);
    expect(j.oracle_logloss).to.be.within(0.2, 0.7);
    expect(j).to.not.have.property('eval_out');
    const labels = readFileSync(out, 'latin1').trimEnd().split('\n').map((l) => l.split('\t')[0]);
    expect(labels).to.have.length(2000);
    expect(labels.filter((l) => l === '1').length).to.equal(j.positives);
  });

  it('writes an eval split with --eval-rows/--eval-out', () => {
    const evalOut = join(dir, 'eval.tsv');
    const res = tessera(['gen', '--rows', '500', '--out', join(dir, 't.tsv'), '--eval-rows', '300', '--eval-out', evalOut, '--seed', '4', '--json']);
    expect(res.status, res.stderr).to.equal(0);
    const j = JSON.parse(lastLine(res.stdout));
    expect(j).to.include({ eval_out: evalOut, eval_rows: 300, seed: 4 });
    expect(readFileSync(evalOut, 'latin1').trimEnd().split('\n')).to.have.length(300);
  });

  it('streams to stdout with --out -, reporting on stderr', () => {
    const res = tessera(['gen', '--rows', '50', '--out', '-', '--vocab', '2^40', '--json']);
    expect(res.status, res.stderr).to.equal(0);
    const rows = res.stdout.trimEnd().split('\n');
    expect(rows).to.have.length(50);
    for (const r of rows) expect(r.split('\t')).to.have.length(40);
    expect(JSON.parse(lastLine(res.stderr))).to.include({ rows: 50, out: '-' });
  });

  it('names the bad option and exits 2', () => {
    for (const [args, name] of [
      [['--vocab', '2^41'], '--vocab'],
      [['--rows', '-5'], '--rows'],
      [['--zipf', 'x'], '--zipf'],
      [['--ctr', '1.5'], '--ctr'],
      [['--eval-rows', '10'], '--eval-rows'],
      [['--bogus'], '--bogus'],
    ] as [string[], string][]) {
      const res = tessera(['gen', ...args, '--out', join(dir, 'never.tsv')]);
      expect(res.status, args.join(' ')).to.equal(2);
      expect(res.stderr).to.include(name).and.include('TESSERA_ERR_CONFIG');
    }
  });

  it('is listed by `tessera --help` and has its own --help', () => {
    expect(tessera(['--help']).stdout).to.match(/gen\s+write synthetic Criteo-format rows/);
    const help = tessera(['gen', '--help']);
    expect(help.status).to.equal(0);
    expect(help.stdout).to.include('--eval-out').and.include('--vocab');
  });
});
