/**
 * The data plane from the caller's side: pull and push rows of the sharded tables.
 *
 * Pull: dedup ids → slice by owner (shard map) → split into bounded requests → fan out to every
 * PS in parallel → stitch the answers back into the caller's order (duplicates included).
 * Push: dedup ids and sum their gradients → slice → fan out, without waiting, up to
 * `maxInflightPushes` outstanding (bounded staleness, PushWindow). Every call has a deadline;
 * UNAVAILABLE and deadline errors are retried with backoff until the fleet's retry deadline.
 *
 * ```ts
 * const ps = new PsClient({ shardMap, logger });
 * const rows = await ps.data.pull('emb', idsFrom([1n, 2n, 1n]), 16);   // [3 × 16]
 * await ps.data.push('emb', idsFrom([1n]), new Float32Array(16).fill(0.1));
 * await ps.data.flush();
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { Deduper } from '../sharding/dedup';
import type { ShardMap } from '../sharding/shard-map';
import { gatherRows, sliceByOwner, Slice, stitchRows } from '../sharding/slicer';
import { Encoding, PullResponseMsg } from '../wire/data-plane-codec';
import { decodeF16, encodeF16 } from '../wire/f16';
import { asBytes, f32FromBytes, IdArray } from '../wire/key-block';
import type { PsConnection } from '../wire/ps-connection';
import type { PsFleet } from './ps-fleet';
import { PushWindow } from './push-window';

/** How the data client sends rows. */
export interface DataClientOptions {
  /** Outstanding async pushes allowed; 0 = synchronous. Default 2. */
  maxInflightPushes?: number;
  /** Wire encoding for values and gradients. Default f32. */
  encoding?: 'f32' | 'f16';
  /** Largest number of ids in one request; bigger slices are split. Default 65,536. */
  maxRowsPerRequest?: number;
  /**
   * The incarnation of `table` on PS `psId` (its stable id in the shard map), sent with every
   * request so that a PS whose table was dropped and created again refuses it
   * (TESSERA_ERR_TABLE_INCARNATION) instead of serving fresh rows. Absent, or 0: not checked.
   */
  tableIncarnation?: (psId: number, table: string) => number;
}

/** Pull, push, flush over the PS of one shard map. */
export class PsDataClient {
  private readonly window: PushWindow;
  private readonly encoding: Encoding;
  private readonly maxRows: number;
  private readonly incarnation: (psId: number, table: string) => number;
  // Dedup scratch, reused by every call. Safe with concurrent calls because each call consumes
  // it synchronously (slicing copies the ids) before its first await.
  private readonly deduper = new Deduper();
  private scratchUnique = new Uint32Array(0);
  private scratchInverse = new Uint32Array(0);

  constructor(private readonly fleet: PsFleet, opts: DataClientOptions = {}) {
    this.window = new PushWindow(opts.maxInflightPushes ?? 2, fleet.log);
    this.encoding = opts.encoding === 'f16' ? Encoding.F16 : Encoding.F32;
    this.maxRows = opts.maxRowsPerRequest ?? 65_536;
    this.incarnation = opts.tableIncarnation ?? (() => 0);
  }

  /** The shard map this client routes by. */
  get map(): ShardMap {
    return this.fleet.map;
  }

  /** Outstanding pushes right now. */
  get inflightPushes(): number {
    return this.window.size;
  }

  /** Times push() had to wait for the window. */
  get pushThrottles(): number {
    return this.window.throttleCount;
  }

