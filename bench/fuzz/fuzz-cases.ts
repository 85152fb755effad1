/**
 * The fuzzer's cases: for every data-plane and admin method of a PS (and health Check), random
 * bytes, mutated valid messages (fuzz-bytes.ts) and valid encodings of hostile content (ids not
 * a multiple of 8, NaN/Inf and overflowing gradients, dims 0 and 2^31, 10 KB table names, paths
 * out of the checkpoint root, bucket counts of 2^32); streams with garbage interleaved between
 * valid messages, half-closed at once or cancelled; and raw HTTP/2 bodies with broken gRPC
 * framing (huge length prefixes, truncated frames, a compressed flag with no encoding).
 */
import { encodePullRequest, encodePushRequest, Encoding } from '../../src/wire/data-plane-codec';
import { healthService, psAdminService } from '../../src/wire/services';
import { FuzzRng, mutate } from './fuzz-bytes';

/** How a case is sent. */
export type Shape = 'unary' | 'server_stream' | 'bidi' | 'raw_h2';

/** One fuzz case: a method and the message bytes sent to it. */
export interface FuzzCase {
  /** method name and how the bytes were made, e.g. `Push mutated:bitflip` */
  label: string;
  method: string;
  /** gRPC path, e.g. `/tessera.v1.ParameterServer/Push` */
  path: string;
  shape: Shape;
  /** request messages (raw_h2: the whole request body, frames included) */
  messages: Buffer[];
  /** bidi and server_stream: cancel after the first answer instead of reading to the end */
  cancel?: boolean;
  /** a push (or stream of them) aimed at the watched rows: request ids of its hostile messages */
  hostile?: number[];
}

/** What the cases are aimed at: the fuzzed tables, the watched ids, the PS's state. */
export interface FuzzTarget {
  tables: { name: string; dim: number; dense: boolean }[];
  /** ids (lo, hi pairs) only hostile pushes name; refused ones must leave their rows unchanged */
  watched: Uint32Array;
  /** ids benign requests name */
  pool: Uint32Array;
  shardMapVersion: number;
  checkpointRoot: string;
}

const DATA = '/tessera.v1.ParameterServer/';
const ADMIN = '/tessera.v1.PsAdmin/';
const HEALTH = '/grpc.health.v1.Health/';
const LONG_NAME = 'n'.repeat(10 * 1024);
/** Request ids of hostile stream messages start here, so their answers can be told apart. */
export const HOSTILE_ID_BASE = 1_000_000;

/** `n` ids taken at random from `from` (lo, hi pairs). */
function someIds(rng: FuzzRng, from: Uint32Array, n: number): Uint32Array {
  const out = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const k = rng.int(from.length >>> 1);
    out[2 * i] = from[2 * k];
    out[2 * i + 1] = from[2 * k + 1];
  }
  return out;
}

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A benign pull or push of pool ids (the shape of normal training traffic). */
function benign(rng: FuzzRng, t: FuzzTarget, push: boolean, requestId: number): Buffer {
  const table = rng.pick(t.tables);
  const ids = table.dense ? new Uint32Array(0) : someIds(rng, t.pool, 1 + rng.int(32));
  const base = { table: table.name, shardMapVersion: t.shardMapVersion, ids: bytesOf(ids), encoding: rng.chance(0.2) ? Encoding.F16 : Encoding.F32, requestId };
  if (!push) return encodePullRequest({ ...base, readOnly: rng.chance(0.2) });
  const n = table.dense ? table.dim : (ids.length >>> 1) * table.dim;
  const grads = new Float32Array(n).map(() => (rng.int(2001) - 1000) * 1e-5);
  const g = base.encoding === Encoding.F16 ? Buffer.from(new Uint16Array(n).fill(0x1400).buffer) : bytesOf(grads);
  return encodePushRequest({ ...base, grads: g });
}

/**
 * A message of `bytes` bytes for `method` (100 MB in the load phase): a push of a few watched
 * ids with a huge gradient block, a pull with a huge id block, or an admin request with a huge
 * table name. The PS's request limit must refuse each before it is applied.
 */
