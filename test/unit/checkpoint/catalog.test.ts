import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { collectGarbage, latestCheckpointId, listCheckpoints, resolveChain } from '../../../src/checkpoint/catalog';
import { newCheckpointId, compareCheckpointIds } from '../../../src/checkpoint/checkpoint-id';
import { Manifest, writeManifest } from '../../../src/checkpoint/manifest';
import { tempRoot } from '../../helpers/checkpoint';

function manifest(id: string, base: string | null, step: number): Manifest {
  return {
    format: 1, id, kind: base ? 'incremental' : 'full', base, createdAt: new Date(0).toISOString(), numBuckets: 16, shardMapVersion: 1,
    tables: [], files: [], job: { step },
  };
}

describe('checkpoint catalog: ids, ls, latest, chains, GC (issue #5)', () => {
  let root = '';
  const ids = Array.from({ length: 6 }, (_, i) => newCheckpointId(i + 1, new Date(Date.UTC(2026, 0, 1, 0, 0, i))));
  beforeEach(() => { root = tempRoot(); });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  async function make(id: string, base: string | null, step: number): Promise<void> {
    fs.mkdirSync(path.join(root, id, 'ps-0'), { recursive: true });
    await writeManifest(path.join(root, id), manifest(id, base, step));
  }

  it('ids sort by sequence, not by text', () => {
    expect(newCheckpointId(3, new Date(Date.UTC(2026, 0, 2)))).to.equal('ckpt-00000003-20260102T000000Z');
    expect(compareCheckpointIds(newCheckpointId(100_000_000), newCheckpointId(99))).to.be.greaterThan(0);
  });

  it('ls and latest ignore a directory without a manifest (an interrupted write)', async () => {
    await make(ids[0], null, 10);
    fs.mkdirSync(path.join(root, ids[1], 'ps-0'), { recursive: true });
    expect((await listCheckpoints(root)).map((c) => [c.id, c.step, c.kind])).to.deep.equal([[ids[0], 10, 'full']]);
    expect(await latestCheckpointId(root)).to.equal(ids[0]);
  });

  it('resolveChain names a missing base', async () => {
    await make(ids[0], null, 1);
    await make(ids[1], ids[0], 2);
    await make(ids[2], ids[1], 3);
    expect((await resolveChain(root, ids[2])).map((m) => m.id)).to.deep.equal([ids[0], ids[1], ids[2]]);
    fs.rmSync(path.join(root, ids[1]), { recursive: true });
    try {
      await resolveChain(root, ids[2]);
      expect.fail('resolved a broken chain');
    } catch (err) {
      expect((err as Error).message).to.include(`needs base "${ids[1]}"`);
    }
  });

  it('GC keeps the newest K and every checkpoint their chains need, removes unfinished directories, leaves other files', async () => {
    await make(ids[0], null, 1); // full
    await make(ids[1], ids[0], 2); // inc on 0
    await make(ids[2], null, 3); // full
    await make(ids[3], ids[2], 4); // inc on 2
    fs.mkdirSync(path.join(root, ids[4], 'ps-1'), { recursive: true }); // crashed write
    await make(ids[5], ids[3], 6); // inc on 3
    fs.mkdirSync(path.join(root, 'model'));
    expect(await collectGarbage(root, 1)).to.deep.equal([ids[0], ids[1], ids[4]]);
    expect(fs.readdirSync(root).sort()).to.deep.equal([ids[2], ids[3], ids[5], 'model'].sort());
    expect((await resolveChain(root, ids[5])).length).to.equal(3);
    expect(await collectGarbage(root, 2)).to.deep.equal([]);
  });
});
