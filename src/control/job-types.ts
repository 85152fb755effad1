/**
 * The job's control-plane records, as stored (JSON) under `/tessera/<job>/`: the job state, data
 * shard assignments and progress, and the status line. Shared by the chief (which writes state
 * and assignments) and the workers (which commit progress). Parsing validates every field and
 * names the one that is wrong, so a corrupt record is reported, never half-trusted.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { parseStalenessCounts, StalenessCounts } from './push-staleness';

/** A byte range of one data file that one worker reads at a time (see src/data/splits.ts). */
export interface DataShard {
  id: number;
  path: string;
  start: number;
  end: number;
  /** Gzip files cannot seek: their shard is the whole file and a resume skips lines. */
  gzip: boolean;
  /**
   * A partition of an event stream, not a byte range: `path` is the partition's URL
   * (`redis-stream://HOST:PORT/KEY:n`), `start` and `end` are 0, and it is never done (a stream
   * job runs until stopped). Its position is the progress record's `entry`.
   */
  stream?: true;
}

/** True for a stream job: its data shards are stream partitions (no epochs; it runs until stopped). */
export function isStreamJob(state: { shards: readonly DataShard[] }): boolean {
  return state.shards.length > 0 && state.shards.every((s) => s.stream === true);
}

/** One end-of-epoch evaluation. */
export interface EvalRecord {
  epoch: number;
  auc: number;
  logloss: number;
  rows: number;
}

/** What a finished job reports (also `tessera local --json`). */
export interface JobResult {
  samples: number;
  samples_per_s: number;
  auc: number | null;
  logloss: number | null;
  checkpoint: string | null;
  /** The last version published to the model root (`--export-dir`), when there is one. */
  model_version?: number;
}

export type JobPhase = 'train' | 'eval' | 'done' | 'failed';

/**
 * Why a job failed (`state.failure`, phase `failed`): an error that retrying cannot fix, such as
 * training data with no rows, a checkpoint directory that cannot be written, or a table whose
 * rows were lost with no checkpoint to restore them from. A failed job stays failed: every chief
 * and worker that sees it exits non-zero with this reason.
 */
export interface JobFailure {
  /** The stable TESSERA_ERR_* code of the cause. */
  code: string;
  /** One line naming what went wrong and what to do about it. */
  reason: string;
  /** When the chief failed the job (ISO-8601). */
  at: string;
}

/**
 * The exit code of a process ending with a failed job: 2 when the cause is the user's input or
 * configuration (TESSERA_ERR_CONFIG, or TESSERA_ERR_BAD_DATA for a data file that does not fit the
 * spec: fix the command and run again), 1 for any other failure.
 */
export function failureExitCode(f: JobFailure): 1 | 2 {
  return f.code === ERROR_CODES.CONFIG || f.code === ERROR_CODES.BAD_DATA ? 2 : 1;
}

/** `state`: where the job is. Only the elected chief writes it. */
export interface JobState {
  /** 0-based epoch being trained or evaluated. */
  epoch: number;
  epochs: number;
  phase: JobPhase;
  shards: DataShard[];
  /** Training rows consumed in finished epochs. */
  samplesBefore: number;
  /** Steps taken in finished epochs. */
  stepsBefore: number;
  /** Wall seconds spent training (not evaluating) in finished epochs, since the last resume. */
  trainSecondsBefore: number;
  /**
   * Samples already counted (finished epochs plus the epoch's committed rows) when the job was
   * resumed from a checkpoint: samples/s counts only the samples trained after it.
   */
  samplesAtResume?: number;
  /** When the current epoch's training started (ISO-8601). */
  epochStartedAt: string;
  evals: EvalRecord[];
  result?: JobResult;
  /** The checkpoint this state was restored from (so a restarted chief does not restore twice). */
  restoredFrom?: string;
  /** Set with phase `failed`. */
  failure?: JobFailure;
}

/** `checkpoints/latest`: the newest complete checkpoint (its manifest is on disk). */
export interface CheckpointPointer {
  id: string;
  root: string;
  step: number;
  epoch: number;
  at: string;
}

/** One PS's tables in the `tables` record. */
export interface PsTables {
  /** The PS's stable id in the shard map. */
  id: number;
  /** Its membership incarnation when the tables were recorded: a different one means it restarted. */
  member: string;
  /** Table name → the incarnation the PS gave it at creation. */
  tables: Record<string, number>;
}

