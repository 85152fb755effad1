/**
 * `tessera demo` (what `npm start` runs until the local cluster lands): starts two PS
 * processes, shards a table across them, and fits every touched row to a known target vector
 * by pulling rows and pushing gradients, printing the loss as it falls.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { textOut } from './output';
import { helpText, intOption, OptionSpec, noPositional, parseArgs } from '../runtime/args';
import { createLogger } from '../common/logger';
import { planShardMap } from '../sharding/shard-map';
import { PsClient } from '../client/ps-client';
import { spawnPs, PsProcess } from '../local/ps-process';

const SPEC: Record<string, OptionSpec> = {
  ps: { type: 'string', describe: 'number of PS processes', default: '2' },
  steps: { type: 'string', describe: 'pull/push rounds', default: '200' },
  batch: { type: 'string', describe: 'ids per round', default: '8192' },
  dim: { type: 'string', describe: 'embedding dim', default: '16' },
  json: { type: 'boolean', describe: 'print a JSON summary as the last line' },
};

export const DEMO_HELP = helpText('tessera demo [--ps N] [--steps S] [--batch B] [--dim D] [--json]',
  'Starts N PS processes, creates an Adagrad table sharded across them, and drives pulls and\n'
  + 'pushes that fit each row to a target vector. Logs go to a run directory it prints.', SPEC);

/** The target a row should learn: a fixed function of its id. */
function target(id: number, d: number): number {
  return Math.sin(id * 0.37 + d);
}

/** Zipf-like ids: a few hot ids and a long tail, from a seeded generator. */
function batchIds(step: number, n: number, vocab: number): Uint32Array {
  const ids = new Uint32Array(2 * n);
  let s = (step * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    ids[2 * i] = Math.floor(vocab ** (s / 2 ** 32)) - 1; // log-uniform ≈ Zipf(1)
  }
  return ids;
}

export async function runDemo(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  noPositional(args);
  const numPs = intOption(args, 'ps', 1);
  const steps = intOption(args, 'steps', 1);
  const batch = intOption(args, 'batch', 1);
  const dim = intOption(args, 'dim', 1);
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-demo-'));
  const logger = createLogger({ base: { role: 'demo' }, destination: path.join(runDir, 'demo.log') });
  process.stderr.write(`tessera demo: starting ${numPs} PS processes; logs in ${runDir}\n`);
  const ps: PsProcess[] = await Promise.all(
    Array.from({ length: numPs }, (_, i) => spawnPs({ args: ['--id', `ps-${i}`], logFile: path.join(runDir, `ps-${i}.log`) })));
  const map = planShardMap(ps.map((p, i) => ({ id: i, addr: p.addr })));
  const client = new PsClient({ shardMap: map, logger, maxInflightPushes: 2 });
  try {
    await client.waitReady();
    await client.admin.installShardMap();
    await client.admin.createTable({ name: 'demo', kind: 'embedding', dim, optimizer: { kind: 'adagrad', lr: 0.3 },
      initializer: { kind: 'uniform', scale: 0.05 } });
    const started = performance.now();
    let loss = 0;
    for (let step = 0; step < steps; step++) {
      const ids = batchIds(step, batch, 100_000);
      const rows = await client.data.pull('demo', ids, dim);
      const grads = new Float32Array(rows.length);
      loss = 0;
      for (let i = 0; i < batch; i++) {
        for (let d = 0; d < dim; d++) {
          const diff = rows[i * dim + d] - target(ids[2 * i], d);
          loss += diff * diff;
          grads[i * dim + d] = 2 * diff; // per-row squared error: each row fits its own target
        }
      }
      loss /= batch * dim;
      await client.data.push('demo', ids, grads);
      if (step % 20 === 0 || step === steps - 1) textOut(args.options.json === true).write(`step ${step}  loss ${loss.toFixed(5)}\n`);
    }
    await client.data.flush();
    const seconds = (performance.now() - started) / 1000;
    const stats = await client.admin.stats();
    const rows = stats.map((s) => s.tables.find((t) => t.name === 'demo')?.rows ?? 0);
    textOut(args.options.json === true).write(`rows per PS: ${rows.join(', ')}; ${((steps * batch * 2) / seconds / 1e6).toFixed(2)} M rows/s pulled+pushed\n`);
    if (args.options.json) {
      process.stdout.write(`${JSON.stringify({ steps, final_loss: loss, rows_per_ps: rows, seconds, run_dir: runDir })}\n`);
    }
    return 0;
  } finally {
    client.close();
    await Promise.all(ps.map((p) => p.stop()));
  }
}
