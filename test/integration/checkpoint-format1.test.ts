/**
 * Issue 13: checkpoints written before the manifest had its own table record (format 1, tables
 * in the gRPC shape of that time) keep loading. test/fixtures/checkpoint-format1 was written by
 * that code (its README says how); it restores onto PS over real gRPC with the optimizer settings
 * and rows it was cut with, and the next training step gives what the old code's did.
 */
import * as fs from 'fs';
import * as path from 'path';
import { expect } from 'chai';
import { readManifest } from '../../src/checkpoint/manifest';
import { verifyCheckpoint } from '../../src/checkpoint/verify';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { tableSpecOfLayout } from '../../src/ps/table-layout';
import type { PsClient } from '../../src/client/ps-client';
import { restoreFromCheckpoint } from '../../src/client/restore-checkpoint';
import { ckptCluster, ckptPerTest, gradsFor } from '../helpers/checkpoint';

const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'checkpoint-format1');

interface TableState { values: number[]; optimizer: Record<string, unknown> }
interface Expected {
  checkpoint: string;
  ids: number[];
  tables: TableSpec[];
  nextRound: number;
  atCut: Record<string, TableState>;
  afterStep: Record<string, TableState>;
}

const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
const IDS = Uint32Array.from(expected.ids);

async function values(client: PsClient, t: TableSpec): Promise<number[]> {
  if (t.kind === 'dense') return Array.from(await client.data.pullDense(t.name));
  return Array.from(await client.data.pull(t.name, IDS, t.dim, { readOnly: true }));
}

/** One round as the fixture's script trained: pull (creating rows), then push round `r`'s gradients. */
async function trainRound(client: PsClient, r: number): Promise<void> {
  for (const t of expected.tables) {
    if (t.kind === 'dense') {
      await client.data.pullDense(t.name);
      await client.data.pushDense(t.name, gradsFor(1, t.size, r));
      continue;
    }
    await client.data.pull(t.name, IDS, t.dim);
    await client.data.push(t.name, IDS, gradsFor(IDS.length / 2, t.dim, r));
  }
  await client.data.flush();
}

describe('a format-1 checkpoint (issue 13)', function () {
  this.timeout(30_000);
  const suite = ckptPerTest();

  it('reads as table records with the settings the PS had', async () => {
    const m = await readManifest(path.join(FIXTURE, expected.checkpoint));
    expect(m.format).to.equal(1);
    expect((await verifyCheckpoint(FIXTURE, expected.checkpoint)).faults).to.deep.equal([]);
    const byName = new Map(m.tables.map((t) => [t.name, t]));
    expect(byName.get('adam_t')).to.deep.equal({
      name: 'adam_t', kind: 'embedding', dim: 4, weightFormat: 'f16', seed: 11,
      optimizer: { kind: 'adam', params: { lr: 0.01, beta1: 0.5, beta2: 0.99, eps: 1e-7 } },
      initializer: { kind: 'uniform', scale: 0.05 },
      admission: { minCount: 1, sketchWidth: 1024, sketchDepth: 2, unadmitted: 'unknown' },
    });
    expect(byName.get('ftrl_t')).to.deep.include({
      optimizer: { kind: 'ftrl', params: { alpha: 0.1, beta: 1, l1: 0.01, l2: 0.02 } },
      initializer: { kind: 'constant', value: 0.03 },
      eviction: { policy: 'lfu', ttlSteps: 1000, maxRows: 100000 },
    });
    expect(byName.get('dense_t')).to.deep.include({ kind: 'dense', size: 5 });
  });

  it('restores onto 2 PS with the same optimizer settings and rows, and trains on as before', async () => {
    const m = await readManifest(path.join(FIXTURE, expected.checkpoint));
    const specs = m.tables.map(tableSpecOfLayout);
    const c = suite.track(await ckptCluster(2, specs, undefined, [FIXTURE]));
    await restoreFromCheckpoint(c.client.checkpoints, FIXTURE, expected.checkpoint);
    for (const t of expected.tables) {
      for (const s of c.servers.filter((x) => x.node.store.has(t.name))) { // a dense table lives on one PS
        expect({ ...s.node.store.get(t.name).optimizerConfig }, `${t.name} optimizer`).to.deep.equal(expected.atCut[t.name].optimizer);
      }
      expect(await values(c.client, t), `${t.name} rows at the cut`).to.deep.equal(expected.atCut[t.name].values);
    }
    await trainRound(c.client, expected.nextRound);
    for (const t of expected.tables) {
      expect(await values(c.client, t), `${t.name} rows one step later`).to.deep.equal(expected.afterStep[t.name].values);
    }
  });
});
