/**
 * The data plane from the caller's side: pull and push rows of the sharded tables.
 *
 * Pull: dedup ids → slice by owner (shard map) → split into bounded requests → fan out to every
 * PS in parallel → stitch the answers back into the caller's order (duplicates included).
 * Push: dedup ids and sum their gradients → slice → fan out, without waiting, up to
 * `maxInflightPushes` outstanding (bounded staleness, PushWindow). Every call has a deadline;
 * UNAVAILABLE and deadline errors are retried with backoff until the fleet's retry deadline. A
 * retried push repeats its (client id, sequence number), so it is applied at most once (ADR 0027).
 * A request a PS refuses as routed with an old shard map is sliced again by the newest map and
 * only it is re-sent (pushes with fresh sequence numbers: the refused one was not applied), so a
 * map change never fails a pull or push (PsFleet.callRouted).
 * Push staleness: a caller that pulls with `versions` and pushes those ids with `readVersions`
 * is told, per row, how many other updates landed between the two (`onStaleness`;
 * row-versions.ts); `sampleStaleness()` says which training steps should.
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
import { gatherRowsAt } from '../sharding/row-moves';
import type { ShardMap } from '../sharding/shard-map';
import { gatherRows, Slice, stitchRows } from '../sharding/slicer';
import { AnswerPool } from '../wire/answer-pool';
import { Encoding, PullResponseMsg } from '../wire/data-plane-codec';
import { decodeF16, encodeF16 } from '../wire/f16';
import { asBytes, f32FromBytes, IdArray, u32FromBytes } from '../wire/key-block';
import type { PsFleet, PushIdentity } from './ps-fleet';
import { PushWindow } from './push-window';
import { resliceByMap, Route } from './route';
import type { StepNumbering } from './step-numbering';
import { StepTags } from './step-tags';
import { CountingPulls } from './counting-pulls';
import {
  DEFAULT_STALENESS_SAMPLE_EVERY, fromDistinct, gatherVersions, stalenessOf, StalenessSampler, stitchVersions, toDistinct,
} from './row-versions';

/** How the data client sends rows. */
export interface DataClientOptions {
  /** Outstanding async pushes allowed; 0 = synchronous. Default 2. */
  maxInflightPushes?: number;
  /** Wire encoding for values and gradients. Default f32. */
  encoding?: 'f32' | 'f16';
  /** Largest number of ids in one request; bigger slices are split. Default 65,536. */
  maxRowsPerRequest?: number;
  /** One training step in this many measures push staleness (`sampleStaleness()`); 0 = never. Default 16. */
  stalenessSampleEvery?: number;
  /**
   * Told, once a push sent with `readVersions` is applied, how many other updates landed on each
   * of its rows since they were pulled (one value per distinct row that could be measured).
   */
  onStaleness?: (updates: Uint32Array) => void;
  /**
   * The incarnation of `table` on PS `psId` (its stable id in the shard map), sent with every
   * request so that a PS whose table was dropped and created again refuses it
   * (TESSERA_ERR_TABLE_INCARNATION) instead of serving fresh rows. Absent, or 0: not checked.
   */
  tableIncarnation?: (psId: number, table: string) => number;
  /**
   * The worker process's step numbering: with it, every request of a `pushStep` carries the
   * step's StepTag, and a step sends an empty request to each PS it touches no row of, so every
   * PS can count when it has the whole step (a cut at per-worker steps, ADR 0040). Absent:
   * pushes are untagged.
   */
  steps?: StepNumbering;
}

/** A dense table's part of a training step's push (`pushStep`). */
export interface DensePush {
  table: string;
  grads: Float32Array;
  /**
   * The caller gives `grads` up (never reads or writes it again, as with a step's fresh
   * gradient): it is sent as it is, without the copy that otherwise lets the caller reuse it
   * while the push is in flight (1.3 MB a DeepFM step).
   */
  given?: boolean;
}