/**
 * `tables`: every table's incarnation on every PS, as the elected chief created them. Workers send
 * these with each request (a PS refuses a request naming another incarnation) and never create a
 * table themselves; a standby chief compares the PS against it when it takes over.
 */
export interface TableRecord {
  /** Bumped by every write: a worker rebuilds its PS connection when it changes. */
  generation: number;
  /** The shard-map version the tables were recorded under. */
  mapVersion: number;
  ps: PsTables[];
}

/**
 * The incarnation of `table` on PS `psId` in `record`, as a PS client sends it with each request
 * (DataClientOptions.tableIncarnation); 0 (not checked) for a table or PS the record lacks.
 */
export function incarnationLookup(record: TableRecord): (psId: number, table: string) => number {
  const byPs = new Map(record.ps.map((p) => [p.id, p.tables]));
  return (psId, table) => byPs.get(psId)?.[table] ?? 0;
}

/**
 * `faults/<worker>`: a worker found a PS that is not as the chief published it (a table dropped or
 * created again, a shard-map version the worker does not know). The worker stops pushing to it
 * and waits; the chief repairs the PS (or fails the job) and deletes the record.
 */
export interface PsFault {
  worker: string;
  /**
   * `data`: not about a PS: the worker cannot use its data shard (missing file, too many
   * malformed lines); retrying reads the same bytes, so the chief fails the job with `message`.
   */
  kind: 'table' | 'shard-map' | 'data';
  /** The PS's address as the worker dialled it ('' for a `data` fault). */
  ps: string;
  /** The `tables` generation and the shard-map version the worker was using. */
  generation: number;
  mapVersion: number;
  /** The PS's answer. */
  message: string;
  at: string;
}

/** `assignments/<shard>`: the worker incarnation that reads a shard now. */
export interface Assignment {
  shard: number;
  epoch: number;
  worker: string;
  incarnation: string;
}

/** `progress/<shard>`: committed by the assigned worker after the pushes before `next` were acked. */
export interface Progress {
  shard: number;
  epoch: number;
  /** Byte offset where reading resumes (0 for a stream partition: see `entry`). */
  next: number;
  /** A stream partition's position: the id of the last entry applied (its pushes acknowledged). */
  entry?: string;
  /** Rows of this shard consumed (committed) so far in this epoch. */
  rows: number;
  steps: number;
  done: boolean;
  /** Mean training loss of the rows since the previous commit. */
  loss: number | null;
  worker: string;
  /** Set when the worker stopped training this shard on a non-finite loss: the error, naming the step. */
  nonFinite?: string;
  /** Push staleness measured on this shard's rows in this epoch (push-staleness.ts); absent: none measured. */
  staleness?: StalenessCounts;
}

/** `status`: the chief's live summary. */
export interface JobStatus {
  epoch: number;
  epochs: number;
  phase: JobPhase;
  step: number;
  samples: number;
  samplesPerS: number;
  loss: number | null;
  lastEval: EvalRecord | null;
  shardsDone: number;
  shardsTotal: number;
  workers: number;
  chief: string;
  /** Data shards of this epoch whose worker stopped on a non-finite (NaN/Inf) loss. */
  nonFiniteStops?: number;
  /** Rows committed in this epoch, per worker id (the status page's per-worker samples/s). */
  workerSamples?: Record<string, number>;
  /** p99 of the push staleness measured in this epoch, in updates (push-staleness.ts); null before any. */
  pushStalenessP99?: number | null;
  result?: JobResult;
  /** Set with phase `failed`. */
  failure?: JobFailure;
  at: string;
}

/**
 * `migration`: the live resharding in progress (issue 17), one at a time. Written by the chief
 * (leader-guarded) before any row moves, with `phase: "copy"`; its `phase: "commit"` is written in
 * the one transaction that publishes `to` as the shard map (the commit point). A successor chief
 * rolls a `copy` back and a `commit` forward (docs/control-plane.md, "Live resharding").
 */
export interface MigrationRecord {
  /** Names the migration on every PS: `mig-v<to.version>`. */
  id: string;
  /** The shard-map version the buckets move from. */
  fromVersion: number;
  /** The map that the commit publishes (ShardMapJSON). */
  to: { version: number; numBuckets: number; ps: { id: number; addr: string }[]; owner: number[] };
  phase: 'copy' | 'commit';
  /** Every PS taking part (sources, targets, and the PS of both maps), with its address. */
  ps: { id: number; addr: string }[];
  /** Per source: where its moving buckets go and how many. */
  moves: { from: number; to: number; buckets: number }[];
  /** ISO-8601 time the migration started. */
  startedAt: string;
}

