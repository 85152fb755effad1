/**
 * gRPC adapter for tessera.v1.ParameterServer: decodes nothing itself (the codec did), calls
 * PsNode, and maps errors to status codes. Unary calls fail with a gRPC status; streamed calls
 * answer a failed request in-band (`error`) and keep the stream open.
 */
import * as grpc from '@grpc/grpc-js';
import {
  allocPullResponse, PullRequestMsg, PullResponseMsg, PushRequestMsg, PushResponseMsg,
} from '../wire/data-plane-codec';
import { PARAMETER_SERVER_SERVICE } from '../wire/services';
import { toRpcError, toServiceError } from '../wire/status-map';
import type { PsNode } from './ps-node';

/** Runs a pull and returns the pre-encoded response (values gathered in place). */
function servePull(node: PsNode, req: PullRequestMsg): PullResponseMsg {
  let encoded: Buffer | undefined;
  node.pull(req, (bytes, dim) => {
    const r = allocPullResponse(req.requestId, dim, req.encoding, bytes);
    encoded = r.encoded;
    return r.values;
  });
  return { requestId: req.requestId, values: new Uint8Array(0), dim: 0, encoding: req.encoding, encoded };
}

function servePush(node: PsNode, req: PushRequestMsg): PushResponseMsg {
  return { requestId: req.requestId, rowsApplied: node.push(req) };
}

/** Registers the data-plane service for `node` on `server`. */
export function addDataService(server: grpc.Server, node: PsNode): void {
  server.addService(PARAMETER_SERVER_SERVICE, {
    Pull(call: grpc.ServerUnaryCall<PullRequestMsg, PullResponseMsg>, cb: grpc.sendUnaryData<PullResponseMsg>) {
      try {
        cb(null, servePull(node, call.request));
      } catch (err) {
        cb(toServiceError(err));
      }
    },
    Push(call: grpc.ServerUnaryCall<PushRequestMsg, PushResponseMsg>, cb: grpc.sendUnaryData<PushResponseMsg>) {
      try {
        cb(null, servePush(node, call.request));
      } catch (err) {
        cb(toServiceError(err));
      }
    },
    PullStream(call: grpc.ServerDuplexStream<PullRequestMsg, PullResponseMsg>) {
      call.on('data', (req: PullRequestMsg) => {
        let res: PullResponseMsg;
        try {
          res = servePull(node, req);
        } catch (err) {
          res = { requestId: req.requestId, values: new Uint8Array(0), dim: 0, encoding: req.encoding, error: toRpcError(err) };
        }
        call.write(res);
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined); // client went away; nothing to clean up
    },
    PushStream(call: grpc.ServerDuplexStream<PushRequestMsg, PushResponseMsg>) {
      call.on('data', (req: PushRequestMsg) => {
        let res: PushResponseMsg;
        try {
          res = servePush(node, req);
        } catch (err) {
          res = { requestId: req.requestId, rowsApplied: 0, error: toRpcError(err) };
        }
        call.write(res);
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
}
