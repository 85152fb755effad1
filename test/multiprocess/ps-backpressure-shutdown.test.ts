/**
 * Issue 23, item 9: a PS used 72% of a core for 17 minutes after a fuzz run and ignored the
 * first SIGTERM. ExportTable wrote its whole answer without waiting: every chunk queued at once,
 * whether or not the client read, and kept after the client had gone.
 *
 * Against a real `tessera ps` process: a client reads a few ExportTable chunks, stops reading,
 * then cancels. The PS stops writing once its buffers are full and stops at the cancellation (its
 * log line counts the chunks it wrote: a small part of the table). A second client that never
 * reads holds an export open; one SIGTERM still ends the process, with code 0. And a graceful
 * stop that outlasts `--shutdown-timeout-ms` ends the process anyway, with code 1.
 */
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../../src/common/logger';
import { PsClient } from '../../src/client/ps-client';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { planShardMap } from '../../src/sharding/shard-map';
import { psAdminService } from '../../src/wire/services';
import { spawnNode, Spawned } from '../helpers/spawn';

const ROWS = 40_000;

type ExportCall = grpc.ClientReadableStream<{ ids: Buffer }>;

describe('server-streaming backpressure and a bounded shutdown (issue 23)', function () {
  this.timeout(60_000);
  let ps: Spawned | undefined;
  const clients: grpc.Client[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await ps?.kill('SIGKILL');
  });

  /** Starts `tessera ps` with `args` and a table of ROWS rows; resolves with its address. */
  async function psWithRows(args: string[]): Promise<string> {
    ps = spawnNode(TESSERA_BIN, ['ps', '--port', '0', '--shards', '1', ...args]); // one PS: one address
    const addr = /^ps listening (\S+)/.exec(await ps.waitForLine(/^ps listening /, 20_000))![1];
    const data = new PsClient({ shardMap: planShardMap([{ id: 0, addr }]), logger: silentLogger(), maxInflightPushes: 0 });
    await data.admin.installShardMap();
    await data.admin.createTable({ name: 'emb', kind: 'embedding', dim: 8, optimizer: { kind: 'sgd', lr: 0.1 } });
    await data.data.pull('emb', Uint32Array.from({ length: 2 * ROWS }, (_, i) => (i % 2 === 0 ? i + 1 : 0)), 8);
    data.close();
    return addr;
  }

  /** An ExportTable of the table, one row per chunk, on its own connection. */
  function openExport(addr: string): ExportCall {
    const c = new (psAdminService())(addr, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as grpc.Client & { ExportTable(req: object): ExportCall };
    clients.push(c);
    const call = c.ExportTable({ table: 'emb', chunkRows: 1 });
    call.on('error', () => undefined); // a cancel, and the shutdown
    return call;
  }

  /** Reads `n` chunks of `call`, then stops reading. */
  function readThenStop(call: ExportCall, n: number): Promise<void> {
    let read = 0;
    return new Promise<void>((resolve) => call.on('data', () => {
      if (++read < n) return;
      call.pause();
      resolve();
    }));
  }

  it('a slow reader then a cancel: the PS writes a small part of the table, stops, and exits on one SIGTERM', async () => {
    const addr = await psWithRows(['--id', 'ps-0']);
    const slow = openExport(addr);
    await readThenStop(slow, 5);
    slow.cancel();
    const line = JSON.parse(await ps!.waitForLine(/export cancelled by the client/, 20_000)) as { chunks: number; written: number };
    expect(line.chunks).to.equal(ROWS);
    expect(line.written, `chunks written before the cancel, of ${ROWS}`).to.be.lessThan(ROWS / 4);

    await readThenStop(openExport(addr), 1); // never reads on: its export stays open, blocked on backpressure
    ps!.proc.kill('SIGTERM');
    const exit = await ps!.exited;
    expect(exit, ps!.lines.slice(-5).join('\n')).to.deep.equal({ code: 0, signal: null });
    expect(ps!.lines.some((l) => l.includes('"msg":"stopped"'))).to.equal(true);
  });

  it('a graceful stop that outlasts --shutdown-timeout-ms ends with code 1 and says so', async () => {
    // An export to a client that never reads keeps the graceful stop waiting (2 s at most); the bound is shorter.
    await readThenStop(openExport(await psWithRows(['--shutdown-timeout-ms', '200'])), 1);
    ps!.proc.kill('SIGTERM');
    expect(await ps!.exited).to.deep.equal({ code: 1, signal: null });
    expect(ps!.lines.some((l) => l.includes('graceful shutdown did not finish in time'))).to.equal(true);
  });
});
