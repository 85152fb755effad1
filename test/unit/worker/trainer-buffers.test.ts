/**
 * Issue 18 §3: the Trainer pulls its rows into a ring of reused buffers, its dense weights into
 * two buffers in turn, and hands each step's dense gradient to the push uncopied. Training with
 * them must be exactly training with fresh arrays everywhere: same losses, same weights. A ring
 * too short (a prefetched batch's pull overwriting rows its step has not read yet) or a dense
 * buffer pulled into while a step reads it changes both.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../../src/common/logger';
import { RowReader } from '../../../src/data/reader';
import { schemaFor } from '../../../src/data/record';
import { generate } from '../../../src/gen/generate';
import { selectBackend } from '../../../src/model/backend';
import { parseJobSpec } from '../../../src/spec/job-spec';
import { DENSE_TABLE } from '../../../src/spec/job-tables';
import { buildJob } from '../../../src/worker/job';
import { LocalParams } from '../../../src/worker/local-params';
import type { ParameterAccess } from '../../../src/worker/param-access';
import { RowBuffers } from '../../../src/worker/row-buffers';

const SPEC = parseJobSpec(`name: buffers
data: { format: criteo }
features:
  numeric: [{ names: [I1, I2, I3], transform: log }]
  categorical:
    - { names: [C1, C2, C3, C4, C5, C6], table: emb }
  tables: [{ name: emb, dim: 4, optimizer: { kind: adagrad, lr: 0.1 } }]
model: { kind: deepfm, hidden: [8] }
training: { batch_size: 64, dense_sync_every: 1, seed: 3 }
`);

/** `inner` with every `out` dropped: each pull gets fresh arrays, as before issue 18's buffers. */
function freshArrays(inner: ParameterAccess): ParameterAccess {
  return {
    createTable: (s) => inner.createTable(s),
    assignDense: (t, v, f) => inner.assignDense(t, v, f),
    pull: (t, ids, dim, o) => inner.pull(t, ids, dim, { ...o, out: undefined }),
    push: (t, ids, g) => inner.push(t, ids, g),
    pushStep: (sparse, dense) => inner.pushStep(sparse, dense?.map((d) => ({ table: d.table, grads: Float32Array.from(d.grads) }))),
    pullDense: (t) => inner.pullDense(t),
    pushDense: (t, g) => inner.pushDense(t, g),
    flush: () => inner.flush(),
  };
}

async function train(file: string, wrap: (p: ParameterAccess) => ParameterAccess): Promise<{ losses: number[]; dense: Float32Array }> {
  const params = new LocalParams();
  const losses: number[] = [];
  const { trainer } = buildJob(SPEC, wrap(params), silentLogger(), (s) => losses.push(s.loss));
  await trainer.init();
  for (let e = 0; e < 2; e++) await trainer.trainEpoch(new RowReader(file, schemaFor('criteo')).batches(SPEC.training.batchSize));
  return { losses, dense: await params.pullDense(DENSE_TABLE) };
}

describe('Trainer buffers (issue 18)', function () {
  this.timeout(60_000);
  let file: string;

  before(async () => {
    await selectBackend(silentLogger());
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-buffers-')), 'train.tsv');
    await generate({ rows: 1000, seed: 5, vocab: 50, out: file });
  });

  it('trains exactly as with fresh arrays for every pull and push', async () => {
    const reused = await train(file, (p) => p);
    const fresh = await train(file, freshArrays);
    expect(reused.losses.length).to.equal(32); // 16 batches (the last one short) × 2 epochs
    expect(reused.losses).to.deep.equal(fresh.losses);
    expect(Array.from(reused.dense)).to.deep.equal(Array.from(fresh.dense));
  });

  it('hands a batch its slot\'s buffers again only `depth` batches later, one per table', () => {
    const ring = new RowBuffers(3);
    const taken = [0, 1, 2, 3].map(() => ring.nextBatch()).map((slot) => slot.take('emb', 8));
    expect(taken[3].buffer).to.equal(taken[0].buffer);
    expect(new Set(taken.slice(0, 3).map((a) => a.buffer)).size).to.equal(3);
    const slot = ring.nextBatch();
    const a = slot.take('emb', 4);
    expect(a.length).to.equal(4);
    expect(a.buffer).to.equal(taken[1].buffer); // a shorter batch: a view of the same buffer
    expect(slot.take('emb', 4).buffer).to.not.equal(a.buffer); // the same table twice in a batch
    expect(ring.nextBatch().take('emb', 16).length).to.equal(16); // grown for a larger batch
  });
});
