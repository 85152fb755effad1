/**
 * The data thread's entry (a `worker_threads` Worker started by data-thread-session.ts): wires
 * the real parts, a PsClient to the job's PS and, per `run` message, a RowReader over a file
 * (range), to a DataPath, and talks to the main thread over its port. Its own gRPC connections,
 * decoding and garbage stay off the thread that runs the model. Between runs it serves `flush`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { PsClient } from '../client/ps-client';
import { createLogger } from '../common/logger';
import { incarnationLookup } from '../control/job-types';
import type { TableRecord } from '../control/job-types';
import { asDataError } from '../data/data-errors';
import { RowReader } from '../data/reader';
import { schemaFor } from '../data/record';
import { FeatureLayout } from '../infer/feature-layout';
import type { CtrModel } from '../model/types';
import type { ShardMap } from '../sharding/shard-map';
import { FeatureTransformer } from '../spec/transform';
import type { JobSpec } from '../spec/types';
import type { DataPlane } from '../wire/grpc-options';
import { openTls, TlsConfig } from '../wire/tls';
import { DataPath, DataPathPort, FromDataThread, owned, ToDataThread } from './data-path';
import { boundedPushes } from './job-push-window';
import { psParams, trainingClientOptions } from './ps-params';

/** What the main thread starts the data thread with (structured-cloned). */
export interface DataThreadInit {
  spec: JobSpec;
  shardMap: ShardMap;
  /** Which inputs the model reads (CtrModel.reads). */
  reads: CtrModel['reads'];
  /** pino level of the thread's logger. */
  logLevel: string;
  /** A cluster job's table incarnations, sent with every request (absent: 0, a job of its own). */
  tables?: TableRecord;
  /** Mutual TLS to the PS (the files are read, and followed, on this thread). */
  tls?: TlsConfig;
  /** What carries pulls and pushes (the worker's `--data-plane`; default grpc-js). */
  dataPlane?: DataPlane;
  /** One training step in this many measures push staleness (the PS client's default when absent). */
  stalenessSampleEvery?: number;
}

/** A DataPathPort over a worker_threads MessagePort: messages queue until asked for; `map` replies go to `onMap`. */
export function messagePort(port: MessagePort, onMap: (m: ShardMap | undefined) => void = () => undefined): DataPathPort {
  const queued: ToDataThread[] = [];
  const waiting: Array<(m: ToDataThread) => void> = [];
  port.on('message', (m: ToDataThread) => {
    if (m.type === 'map') return onMap(m.map);
    const w = waiting.shift();
    if (w) w(m);
    else queued.push(m);
  });
  return {
    post: (msg, transfer) => port.postMessage(msg, transfer),
    next: () => (queued.length > 0 ? Promise.resolve(queued.shift()!) : new Promise((resolve) => waiting.push(resolve))),
  };
}

/** The error as one line and its code; a file that cannot be read becomes the worker's BAD_DATA. */
function failure(err: unknown, file: string): FromDataThread {
  const e = (asDataError(err, file) ?? err) as { message?: string; code?: string };
  return { type: 'error', message: String(e?.message ?? err).split('\n')[0], ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
}

async function main(port: MessagePort, init: DataThreadInit): Promise<void> {
  const { spec } = init;
  const logger = createLogger({ level: init.logLevel }).child({ role: 'worker', component: 'data-thread' });
  const schema = schemaFor(spec.data.format);
  const transformer = new FeatureTransformer(spec, schema);
  const layout = new FeatureLayout(spec, transformer, { reads: init.reads });
  const tls = init.tls ? openTls(init.tls) : null;
  const maps: Array<(m: ShardMap | undefined) => void> = [];
  const link = messagePort(port, (m) => maps.shift()?.(m));
  const client = new PsClient({
    shardMap: init.shardMap, logger, ...trainingClientOptions(spec.training),
    ...(init.tables ? { tableIncarnation: incarnationLookup(init.tables) } : {}),
    ...(tls ? { credentials: tls.channelCredentials() } : {}),
    ...(init.dataPlane ? { dataPlane: init.dataPlane } : {}),
    ...(tls && init.dataPlane === 'http2' ? { http2Tls: () => tls.httpsClient() } : {}),
    ...(init.stalenessSampleEvery !== undefined ? { stalenessSampleEvery: init.stalenessSampleEvery } : {}),
    // A PS refusing the map as old: the main thread follows the published maps; ask it.
    latestMap: () => new Promise((resolve) => { maps.push(resolve); link.post({ type: 'latest-map' }, []); }),
    onStaleness: (u) => { const v = owned(u); link.post({ type: 'staleness', updates: v }, [v.buffer as ArrayBuffer]); },
  });
  let window = spec.training.maxInflightPushes;
  const pushes = psParams(client);
  const path = new DataPath({
    spec, params: boundedPushes(pushes, () => window), transformer, layout, port: link, pushes, setWindow: (w) => { window = w; },
  });
  let file = '';
  try {
    await client.waitReady();
    for (;;) {
      const m = await link.next();
      if (m.type === 'flush') await path.flush();
      if (m.type !== 'run') continue;
      file = m.path;
      const reader = new RowReader(m.path, schema, m.reader);
      await path.run(reader.positionedBatches(spec.training.batchSize), () => ({ summary: reader.summary(), bad: reader.stats().bad }));
    }
  } catch (err) {
    link.post(failure(err, file), []);
  } finally {
    client.close();
    tls?.close();
    port.close();
  }
}

if (parentPort !== null) void main(parentPort, workerData as DataThreadInit);
