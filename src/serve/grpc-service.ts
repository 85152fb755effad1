/**
 * The gRPC side of `tessera serve`: `tessera.v1.Prediction` (protos/tessera/v1/prediction.proto)
 * and the standard health service on one port, a thin adapter over the prediction service. A
 * batch arrives column by column as packed bytes, is decoded into the same input columns the REST
 * adapters produce, and its answer leaves as packed float32 and uint32 bytes. Errors become gRPC
 * statuses in src/wire/status-map.ts, the one place that converts them.
 */
import * as grpc from '@grpc/grpc-js';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { ConnectionLimits, DEFAULT_CONNECTION_LIMITS, guardConnections } from '../wire/connection-guard';
import { authorizationInterceptor, SERVE_ROLE_METHODS } from '../wire/authorization';
import { HealthRegistry } from '../wire/health-service';
import { predictionService } from '../wire/services';
import { statusName, toServiceError } from '../wire/status-map';
import type { TlsContext } from '../wire/tls';
import type { ModelRegistry } from './model-registry';
import type { PredictionService } from './prediction-service';
import type { InputColumn } from './request-rows';
import type { ServeMetrics } from './serve-metrics';

/** A FeatureColumn as proto-loader decodes it. */
interface FeatureColumnMsg {
  name: string;
  numeric: Buffer;
  categorical: string[];
  missing: Buffer;
}

/** A PredictRequest as proto-loader decodes it. */
interface PredictRequestMsg {
  model: string;
  version: number;
  label: string;
  rows: number;
  columns: FeatureColumnMsg[];
  splitKey: string;
  requestId: string;
}

function invalid(where: string, why: string): never {
  throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${where}: ${why}`);
}

/** One column's values, null where `missing` marks them (or "" in a categorical column). */
export function columnValues(c: FeatureColumnMsg, rows: number, where: string): (number | string | null)[] {
  const numeric = c.numeric.length > 0;
  if (numeric && c.categorical.length > 0) invalid(where, `field ${c.name} has both numeric and categorical values; send one kind`);
  if (c.missing.length !== 0 && c.missing.length !== rows) invalid(where, `missing has ${c.missing.length} bytes for ${rows} rows`);
  const out = new Array<number | string | null>(rows);
  if (numeric) {
    if (c.numeric.length !== 8 * rows) invalid(where, `numeric has ${c.numeric.length} bytes: ${rows} rows need ${8 * rows} (little-endian float64 each)`);
    for (let i = 0; i < rows; i++) out[i] = c.missing[i] === 1 ? null : c.numeric.readDoubleLE(8 * i);
  } else {
    if (c.categorical.length !== rows) invalid(where, `${c.categorical.length} categorical values for ${rows} rows`);
    for (let i = 0; i < rows; i++) out[i] = c.missing[i] === 1 || c.categorical[i] === '' ? null : c.categorical[i];
  }
  return out;
}

/** The request's columns, checked against its row count. */
function columnsOf(req: PredictRequestMsg): InputColumn[] {
  if (!(req.rows > 0)) invalid('rows', 'must be at least 1');
  if (req.columns.length === 0) invalid('columns', 'no feature columns');
  return req.columns.map((c, i) => ({ name: c.name, values: columnValues(c, req.rows, `columns[${i}]`), where: `columns[${i}]` }));
}

/** A running gRPC server. */
export interface GrpcServer {
  /** host:port */
  readonly addr: string;
  stop(): Promise<void>;
}

/** What the gRPC server serves. */
export interface GrpcDeps {
  service: PredictionService;
  registry: ModelRegistry;
  logger: Logger;
  metrics?: ServeMetrics;
  /** largest request message; larger ones get RESOURCE_EXHAUSTED from grpc-js */
  maxMessageBytes: number;
  /** connection cap and HTTP/2 handshake timeout (default DEFAULT_CONNECTION_LIMITS), as on every gRPC server */
  connectionLimits?: ConnectionLimits;
  /** mutual TLS: client certificates of the job required, Predict open to every role of it; absent: plaintext */
  tls?: TlsContext;
}

/** Starts Prediction and Health on host:port (0 picks a free port). */
export async function startGrpcServer(deps: GrpcDeps, host: string, port: number): Promise<GrpcServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': deps.maxMessageBytes,
    ...(deps.tls ? { interceptors: [authorizationInterceptor(deps.tls.config.identity.job, SERVE_ROLE_METHODS)] } : {}),
  });
  // Health says SERVING once every model has a version loaded, as GET /v2/health/ready does.
  const health = new HealthRegistry({ '': 'NOT_SERVING', 'tessera.v1.Prediction': 'NOT_SERVING' });
  health.addTo(server);
  const sync = (): void => {
    const s = deps.registry.ready() ? 'SERVING' : 'NOT_SERVING';
    health.set('', s);
    health.set('tessera.v1.Prediction', s);
  };
  const unsubscribe = deps.registry.afterScan(sync);
  server.addService(predictionService().service, {
    Predict: (call: grpc.ServerUnaryCall<PredictRequestMsg, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const started = performance.now();
      const req = call.request;
      const known = deps.registry.list().some((m) => m.name === req.model) ? req.model : '';
      deps.service.predict({
        model: req.model, target: req.version > 0 ? { version: req.version } : req.label ? { label: req.label } : {},
        decode: (d) => d.fromColumns(columnsOf(req)), splitKey: req.splitKey || undefined, requestId: req.requestId || undefined,
      }).then((r) => {
        cb(null, {
          model: r.model, requestId: r.requestId,
          probabilities: Buffer.from(r.probs.buffer, r.probs.byteOffset, r.probs.byteLength),
          versions: Buffer.from(r.versions.buffer, r.versions.byteOffset, r.versions.byteLength),
        });
        deps.metrics?.request({ protocol: 'grpc', code: 'OK', seconds: (performance.now() - started) / 1000, model: r.model, groups: r.groups });
      }, (err: unknown) => {
        const se = toServiceError(err);
        if (se.code === grpc.status.INTERNAL) deps.logger.error({ err: (err as Error).message }, 'gRPC Predict failed');
        cb(se);
        deps.metrics?.request({ protocol: 'grpc', code: statusName(se.code!), seconds: (performance.now() - started) / 1000, model: known, groups: [] });
      });
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, deps.tls?.serverCredentials() ?? grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  guardConnections(server, deps.connectionLimits ?? DEFAULT_CONNECTION_LIMITS);
  sync();
  return {
    addr: `${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`,
    stop: () => new Promise<void>((resolve) => {
      unsubscribe();
      health.close();
      server.tryShutdown(() => resolve());
    }),
  };
}
