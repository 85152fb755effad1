/**
 * Issue 22 §2, output that scripts can trust: with --json (or `-o json`) stdout holds only the
 * JSON, results go to stdout and the rest to stderr, and a reader that stops early (`| head`)
 * ends nothing with an EPIPE stack.
 */
import { expect } from 'chai';
import { spawn } from 'child_process';
import * as path from 'path';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { runTessera } from '../helpers/tessera';
import { ROOT } from '../helpers/cluster';

const FORMAT1 = path.join(ROOT, 'test', 'fixtures', 'checkpoint-format1');

/** Runs tessera with its stdout closed before it writes: the reader went away (`| head -0`). */
function withClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [TESSERA_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.destroy();
    let stderr = '';
    p.stderr.on('data', (c) => { stderr += c; });
    p.once('exit', (code) => resolve({ code, stderr }));
  });
}

describe('issue 22 §2: output that scripts can trust (the tessera binary)', function () {
  this.timeout(60_000);

  it('checkpoint ls --json and -o json: stdout parses as one JSON document; the table is on stderr', async () => {
    for (const flags of [['--json'], ['-o', 'json'], ['--output=json']]) {
      const r = await runTessera(['checkpoint', 'ls', FORMAT1, ...flags]);
      expect(r.code, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout).checkpoints[0].id, flags.join(' ')).to.equal('ckpt-00000001-20260101T000000Z');
      expect(r.stderr).to.match(/^id\s+step/);
    }
    const bad = await runTessera(['checkpoint', 'ls', FORMAT1, '-o', 'yaml']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('-o must be json or text, got "yaml"');
  });

  it('a closed stdout (| head) is quiet: exit 0, no EPIPE', async () => {
    for (const args of [['checkpoint', 'ls', FORMAT1], ['checkpoint', 'inspect', FORMAT1], ['--help']]) {
      const r = await withClosedStdout(args);
      expect(r.stderr, args.join(' ')).to.not.contain('EPIPE');
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
    }
  });

  it('plan prints its result on stdout, and with --json only the JSON there', async () => {
    const text = await runTessera(['plan', '--rows', '1000000', '--dim', '16']);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.match(/^table: 1000000 rows/).and.not.include('{');
    const json = await runTessera(['plan', '--rows', '1000000', '--dim', '16', '--json']);
    expect(JSON.parse(json.stdout)).to.include({ rows: 1000000, dim: 16 });
    expect(json.stderr).to.match(/^table: 1000000 rows/);
  });
});
