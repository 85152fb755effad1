/**
 * Request deserializers that never throw. grpc-js answers a deserializer that throws with
 * INTERNAL ("Error deserializing request") and, on a stream, ends the whole call; malformed input
 * is the caller's fault and must be INVALID_ARGUMENT, with the server serving on. So a service's
 * request deserializers are wrapped: bytes that do not decode become a marker value, and the
 * handler refuses it with `undecodableError`. (The data plane's hand-written decoders mark a
 * message themselves and keep the fields read before the damage: data-plane-codec.ts.)
 */
import type * as grpc from '@grpc/grpc-js';
import { ERROR_CODES, TesseraError } from '../common/errors';

const UNDECODABLE = Symbol('undecodable');

/** What a wrapped deserializer returns for bytes that are not a message of its type. */
interface Undecodable {
  readonly [UNDECODABLE]: string;
}

/**
 * `def` with every request deserializer wrapped so it never throws.
 *
 * ```ts
 * server.addService(tolerantService(psAdminService().service), handlers);
 * // in a handler: const bad = undecodableError(call.request); if (bad) return cb(toServiceError(bad));
 * ```
 */
export function tolerantService(def: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, m] of Object.entries(def)) {
    const decode = m.requestDeserialize;
    out[name] = {
      ...m,
      requestDeserialize: (buf: Buffer): unknown => {
        try {
          return decode(buf);
        } catch (err) {
          return { [UNDECODABLE]: err instanceof Error ? err.message : String(err) } satisfies Undecodable;
        }
      },
    };
  }
  return out;
}

/** INVALID_ARGUMENT when `request` is the marker of bytes that did not decode; otherwise null. */
export function undecodableError(request: unknown, method: string): TesseraError | null {
  if (typeof request !== 'object' || request === null || !(UNDECODABLE in request)) return null;
  return new TesseraError(ERROR_CODES.INVALID_ARGUMENT,
    `request: not a valid ${method} request message (${(request as Undecodable)[UNDECODABLE]})`);
}