/** One table's part of a training step's push (`pushStep`). */
export interface SparsePush {
  table: string;
  ids: IdArray;
  grads: Float32Array;
  /** The version of each id's row as pulled (`pull`'s `versions`): report this push's staleness. */
  readVersions?: Uint32Array;
}

/** Pull, push, flush over the PS of one shard map. */
export class PsDataClient {
  private readonly window: PushWindow;
  private readonly encoding: Encoding;
  private readonly maxRows: number;
  private readonly sampler: StalenessSampler;
  private readonly onStaleness: ((updates: Uint32Array) => void) | undefined;
  private readonly incarnation: (psId: number, table: string) => number;
  private readonly steps: StepNumbering | undefined;
  // Dedup scratch, reused by every call. Safe with concurrent calls because each call consumes
  // it synchronously (slicing copies the ids) before its first await.
  private readonly deduper = new Deduper();
  /** Pushes wait for the counting pulls issued before them (counting-pulls.ts). */
  private readonly countingPulls = new CountingPulls();
  /** Buffers of the gradients a push request carries (pushSlice), reused between pushes. */
  private readonly gradBuffers = new AnswerPool();
  /**
   * Buffers of the slices' ids and positions (dedupAndSlice's `alloc`: one per pull or push, all
   * its slices in it), reused once every request of the pull or push that sliced them succeeded;
   * a failed one's are left to the GC (a request of it may still be in flight, or sit in a
   * transport's queue).
   */
  private readonly sliceBuffers = new AnswerPool();
  private readonly takeSlice = (words: number): Uint32Array => this.sliceBuffers.takeU32(words);
  private scratchUnique = new Uint32Array(0);
  private scratchInverse = new Uint32Array(0);

  constructor(private readonly fleet: PsFleet, opts: DataClientOptions = {}) {
    this.window = new PushWindow(opts.maxInflightPushes ?? 2, fleet.log);
    this.encoding = opts.encoding === 'f16' ? Encoding.F16 : Encoding.F32;
    this.maxRows = opts.maxRowsPerRequest ?? 65_536;
    this.sampler = new StalenessSampler(opts.stalenessSampleEvery ?? DEFAULT_STALENESS_SAMPLE_EVERY);
    this.onStaleness = opts.onStaleness;
    this.incarnation = opts.tableIncarnation ?? (() => 0);
    this.steps = opts.steps;
  }

