/**
 * PsClient: the worker's view of the sharded parameter servers.
 *
 * Pull: dedup ids → slice by owner (shard map) → split into bounded requests → fan out to every
 * PS in parallel → stitch the answers back into the caller's order (duplicates included).
 * Push: dedup ids and sum their gradients → slice → fan out, without waiting, up to
 * `maxInflightPushes` outstanding (bounded staleness). Every call has a deadline; UNAVAILABLE
 * and deadline errors are retried with backoff until `retryDeadlineMs`.
 *
 * ```ts
 * const client = new PsClient({ shardMap, logger });
 * await client.createTable({ name: 'emb', kind: 'embedding', dim: 16, optimizer: { kind: 'adagrad', lr: 0.05 } });
 * const rows = await client.pull('emb', idsFrom([1n, 2n, 1n]), 16);   // [3 × 16]
 * await client.push('emb', idsFrom([1n]), new Float32Array(16).fill(0.1));
 * await client.flush();
 * ```
 */
import { DEFAULT_BACKOFF, BackoffOptions } from '../common/backoff';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { TableSpec } from '../ps/store/table-store';
import { tableSpecFromWire, tableSpecToWire, WireTableSpec } from '../ps/table-spec-wire';
import { bucketOf } from '../sharding/buckets';
import { Deduper } from '../sharding/dedup';
import { hashFeature } from '../sharding/feature-hash';
import { ShardMap, bucketsOwnedBy } from '../sharding/shard-map';
import { gatherRows, sliceByOwner, Slice, stitchRows } from '../sharding/slicer';
import { Encoding, PullResponseMsg } from '../wire/data-plane-codec';
import { decodeF16, encodeF16 } from '../wire/f16';
import { DEFAULT_MAX_REQUEST_BYTES } from '../wire/grpc-options';
import { asBytes, f32FromBytes, IdArray, idsFromBytes } from '../wire/key-block';
import { PsConnection, PsStats } from '../wire/ps-connection';
import * as path from 'path';
import { readManifest, CheckpointFileEntry } from '../checkpoint/manifest';
import { PushWindow } from './push-window';
import { withRetry } from './retry';

export interface PsClientOptions {
  shardMap: ShardMap;
  logger: Logger;
  /** Outstanding async pushes allowed; 0 = synchronous. Default 2. */
  maxInflightPushes?: number;
  /** Deadline of one RPC attempt, ms. Default 10 s. */
  callTimeoutMs?: number;
  /** Keep retrying UNAVAILABLE for this long, ms. Default 60 s. */
  retryDeadlineMs?: number;
  backoff?: BackoffOptions;
  /** Wire encoding for values and gradients. Default f32. */
  encoding?: 'f32' | 'f16';
  /** Largest number of ids in one request; bigger slices are split. Default 65,536. */
  maxRowsPerRequest?: number;
  /** Opens a connection to a PS (injected in tests). */
  connect?: (addr: string) => PsConnection;
}

const DENSE_SALT_FIELD = '__tessera_dense_table__';
/** How often awaitSnapshot polls SnapshotStatus. */
const SNAPSHOT_POLL_MS = 25;
/** Deadline of one Restore call: it reads and loads this PS's share of the checkpoint. */
const RESTORE_TIMEOUT_MS = 30 * 60_000;

/** One PS's answer to Snapshot. */
export interface PsSnapshotResult { psId: number; addr: string; cutRows: number; cutMicros: number }

/** One PS's SnapshotStatus. */
export interface PsSnapshotStatus {
  psId: number;
  addr: string;
  state: 'WRITING' | 'DONE' | 'FAILED';
  files: CheckpointFileEntry[];
  error: string;
  /** the tables in the snapshot, as the PS holds them (every default filled in) */
  tables: TableSpec[];
  numBuckets: number;
  shardMapVersion: number;
  copiedSlabs: number;
}

