/**
 * The only place where Tessera errors meet gRPC status codes: servers turn a TesseraError into a
 * status (its stable code in `tessera-code` metadata, or in the RpcError of a streamed answer),
 * and clients turn either back into the same TesseraError.
 */
import * as grpc from '@grpc/grpc-js';
import { ERROR_CODES, ErrorCode, TesseraError } from '../common/errors';
import type { RpcErrorMsg } from './data-plane-codec';
import { decodeGrpcMessage, encodeGrpcMessage } from './grpc-frames';

const TO_STATUS: Record<ErrorCode, grpc.status> = {
  [ERROR_CODES.INVALID_ARGUMENT]: grpc.status.INVALID_ARGUMENT,
  [ERROR_CODES.BAD_IDS]: grpc.status.INVALID_ARGUMENT,
  [ERROR_CODES.BAD_GRADIENT]: grpc.status.INVALID_ARGUMENT,
  [ERROR_CODES.NON_FINITE]: grpc.status.INVALID_ARGUMENT,
  [ERROR_CODES.DIM_MISMATCH]: grpc.status.INVALID_ARGUMENT,
  [ERROR_CODES.TOO_LARGE]: grpc.status.INVALID_ARGUMENT,
  [ERROR_CODES.CONFIG]: grpc.status.INVALID_ARGUMENT,
  [ERROR_CODES.UNKNOWN_TABLE]: grpc.status.NOT_FOUND,
  [ERROR_CODES.TABLE_EXISTS]: grpc.status.ALREADY_EXISTS,
  [ERROR_CODES.STALE_SHARD_MAP]: grpc.status.FAILED_PRECONDITION,
  [ERROR_CODES.WRONG_SHARD]: grpc.status.FAILED_PRECONDITION,
  [ERROR_CODES.UNAVAILABLE]: grpc.status.UNAVAILABLE,
  [ERROR_CODES.DEADLINE]: grpc.status.DEADLINE_EXCEEDED,
  [ERROR_CODES.INTERNAL]: grpc.status.INTERNAL,
  [ERROR_CODES.NOT_LEADER]: grpc.status.FAILED_PRECONDITION,
  [ERROR_CODES.CHECKPOINT_CORRUPT]: grpc.status.DATA_LOSS,
  [ERROR_CODES.CHECKPOINT_NOT_FOUND]: grpc.status.NOT_FOUND,
  [ERROR_CODES.INCOMPATIBLE_SPEC]: grpc.status.FAILED_PRECONDITION,
  [ERROR_CODES.SNAPSHOT_CONFLICT]: grpc.status.FAILED_PRECONDITION,
  [ERROR_CODES.TIER_UNAVAILABLE]: grpc.status.FAILED_PRECONDITION,
  [ERROR_CODES.RESOURCE_EXHAUSTED]: grpc.status.RESOURCE_EXHAUSTED,
  [ERROR_CODES.UNKNOWN_MODEL]: grpc.status.NOT_FOUND,
  [ERROR_CODES.TABLE_INCARNATION]: grpc.status.FAILED_PRECONDITION,
  [ERROR_CODES.CHECKPOINT_DIR]: grpc.status.FAILED_PRECONDITION,
  [ERROR_CODES.BAD_DATA]: grpc.status.INVALID_ARGUMENT,
  [ERROR_CODES.PUSH_OUTSIDE_WINDOW]: grpc.status.FAILED_PRECONDITION,
  [ERROR_CODES.PERMISSION_DENIED]: grpc.status.PERMISSION_DENIED,
  [ERROR_CODES.UNAUTHENTICATED]: grpc.status.UNAUTHENTICATED,
};

const KNOWN = new Set<string>(Object.values(ERROR_CODES));

/** Metadata key that carries the stable TESSERA_ERR_* code next to the gRPC status. */
export const TESSERA_CODE_KEY = 'tessera-code';

/** Normalises anything thrown by a handler into a TesseraError (unknown errors are INTERNAL). */
export function asTesseraError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TesseraError(ERROR_CODES.INTERNAL, message, { cause: err });
}