  /**
   * True for the training steps that should measure push staleness (one in
   * `stalenessSampleEvery`): such a step pulls with `versions` and pushes with `readVersions`.
   */
  sampleStaleness(): boolean {
    return this.sampler.next();
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
   * buffers allocates nothing per pull when the ids are distinct. With `versions` ([n]), each
   * row's version as read is written there (UNKNOWN_VERSION where a PS did not say), for a later
   * push's `readVersions`.
   *
   * @throws TesseraError INVALID_ARGUMENT when `out` does not hold exactly n × dim values, or
   *   `versions` exactly n.
   */
  async pull(table: string, ids: IdArray, dim: number, opts: { readOnly?: boolean; out?: Float32Array; versions?: Uint32Array } = {}): Promise<Float32Array> {
    const n = ids.length >>> 1;
    if (opts.out !== undefined && opts.out.length !== n * dim) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `out: ${opts.out.length} values, expected ${n} ids × dim ${dim} = ${n * dim}`);
    }
    checkVersions('versions', opts.versions, n);
    const { slices, count, inverse, route } = this.dedupAndSlice(ids);
    const uniqueRows = !inverse && opts.out !== undefined ? opts.out : new Float32Array(count * dim);
    const versions = opts.versions === undefined ? null : inverse ? new Uint32Array(count) : opts.versions;
    const into = { table, dim, out: uniqueRows, readOnly: opts.readOnly === true, versions };
    const pulled = Promise.all(slices.map((s) => this.pullSlice(into, s, route)));
    if (!into.readOnly) this.countingPulls.track(pulled);
    await pulled;
    this.giveSlices(slices);
    if (versions && inverse) fromDistinct(versions, inverse, opts.versions!);
    if (!inverse) return uniqueRows;
    const out = opts.out ?? new Float32Array(inverse.length * dim);
    gatherRowsAt(uniqueRows, out, inverse, dim);
    return out;
  }

  /**
   * All values of a dense table. With `out` (as long as the table, not shared with another call
   * in flight) they are copied there, the answer's pooled buffer goes back for the next answer,
   * and `out` is returned: a caller that pulls into its own buffers in turn allocates nothing per
   * pull (without it, the answer's buffer stays the returned array's).
   *
   * @throws TesseraError INVALID_ARGUMENT when `out` does not hold exactly the table's values.
   */
  pullDense(table: string, out?: Float32Array): Promise<Float32Array> {
    return this.pullDenseOn(table, this.fleet.route, out);
  }

  private pullDenseOn(table: string, route: Route, out?: Float32Array): Promise<Float32Array> {
    const owner = this.fleet.ownerOfDense(table, route.map);
    const c = route.conns[owner];
    const req = this.pullReq(table, new Uint8Array(0), owner, route.map);
    const pulled = async (): Promise<Float32Array> => {
      const res = await c.pull(req, this.callTimeoutMs);
      const values = this.decodeValues(res);
      if (out === undefined) return values;
      if (out.length !== values.length) {
        throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `out: ${out.length} values, dense table "${table}" has ${values.length}`);
      }
      out.set(values);
      res.release?.(); // copied out: its buffer may take the next answer
      return out;
    };
    return this.fleet.callRouted(`pull ${table} from ${c.addr}`, route, pulled, (next) => this.pullDenseOn(table, next, out), c.addr);
  }

  /**
   * Pushes gradients [n × dim] for `ids`. Returns once the push is in flight and the window has
   * room; `flush()` waits for completion. Duplicate ids are summed here before sending. With
   * `readVersions` (what `pull` wrote to its `versions` for these ids), the staleness of each row
   * goes to `onStaleness` once the push is applied.
   */
  async push(table: string, ids: IdArray, grads: Float32Array, readVersions?: Uint32Array): Promise<void> {
    const send = this.afterEarlierPulls(this.preparePush({ table, ids, grads, readVersions }));
    await this.window.admit(send);
  }

  /**
   * Pushes one training step's gradients, sparse tables and dense ones, as ONE entry of the
   * push window: bounded staleness counts steps, not tables. With `steps` (DataClientOptions)
   * every request is tagged with the step, and each PS the step touches no row of gets an empty
   * request of `sparse[0].table`.
   */
  async pushStep(sparse: SparsePush[], dense: DensePush[] = []): Promise<void> {
    const tags = this.steps && sparse.length > 0 ? new StepTags(this.steps, this.fleet.route) : undefined;
    const sends = [
      ...sparse.map((p) => this.preparePush(p, tags)),
      ...dense.map((d) => this.prepareDensePush(d.table, d.grads, tags, d.given === true)),
    ];
    if (tags) {
      const empty = { table: sparse[0].table, rows: new Float32Array(0), dim: 0, read: null, tags };
      for (const psIndex of tags.untouched()) sends.push(() => this.pushEmpty(empty, psIndex, tags.route));
    }
    const sealed = tags?.seal();
    const earlier = this.countingPulls.before();
    await this.window.admit(async () => {
      if (earlier) await earlier;
      try {
        await Promise.all(sends.map((send) => send()));
      } catch (err) {
        // A step that failed may never be complete on some PS: later steps must not wait behind it.
        if (sealed && sealed.client === this.steps!.id) this.steps!.renew();
        throw err;
      }
      if (sealed && sealed.client === this.steps!.id) this.steps!.answered(sealed.step);
    });
  }

  /** Pushes a dense table's gradient (async, same window as push()). */
  async pushDense(table: string, grads: Float32Array): Promise<void> {
    await this.window.admit(this.afterEarlierPulls(this.prepareDensePush(table, grads)));
  }

  /**
   * Validates, dedups (summing duplicate ids' gradients) and slices a push; returns the thunk
   * that sends it. Slices copy their rows when sent, so the caller may reuse `grads` once the
   * returned promise of the admission resolves.
   */
  private preparePush({ table, ids, grads, readVersions }: SparsePush, tags?: StepTags): () => Promise<void> {
    const n = ids.length >>> 1;
    if (grads.length % Math.max(n, 1) !== 0 || (n === 0 && grads.length !== 0)) {
      throw new TesseraError(ERROR_CODES.BAD_GRADIENT, `grads: length ${grads.length} is not a multiple of ${n} ids`);
    }
    checkVersions('readVersions', readVersions, n);
    const dim = n === 0 ? 0 : grads.length / n;
    const { slices, count, inverse, route } = this.dedupAndSlice(ids);
    let rows = grads;
    if (inverse) {
      rows = new Float32Array(count * dim); // duplicate ids: sum their gradients here
      for (let i = 0; i < n; i++) {
        const dst = inverse[i] * dim;
        const src = i * dim;
        for (let d = 0; d < dim; d++) rows[dst + d] += grads[src + d];
      }
    }
    const read = readVersions === undefined ? null : inverse ? toDistinct(readVersions, inverse, count) : readVersions;
    const from = { table, rows, dim, read, tags };
    for (const sl of slices) tags?.count(sl.psIndex, Math.ceil((sl.ids.length >>> 1) / this.maxRows));
    return async () => {
      await Promise.all(slices.map((s) => this.pushSlice(from, s, route)));
      this.giveSlices(slices);
    };
  }

  /** `given`: the caller gave `grads` up (`DensePush.given`), so it is sent without a copy. */
  private prepareDensePush(table: string, grads: Float32Array, tags?: StepTags, given = false): () => Promise<void> {
    const own = given ? grads : Float32Array.from(grads); // else the caller may reuse its buffer while this is in flight
    const route = this.fleet.route;
    tags?.count(this.fleet.ownerOfDense(table, route.map), 1);
    return () => this.pushDenseOn(table, own, route, undefined, tags);
  }

  /** Pushes a dense table's gradient to its owner in `route`; `identity` and `tags` as in `pushSlice`. */
  private async pushDenseOn(table: string, grads: Float32Array, route: Route, identity?: PushIdentity, tags?: StepTags): Promise<void> {
    const owner = this.fleet.ownerOfDense(table, route.map);
    const c = route.conns[owner];
    const req = this.pushReq(table, new Uint8Array(0), grads, owner, route.map, identity, tags);
    await this.fleet.callRouted(`push ${table} to ${c.addr}`, route, async () => { await this.fleet.countedPush(() => c.push(req, this.callTimeoutMs)); },
      (next, failedOver) => this.pushDenseOn(table, grads, next, this.resendIdentity(req, owner, route.map, failedOver), tags), c.addr);
  }

  /** A step's empty request to the PS at `psIndex` of `route`, which it touches no row of (ADR 0040). */
  private async pushEmpty(from: PushFrom, psIndex: number, route: Route): Promise<void> {
    const c = route.conns[psIndex];
    const req = this.pushReq(from.table, new Uint8Array(0), from.rows, psIndex, route.map, undefined, from.tags);
    // Re-routed, it is not needed: the PS it was for left the map, or refused it (a failed cut).
    await this.fleet.callRouted(`push ${from.table} to ${c.addr}`, route, async () => { await this.fleet.countedPush(() => c.push(req, this.callTimeoutMs)); },
      async () => undefined, c.addr);
  }

  /**
   * Dedups `ids` and slices the distinct ids by owner. `inverse` (input position → distinct
   * index) is returned only when there were duplicates; otherwise distinct order = input order.
   */
  private dedupAndSlice(ids: IdArray): { slices: Slice[]; count: number; inverse: Uint32Array | null; route: Route } {
    const n = ids.length >>> 1;
    if (this.scratchInverse.length < n) {
      this.scratchUnique = new Uint32Array(2 * n);
      this.scratchInverse = new Uint32Array(n);
    }
    const route = this.fleet.route;
    const { count, slices } = this.deduper.dedupAndSlice(ids, this.scratchUnique, this.scratchInverse, route.map, this.takeSlice);
    return { slices, count, inverse: count === n ? null : this.scratchInverse.slice(0, n), route };
  }

  /** Gives back the buffer of `slices` (dedupAndSlice's; they share one), once nothing reads them any more. */
  private giveSlices(slices: Slice[]): void {
    if (slices.length > 0) this.sliceBuffers.give(slices[0].ids);
  }

  /** `send`, held until every counting pull issued before this call has been answered (counting-pulls.ts). */
  private afterEarlierPulls(send: () => Promise<void>): () => Promise<void> {
    const earlier = this.countingPulls.before();
    return earlier ? async () => { await earlier; await send(); } : send;
  }

  /** Waits for every outstanding push and throws the first failure. */
  flush(): Promise<void> {
    return this.window.drain();
  }

  private get callTimeoutMs(): number {
    return this.fleet.callTimeoutMs;
  }

  /**
   * Pulls slice `s` (sliced by `route`) in requests of at most maxRows ids into `into.out`. A
   * request refused for an old map is sliced again by the new one and pulled from its owners.
   */
  private async pullSlice(into: PullInto, s: Slice, route: Route): Promise<void> {
    const { table, dim, out, readOnly, versions } = into;
    const c = route.conns[s.psIndex];
    const n = s.ids.length >>> 1;
    const chunks: Promise<void>[] = [];
    const wantVersions = versions !== null;
    for (let a = 0; a < n; a += this.maxRows) {
      const b = Math.min(n, a + this.maxRows);
      const req = { ...this.pullReq(table, asBytes(s.ids.subarray(2 * a, 2 * b)), s.psIndex, route.map), readOnly, wantVersions };
      const pulled = async (): Promise<void> => {
        const res = await c.pull(req, this.callTimeoutMs);
        const rows = this.decodeValues(res);
        if (res.dim !== dim || rows.length !== (b - a) * dim) {
          throw new TesseraError(ERROR_CODES.DIM_MISMATCH, `${c.addr}: table "${table}" has dim ${res.dim}, caller expected ${dim}`);
        }
        stitchRows(s, rows, dim, out, a, b);
        if (versions) stitchVersions(s, res.versions ? u32FromBytes(res.versions) : null, versions, a, b);
        res.release?.(); // the rows are copied out: its buffer may take the next answer
      };
      chunks.push(this.fleet.callRouted(`pull ${table} from ${c.addr}`, route, pulled,
        (next) => Promise.all(resliceByMap(s, a, b, next.map).map((r) => this.pullSlice(into, r, next))).then(() => undefined), c.addr));
    }
    await Promise.all(chunks);
  }

  /**
   * Pushes slice `s` (sliced by `route`) in requests of at most maxRows ids. A request refused
   * for an old map was not applied: its rows are sliced again by the new map and sent anew. A
   * request whose PS failed over is sliced again the same way, each new slice (one request: it
   * is no larger) sent under `identity`, the one the promoted buddy knows it by.
   */
  private async pushSlice(from: PushFrom, s: Slice, route: Route, identity?: PushIdentity): Promise<void> {
    const { table, rows, dim, read } = from;
    const c = route.conns[s.psIndex];
    const n = s.ids.length >>> 1;
    const sends: Promise<unknown>[] = [];
    for (let a = 0; a < n; a += this.maxRows) {
      const b = Math.min(n, a + this.maxRows);
      // The slice's gradients, kept for retries; their buffer is reused once the PS acknowledged
      // them (a request that failed may still sit in a transport's queue: left to the GC).
      const g = gatherRows(s, rows, dim, a, b, this.gradBuffers.takeF32((b - a) * dim));
      const ids = asBytes(s.ids.subarray(2 * a, 2 * b));
      const rv = read && gatherVersions(s, read, a, b);
      const req = { ...this.pushReq(table, ids, g, s.psIndex, route.map, identity, from.tags), wantVersions: rv !== null };
      const sent = async (): Promise<void> => {
        const res = await this.fleet.countedPush(() => c.push(req, this.callTimeoutMs));
        if (rv) this.reportStaleness(rv, res.versions);
      };
      const resend = (next: Route, failedOver: boolean) => {
        const again = this.resendIdentity(req, s.psIndex, route.map, failedOver);
        return Promise.all(resliceByMap(s, a, b, next.map).map((r) => this.pushSlice(from, r, next, again))).then(() => undefined);
      };
      sends.push(this.fleet.callRouted(`push ${table} to ${c.addr}`, route, sent, resend, c.addr).then(() => this.gradBuffers.give(g)));
    }
    await Promise.all(sends);
  }

  private reportStaleness(read: Uint32Array, before: Uint8Array | undefined): void {
    const updates = stalenessOf(read, before ? u32FromBytes(before) : null);
    if (updates.length > 0) this.onStaleness?.(updates);
  }

  /** Request fields common to pulls and pushes to the PS at `psIndex` of `map`. */
  private pullReq(table: string, ids: Uint8Array, psIndex: number, map: ShardMap) {
    const tableIncarnation = this.incarnation(map.ps[psIndex].id, table);
    return { table, shardMapVersion: map.version, ids, encoding: this.encoding, requestId: 0, tableIncarnation };
  }

  /**
   * A push request with its identity: `identity` when given, else this client's id and the next
   * sequence number for that PS. Built once per request and resent as is by every retry, so a
   * PS that applied it and answered late acknowledges the retry instead of applying it twice.
   * With `tags`, it carries its step's tag for that PS (a re-sent one: for the PS it goes to now).
   */
  private pushReq(table: string, ids: Uint8Array, grads: Float32Array, psIndex: number, map: ShardMap, identity?: PushIdentity, tags?: StepTags) {
    let payload: Uint8Array = asBytes(grads);
    if (this.encoding === Encoding.F16) {
      const half = new Uint16Array(grads.length);
      encodeF16(grads, half);
      payload = asBytes(half);
    }
    const stepTag = tags?.tagFor(map.ps[psIndex].id);
    return { ...this.pullReq(table, ids, psIndex, map), grads: payload, ...(identity ?? this.fleet.pushIdentity(map.ps[psIndex].id)), ...(stepTag ? { stepTag } : {}) };
  }

  /**
   * The identity a push `sent` to the PS at `psIndex` of `map` is re-sent under by a newer map:
   * none (fresh sequence numbers) when that PS refused it as stale, so it was not applied; the
   * identity its promoted buddy inherited when that PS failed over, so that a push it applied
   * and replicated before dying is acknowledged, not applied twice (issue 17).
   */
  private resendIdentity(sent: PushIdentity, psIndex: number, map: ShardMap, failedOver: boolean): PushIdentity | undefined {
    return failedOver ? this.fleet.failedOverIdentity(sent, map.ps[psIndex].id) : undefined;
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

/** Where a pull's slices write: the distinct rows `out` [count × dim] and, if asked, their versions. */
interface PullInto {
  table: string;
  dim: number;
  out: Float32Array;
  readOnly: boolean;
  versions: Uint32Array | null;
}

/** What a push's slices gather from: the summed distinct rows [count × dim] and read versions. */
interface PushFrom {
  table: string;
  rows: Float32Array;
  dim: number;
  read: Uint32Array | null;
  /** The step's tags, when the client numbers steps. */
  tags: StepTags | undefined;
}

function checkVersions(what: string, versions: Uint32Array | undefined, n: number): void {
  if (versions !== undefined && versions.length !== n) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${what}: ${versions.length} versions, expected one per id (${n})`);
  }
}