export class PsClient {
  private shardMap: ShardMap;
  private readonly conns: PsConnection[];
  private readonly window: PushWindow;
  private readonly encoding: Encoding;
  private readonly callTimeoutMs: number;
  private readonly maxRows: number;
  private readonly retry;
  private readonly log: Logger;
  private readonly denseOwner = new Map<string, number>();
  private closed = false;
  // Dedup scratch, reused by every call. Safe with concurrent calls because each call consumes
  // it synchronously (slicing copies the ids) before its first await.
  private readonly deduper = new Deduper();
  private scratchUnique = new Uint32Array(0);
  private scratchInverse = new Uint32Array(0);

  constructor(opts: PsClientOptions) {
    this.shardMap = opts.shardMap;
    this.log = opts.logger.child({ component: 'ps-client' });
    const connect = opts.connect ?? ((addr: string) => new PsConnection({ addr, maxMessageBytes: DEFAULT_MAX_REQUEST_BYTES * 2 }));
    this.conns = opts.shardMap.ps.map((p) => connect(p.addr));
    this.window = new PushWindow(opts.maxInflightPushes ?? 2, this.log);
    this.encoding = opts.encoding === 'f16' ? Encoding.F16 : Encoding.F32;
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.maxRows = opts.maxRowsPerRequest ?? 65_536;
    this.retry = { backoff: opts.backoff ?? DEFAULT_BACKOFF, retryDeadlineMs: opts.retryDeadlineMs ?? 60_000, logger: this.log };
  }

  get map(): ShardMap {
    return this.shardMap;
  }

  /** Outstanding pushes right now. */
  get inflightPushes(): number {
    return this.window.size;
  }

  /** Times push() had to wait for the window. */
  get pushThrottles(): number {
    return this.window.throttleCount;
  }

  /** Waits until every PS accepts connections. */
  async waitReady(timeoutMs = 10_000): Promise<void> {
    await Promise.all(this.conns.map((c) => c.waitReady(timeoutMs)));
  }

  /** Installs this client's shard map on every PS (the chief's job in a cluster). */
  async installShardMap(): Promise<void> {
    const m = this.shardMap;
    await Promise.all(this.conns.map((c, i) => {
      const owned = Uint32Array.from(bucketsOwnedBy(m, i));
      const req = { version: m.version, psIndex: i, numBuckets: m.numBuckets, ownedBuckets: asBytes(owned) };
      return this.call(`SetShardMap on ${c.addr}`, () => c.adminCall('SetShardMap', req, this.callTimeoutMs));
    }));
  }

  /** Creates an embedding table on every PS, or a dense table on its owner. Idempotent. */
  async createTable(spec: TableSpec): Promise<void> {
    const req = { spec: tableSpecToWire(spec) };
    const targets = spec.kind === 'dense' ? [this.conns[this.ownerOfDense(spec.name)]] : this.conns;
    await Promise.all(targets.map((c) => this.call(`CreateTable on ${c.addr}`, () => c.adminCall('CreateTable', req, this.callTimeoutMs))));
  }

