/**
 * `tessera serve --model-root ROOT`: serves every model under ROOT over REST (KServe v2 and TF
 * Serving style) and gRPC, with hot update, labels, rollback and a canary split (src/serve).
 * `tessera serve status|rollback|label` are in serve-admin.ts.
 */
import * as path from 'node:path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { tesseraVersion } from '../metrics/build-info';
import { selectBackend, tfThreads } from '../model/backend';
import { bytesOption, helpText, intOption, OptionSpec, parseArgs, ParsedArgs } from '../runtime/args';
import { ROLE_OPTIONS, startRuntime } from '../runtime/role-runtime';
import { loadSecurity, SECURITY_OPTIONS } from '../runtime/security-options';
import { ModelServer, ModelServerOptions } from '../serve/model-server';
import { DEFAULT_FEEDBACK_ROWS } from '../serve/feedback';
import { DEFAULT_MAX_BATCH } from '../serve/prediction-service';
import { DEFAULT_MAX_BODY_BYTES } from '../serve/rest-server';
import { DEFAULT_POLL_MS } from '../serve/root-watcher';
import { parseSplit } from '../serve/traffic-split';
import { parseVersionPolicy } from '../serve/version-policy';
import { loadConnectionLimits } from '../wire/connection-guard';
import { ADMIN_COMMANDS, SERVE_ADMIN_HELP } from './serve-admin';
import { FOLLOW_SPEC, followFlags, watchAnnouncements } from './serve-follow';

/** Options of `tessera serve`; exported so deploy checks parse manifest args with the real parser. */
export const SERVE_SPEC: Record<string, OptionSpec> = {
  'model-root': { type: 'string', describe: 'model root to serve: ROOT/<name>/<version>/ as training publishes them [TESSERA_MODEL_ROOT]' },
  host: { type: 'string', describe: 'address the REST, gRPC and metrics servers bind', default: '127.0.0.1' },
  port: { type: 'string', describe: 'REST port (KServe v2 and TF Serving style); 0 picks a free one', default: '8501' },
  'grpc-port': { type: 'string', describe: 'gRPC port (tessera.v1.Prediction and grpc.health.v1); 0 picks a free one; absent: no gRPC' },
  'metrics-port': { type: 'string', describe: 'Prometheus GET /metrics port; 0 picks a free one', default: '0' },
  'version-policy': { type: 'string', describe: 'versions kept loaded: latest | latest:N | specific:V1,V2 (versions a label names are loaded too)', default: 'latest' },
  split: { type: 'string', describe: 'canary split of requests that name no version or label: LABEL=WEIGHT,… e.g. stable=90,canary=10' },
  'split-key': { type: 'string', describe: 'request field whose value decides a row\'s side of the split (a user id); a request may name its own (split_key)' },
  'unknown-fields': { type: 'string', describe: 'a request field the job spec does not have: reject (400) | ignore (logged once per name)', default: 'reject' },
  'max-body-bytes': { type: 'string', describe: 'largest request body; larger ones get 413', default: String(DEFAULT_MAX_BODY_BYTES) },
  'max-batch': { type: 'string', describe: 'most examples per request', default: String(DEFAULT_MAX_BATCH) },
  'max-resident-bytes': { type: 'string', describe: 'embedding rows each loaded version keeps in RAM (e.g. 512MiB); the coldest go to a disk tier (LMDB) and come back when read; default: all in RAM' },
  'feedback-slice-by': { type: 'string', describe: 'FIELD[,FIELD…]: per-version feedback quality also per slice of these raw fields (POST /v1/models/NAME:feedback)' },
  'feedback-group-by': { type: 'string', describe: 'FIELD: per-version grouped AUC of feedback (e.g. a user id)' },
  'feedback-rows': { type: 'string', describe: 'answered rows remembered for feedback by request id (oldest dropped first)', default: String(DEFAULT_FEEDBACK_ROWS) },
  'tier-dir': { type: 'string', describe: 'directory for the versions\' disk tiers (default: a new directory under the OS temp dir)' },
  'poll-ms': { type: 'string', describe: 'period of the model root rescan beside file-system events (network file systems send none)', default: String(DEFAULT_POLL_MS) },
  backend: { type: 'string', describe: 'tfjs backend: tensorflow | webgpu | wasm | cpu [TESSERA_TF_BACKEND]' },
  'tf-threads': { type: 'string', describe: 'threads for the wasm backend\'s kernels: 1..8 or auto [TESSERA_TF_THREADS]' },
  'max-connections': { type: 'string', describe: 'most TCP connections open at once on each of the REST, gRPC and metrics ports; more are closed on arrival (default 1024) [TESSERA_MAX_CONNECTIONS]' },
  'handshake-timeout-ms': ROLE_OPTIONS['handshake-timeout-ms'],
  'tls-cert': { ...SECURITY_OPTIONS['tls-cert'], describe: 'this server\'s certificate (role serve); with --tls-key and --tls-ca the REST port is HTTPS and both ports require a client certificate of the job [TESSERA_TLS_CERT]' },
  'tls-key': SECURITY_OPTIONS['tls-key'],
  'tls-ca': SECURITY_OPTIONS['tls-ca'],
  'metrics-tls': SECURITY_OPTIONS['metrics-tls'],
  id: { type: 'string', describe: 'this server\'s id in logs and metrics (default serve-<pid>)' },
  'log-level': { type: 'string', describe: 'pino log level [TESSERA_LOG_LEVEL]' },
  json: { type: 'boolean', describe: 'print {"rest","grpc","metrics","backend"} as one JSON line on stdout once listening' },
  ...FOLLOW_SPEC,
};