export function hugeMessage(t: FuzzTarget, method: 'Push' | 'PushStream' | 'Pull' | 'CreateTable', bytes: number): FuzzCase {
  const table = t.tables.find((x) => !x.dense)!;
  const ids = bytesOf(t.watched.subarray(0, 8));
  const base = { table: table.name, shardMapVersion: t.shardMapVersion, encoding: Encoding.F32, requestId: HOSTILE_ID_BASE };
  const at = (path: string, shape: Shape) => ({ label: `${method} ${bytes >>> 20} MiB`, method, path, shape });
  if (method === 'Pull') return { ...at(DATA + method, 'unary'), messages: [encodePullRequest({ ...base, ids: Buffer.alloc(bytes & ~7) })] };
  if (method === 'CreateTable') {
    const spec = { name: 'n'.repeat(bytes), kind: 'EMBEDDING', dim: 8, optimizer: { kind: 'sgd', params: { lr: 0.1 } } };
    return { ...at(ADMIN + method, 'unary'), messages: [psAdminService().service.CreateTable.requestSerialize({ spec })] };
  }
  const push = encodePushRequest({ ...base, ids, grads: Buffer.alloc(bytes, 0x3c) });
  return { ...at(DATA + method, method === 'Push' ? 'unary' : 'bidi'), messages: [push], hostile: [HOSTILE_ID_BASE] };
}

/** Gradient values that finite-input checks pass and optimizers can still overflow on. */
const HOSTILE_GRADS = [NaN, Infinity, -Infinity, 3e38, -3e38, 1e20, 1e30];

/**
 * A push aimed at the watched rows with content that must be refused or stay finite: bad
 * gradients (one benign row first, so a partial update would show), ids not a multiple of 8,
 * a 10 KB table name, unknown encodings, stale versions, wrong gradient lengths.
 */
function hostilePush(rng: FuzzRng, t: FuzzTarget, requestId: number): Buffer {
  const table = rng.pick(t.tables.filter((x) => !x.dense));
  const n = 2 + rng.int(6);
  const ids = someIds(rng, t.watched, n);
  const grads = new Float32Array(n * table.dim).fill(0.01);
  const bad = rng.pick(HOSTILE_GRADS);
  for (let k = table.dim; k < grads.length; k++) if (rng.chance(0.5)) grads[k] = bad;
  const m = { table: table.name, shardMapVersion: t.shardMapVersion, ids: bytesOf(ids), grads: bytesOf(grads), encoding: Encoding.F32, requestId };
  switch (rng.int(7)) {
    case 0: return encodePushRequest({ ...m, ids: bytesOf(ids).subarray(0, 8 * n - 1 - rng.int(7)) });
    case 1: return encodePushRequest({ ...m, table: LONG_NAME });
    case 2: return encodePushRequest({ ...m, encoding: 2 + rng.int(2 ** 31) });
    case 3: return encodePushRequest({ ...m, shardMapVersion: t.shardMapVersion + 1 + rng.int(1000) });
    case 4: return encodePushRequest({ ...m, grads: bytesOf(grads).subarray(0, 4 * (grads.length - 1)) });
    default: return encodePushRequest(m);
  }
}

/** A valid-but-hostile pull: ids not a multiple of 8, a 10 KB name, an unknown encoding. */
function hostilePull(rng: FuzzRng, t: FuzzTarget): Buffer {
  const ids = bytesOf(someIds(rng, t.pool, 4));
  const m = { table: rng.pick(t.tables).name, shardMapVersion: t.shardMapVersion, ids, encoding: Encoding.F32, requestId: 1 + rng.int(1000) };
  return encodePullRequest(rng.pick([
    { ...m, ids: ids.subarray(0, 1 + rng.int(31)) }, { ...m, table: LONG_NAME }, { ...m, table: '' },
    { ...m, encoding: 2 + rng.int(2 ** 31) }, { ...m, readOnly: true, ids: Buffer.alloc(0) },
  ]));
}

/** Random bytes, or `valid` mutated; the label says which. */
function garbleOr(rng: FuzzRng, valid: Buffer): { bytes: Buffer; how: string } {
  if (rng.chance(0.3)) return { bytes: rng.bytes(rng.int(64)), how: 'random' };
  return (({ bytes, how }) => ({ bytes, how: `mutated:${how}` }))(mutate(rng, valid));
}

/** One data-plane unary case: Pull or Push, benign, hostile, mutated or random. */
function dataUnary(rng: FuzzRng, t: FuzzTarget): FuzzCase {
  const push = rng.chance(0.5);
  const method = push ? 'Push' : 'Pull';
  const at = { method, path: DATA + method, shape: 'unary' as const };
  const roll = rng.int(10);
  if (roll < 2) return { ...at, label: `${method} benign`, messages: [benign(rng, t, push, 1)] };
  if (roll < 5) {
    if (!push) return { ...at, label: 'Pull hostile', messages: [hostilePull(rng, t)] };
    return { ...at, label: 'Push hostile', messages: [hostilePush(rng, t, HOSTILE_ID_BASE)], hostile: [HOSTILE_ID_BASE] };
  }
  const g = garbleOr(rng, push ? hostilePush(rng, t, HOSTILE_ID_BASE) : benign(rng, t, false, 7));
  // A mutated hostile push may still decode and be accepted: it counts as aimed at the watched rows.
  return { ...at, label: `${method} ${g.how}`, messages: [g.bytes], ...(push ? { hostile: [HOSTILE_ID_BASE] } : {}) };
}

