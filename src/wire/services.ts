/**
 * gRPC service definitions. The data plane uses the hand-written codec (data-plane-codec.ts);
 * the admin, prediction (serving) and health services are loaded from their .proto files with
 * proto-loader.
 */
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as codec from './data-plane-codec';
import { replicateSerializer } from './replicate-request';

/** Root of the protos/ folder (works from src/ under ts-node and from dist/src/ after tsc). */
export const PROTO_ROOT = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '', 'protos');

function method<Req, Res>(
  name: string, requestStream: boolean, responseStream: boolean,
  encReq: (m: Req) => Buffer, decReq: (b: Buffer) => Req,
  encRes: (m: Res) => Buffer, decRes: (b: Buffer) => Res,
): grpc.MethodDefinition<Req, Res> {
  return {
    path: `/tessera.v1.ParameterServer/${name}`,
    requestStream,
    responseStream,
    requestSerialize: encReq,
    requestDeserialize: decReq,
    responseSerialize: encRes,
    responseDeserialize: decRes,
    originalName: name[0].toLowerCase() + name.slice(1),
  };
}

/** tessera.v1.ParameterServer, with the zero-copy codec. */
export const PARAMETER_SERVER_SERVICE = {
  Pull: method('Pull', false, false, codec.encodePullRequest, codec.decodePullRequest,
    codec.encodePullResponse, codec.decodePullResponse),
  Push: method('Push', false, false, codec.encodePushRequest, codec.decodePushRequest,
    codec.encodePushResponse, codec.decodePushResponse),
  PullStream: method('PullStream', true, true, codec.encodePullRequest, codec.decodePullRequest,
    codec.encodePullResponse, codec.decodePullResponse),
  PushStream: method('PushStream', true, true, codec.encodePushRequest, codec.decodePushRequest,
    codec.encodePushResponse, codec.decodePushResponse),
} satisfies grpc.ServiceDefinition;

/** Generated-style client class for tessera.v1.ParameterServer. */
export const ParameterServerClient = grpc.makeGenericClientConstructor(PARAMETER_SERVER_SERVICE, 'ParameterServer');

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number, // shard-map versions, sizes and seeds stay below 2^53
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

let loaded: grpc.GrpcObject | null = null;

/** The proto-loader package for admin and health (loaded once). */
export function protoPackage(): grpc.GrpcObject {
  if (!loaded) {
    const def = protoLoader.loadSync(
      ['tessera/v1/admin.proto', 'tessera/v1/data_plane.proto', 'tessera/v1/prediction.proto', 'tessera/v1/migration.proto', 'tessera/v1/replication.proto', 'grpc/health/v1/health.proto'],
      LOADER_OPTIONS,
    );
    loaded = grpc.loadPackageDefinition(def);
  }
  return loaded;
}

type ServiceCtor = grpc.ServiceClientConstructor;

function lookup(name: string): ServiceCtor {
  let node: unknown = protoPackage();
  for (const part of name.split('.')) node = (node as Record<string, unknown>)[part];
  if (!node) throw new Error(`service ${name} not found in protos`);
  return node as ServiceCtor;
}

/** tessera.v1.PsAdmin client constructor (its `.service` is the definition for servers). */
export function psAdminService(): ServiceCtor {
  return lookup('tessera.v1.PsAdmin');
}

/** tessera.v1.PsMigration client constructor (PS-to-PS and chief-to-PS; issue 17). */
export function psMigrationService(): ServiceCtor {
  return lookup('tessera.v1.PsMigration');
}

let replication: ServiceCtor | null = null;

/**
 * tessera.v1.PsReplication client constructor (PS-to-buddy and chief-to-PS; issue 17), its
 * `.service` the definition for servers: the proto's codec, but `Replicate` requests finished in
 * the buffer the primary's log wrote the pushes into (replicate-request.ts).
 */
export function psReplicationService(): ServiceCtor {
  if (!replication) {
    const base = lookup('tessera.v1.PsReplication');
    const replicate = base.service.Replicate;
    const def = { ...base.service, Replicate: { ...replicate, requestSerialize: replicateSerializer(replicate.requestSerialize) } };
    replication = grpc.makeGenericClientConstructor(def, 'PsReplication') as unknown as ServiceCtor;
  }
  return replication;
}

/** grpc.health.v1.Health client constructor. */
export function healthService(): ServiceCtor {
  return lookup('grpc.health.v1.Health');
}

/** tessera.v1.Prediction (serving) client constructor (its `.service` is the definition for servers). */
export function predictionService(): ServiceCtor {
  return lookup('tessera.v1.Prediction');
}
