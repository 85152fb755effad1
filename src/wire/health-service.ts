/**
 * The standard gRPC health service (grpc.health.v1.Health), so Kubernetes gRPC probes work.
 */
import * as grpc from '@grpc/grpc-js';
import { healthService } from './services';
import { toServiceError } from './status-map';
import { tolerantService, undecodableError } from './tolerant-decode';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

interface CheckRequest { service: string }
interface CheckResponse { status: ServingStatus | 'SERVICE_UNKNOWN' }

/**
 * Holds a status per service name ("" is the whole server) and serves Check and Watch.
 *
 * ```ts
 * const health = new HealthRegistry({ '': 'SERVING' });
 * health.addTo(server);
 * health.set('', 'NOT_SERVING'); // watchers are told at once
 * ```
 */
export class HealthRegistry {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<grpc.ServerWritableStream<CheckRequest, CheckResponse>>>();

  constructor(initial: Record<string, ServingStatus> = { '': 'SERVING' }) {
    for (const [k, v] of Object.entries(initial)) this.statuses.set(k, v);
  }

  /** Sets a service's status and notifies its watchers. */
  set(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const w of this.watchers.get(service) ?? []) this.tell(w, service);
  }

  /**
   * Writes `service`'s current status to watcher `w`; while `w`'s buffer is full (a client not
   * reading), changes are not queued: the status current at 'drain' is written then.
   */
  private tell(w: grpc.ServerWritableStream<CheckRequest, CheckResponse>, service: string): void {
    if (w.writableNeedDrain) return;
    if (!w.write({ status: this.statuses.get(service) ?? 'SERVICE_UNKNOWN' })) w.once('drain', () => this.tell(w, service));
  }

  /** Registers the Health service on a server. */
  addTo(server: grpc.Server): void {
    server.addService(tolerantService(healthService().service), {
      Check: (call: grpc.ServerUnaryCall<CheckRequest, CheckResponse>, cb: grpc.sendUnaryData<CheckResponse>) => {
        const undecodable = undecodableError(call.request, 'Health.Check');
        if (undecodable) return cb(toServiceError(undecodable));
        const status = this.statuses.get(call.request.service);
        if (!status) cb({ code: grpc.status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
        else cb(null, { status });
      },
      Watch: (call: grpc.ServerWritableStream<CheckRequest, CheckResponse>) => {
        const undecodable = undecodableError(call.request, 'Health.Watch');
        if (undecodable) return void call.emit('error', toServiceError(undecodable));
        const name = call.request.service;
        let set = this.watchers.get(name);
        if (!set) this.watchers.set(name, (set = new Set()));
        set.add(call);
        this.tell(call, name);
        call.on('cancelled', () => set!.delete(call));
        call.on('close', () => set!.delete(call));
      },
    });
  }

  /** Ends every open Watch stream (server shutdown). */
  close(): void {
    for (const set of this.watchers.values()) for (const w of set) w.end();
    this.watchers.clear();
  }
}