/** Converts an error into a gRPC ServiceError for a unary callback or stream.destroy(). */
export function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  const e = asTesseraError(err);
  const metadata = new grpc.Metadata();
  metadata.set(TESSERA_CODE_KEY, e.code);
  return { code: TO_STATUS[e.code], details: e.message, metadata };
}

/** Converts an error into the in-band RpcError of a streamed response. */
export function toRpcError(err: unknown): RpcErrorMsg {
  const e = asTesseraError(err);
  return { code: TO_STATUS[e.code], message: e.message, tesseraCode: e.code };
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case grpc.status.INVALID_ARGUMENT: return ERROR_CODES.INVALID_ARGUMENT;
    case grpc.status.NOT_FOUND: return ERROR_CODES.UNKNOWN_TABLE;
    case grpc.status.ALREADY_EXISTS: return ERROR_CODES.TABLE_EXISTS;
    case grpc.status.FAILED_PRECONDITION: return ERROR_CODES.STALE_SHARD_MAP;
    case grpc.status.UNAVAILABLE: return ERROR_CODES.UNAVAILABLE;
    case grpc.status.DEADLINE_EXCEEDED: return ERROR_CODES.DEADLINE;
    case grpc.status.CANCELLED: return ERROR_CODES.UNAVAILABLE;
    case grpc.status.PERMISSION_DENIED: return ERROR_CODES.PERMISSION_DENIED;
    case grpc.status.UNAUTHENTICATED: return ERROR_CODES.UNAUTHENTICATED;
    default: return ERROR_CODES.INTERNAL;
  }
}

/**
 * Converts an error into the status headers of a call answered on node:http2 (the data plane of
 * src/wire/h2-data-server.ts): the same status, details and `tessera-code` a grpc-js server sends.
 */
export function toGrpcTrailers(err: unknown): Record<string, string> {
  const e = asTesseraError(err);
  return { 'grpc-status': String(TO_STATUS[e.code]), 'grpc-message': encodeGrpcMessage(e.message), [TESSERA_CODE_KEY]: e.code };
}

/** Status headers for a transport-level refusal (a gRPC status code with no TesseraError behind it). */
export function statusTrailers(code: number, details: string): Record<string, string> {
  return { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details) };
}

/** The status of a call's trailers as the `ServiceError` fields `fromServiceError` reads (code, details, tessera-code). */
export function serviceErrorOfTrailers(headers: Record<string, string | string[] | undefined>): Partial<grpc.ServiceError> {
  const metadata = new grpc.Metadata();
  const tesseraCode = headers[TESSERA_CODE_KEY];
  if (typeof tesseraCode === 'string') metadata.set(TESSERA_CODE_KEY, tesseraCode);
  const raw = headers['grpc-message'];
  return { code: Number(headers['grpc-status'] ?? grpc.status.UNKNOWN), details: typeof raw === 'string' ? decodeGrpcMessage(raw) : '', metadata };
}

/** Converts an in-band RpcError back into a TesseraError on the client. */
export function fromRpcError(e: RpcErrorMsg, peer: string): TesseraError {
  const code = KNOWN.has(e.tesseraCode) ? (e.tesseraCode as ErrorCode) : codeForStatus(e.code);
  return new TesseraError(code, `${peer}: ${e.message}`);
}

/** Converts a gRPC client error into a TesseraError, keeping the server's stable code. */
export function fromServiceError(err: unknown, peer: string): TesseraError {
  if (err instanceof TesseraError) return err;
  const se = err as Partial<grpc.ServiceError>;
  const fromMeta = se.metadata?.get(TESSERA_CODE_KEY)?.[0];
  const code = typeof fromMeta === 'string' && KNOWN.has(fromMeta)
    ? (fromMeta as ErrorCode)
    : codeForStatus(se.code ?? grpc.status.UNKNOWN);
  return new TesseraError(code, `${peer}: ${se.details ?? se.message ?? String(err)}`, { cause: err });
}

const STATUS_NAMES: Readonly<Record<number, string>> = Object.freeze(
  Object.fromEntries(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k])),
);

/** A gRPC status code's name (`OK`, `INVALID_ARGUMENT`, …), e.g. for a metric label. */
export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? String(code);
}
