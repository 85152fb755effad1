/**
 * Issue 15, freshness: applying a delta costs work proportional to the rows it changes, not to
 * the rows resident. A real version loaded from a real model root is grown to 200k resident rows;
 * a delta of k rows must leave its rows untouched and shared (the same TableStore object, no row
 * copied) and write k rows; a reader of V during and after the apply sees V, the new version
 * V+1; tombstones read the cold-start value; the shared rows are released only after every
 * version sharing them.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../../src/common/logger';
import type { DeltaContent, DeltaTable } from '../../../src/export/delta-dir';
import { selectBackend } from '../../../src/model/backend';
import { DENSE_TABLE } from '../../../src/spec/job-tables';
import { applyDelta } from '../../../src/serve/delta-apply';
import type { LoadedVersion } from '../../../src/serve/loaded-version';
import { loadVersion } from '../../../src/serve/version-loader';
import { instanceRow, publishTestModel, testInstances } from '../../helpers/serve';

/** Resident rows the base is grown to. */
const BASE_ROWS = 200_000;

/** [2n] ids (lo = first + i, hi = 7): distinct from the fixture model's ids. */
function ids(first: number, n: number): Uint32Array {
  const out = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    out[2 * i] = first + i;
    out[2 * i + 1] = 7;
  }
  return out;
}

function weights(n: number, dim: number, value: number): Float32Array {
  return new Float32Array(n * dim).fill(value);
}

describe('delta apply: work proportional to the rows a delta changes; readers see V or V+1 (issue 15)', function () {
  this.timeout(60_000);
  let root = '';
  let base: LoadedVersion;
  let table = '';
  let dim = 0;
  /** the ids of `table` in the fixture model (the requests' ids), before the base is grown */
  let trained = new Uint32Array(0);

  function delta(version: number, parent: number, t: Omit<DeltaTable, 'name' | 'dim'>): DeltaContent {
    return {
      version, parent, cutAt: Date.now(), step: version, samples: version, specFingerprint: base.origin.manifest.specFingerprint, pauseMs: 1,
      tables: [{ name: table, dim, ...t }], dense: { name: DENSE_TABLE, values: base.store.getDense(DENSE_TABLE).pull() },
    };
  }

  before(async () => {
    selectBackend(silentLogger());
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-delta-apply-'));
    await publishTestModel(root, { seed: 1 });
    base = await loadVersion(root, 'srv', 1, undefined, {});
    const t = base.store.list().find((x) => x.kind === 'embedding' && !x.name.endsWith('.linear'))!;
    table = t.name;
    dim = base.store.getEmbedding(table).dim;
    const own: number[] = [];
    base.store.getEmbedding(table).forEachRow((lo, hi) => own.push(lo, hi));
    trained = Uint32Array.from(own);
    base.store.getEmbedding(table).putRows(ids(0, BASE_ROWS), weights(BASE_ROWS, dim, 0.5), BASE_ROWS);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('shares the resident rows and writes only the k changed rows, for every delta of a chain', async () => {
    const resident = base.rows().resident;
    expect(resident).to.be.greaterThan(BASE_ROWS);
    const k = 1000;
    const d2 = delta(2, 1, { ids: ids(BASE_ROWS - k / 2, k), weights: weights(k, dim, 2), tombstones: ids(0, 10) });
    const v2 = await applyDelta(base, d2, 'd2');
    expect(v2.version.store, 'the base rows are shared, not copied').to.equal(base.store);
    expect(v2.copied, 'rows written: the delta\'s changed rows and tombstones').to.equal(k + 10);
    expect(base.rows().resident, 'the base is not modified').to.equal(resident);
    const v3 = await applyDelta(v2.version, delta(3, 2, { ids: ids(5, 3), weights: weights(3, dim, 3), tombstones: new Uint32Array(0) }), 'd3');
    expect(v3.version.store).to.equal(base.store);
    expect(v3.copied, 'a 3-row delta on a 200k-row base writes 3 rows').to.equal(3);
    expect(v3.version.rows().overlay).to.equal(k + 10 + 3);
  });

  it('serves V to a reader of V during and after the apply, V+1 to the new version; tombstones read the cold-start value', async () => {
    const probe = ids(BASE_ROWS - 4, 8); // 4 base rows then 4 new ids
    const atV = base.readRows(table, probe);
    const rowsOf = testInstances(8).map(instanceRow);
    const changed = Uint32Array.from([...probe, ...trained]);
    const n = changed.length >>> 1;
    const predV = await base.predict(rowsOf);
    base.hold();
    const reads: Promise<Float32Array>[] = [];
    const applying = (async () => {
      let head = base;
      for (let v = 2; v <= 5; v++) {
        reads.push(base.predict(rowsOf));
        head = (await applyDelta(head, delta(v, v - 1, { ids: changed, weights: weights(n, dim, v), tombstones: new Uint32Array(0) }), `d${v}`)).version;
        expect(Array.from(base.readRows(table, probe)), `V read after delta ${v}`).to.deep.equal(Array.from(atV));
        expect(Array.from(head.readRows(table, probe)), `version ${v}`).to.deep.equal(Array.from(weights(8, dim, v)));
      }
      return head;
    })();
    const head = await applying;
    for (const p of await Promise.all(reads)) expect(Array.from(p), 'V\'s answers while deltas were applied').to.deep.equal(Array.from(predV));
    expect(Array.from(await head.predict(rowsOf)), 'the new version answers with the changed rows').to.not.deep.equal(Array.from(predV));
    base.unhold();
    const gone = await applyDelta(head, delta(6, 5, { ids: new Uint32Array(0), weights: new Float32Array(0), tombstones: probe }), 'd6');
    const cold = gone.version.readRows(table, probe);
    expect(Array.from(cold.subarray(4 * dim)), 'new ids removed again read what V reads for them (cold start)').to.deep.equal(Array.from(atV.subarray(4 * dim)));
    expect(Array.from(cold.subarray(0, 4 * dim)), 'removed base rows no longer read their stale weights').to.not.deep.equal(Array.from(atV.subarray(0, 4 * dim)));
  });

  it('keeps the shared rows until every version sharing them is released', async () => {
    const own = await loadVersion(root, 'srv', 1, undefined, {});
    const next = (await applyDelta(own, delta(2, 1, { ids: ids(1, 2), weights: weights(2, dim, 1), tombstones: new Uint32Array(0) }), 'd2')).version;
    const order: string[] = [];
    void own.released.then(() => order.push('owner'));
    void next.released.then(() => order.push('delta version'));
    own.retire();
    expect(Array.from(next.readRows(table, ids(1, 2))), 'the delta version still reads after its owner is retired').to.deep.equal(Array.from(weights(2, dim, 1)));
    next.retire();
    await own.released;
    expect(order).to.deep.equal(['delta version', 'owner']);
  });
});
