/**
 * Issue 14: the saved-model format, now read by serving as well as eval. A model written by
 * `writeModel` reads back bit-exactly (streamed in chunks); a truncated, corrupted or missing file
 * is refused naming the file, before the model is used.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel, readModelManifest, RowChunk, saveModel } from '../../../src/export/model-dir';
import { embeddingTableSpecs } from '../../../src/spec/ps-config';
import { baseSpec, parseObject } from '../spec/fixtures';

const SPEC = parseObject(baseSpec());
const DIM = 4;

/** `n` rows of table `t`: id i+1 (hi = i for some), values derived from the id. */
function rowsOf(t: string, n: number): RowChunk {
  const ids = new Uint32Array(2 * n);
  const values = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    ids[2 * i] = i + 1;
    ids[2 * i + 1] = i % 3;
    for (let d = 0; d < DIM; d++) values[i * DIM + d] = (t.length + i) * 0.001 + d;
  }
  return { ids, values, dim: DIM };
}

async function* once<T>(x: T): AsyncGenerator<T> {
  yield x;
}

async function writeSample(dir: string, rows: number): Promise<void> {
  await saveModel(dir, {
    spec: SPEC, tables: embeddingTableSpecs(SPEC), step: 7, samples: 700,
    dense: { name: 'dense', kind: 'dense', size: 5, optimizer: { kind: 'sgd', lr: 0.1 } },
    rows: (table, kind) => once(kind === 'dense' ? { ids: new Uint32Array(0), values: Float32Array.of(1, 2, 3, 4, 5), dim: 5 } : rowsOf(table, rows)),
  });
}

async function loadError(dir: string): Promise<Error> {
  try {
    await loadModel(dir);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected loadModel to fail');
}

describe('saved model format: write, stream back, refuse damage (issue 14)', () => {
  let dir = '';
  beforeEach(() => { dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-model-')), 'm'); });
  afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

  it('reads back every row and the dense vector bit-exactly, across read chunks', async () => {
    const n = 40_000; // 1.6 MB per table file: more than one 1 MiB read chunk
    await writeSample(dir, n);
    const { spec, manifest, store } = await loadModel(dir);
    expect(spec.name).to.equal('unit');
    expect(manifest.step).to.equal(7);
    for (const t of ['c1', 'shared']) {
      const table = store.getEmbedding(t);
      expect(table.size).to.equal(n);
      const want = rowsOf(t, n);
      const got = new Float32Array(n * DIM);
      table.peek(want.ids, got);
      expect(Buffer.from(got.buffer).equals(Buffer.from(want.values.buffer)), t).to.equal(true);
    }
    expect(Array.from(store.getDense('dense').pull())).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('creates tables with the spec the caller asks for', async () => {
    await writeSample(dir, 10);
    const { store } = await loadModel(dir, { tableSpec: (s) => ({ ...s, optimizer: { kind: 'sgd', lr: 1 } }) });
    expect(store.spec('c1')).to.include({ name: 'c1', dim: DIM });
    expect((store.spec('c1') as { optimizer: { kind: string } }).optimizer.kind).to.equal('sgd');
  });

  it('refuses a flipped byte, a truncated table, a missing file and a foreign manifest, naming each', async () => {
    await writeSample(dir, 100);
    const table = path.join(dir, 'tables', 'c1.rows');
    const good = fs.readFileSync(table);
    const flipped = Buffer.from(good);
    flipped[77] ^= 1;
    fs.writeFileSync(table, flipped);
    expect((await loadError(dir)).message).to.match(/tables\/c1\.rows: checksum mismatch/);
    fs.writeFileSync(table, good.subarray(0, good.length - 3));
    expect((await loadError(dir)).message).to.match(/tables\/c1\.rows: \d+ bytes for 100 rows of dim 4/);
    fs.rmSync(table);
    expect((await loadError(dir)).message).to.match(/tables\/c1\.rows not found/);
    fs.writeFileSync(path.join(dir, 'model.json'), '{"format": "other/2"}');
    expect(() => readModelManifest(dir)).to.throw(/format "other\/2", expected "tessera-model\/1"/);
    fs.writeFileSync(path.join(dir, 'model.json'), '{"format": ');
    expect(() => readModelManifest(dir)).to.throw(/model\.json is not valid JSON/);
    fs.rmSync(path.join(dir, 'model.json'));
    expect(() => readModelManifest(dir)).to.throw(/model\.json not found/);
  });
});