  async dropTable(name: string): Promise<void> {
    await Promise.all(this.conns.map((c) => this.call(`DropTable on ${c.addr}`, () => c.adminCall('DropTable', { name }, this.callTimeoutMs))));
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
    const c = this.conns[this.ownerOfDense(table)];
    const res = await this.call(`pull ${table} from ${c.addr}`, () => c.pull(this.pullReq(table, new Uint8Array(0)), this.callTimeoutMs));
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
    const c = this.conns[this.ownerOfDense(table)];
    const copy = Float32Array.from(grads); // the caller may reuse its buffer while this is in flight
    return async () => {
      await this.call(`push ${table} to ${c.addr}`, () => c.push(this.pushReq(table, new Uint8Array(0), copy), this.callTimeoutMs));
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



  /**
   * Offers a dense table's values (a model's initial weights). With `onlyIfFresh` the first
   * caller wins; returns whether this call assigned them.
   */
  async assignDense(table: string, values: Float32Array, onlyIfFresh = true): Promise<boolean> {
    const c = this.conns[this.ownerOfDense(table)];
    const res = await this.call(`AssignDense on ${c.addr}`, () =>
      c.adminCall<{ assigned: boolean }>('AssignDense', { table, values: asBytes(values), onlyIfFresh }, this.callTimeoutMs));
    return res.assigned;
  }

  /**
   * Streams every row of an embedding table from every PS (ids and weights per chunk), or a
   * dense table's values from its owner (one chunk, no ids).
   */
  async *exportTable(table: string, kind: 'embedding' | 'dense', timeoutMs = 600_000): AsyncGenerator<{ ids: IdArray; values: Float32Array; dim: number }> {
    const conns = kind === 'dense' ? [this.conns[this.ownerOfDense(table)]] : this.conns;
    for (const c of conns) {
      for await (const chunk of c.exportTable(table, timeoutMs)) {
        yield { ids: idsFromBytes(chunk.ids), values: f32FromBytes(chunk.values), dim: chunk.dim };
      }
    }
  }

  /**
   * Takes checkpoint `id`'s cut on every PS in parallel; each returns as soon as its cut is taken
   * and writes `dir/<id>/ps-<psId>/` in the background (see awaitSnapshot).
   */
  async snapshot(id: string, dir: string, kind: 'full' | 'incremental', baseId?: string): Promise<PsSnapshotResult[]> {
    return Promise.all(this.conns.map(async (c, i) => {
      const psId = this.shardMap.ps[i].id;
      const req = { checkpointId: id, dir, kind, baseId: baseId ?? '', psId };
      // Not retried: a cut is not idempotent (a retry after a lost answer is refused as a conflict).
      const res = await c.adminCall<{ cutRows: number; cutMicros: number }>('Snapshot', req, this.callTimeoutMs);
      return { psId, addr: c.addr, cutRows: res.cutRows, cutMicros: res.cutMicros };
    }));
  }

  /** SnapshotStatus of checkpoint `id` on every PS, in shard-map order. */
  async snapshotStatus(id: string): Promise<PsSnapshotStatus[]> {
    return Promise.all(this.conns.map(async (c, i) => {
      const res = await this.call(`SnapshotStatus on ${c.addr}`, () =>
        c.adminCall<Omit<PsSnapshotStatus, 'psId' | 'addr' | 'tables'> & { tables: WireTableSpec[] }>('SnapshotStatus', { checkpointId: id }, this.callTimeoutMs));
      return { ...res, tables: res.tables.map(tableSpecFromWire), psId: this.shardMap.ps[i].id, addr: c.addr };
    }));
  }

  /** Polls until every PS has written snapshot `id`; throws naming a PS that failed, or at the timeout. */
  async awaitSnapshot(id: string, timeoutMs: number): Promise<PsSnapshotStatus[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = await this.snapshotStatus(id);
      const failed = all.find((s) => s.state === 'FAILED');
      if (failed) throw new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `snapshot "${id}" failed on ps ${failed.psId} (${failed.addr}): ${failed.error}`);
      if (all.every((s) => s.state === 'DONE')) return all;
      if (Date.now() > deadline) {
        const slow = all.filter((s) => s.state !== 'DONE').map((s) => `ps ${s.psId} (${s.addr})`).join(', ');
        throw new TesseraError(ERROR_CODES.DEADLINE, `snapshot "${id}": still writing after ${timeoutMs} ms on ${slow}`);
      }
      // Polling (not sleeping to order events): the status only moves towards DONE or FAILED.
      await new Promise((r) => setTimeout(r, SNAPSHOT_POLL_MS));
    }
  }