/** `tessera serve --help`. */
export const SERVE_HELP = `${helpText('tessera serve --model-root ROOT [--port P] [--grpc-port G] [--metrics-port M] [--version-policy latest|latest:N|specific:V,…] [--split stable=90,canary=10 --split-key FIELD]',
  'Serves every model under ROOT: predictions over REST (POST /v1/models/NAME:predict, POST\n'
  + '/v2/models/NAME/infer) and gRPC, from raw feature values through the training code\'s feature\n'
  + 'transform. New versions are loaded, checked and swapped in as they appear; labels and\n'
  + 'rollbacks in ROOT/NAME/labels.json take effect at once. GET /status shows versions, labels,\n'
  + 'load times and traffic; GET /v2/health/ready is 200 once every model has a version loaded.\n'
  + 'With --follow it also applies the delta stream the chief publishes (tessera chief --delta-every).', SERVE_SPEC)}\n\n${SERVE_ADMIN_HELP}`;

/** The server's settings from the command line (every value checked before anything starts). */
export function serverOptions(args: ParsedArgs): ModelServerOptions {
  const o = args.options as Record<string, string | undefined>;
  const root = o['model-root'] ?? process.env.TESSERA_MODEL_ROOT;
  if (!root) throw new TesseraError(ERROR_CODES.CONFIG, 'tessera serve needs --model-root ROOT (or TESSERA_MODEL_ROOT)');
  const unknown = o['unknown-fields'];
  if (unknown !== 'reject' && unknown !== 'ignore') throw new TesseraError(ERROR_CODES.CONFIG, `--unknown-fields must be reject or ignore, got "${unknown}"`);
  if (o['split-key'] !== undefined && o.split === undefined) throw new TesseraError(ERROR_CODES.CONFIG, '--split-key needs --split LABEL=WEIGHT,…');
  return {
    root: path.resolve(root), host: o.host!, port: intOption(args, 'port', 0),
    policy: parseVersionPolicy(o['version-policy']!), split: o.split === undefined ? undefined : parseSplit(o.split), splitKey: o['split-key'],
    unknownFields: unknown, maxBodyBytes: bytesOption(args, 'max-body-bytes'), maxBatch: intOption(args, 'max-batch', 1),
    maxResidentBytes: bytesOption(args, 'max-resident-bytes'), tierDir: o['tier-dir'] ? path.resolve(o['tier-dir']) : undefined,
    pollMs: intOption(args, 'poll-ms', 1), follow: followFlags(args).follow,
    connectionLimits: loadConnectionLimits(process.env, { maxConnections: o['max-connections'], handshakeTimeoutMs: o['handshake-timeout-ms'] }),
    feedback: {
      cacheRows: intOption(args, 'feedback-rows', 0),
      sliceBy: (o['feedback-slice-by'] ?? '').split(',').map((f) => f.trim()).filter(Boolean),
      groupBy: o['feedback-group-by']?.trim() || undefined,
    },
  };
}

/** Runs `tessera serve` (or one of its admin subcommands) until SIGINT/SIGTERM. */
export async function runServe(argv: string[]): Promise<number> {
  const admin = ADMIN_COMMANDS[argv[0]];
  if (admin) return admin(argv.slice(1));
  const args = parseArgs(argv, SERVE_SPEC);
  if (args.positional.length > 0) throw new TesseraError(ERROR_CODES.CONFIG, `unknown subcommand "${args.positional[0]}": expected status, rollback or label (see --help)`);
  const o = args.options as Record<string, string | undefined>;
  const opts = serverOptions(args);
  const { etcd } = followFlags(args);
  const grpcPort = o['grpc-port'] === undefined ? undefined : intOption(args, 'grpc-port', 0);
  const rt = await startRuntime({
    role: 'serve', id: o.id ?? `serve-${process.pid}`, logLevel: o['log-level'] ?? process.env.TESSERA_LOG_LEVEL ?? 'info',
    host: opts.host, metricsPort: intOption(args, 'metrics-port', 0), connectionLimits: opts.connectionLimits,
    security: loadSecurity(process.env, args.options),
  });
  const { logger } = rt;
  try {
    const backend = await selectBackend(logger, o.backend ?? process.env.TESSERA_TF_BACKEND, { threads: tfThreads(o['tf-threads'] ?? process.env.TESSERA_TF_THREADS) });
    rt.buildInfo.setBackend(backend.name);
    const server = await ModelServer.start({ ...opts, serverVersion: tesseraVersion(), tls: rt.tls ?? undefined }, { logger, registry: rt.metrics.registry })
      .catch((err: Error) => { throw new TesseraError(ERROR_CODES.CONFIG, `--port ${opts.port}: cannot serve REST on ${opts.host}: ${err.message}`); });
    const grpc = grpcPort === undefined ? null : await server.startGrpc(opts.host, grpcPort).catch(async (err: Error) => {
      await server.close();
      throw new TesseraError(ERROR_CODES.CONFIG, `--grpc-port ${grpcPort}: cannot serve gRPC on ${opts.host}: ${err.message}`);
    });
    const announced = etcd ? await watchAnnouncements(etcd, server.registry, logger).catch(async (err: Error) => {
      await server.close();
      throw err;
    }) : null;
    const where = { rest: server.rest.url, grpc: grpc?.addr ?? null, metrics: rt.http.url, backend: backend.name };
    logger.info({ ...where, root: opts.root }, 'serving');
    if (args.options.json) process.stdout.write(`${JSON.stringify(where)}\n`);
    void server.registry.rescan().then(() => logger.info({ ready: server.registry.ready(), models: server.status().models.map((m) => ({ name: m.name, versions: m.versions.map((v) => v.version) })) }, 'first scan done'));
    const signal = await rt.stopping;
    logger.info({ signal }, 'shutting down');
    await announced?.stop();
    await server.close();
    return 0;
  } finally {
    await rt.close();
  }
}