/**
 * A PullStream or PushStream of 0-8 messages: benign ones with garbage, mutations and (pushes)
 * hostile ones interleaved; half-closed after the writes, or cancelled after the first answer.
 */
export function dataStream(rng: FuzzRng, t: FuzzTarget): FuzzCase {
  const push = rng.chance(0.5);
  const method = push ? 'PushStream' : 'PullStream';
  const messages: Buffer[] = [];
  const hostile: number[] = [];
  const count = rng.chance(0.1) ? 0 : 1 + rng.int(8);
  for (let i = 0; i < count; i++) {
    const id = i + 1;
    const roll = rng.int(4);
    if (roll === 0) messages.push(garbleOr(rng, benign(rng, t, push, id)).bytes);
    else if (roll === 1 && push) {
      hostile.push(HOSTILE_ID_BASE + id);
      messages.push(hostilePush(rng, t, HOSTILE_ID_BASE + id));
    } else messages.push(benign(rng, t, push, id));
  }
  const cancel = count > 0 && rng.chance(0.2);
  const label = `${method} ${count === 0 ? 'half-closed at once' : cancel ? 'cancelled' : 'interleaved'}`;
  return { label, method, path: DATA + method, shape: 'bidi', messages, cancel, hostile };
}

/**
 * Fixed cases for the PS's disk tier, sent before the random ones while its LMDB environment is
 * still fresh: spill tables with a budget below one slab or below one row, which must be refused
 * (INVALID_ARGUMENT), then a valid spill table created and dropped before it spilled. Issue 23:
 * the first refused spill table, or that drop, aborted the PS inside LMDB (`useWritemap`).
 */
export function tierCases(): FuzzCase[] {
  const spec = { name: 'fz_tier', kind: 'EMBEDDING', dim: 8, seed: 1, optimizer: { kind: 'sgd', params: { lr: 0.1 } } };
  const admin = (label: string, method: string, req: object): FuzzCase => ({
    label: `${method} tier: ${label}`, method, path: ADMIN + method, shape: 'unary', messages: [psAdminService().service[method].requestSerialize(req)],
  });
  const create = (label: string, eviction: object) => admin(label, 'CreateTable', { spec: { ...spec, eviction } });
  return [
    create('maxRows 100, spill', { maxRows: 100, spill: true }),
    create('maxRows 1, spill', { maxRows: 1, spill: true }),
    create('maxBytes 1, spill', { maxBytes: 1, spill: true }),
    create('maxRows 65536 (one slab), spill', { maxRows: 65_536, spill: true }),
    admin('the spill table, before it spilled', 'DropTable', { name: spec.name }),
  ];
}

type AdminBase = (rng: FuzzRng, t: FuzzTarget) => Record<string, unknown>;

const PATHS = (t: FuzzTarget, rng: FuzzRng): string[] => [
  t.checkpointRoot, `${t.checkpointRoot}/job`, `${t.checkpointRoot}/../escape`, '/etc', 'relative/dir', `${t.checkpointRoot}/a\u0000b`,
  `${t.checkpointRoot}/${String.fromCharCode(1 + rng.int(31))}`, LONG_NAME,
];
const IDS = ['fz-1', 'fz-2', 'fz-3', '..', '.', '../../etc', 'a/b', '', LONG_NAME];

