/**
 * bench:checkpoint — checkpoint write MB/s, restore rows/s and the cut time of real `tessera ps`
 * processes, beside sequential disk write MB/s (write + fsync of a file of the same size) on the
 * same filesystem, measured in the same run.
 *
 *   npm run bench:checkpoint -- [--json] [--rows N] [--dir DIR]
 *
 * Setup: 2 PS processes, one embedding table of N rows (default 10M), dim 16, Adagrad, filled
 * through PsClient (a pull creates each row; one push per row makes the state non-trivial).
 * Then: a full checkpoint (Snapshot RPC round trip = the cut; until the manifest = the write),
 * a restore onto 2 fresh PS, and onto 1 fresh PS. The last stdout line with --json is
 * `{"bench":"checkpoint","write_mb_per_s","disk_mb_per_s","restore_rows_per_s","pause_ms",...}`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { silentLogger } from '../src/common/logger';
import { newCheckpointId } from '../src/checkpoint/checkpoint-id';
import { takeCheckpoint } from '../src/client/take-checkpoint';
import { PsProcess, spawnPs } from '../src/local/ps-process';
import { planShardMap } from '../src/sharding/shard-map';
import { PsClient } from '../src/client/ps-client';
import { restoreFromCheckpoint } from '../src/client/restore-checkpoint';

const DIM = 16;
const BATCH = 65_536;
const TABLE = { name: 'emb', kind: 'embedding' as const, dim: DIM, optimizer: { kind: 'adagrad' as const, lr: 0.05 } };

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function cluster(n: number): Promise<{ ps: PsProcess[]; client: PsClient }> {
  const ps = await Promise.all(Array.from({ length: n }, (_, i) => spawnPs({ args: ['--id', `ps-${i}`, '--log-level', 'warn'] })));
  const client = new PsClient({ shardMap: planShardMap(ps.map((p, id) => ({ id, addr: p.addr }))), logger: silentLogger(), maxInflightPushes: 4, callTimeoutMs: 120_000 });
  await client.admin.installShardMap();
  await client.admin.createTable(TABLE);
  return { ps, client };
}

async function stop(c: { ps: PsProcess[]; client: PsClient }): Promise<void> {
  c.client.close();
  await Promise.all(c.ps.map((p) => p.stop()));
}

async function fill(client: PsClient, rows: number): Promise<void> {
  const grads = new Float32Array(BATCH * DIM).map((_, i) => Math.sin(i) * 0.01);
  for (let a = 0; a < rows; a += BATCH) {
    const n = Math.min(BATCH, rows - a);
    const ids = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) {
      ids[2 * i] = Math.imul(a + i, 2654435761) >>> 0;
      ids[2 * i + 1] = (a + i) >>> 5;
    }
    await client.data.pull('emb', ids, DIM);
    await client.data.push('emb', ids, grads.subarray(0, n * DIM));
  }
  await client.data.flush();
}

/** Sequential write + fsync of `bytes` in 8 MiB blocks; MB/s. */
function diskWrite(dir: string, bytes: number): number {
  const file = path.join(dir, 'disk-probe.bin');
  const block = Buffer.alloc(8 << 20, 0x5a);
  const t0 = performance.now();
  const fd = fs.openSync(file, 'w');
  for (let left = bytes; left > 0; left -= block.length) fs.writeSync(fd, block, 0, Math.min(block.length, left));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const s = (performance.now() - t0) / 1000;
  fs.rmSync(file);
  return bytes / 1e6 / s;
}

async function restoreRate(root: string, id: string, n: number, rows: number): Promise<number> {
  const c = await cluster(n);
  try {
    const t0 = performance.now();
    const res = await restoreFromCheckpoint(c.client.checkpoints, root, id);
    const s = (performance.now() - t0) / 1000;
    const loaded = res.flatMap((r) => r.tables).reduce((x, t) => x + t.rows, 0);
    if (loaded !== rows) throw new Error(`restore onto ${n} PS loaded ${loaded} rows, expected ${rows}`);
    return rows / s;
  } finally {
    await stop(c);
  }
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const rows = Number(arg('rows', '10000000'));
  const root = fs.mkdtempSync(path.join(arg('dir', os.tmpdir()), 'tessera-bench-ckpt-'));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  try {
    const src = await cluster(2);
    let cutMs = 0;
    let writeMs = 0;
    let bytes = 0;
    let psCutMs = 0;
    const id = newCheckpointId(1);
    try {
      const t0 = performance.now();
      await fill(src.client, rows);
      log(`filled ${rows} rows (dim ${DIM}, Adagrad) on 2 PS in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const r = await takeCheckpoint(src.client.checkpoints, root, { id, kind: 'full' });
      cutMs = r.cutMs;
      writeMs = r.writeMs;
      bytes = r.manifest.files.reduce((s, f) => s + f.bytes, 0);
      psCutMs = Math.max(...r.cuts.map((c) => c.cutMicros / 1000));
    } finally {
      await stop(src);
    }
    const writeMBs = bytes / 1e6 / (writeMs / 1000);
    const diskMBs = diskWrite(root, bytes);
    log(`checkpoint: ${(bytes / 1e6).toFixed(0)} MB in ${(writeMs / 1000).toFixed(2)} s = ${writeMBs.toFixed(0)} MB/s (disk write+fsync ${diskMBs.toFixed(0)} MB/s → ${(writeMBs / diskMBs * 100).toFixed(0)}%); cut (Snapshot RPC round trip) ${cutMs.toFixed(1)} ms, of which ${psCutMs.toFixed(2)} ms on the PS`);
    const restore2 = await restoreRate(root, id, 2, rows);
    log(`restore onto 2 PS: ${(restore2 / 1e6).toFixed(2)} M rows/s (${(rows / restore2).toFixed(2)} s)`);
    const restore1 = os.totalmem() > 8 * 2 ** 30 ? await restoreRate(root, id, 1, rows) : null;
    if (restore1 !== null) log(`restore onto 1 PS: ${(restore1 / 1e6).toFixed(2)} M rows/s (${(rows / restore1).toFixed(2)} s)`);
    if (json) {
      process.stdout.write(`${JSON.stringify({
        bench: 'checkpoint', write_mb_per_s: Math.round(writeMBs), disk_mb_per_s: Math.round(diskMBs), restore_rows_per_s: Math.round(restore2),
        pause_ms: Number(cutMs.toFixed(1)), ps_cut_ms: Number(psCutMs.toFixed(2)), rows, checkpoint_bytes: bytes, write_s: Number((writeMs / 1000).toFixed(2)),
        restore_1ps_rows_per_s: restore1 === null ? null : Math.round(restore1), write_vs_disk: Number((writeMBs / diskMBs).toFixed(2)),
      })}\n`);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench:checkpoint failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
