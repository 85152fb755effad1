/**
 * The data thread's entry (a `worker_threads` Worker started by threaded-epoch.ts): wires the
 * real parts, a RowReader over the training file and a PsClient to the job's PS, to a DataPath,
 * and talks to the main thread over its port. Its own gRPC connections, decoding and garbage
 * stay off the thread that runs the model.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { PsClient } from '../client/ps-client';
import { createLogger } from '../common/logger';
import { RowReader } from '../data/reader';
import { schemaFor } from '../data/record';
import { FeatureLayout } from '../infer/feature-layout';
import type { CtrModel } from '../model/types';
import type { ShardMap } from '../sharding/shard-map';
import { FeatureTransformer } from '../spec/transform';
import type { JobSpec } from '../spec/types';
import { DataPath, DataPathPort, ToDataThread } from './data-path';
import { psParams, trainingClientOptions } from './ps-params';

/** What the main thread starts the data thread with (structured-cloned). */
export interface DataThreadInit {
  spec: JobSpec;
  /** The training file this epoch reads. */
  file: string;
  shardMap: ShardMap;
  /** Which inputs the model reads (CtrModel.reads). */
  reads: CtrModel['reads'];
  /** pino level of the thread's logger. */
  logLevel: string;
}

/** A DataPathPort over a worker_threads MessagePort: messages queue until asked for. */
export function messagePort(port: MessagePort): DataPathPort {
  const queued: ToDataThread[] = [];
  const waiting: Array<(m: ToDataThread) => void> = [];
  port.on('message', (m: ToDataThread) => {
    const w = waiting.shift();
    if (w) w(m);
    else queued.push(m);
  });
  return {
    post: (msg, transfer) => port.postMessage(msg, transfer),
    next: () => (queued.length > 0 ? Promise.resolve(queued.shift()!) : new Promise((resolve) => waiting.push(resolve))),
  };
}

async function main(port: MessagePort, init: DataThreadInit): Promise<void> {
  const { spec } = init;
  const logger = createLogger({ level: init.logLevel }).child({ role: 'worker', component: 'data-thread' });
  const transformer = new FeatureTransformer(spec, schemaFor(spec.data.format));
  const layout = new FeatureLayout(spec, transformer, { reads: init.reads });
  const client = new PsClient({ shardMap: init.shardMap, logger, ...trainingClientOptions(spec.training) });
  const link = messagePort(port);
  try {
    await client.waitReady();
    const reader = new RowReader(init.file, schemaFor(spec.data.format), { maxErrorRate: spec.data.maxErrorRate });
    await new DataPath({ spec, params: psParams(client), transformer, layout, port: link }).run(reader.batches(spec.training.batchSize), () => reader.summary());
  } catch (err) {
    const e = err as { message?: string; code?: string };
    link.post({ type: 'error', message: String(e?.message ?? err).split('\n')[0], ...(typeof e?.code === 'string' ? { code: e.code } : {}) }, []);
  } finally {
    client.close();
    port.close();
  }
}

if (parentPort !== null) void main(parentPort, workerData as DataThreadInit);