  /**
   * Restores checkpoint `root/id` (with its chain) onto every PS of this client's shard map, in
   * parallel: each PS loads the buckets it owns now and the dense tables placed on it, so the
   * checkpoint may come from any number of PS. Tables must exist (createTable) first.
   */
  async restore(root: string, id: string, opts: { onlyPsIds?: readonly number[] } = {}): Promise<{ psId: number; tables: { table: string; rows: number }[] }[]> {
    const m = this.shardMap;
    const manifest = await readManifest(path.join(root, id));
    const dense = manifest.tables.filter((t) => t.kind === 'dense').map((t) => t.name);
    const targets = this.conns.map((c, i) => ({ c, i })).filter(({ i }) => !opts.onlyPsIds || opts.onlyPsIds.includes(m.ps[i].id));
    return Promise.all(targets.map(async ({ c, i }) => {
      const req = {
        root, checkpointId: id, numBuckets: m.numBuckets,
        buckets: asBytes(Uint16Array.from(bucketsOwnedBy(m, i))),
        denseTables: dense.filter((t) => this.ownerOfDense(t) === i),
      };
      const res = await this.call(`Restore on ${c.addr}`, () =>
        c.adminCall<{ tables: { table: string; rows: number }[] }>('Restore', req, RESTORE_TIMEOUT_MS));
      return { psId: m.ps[i].id, tables: res.tables };
    }));
  }

  /** Waits for every outstanding push and throws the first failure. */
  flush(): Promise<void> {
    return this.window.drain();
  }

  /** Stats of every PS, in shard-map order. */
  stats(): Promise<PsStats[]> {
    return Promise.all(this.conns.map((c) => this.call(`Stats on ${c.addr}`, () => c.adminCall<PsStats>('Stats', {}, this.callTimeoutMs))));
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns) c.close();
  }

  private ownerOfDense(table: string): number {
    let owner = this.denseOwner.get(table);
    if (owner === undefined) {
      const h = hashFeature(DENSE_SALT_FIELD, table);
      owner = this.shardMap.owner[bucketOf(Number(h & 0xffffffffn), Number(h >> 32n), this.shardMap.numBuckets)];
      this.denseOwner.set(table, owner);
    }
    return owner;
  }

  private async pullSlice(table: string, s: Slice, dim: number, out: Float32Array, readOnly: boolean): Promise<void> {
    const c = this.conns[s.psIndex];
    const n = s.ids.length >>> 1;
    const chunks: Promise<void>[] = [];
    for (let a = 0; a < n; a += this.maxRows) {
      const b = Math.min(n, a + this.maxRows);
      const ids = asBytes(s.ids.subarray(2 * a, 2 * b));
      chunks.push(this.call(`pull ${table} from ${c.addr}`, () => c.pull({ ...this.pullReq(table, ids), readOnly }, this.callTimeoutMs)).then((res) => {
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
      sends.push(this.call(`push ${table} to ${c.addr}`, () => c.push(this.pushReq(table, ids, g), this.callTimeoutMs)));
    }
    await Promise.all(sends);
  }

  private pullReq(table: string, ids: Uint8Array) {
    return { table, shardMapVersion: this.shardMap.version, ids, encoding: this.encoding, requestId: 0 };
  }

  private pushReq(table: string, ids: Uint8Array, grads: Float32Array) {
    let payload: Uint8Array = asBytes(grads);
    if (this.encoding === Encoding.F16) {
      const half = new Uint16Array(grads.length);
      encodeF16(grads, half);
      payload = asBytes(half);
    }
    return { table, shardMapVersion: this.shardMap.version, ids, grads: payload, encoding: this.encoding, requestId: 0 };
  }

  private decodeValues(res: PullResponseMsg): Float32Array {
    if (res.encoding !== Encoding.F16) return f32FromBytes(res.values);
    const v = res.values;
    const half = v.byteOffset % 2 === 0 ? new Uint16Array(v.buffer, v.byteOffset, v.byteLength >>> 1) : new Uint16Array(Uint8Array.from(v).buffer);
    const out = new Float32Array(half.length);
    decodeF16(half, out);
    return out;
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(what, this.retry, () => {
      // A closed client stops retrying at once, so shutdown after an error is prompt.
      if (this.closed) throw new TesseraError(ERROR_CODES.UNAVAILABLE, `${what}: client closed`, { retryable: false });
      return fn();
    });
  }
}