  /**
   * Rows for `ids` (duplicates allowed), as [n × dim] in the caller's order. With
   * `readOnly` (evaluation, serving) rows that do not exist yet are computed by the table's
   * initializer but not created on the PS. With `out` ([n × dim], not shared with another call
   * in flight) the rows are written there and `out` is returned, so a caller that reuses its
   * buffers allocates nothing per pull when the ids are distinct.
   *
   * @throws TesseraError INVALID_ARGUMENT when `out` does not hold exactly n × dim values.
   */
  async pull(table: string, ids: IdArray, dim: number, opts: { readOnly?: boolean; out?: Float32Array } = {}): Promise<Float32Array> {
    const n = ids.length >>> 1;
    if (opts.out !== undefined && opts.out.length !== n * dim) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `out: ${opts.out.length} values, expected ${n} ids × dim ${dim} = ${n * dim}`);
    }
    const { slices, count, inverse } = this.dedupAndSlice(ids);
    const uniqueRows = !inverse && opts.out !== undefined ? opts.out : new Float32Array(count * dim);
    await Promise.all(slices.map((s) => this.pullSlice(table, s, dim, uniqueRows, opts.readOnly === true)));
    if (!inverse) return uniqueRows;
    const out = opts.out ?? new Float32Array(inverse.length * dim);
    for (let i = 0; i < inverse.length; i++) {
      const src = inverse[i] * dim;
      const dst = i * dim;
      for (let d = 0; d < dim; d++) out[dst + d] = uniqueRows[src + d];
    }
    return out;
  }

  /** All values of a dense table. */
  async pullDense(table: string): Promise<Float32Array> {
    const owner = this.ownerOfDense(table);
    const c = this.conns[owner];
    const res = await this.call(`pull ${table} from ${c.addr}`, () => c.pull(this.pullReq(table, new Uint8Array(0), owner), this.callTimeoutMs));
    return this.decodeValues(res);
  }

  /**
   * Pushes gradients [n × dim] for `ids`. Returns once the push is in flight and the window has
   * room; `flush()` waits for completion. Duplicate ids are summed here before sending.
   */
  async push(table: string, ids: IdArray, grads: Float32Array): Promise<void> {
    const send = this.preparePush(table, ids, grads);
    await this.window.admit(send);
  }

  /**
   * Pushes one training step's gradients, sparse tables and dense ones, as ONE entry of the
   * push window: bounded staleness counts steps, not tables.
   */
  async pushStep(sparse: { table: string; ids: IdArray; grads: Float32Array }[], dense: { table: string; grads: Float32Array }[] = []): Promise<void> {
    const sends = [
      ...sparse.map((p) => this.preparePush(p.table, p.ids, p.grads)),
      ...dense.map((d) => this.prepareDensePush(d.table, d.grads)),
    ];
    await this.window.admit(async () => { await Promise.all(sends.map((send) => send())); });
  }

  /** Pushes a dense table's gradient (async, same window as push()). */
  async pushDense(table: string, grads: Float32Array): Promise<void> {
    await this.window.admit(this.prepareDensePush(table, grads));
  }

  /**
   * Validates, dedups (summing duplicate ids' gradients) and slices a push; returns the thunk
   * that sends it. Slices copy their rows when sent, so the caller may reuse `grads` once the
   * returned promise of the admission resolves.
   */
  private preparePush(table: string, ids: IdArray, grads: Float32Array): () => Promise<void> {
    const n = ids.length >>> 1;
    if (grads.length % Math.max(n, 1) !== 0 || (n === 0 && grads.length !== 0)) {
      throw new TesseraError(ERROR_CODES.BAD_GRADIENT, `grads: length ${grads.length} is not a multiple of ${n} ids`);
    }
    const dim = n === 0 ? 0 : grads.length / n;
    const { slices, count, inverse } = this.dedupAndSlice(ids);
    let rows = grads;
    if (inverse) {
      rows = new Float32Array(count * dim); // duplicate ids: sum their gradients here
      for (let i = 0; i < n; i++) {
        const dst = inverse[i] * dim;
        const src = i * dim;
        for (let d = 0; d < dim; d++) rows[dst + d] += grads[src + d];
      }
    }
    return async () => { await Promise.all(slices.map((s) => this.pushSlice(table, s, rows, dim))); };
  }

  private prepareDensePush(table: string, grads: Float32Array): () => Promise<void> {
    const owner = this.ownerOfDense(table);
    const c = this.conns[owner];
    const copy = Float32Array.from(grads); // the caller may reuse its buffer while this is in flight
    return async () => {
      await this.call(`push ${table} to ${c.addr}`, () => c.push(this.pushReq(table, new Uint8Array(0), copy, owner), this.callTimeoutMs));
    };
  }

  /**
   * Dedups `ids` and slices the distinct ids by owner. `inverse` (input position → distinct
   * index) is returned only when there were duplicates; otherwise distinct order = input order.
   */
  private dedupAndSlice(ids: IdArray): { slices: Slice[]; count: number; inverse: Uint32Array | null } {
    const n = ids.length >>> 1;
    if (this.scratchInverse.length < n) {
      this.scratchUnique = new Uint32Array(2 * n);
      this.scratchInverse = new Uint32Array(n);
    }
    const count = this.deduper.dedupInto(ids, this.scratchUnique, this.scratchInverse);
    const slices = sliceByOwner(this.scratchUnique.subarray(0, 2 * count), this.shardMap);
    return { slices, count, inverse: count === n ? null : this.scratchInverse.slice(0, n) };
  }

  /** Waits for every outstanding push and throws the first failure. */
  flush(): Promise<void> {
    return this.window.drain();
  }

  // The fleet's connections and call policy, under the names the methods below use.
  private get conns(): readonly PsConnection[] {
    return this.fleet.conns;
  }

  private get callTimeoutMs(): number {
    return this.fleet.callTimeoutMs;
  }

  private get shardMap(): ShardMap {
    return this.fleet.map;
  }

  private ownerOfDense(table: string): number {
    return this.fleet.ownerOfDense(table);
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.fleet.call(what, fn);
  }

  private async pullSlice(table: string, s: Slice, dim: number, out: Float32Array, readOnly: boolean): Promise<void> {
    const c = this.conns[s.psIndex];
    const n = s.ids.length >>> 1;
    const chunks: Promise<void>[] = [];
    for (let a = 0; a < n; a += this.maxRows) {
      const b = Math.min(n, a + this.maxRows);
      const ids = asBytes(s.ids.subarray(2 * a, 2 * b));
      chunks.push(this.call(`pull ${table} from ${c.addr}`, () => c.pull({ ...this.pullReq(table, ids, s.psIndex), readOnly }, this.callTimeoutMs)).then((res) => {
        const rows = this.decodeValues(res);
        if (res.dim !== dim || rows.length !== (b - a) * dim) {
          throw new TesseraError(ERROR_CODES.DIM_MISMATCH, `${c.addr}: table "${table}" has dim ${res.dim}, caller expected ${dim}`);
        }
        stitchRows(s, rows, dim, out, a, b);
      }));
    }
    await Promise.all(chunks);
  }

  private async pushSlice(table: string, s: Slice, summed: Float32Array, dim: number): Promise<void> {
    const c = this.conns[s.psIndex];
    const n = s.ids.length >>> 1;
    const sends: Promise<unknown>[] = [];
    for (let a = 0; a < n; a += this.maxRows) {
      const b = Math.min(n, a + this.maxRows);
      const g = gatherRows(s, summed, dim, a, b);
      const ids = asBytes(s.ids.subarray(2 * a, 2 * b));
      sends.push(this.call(`push ${table} to ${c.addr}`, () => c.push(this.pushReq(table, ids, g, s.psIndex), this.callTimeoutMs)));
    }
    await Promise.all(sends);
  }

  /** Request fields common to pulls and pushes to the PS at `psIndex` (shard-map order). */
  private pullReq(table: string, ids: Uint8Array, psIndex: number) {
    const tableIncarnation = this.incarnation(this.shardMap.ps[psIndex].id, table);
    return { table, shardMapVersion: this.shardMap.version, ids, encoding: this.encoding, requestId: 0, tableIncarnation };
  }

  private pushReq(table: string, ids: Uint8Array, grads: Float32Array, psIndex: number) {
    let payload: Uint8Array = asBytes(grads);
    if (this.encoding === Encoding.F16) {
      const half = new Uint16Array(grads.length);
      encodeF16(grads, half);
      payload = asBytes(half);
    }
    return { ...this.pullReq(table, ids, psIndex), grads: payload };
  }

  private decodeValues(res: PullResponseMsg): Float32Array {
    if (res.encoding !== Encoding.F16) return f32FromBytes(res.values);
    const v = res.values;
    const half = v.byteOffset % 2 === 0 ? new Uint16Array(v.buffer, v.byteOffset, v.byteLength >>> 1) : new Uint16Array(Uint8Array.from(v).buffer);
    const out = new Float32Array(half.length);
    decodeF16(half, out);
    return out;
  }

}
