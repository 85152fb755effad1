/**
 * Issue 23, items 10 and 11: before the fix, Snapshot wrote wherever its `dir` said (binary
 * `dir` bytes made directories with binary names in the PS's working directory) and Restore did
 * not check `checkpoint_id` (`..` traversed, a file-existence oracle for the host). Now both take
 * locations only under the PS's checkpoint root, check both ids the same way, and refuse
 * everything else with INVALID_ARGUMENT, touching nothing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../../src/common/logger';
import { TesseraError } from '../../src/common/errors';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { PsConnection } from '../../src/wire/ps-connection';

describe('Snapshot and Restore stay under the checkpoint root (issue 23)', function () {
  this.timeout(20_000);
  let base: string;
  let root: string;
  let ps: PsServer;
  let conn: PsConnection;

  beforeEach(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-roots-'));
    root = path.join(base, 'ckpt');
    fs.mkdirSync(root);
    ps = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), checkpointRoots: [root] });
    conn = new PsConnection({ addr: ps.addr, maxMessageBytes: 1 << 20 });
    ps.node.createTable({ name: 'emb', kind: 'embedding', dim: 2, optimizer: { kind: 'sgd', lr: 0.1 } });
  });
  afterEach(async () => {
    conn.close();
    await ps.stop();
    fs.rmSync(base, { recursive: true, force: true });
  });

  const snapshot = (checkpointId: string, dir: string) =>
    conn.adminCall('Snapshot', { checkpointId, dir, kind: 'full', baseId: '', psId: 0 }, 5000).then(() => null, (e: TesseraError) => e);
  const restore = (checkpointId: string, dir: string) =>
    conn.adminCall('Restore', { root: dir, checkpointId, buckets: Buffer.alloc(0), numBuckets: 4096, denseTables: [] }, 5000).then(() => null, (e: TesseraError) => e);

  /** Every path under `base` (the root's parent), to show a refusal created nothing. */
  const tree = () => fs.readdirSync(base, { recursive: true }).map(String).sort();

  it('refuses a dir outside the root, relative, with "..", NUL or control bytes, and ids that are paths', async () => {
    const before = tree();
    const cases: [string, string, RegExp][] = [
      ['ckpt-1', base, /(dir|root): .* is not under this PS's checkpoint root/],
      ['ckpt-1', '/etc', /is not under this PS's checkpoint root/],
      ['ckpt-1', `${root}/../escape`, /must not contain "\.\."/],
      ['ckpt-1', 'ckpt', /must be an absolute path/],
      ['ckpt-1', `${root}/a\u0000b`, /control character/],
      ['ckpt-1', `${root}/\u0001\u0002`, /control character/],
      ['..', root, /checkpoint_id: "\.\." must be/],
      ['.', root, /checkpoint_id/],
      ['../../etc', root, /checkpoint_id/],
      ['a/b', root, /checkpoint_id/],
      ['.hidden', root, /checkpoint_id/],
    ];
    for (const [id, dir, re] of cases) {
      for (const [rpc, call] of [['Snapshot', snapshot], ['Restore', restore]] as const) {
        const err = await call(id, dir);
        expect(err?.code, `${rpc}(${JSON.stringify(id)}, ${JSON.stringify(dir)}): ${err?.message}`).to.equal('TESSERA_ERR_INVALID_ARGUMENT');
        expect(err!.message).to.match(re);
      }
    }
    expect(tree()).to.deep.equal(before);
    expect(ps.node.snapshotting).to.equal(false);
  });

  it('refuses dir bytes that are not UTF-8 (sent raw), and a symbolic link out of the root', async () => {
    const client = new grpc.Client(ps.addr, grpc.credentials.createInsecure());
    // SnapshotRequest { checkpoint_id: "ckpt-1", dir: <0xff 0xfe>, kind: "full" }
    const raw = Buffer.from([0x0a, 6, ...Buffer.from('ckpt-1'), 0x12, 2, 0xff, 0xfe, 0x1a, 4, ...Buffer.from('full')]);
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest('/tessera.v1.PsAdmin/Snapshot', (b: Buffer) => b, (b: Buffer) => b, raw, (e) => resolve(e));
    });
    client.close();
    expect(err?.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).to.match(/not UTF-8/);

    fs.symlinkSync(base, path.join(root, 'link'));
    const linked = await snapshot('ckpt-1', path.join(root, 'link'));
    expect(linked?.message).to.match(/is not under this PS's checkpoint root/);
    expect(fs.existsSync(path.join(base, 'ckpt-1'))).to.equal(false);
  });

  it('takes a snapshot under the root, and Restore of a missing id there is NOT_FOUND, not a path probe', async () => {
    expect(await snapshot('ckpt-00000001-x', path.join(root, 'job-a'))).to.equal(null);
    const missing = await restore('ckpt-00000009-x', root);
    expect(missing?.code).to.equal('TESSERA_ERR_CHECKPOINT_NOT_FOUND');
  });

  it('a PS started without a checkpoint root refuses both, saying how to set one', async () => {
    const bare = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger() });
    const c = new PsConnection({ addr: bare.addr, maxMessageBytes: 1 << 20 });
    try {
      const err = await c.adminCall('Snapshot', { checkpointId: 'ckpt-1', dir: root, kind: 'full', baseId: '', psId: 0 }, 5000).then(() => null, (e: TesseraError) => e);
      expect(err?.code).to.equal('TESSERA_ERR_INVALID_ARGUMENT');
      expect(err?.message).to.include('--checkpoint-root');
    } finally {
      c.close();
      await bare.stop();
    }
  });
});
