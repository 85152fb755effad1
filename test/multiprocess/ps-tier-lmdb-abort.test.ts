/**
 * Issue 23 (found in passing): a `tessera ps --tier-dir DIR` process ABORTED on one CreateTable
 * with `eviction: {maxRows: 100, spill: true}`. The table opened its LMDB store, was refused
 * (maxRows below one slab), and dropping the fresh, empty store tripped LMDB's
 * `Assertion 'x <= dl[0].mid' failed in mdb_freelist_save()`, a known crash of LMDB with
 * `useWritemap`. A valid spill table dropped before it spilled hit the same abort.
 *
 * Through a real `tessera ps` process (one shard and `--shards 1`), a real tier directory and a
 * real gRPC client: the bad spec is one INVALID_ARGUMENT line, a spill table created and dropped
 * at once is fine, and the process keeps serving.
 */
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TesseraError } from '../../src/common/errors';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { tableSpecToWire } from '../../src/ps/table-spec-wire';
import type { TableSpec } from '../../src/ps/store/table-store';
import { Encoding } from '../../src/wire/data-plane-codec';
import { PsConnection } from '../../src/wire/ps-connection';
import { spawnNode, Spawned } from '../helpers/spawn';

const SPILL: TableSpec = {
  name: 'spill', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'zeros' },
  eviction: { maxRows: 1 << 16, spill: true },
};

for (const shardArgs of [[], ['--shards', '1']]) {
  describe(`a refused or dropped spill table does not abort ${['tessera ps', ...shardArgs, '--tier-dir'].join(' ')} (issue 23)`, function () {
    this.timeout(60_000);
    let dir = '';
    let ps: Spawned;
    let conn: PsConnection;

    beforeEach(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-tier-abort-'));
      ps = spawnNode(TESSERA_BIN, ['ps', '--port', '0', ...shardArgs, '--tier-dir', path.join(dir, 'tier')]);
      const line = await ps.waitForLine(/^ps listening /, 30_000);
      conn = new PsConnection({ addr: line.slice('ps listening '.length).split(',')[0], maxMessageBytes: 1 << 20 });
    });
    afterEach(async () => {
      conn.close();
      await ps.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const create = (spec: TableSpec): Promise<unknown> => conn.adminCall('CreateTable', { spec: tableSpecToWire(spec) }, 10_000);

    /** The process is alive, printed no abort, and serves a spill table end to end. */
    async function stillServing(): Promise<void> {
      expect(ps.proc.exitCode, ps.lines.join('\n')).to.equal(null);
      expect(ps.lines.join('\n')).to.not.match(/Assertion|mdb_freelist_save/);
      await create({ ...SPILL, name: 'after' });
      const res = await conn.pull({ table: 'after', shardMapVersion: 0, ids: Buffer.alloc(8), encoding: Encoding.F32, requestId: 1 }, 10_000);
      expect(Array.from(new Float32Array(res.values.buffer.slice(res.values.byteOffset, res.values.byteOffset + 16)))).to.deep.equal([0, 0, 0, 0]);
    }

    it('a spill table with maxRows 100 is one INVALID_ARGUMENT line; the PS keeps serving', async () => {
      const err = await create({ ...SPILL, eviction: { maxRows: 100, spill: true } }).then(() => null, (e: TesseraError) => e);
      expect(err, 'CreateTable should be refused').to.be.instanceOf(TesseraError);
      expect((err!.cause as grpc.ServiceError).code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(err!.message).to.match(/eviction\.maxRows must be at least one slab \(65536 rows\)/);
      expect(err!.message).to.not.match(/\n|\bat .*\.js:\d+/);
      await stillServing();
      expect(ps.lines.join('\n'), 'no stack in the PS log').to.not.match(/\bat .*\.js:\d+/);
    });

    it('a spill table created and dropped before it spilled; the PS keeps serving', async () => {
      await create(SPILL);
      expect(await conn.adminCall('DropTable', { name: SPILL.name }, 10_000)).to.deep.include({ dropped: true });
      await stillServing();
    });
  });
}