/** Valid (and deliberately bad) requests of each admin method, before mutation. */
const ADMIN_BASES: Record<string, AdminBase> = {
  CreateTable: (rng) => ({
    spec: {
      name: rng.pick(['fz_new_1', 'fz_new_2', LONG_NAME, '', '../x']), kind: rng.pick(['EMBEDDING', 'DENSE']),
      dim: rng.pick([0, 1, 8, 4096, 4097, 2 ** 31]), size: rng.pick([0, 16, 2 ** 31]), seed: rng.int(10),
      optimizer: { kind: rng.pick(['sgd', 'adagrad', 'adam', 'ftrl', 'rmsprop']), params: rng.pick([{ lr: 0.1 }, { alpha: 0.1 }, { lr: 0.1, clip_norm: 0 }, { lr: -1 }]) },
      // The fuzzed PS has a disk tier: spill tables below one slab, at one slab, and byte budgets
      // too small for a row (issue 23: one refused spill table aborted the PS inside LMDB).
      eviction: rng.pick([undefined, { maxRows: 100, spill: true }, { maxRows: 1, spill: true }, { maxRows: 65_536, spill: true }, { maxBytes: 1, spill: true }, { maxRows: 65_536 }]),
    },
  }),
  DropTable: (rng) => ({ name: rng.pick(['fz_new_1', 'fz_new_2', 'nope', LONG_NAME]) }),
  SetShardMap: (rng, t) => ({
    version: t.shardMapVersion + rng.pick([-1, 0, 1, 2 ** 40]), psIndex: rng.int(4), numBuckets: rng.pick([0, 1, 4096, 65537, 2 ** 32 - 1]),
    ownedBuckets: rng.chance(0.5) ? Buffer.alloc(0) : rng.bytes(4 * rng.int(8) + rng.int(4)),
  }),
  AssignDense: (rng, t) => ({
    table: rng.pick(t.tables).name, values: bytesOf(new Float32Array(rng.pick([0, 1, 16])).fill(rng.pick([0.5, NaN]))), onlyIfFresh: rng.chance(0.5),
  }),
  Snapshot: (rng, t) => ({ checkpointId: rng.pick(IDS), dir: rng.pick(PATHS(t, rng)), kind: rng.pick(['full', 'incremental', 'x']), baseId: rng.pick(['', 'fz-1', '..']), psId: rng.int(3) }),
  SnapshotStatus: (rng) => ({ checkpointId: rng.pick(IDS) }),
  Restore: (rng, t) => ({
    root: rng.pick(PATHS(t, rng)), checkpointId: rng.pick(IDS), buckets: rng.bytes(2 * rng.int(4) + rng.int(2)),
    numBuckets: rng.pick([0, 4096, 2 ** 32 - 1]), denseTables: rng.chance(0.3) ? ['dense_fz'] : [],
  }),
  Stats: () => ({}),
  ExportTable: (rng, t) => ({ table: rng.pick([...t.tables.map((x) => x.name), 'nope', LONG_NAME]), chunkRows: rng.pick([0, 1, 7, 2 ** 32 - 1]) }),
};

/** Admin method names the fuzzer drives. */
export const ADMIN_METHODS = Object.keys(ADMIN_BASES);

/** One admin (or health Check) case: a base request as is, mutated, or random bytes. */
function admin(rng: FuzzRng, t: FuzzTarget): FuzzCase {
  if (rng.chance(0.05)) {
    const g = garbleOr(rng, healthService().service.Check.requestSerialize({ service: rng.pick(['', 'tessera.v1.ParameterServer']) }));
    return { label: `Health.Check ${g.how}`, method: 'Health.Check', path: `${HEALTH}Check`, shape: 'unary', messages: [g.bytes] };
  }
  const method = rng.pick(ADMIN_METHODS);
  const valid = psAdminService().service[method].requestSerialize(ADMIN_BASES[method](rng, t));
  const g = rng.chance(0.4) ? { bytes: valid, how: 'as is' } : garbleOr(rng, valid);
  const shape = method === 'ExportTable' ? 'server_stream' as const : 'unary' as const;
  return { label: `${method} ${g.how}`, method, path: ADMIN + method, shape, messages: [g.bytes], cancel: shape === 'server_stream' && rng.chance(0.5) };
}

/** gRPC frames around `body`, or broken framing: the label says which. */
function rawFraming(rng: FuzzRng, t: FuzzTarget): FuzzCase {
  const msg = benign(rng, t, rng.chance(0.5), 1);
  const frame = (flag: number, len: number, b: Buffer) => Buffer.concat([Buffer.from([flag, len >>> 24, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff]), b]);
  const variants: [string, Buffer][] = [
    ['huge length prefix', frame(0, 0x7fffffff, msg)],
    ['length prefix past the body', frame(0, msg.length + 1 + rng.int(1000), msg)],
    ['truncated frame header', Buffer.from([0, 0, 0])],
    ['compressed flag, no encoding', frame(1, msg.length, msg)],
    ['two messages to a unary method', Buffer.concat([frame(0, msg.length, msg), frame(0, msg.length, msg)])],
    ['empty body', Buffer.alloc(0)],
    ['random body', rng.bytes(1 + rng.int(64))],
  ];
  const [how, body] = rng.pick(variants);
  const method = rng.pick(['Pull', 'Push', 'PullStream']);
  return { label: `raw ${how}`, method: `raw:${method}`, path: DATA + method, shape: 'raw_h2', messages: [body] };
}

/**
 * The next case. Mix: 30% data-plane unary, 20% data-plane streams, 40% admin and health, 10%
 * raw HTTP/2 framing.
 */
export function nextCase(rng: FuzzRng, t: FuzzTarget): FuzzCase {
  const roll = rng.int(10);
  if (roll < 3) return dataUnary(rng, t);
  if (roll < 5) return dataStream(rng, t);
  if (roll < 9) return admin(rng, t);
  return rawFraming(rng, t);
}
