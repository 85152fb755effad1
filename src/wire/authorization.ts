/**
 * Authorization per role at the PS (and serving's gRPC port), applied in one place: a grpc-js server interceptor that
 * reads the caller's verified certificate (mutual TLS has checked it against the CA), takes the
 * SPIFFE identity from its URI SAN, and lets the call through only when the identity's job is
 * the server's and its role may call the method. Everything else ends with PERMISSION_DENIED
 * (UNAUTHENTICATED when the certificate names no Tessera identity) before a handler runs, so
 * the roles and the PsNode never see who called.
 */
import * as grpc from '@grpc/grpc-js';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { PeerCertificate } from 'node:tls';
import { IDENTITY_ROLES, IdentityRole } from '../common/spiffe-id';
import { toServiceError } from './status-map';
import { peerIdentity } from './tls';

const DATA = '/tessera.v1.ParameterServer/';
const ADMIN = '/tessera.v1.PsAdmin/';
const MIGRATION = '/tessera.v1.PsMigration/';
const REPLICATION = '/tessera.v1.PsReplication/';
const HEALTH = '/grpc.health.v1.Health/';

const READ = ['Pull', 'PullStream'].map((m) => DATA + m);
const WRITE = ['Push', 'PushStream'].map((m) => DATA + m);
/** Every PsAdmin method, the consistent cut's three rounds (ADR 0040) included. */
const ADMIN_METHODS = ['CreateTable', 'DropTable', 'SetShardMap', 'AssignDense', 'ExportTable', 'Snapshot', 'PrepareCut', 'CutAt', 'ReleaseCut',
  'SnapshotStatus', 'Restore', 'Stats'].map((m) => ADMIN + m);
/** What drives a live resharding: the chief (or an operator) tells the source and target PS. */
const MIGRATION_DRIVE = ['BeginMigration', 'SendTail', 'EndMigration'].map((m) => MIGRATION + m);
/** What one PS calls on another: the source streams the moving rows to the target. */
const MIGRATION_PEER = [`${MIGRATION}ReceiveBuckets`];
/** Replication: the chief configures buddies and promotes replicas; a PS streams to its buddy. */
const REPLICATION_DRIVE = ['ConfigureReplication', 'PromoteReplica', 'ReplicationStatus'].map((m) => REPLICATION + m);
const REPLICATION_PEER = [`${REPLICATION}Replicate`];

/**
 * Which PS methods each role may call (full gRPC paths). The chief and admin tools run every
 * admin method and read rows (evaluation and the saved model pull them); workers pull and push;
 * a prediction server only pulls; a PS calls another PS only to stream migrating rows
 * (ReceiveBuckets) or replicate to its buddy (Replicate), and only the chief or admin tools
 * start, advance and end a migration or configure replication and promote a replica.
 * Health is open to every identity of the job (probes and `tessera status`).
 */
export const PS_ROLE_METHODS: RoleMethods = {
  chief: [...ADMIN_METHODS, ...READ, ...MIGRATION_DRIVE, ...REPLICATION_DRIVE],
  admin: [...ADMIN_METHODS, ...READ, ...MIGRATION_DRIVE, ...REPLICATION_DRIVE],
  worker: [...READ, ...WRITE],
  serve: READ,
  ps: [...MIGRATION_PEER, ...REPLICATION_PEER],
};

/** Methods each role may call on a server: full gRPC paths by role. */
export type RoleMethods = Readonly<Record<IdentityRole, readonly string[]>>;

/**
 * Serving's gRPC port: Predict is open to every identity of the job, whatever its role. Who
 * asks for predictions is an application outside the training job; it gets a certificate from
 * the job's CA (`tessera certs issue --role serve --id APP`: the role with the least at the PS,
 * read-only pull, which predictions reveal anyway), and the CA is what admits it.
 */
export const SERVE_ROLE_METHODS = Object.fromEntries(IDENTITY_ROLES.map((r) => [r, ['/tessera.v1.Prediction/Predict']])) as unknown as RoleMethods;

const ANY_ROLE = new Set([`${HEALTH}Check`, `${HEALTH}Watch`]);

/** The refusal for `path` called with `cert` under `table` (default the PS's), or null when the call may go on. */
export function authorize(job: string, path: string, cert: PeerCertificate | undefined, table: RoleMethods = PS_ROLE_METHODS): TesseraError | null {
  const who = peerIdentity(cert);
  const method = path.slice(path.lastIndexOf('/') + 1);
  if (!who) return new TesseraError(ERROR_CODES.UNAUTHENTICATED, `${method}: the caller's certificate has no spiffe://tessera/<job>/<role>/<id> URI SAN`);
  if (who.job !== job) return new TesseraError(ERROR_CODES.PERMISSION_DENIED, `${method}: caller ${who.role}/${who.id} belongs to job "${who.job}", this server to job "${job}"`);
  if (ANY_ROLE.has(path) || table[who.role].includes(path)) return null;
  return new TesseraError(ERROR_CODES.PERMISSION_DENIED, `role "${who.role}" may not call ${method} (caller ${who.role}/${who.id})`);
}

/**
 * A server interceptor enforcing {@link authorize} for job `job` and `table` on every call, unary
 * and streamed: a refused call gets its status before any message is read.
 */
export function authorizationInterceptor(job: string, table: RoleMethods = PS_ROLE_METHODS): grpc.ServerInterceptor {
  return (method, call) => {
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const refused = authorize(job, method.path, call.getAuthContext().sslPeerCertificate, table);
        if (refused) call.sendStatus(toServiceError(refused) as Parameters<typeof call.sendStatus>[0]);
        else next(metadata);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}
