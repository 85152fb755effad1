/** Random identities drawn once per client or process. */
import { randomBytes } from 'node:crypto';

/** A random nonzero 64-bit id (0 means "none" on the wire: no dedup, no step tag). */
export function randomNonzeroId(): bigint {
  for (;;) {
    const id = randomBytes(8).readBigUInt64LE(0);
    if (id !== 0n) return id;
  }
}