/**
 * `drain/<member id>`: `tessera ps drain ID` asked that this PS give its buckets away and exit.
 * The chief sets `done` once the PS owns no bucket in the published map; the PS then exits 0.
 */
export interface DrainRequest {
  /** The PS's member id (`ps-2`). */
  id: string;
  at: string;
  done: boolean;
}

type Obj = Record<string, unknown>;

function fail(what: string, msg: string): never {
  throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${what}: ${msg}`);
}

function object(text: string, what: string): Obj {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    fail(what, `not JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(what, 'not a JSON object');
  return v as Obj;
}

function int(o: Obj, key: string, what: string): number {
  const v = o[key];
  if (!Number.isSafeInteger(v) || (v as number) < 0) fail(what, `${key} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v as number;
}

function num(o: Obj, key: string, what: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(what, `${key} must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

function str(o: Obj, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0) fail(what, `${key} must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function nullableNum(o: Obj, key: string, what: string): number | null {
  return o[key] === null || o[key] === undefined ? null : num(o, key, what);
}

const PHASES: readonly JobPhase[] = ['train', 'eval', 'done', 'failed'];

function shardOf(v: unknown, what: string): DataShard {
  if (typeof v !== 'object' || v === null) fail(what, 'shard must be an object');
  const o = v as Obj;
  const s: DataShard = {
    id: int(o, 'id', what), path: str(o, 'path', what), start: int(o, 'start', what), end: int(o, 'end', what), gzip: o.gzip === true,
    ...(o.stream === true ? { stream: true as const } : {}),
  };
  if (s.end < s.start) fail(what, `shard ${s.id} ends (${s.end}) before it starts (${s.start})`);
  return s;
}

function evalOf(v: unknown, what: string): EvalRecord {
  const o = (v ?? {}) as Obj;
  return { epoch: int(o, 'epoch', what), auc: num(o, 'auc', what), logloss: num(o, 'logloss', what), rows: int(o, 'rows', what) };
}

export function parseJobState(text: string): JobState {
  const what = 'job state';
  const o = object(text, what);
  const phase = o.phase as JobPhase;
  if (!PHASES.includes(phase)) fail(what, `phase must be one of ${PHASES.join(', ')}, got ${JSON.stringify(o.phase)}`);
  if (!Array.isArray(o.shards)) fail(what, 'shards must be an array');
  if (!Array.isArray(o.evals)) fail(what, 'evals must be an array');
  const state: JobState = {
    epoch: int(o, 'epoch', what), epochs: int(o, 'epochs', what), phase,
    shards: o.shards.map((s) => shardOf(s, what)),
    samplesBefore: int(o, 'samplesBefore', what), stepsBefore: int(o, 'stepsBefore', what),
    trainSecondsBefore: num(o, 'trainSecondsBefore', what), epochStartedAt: str(o, 'epochStartedAt', what),
    evals: o.evals.map((e) => evalOf(e, what)),
  };
  state.shards.forEach((s, i) => { if (s.id !== i) fail(what, `shards[${i}] has id ${s.id}; ids must be 0..n-1 in order`); });
  if (o.result !== undefined) state.result = o.result as JobResult;
  if (typeof o.restoredFrom === 'string') state.restoredFrom = o.restoredFrom;
  if (typeof o.samplesAtResume === 'number') state.samplesAtResume = o.samplesAtResume;
  if (phase === 'failed') state.failure = failureOf(o.failure, what);
  return state;
}

function failureOf(v: unknown, what: string): JobFailure {
  if (typeof v !== 'object' || v === null) fail(what, 'a failed job must have a failure {code, reason, at}');
  const o = v as Obj;
  return { code: str(o, 'code', what), reason: str(o, 'reason', what), at: str(o, 'at', what) };
}

export function parseAssignment(text: string): Assignment {
  const what = 'assignment';
  const o = object(text, what);
  return { shard: int(o, 'shard', what), epoch: int(o, 'epoch', what), worker: str(o, 'worker', what), incarnation: str(o, 'incarnation', what) };
}

export function parseProgress(text: string): Progress {
  const what = 'progress';
  const o = object(text, what);
  return {
    shard: int(o, 'shard', what), epoch: int(o, 'epoch', what), next: int(o, 'next', what), rows: int(o, 'rows', what),
    steps: int(o, 'steps', what), done: o.done === true, loss: nullableNum(o, 'loss', what), worker: str(o, 'worker', what),
    ...(typeof o.nonFinite === 'string' ? { nonFinite: o.nonFinite } : {}),
    ...(o.entry !== undefined ? { entry: str(o, 'entry', what) } : {}),
    ...(o.staleness !== undefined ? { staleness: parseStalenessCounts(o.staleness, what) } : {}),
  };
}

export function parseJobStatus(text: string): JobStatus {
  return object(text, 'job status') as unknown as JobStatus;
}

/** The exact JSON an assignment is stored as; commits compare against these bytes. */
export function assignmentJSON(a: Assignment): string {
  return JSON.stringify({ shard: a.shard, epoch: a.epoch, worker: a.worker, incarnation: a.incarnation });
}

export function parseTableRecord(text: string): TableRecord {
  const what = 'table record';
  const o = object(text, what);
  if (!Array.isArray(o.ps)) fail(what, 'ps must be an array');
  const ps = o.ps.map((v): PsTables => {
    const p = (v ?? {}) as Obj;
    const tables = p.tables as Obj;
    if (typeof tables !== 'object' || tables === null) fail(what, 'ps[].tables must be an object');
    return { id: int(p, 'id', what), member: str(p, 'member', what), tables: Object.fromEntries(Object.keys(tables).map((k) => [k, int(tables, k, what)])) };
  });
  return { generation: int(o, 'generation', what), mapVersion: int(o, 'mapVersion', what), ps };
}

export function parsePsFault(text: string): PsFault {
  const what = 'ps fault';
  const o = object(text, what);
  if (o.kind !== 'table' && o.kind !== 'shard-map' && o.kind !== 'data') fail(what, `kind must be table, shard-map or data, got ${JSON.stringify(o.kind)}`);
  return {
    worker: str(o, 'worker', what), kind: o.kind, ps: o.kind === 'data' && o.ps === '' ? '' : str(o, 'ps', what), generation: int(o, 'generation', what),
    mapVersion: int(o, 'mapVersion', what), message: str(o, 'message', what), at: str(o, 'at', what),
  };
}

export function parseCheckpointPointer(text: string): CheckpointPointer {
  const what = 'checkpoint pointer';
  const o = object(text, what);
  return { id: str(o, 'id', what), root: str(o, 'root', what), step: int(o, 'step', what), epoch: int(o, 'epoch', what), at: str(o, 'at', what) };
}

function endpointsOf(v: unknown, key: string, what: string): { id: number; addr: string }[] {
  if (!Array.isArray(v)) fail(what, `${key} must be an array`);
  return v.map((e) => { const o = (e ?? {}) as Obj; return { id: int(o, 'id', what), addr: str(o, 'addr', what) }; });
}

export function parseMigrationRecord(text: string): MigrationRecord {
  const what = 'migration record';
  const o = object(text, what);
  if (o.phase !== 'copy' && o.phase !== 'commit') fail(what, `phase must be copy or commit, got ${JSON.stringify(o.phase)}`);
  const to = (o.to ?? {}) as Obj;
  if (!Array.isArray(to.owner)) fail(what, 'to.owner must be an array');
  if (!Array.isArray(o.moves)) fail(what, 'moves must be an array');
  return {
    id: str(o, 'id', what), fromVersion: int(o, 'fromVersion', what), phase: o.phase, startedAt: str(o, 'startedAt', what),
    to: { version: int(to, 'version', what), numBuckets: int(to, 'numBuckets', what), ps: endpointsOf(to.ps, 'to.ps', what), owner: to.owner as number[] },
    ps: endpointsOf(o.ps, 'ps', what),
    moves: o.moves.map((m) => { const x = (m ?? {}) as Obj; return { from: int(x, 'from', what), to: int(x, 'to', what), buckets: int(x, 'buckets', what) }; }),
  };
}

export function parseDrainRequest(text: string): DrainRequest {
  const what = 'drain request';
  const o = object(text, what);
  return { id: str(o, 'id', what), at: str(o, 'at', what), done: o.done === true };
}
