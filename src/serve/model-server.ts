/**
 * A whole model server in one object: the registry over the model root, its watcher, the
 * prediction service, the serving metrics, the REST server and (when started) the gRPC server. `tessera serve` starts one in its
 * process (cli/serve.ts adds the logger, /metrics and signals); tests start one in theirs.
 *
 * ```ts
 * const server = await ModelServer.start({ root: '/models', host: '127.0.0.1', port: 0 }, { logger, registry: metrics.registry });
 * await server.registry.rescan();   // resolves once the versions there are loaded
 * console.log(server.rest.url);     // POST …/v1/models/ctr:predict
 * await server.close();
 * ```
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger';
import { DeltaFollower } from './delta-follower';
import { FeedbackOptions, FeedbackStore } from './feedback';
import { FollowMetrics } from './follow-metrics';
import { ModelRegistry } from './model-registry';
import { PredictionService } from './prediction-service';
import type { UnknownFieldPolicy } from './request-rows';
import { restRoutes } from './rest-routes';
import { DEFAULT_MAX_BODY_BYTES, RestServer, startRestServer } from './rest-server';
import { GrpcDeps, GrpcServer, startGrpcServer } from './grpc-service';
import { ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from '../wire/connection-guard';
import type { TlsContext } from '../wire/tls';
import { RootWatcher } from './root-watcher';
import { loadVersion } from './version-loader';
import { ServeMetrics } from './serve-metrics';
import { serverStatus, ServerStatus } from './serve-status';
import { SplitRouter, TrafficSplit } from './traffic-split';
import { parseVersionPolicy, VersionPolicy } from './version-policy';

/** The server's settings (all validated by the caller or here). */
export interface ModelServerOptions {
  root: string;
  host: string;
  /** REST port; 0 picks a free one */
  port: number;
  policy?: VersionPolicy;
  split?: TrafficSplit;
  /** the field whose value splits traffic, unless a request names another */
  splitKey?: string;
  unknownFields?: UnknownFieldPolicy;
  maxBodyBytes?: number;
  maxBatch?: number;
  /** bytes of embedding rows a version keeps in RAM; the rest spill to its disk tier */
  maxResidentBytes?: number;
  /** where versions' disk tiers live (default: a new directory under the OS temp dir) */
  tierDir?: string;
  /** period of the safety-net rescan, ms; 0: no watcher (tests rescan by hand) */
  pollMs?: number;
  /** how online feedback is kept (cache size, slices) */
  feedback?: FeedbackOptions;
  serverVersion?: string;
  /** connection cap and handshake timeout of the REST and gRPC ports (default DEFAULT_CONNECTION_LIMITS) */
  connectionLimits?: ConnectionLimits;
  /** apply the delta stream after the newest full version (`--follow`); rows are then all in RAM */
  follow?: boolean;
  /** mutual TLS on the REST (HTTPS) and gRPC ports: client certificates of the job required; absent: plaintext */
  tls?: TlsContext;
}

/** What the server is given. */
export interface ModelServerDeps {
  logger: Logger;
  /** the Prometheus registry the serving series go to */
  registry: Registry;
}

/** See the file comment. */
export class ModelServer {
  private grpc: GrpcServer | null = null;

  private constructor(
    readonly registry: ModelRegistry,
    readonly service: PredictionService,
    readonly rest: RestServer,
    private readonly watcher: RootWatcher | null,
    private readonly statusOf: () => ServerStatus,
    private readonly ownTierDir: string | null,
    private readonly grpcDeps: Omit<GrpcDeps, 'registry' | 'service'>,
  ) {}

  /** Starts the gRPC server (tessera.v1.Prediction and health) on host:port; 0 picks a free port. */
  async startGrpc(host: string, port: number): Promise<GrpcServer> {
    this.grpc = await startGrpcServer({ ...this.grpcDeps, registry: this.registry, service: this.service }, host, port);
    return this.grpc;
  }

  /** The status document (`GET /status`). */
  status(): ServerStatus {
    return this.statusOf();
  }

  /** Starts the REST server, then scans the root and starts watching it. */
  static async start(o: ModelServerOptions, deps: ModelServerDeps): Promise<ModelServer> {
    const ownTierDir = o.maxResidentBytes !== undefined && !o.tierDir ? fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-tier-')) : null;
    const tierRoot = o.tierDir ?? ownTierDir ?? undefined;
    if (tierRoot) fs.mkdirSync(tierRoot, { recursive: true });
    const metrics = new ServeMetrics(deps.registry);
    let models: ModelRegistry | null = null;
    const follower = o.follow ? new DeltaFollower({
      root: o.root, logger: deps.logger, events: new FollowMetrics(deps.registry, () => models).events(),
      load: (name, v) => loadVersion(o.root, name, v, undefined, {}), // a chain's base, in RAM (--follow has no budget)
    }) : undefined;
    const registry = models = new ModelRegistry({
      root: o.root, policy: o.policy ?? parseVersionPolicy('latest'), logger: deps.logger,
      loader: { maxResidentBytes: o.maxResidentBytes, tierRoot }, events: metrics.events(), follower,
    });
    metrics.watch(registry);
    const ignored = new Set<string>();
    const feedback = new FeedbackStore(o.feedback);
    metrics.watchFeedback(feedback);
    const service = new PredictionService({
      registry, maxBatch: o.maxBatch, onAnswered: (r, spec) => feedback.remember(r, spec),
      split: o.split ? { router: new SplitRouter(o.split), key: o.splitKey } : undefined,
      rows: {
        unknown: o.unknownFields ?? 'reject', extra: feedback.sliceFields,
        onIgnored: (field) => {
          // One warning per field name (bounded), not one per request.
          if (ignored.size >= 256 || ignored.has(field)) return;
          ignored.add(field);
          deps.logger.warn({ field }, 'request field is not a feature of the model; ignored (--unknown-fields ignore)');
        },
      },
    });
    const statusOf = (): ServerStatus => serverStatus(registry, o.split ? { split: o.split, key: o.splitKey } : undefined, (m, s) => {
      s.feedback = { versions: feedback.report(m.name), unmatched: feedback.unmatchedOf(m.name) };
      if (follower) s.follow = follower.state(m.name);
    });
    const rest = await startRestServer({
      routes: restRoutes({ registry, service, feedback, status: statusOf, serverVersion: o.serverVersion ?? '0' }),
      logger: deps.logger, metrics, maxBodyBytes: o.maxBodyBytes,
      knownModel: (name) => registry.list().some((m) => m.name === name),
    }, { host: o.host, port: o.port, limits: o.connectionLimits ?? DEFAULT_CONNECTION_LIMITS, tls: o.tls });
    // Not awaited: the server answers (not ready) while the first versions load.
    registry.rescan().catch((err: Error) => deps.logger.error({ err: err.message }, 'first scan of the model root failed'));
    const watcher = o.pollMs === 0 ? null : new RootWatcher({ registry, pollMs: o.pollMs, logger: deps.logger, deltas: o.follow });
    watcher?.start();
    return new ModelServer(registry, service, rest, watcher, statusOf, ownTierDir,
      { logger: deps.logger, metrics, maxMessageBytes: o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, connectionLimits: o.connectionLimits, tls: o.tls });
  }

  /** Stops watching and serving, and retires every version. */
  async close(): Promise<void> {
    this.watcher?.stop();
    await this.grpc?.stop();
    await this.rest.close();
    await this.registry.close();
    if (this.ownTierDir) fs.rmSync(this.ownTierDir, { recursive: true, force: true });
  }
}
