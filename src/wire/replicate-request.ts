/**
 * The encoder of tessera.v1.PsReplication `Replicate` requests (ReplicaBatch). The primary's
 * replication log writes each shipped push once, as it is applied, straight into a buffer in
 * the wire format of the batch's `pushes` field (shipped-pushes.ts `writeShippedPush`, aligned
 * for the buddy's views). Encoding a batch then appends the other fields, encoded by the
 * proto's own codec, to that buffer and sends it as it is: a protobuf message may list its
 * fields in any order, so the bytes are a ReplicaBatch that any decoder reads, and the buddy
 * decodes it with the proto's codec as before. A batch without such a buffer is encoded whole
 * by the proto's codec. (Before, the pushes were copied into their own buffers, again by the
 * proto's codec, and once more where they were not aligned: ADR 0037, amendment 3.)
 *
 * ```ts
 * const def = { ...base, Replicate: { ...base.Replicate, requestSerialize: replicateSerializer(base.Replicate.requestSerialize) } };
 * ```
 */
import type { ProtoWriter } from './proto-bytes';

/** What of a batch this encoder looks at beyond the proto's fields. */
export interface PrewrittenPushes {
  /** The batch's pushes, already written as its `pushes` field in the first `pushesBytes` bytes. */
  pushesWire?: ProtoWriter;
  pushesBytes?: number;
  pushes?: readonly Uint8Array[];
}

/**
 * Wraps `encode` (the proto's encoder of ReplicaBatch): a batch with `pushesWire` is finished in
 * that writer, and the bytes returned are a view of it (valid until the writer is reused, which
 * its owner does only once the call has ended). Encoding the same batch twice gives the same bytes.
 */
export function replicateSerializer<T extends object>(encode: (m: T) => Buffer): (m: T & PrewrittenPushes) => Buffer {
  return (m) => {
    const w = m.pushesWire;
    if (!w || m.pushesBytes === undefined) return encode(m);
    const rest = encode({ ...m, pushes: [], pushesWire: undefined });
    return w.truncate(m.pushesBytes).raw(rest).finish();
  };
}
