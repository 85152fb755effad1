/**
 * Joins typed arrays of one kind end to end.
 *
 * ```ts
 * const ids = concatTyped([a, b], (n) => new Uint32Array(n));
 * ```
 */

/** `parts` one after another in a new array of the same kind, made by `make(total length)`. */
export function concatTyped<T extends Uint32Array | Float32Array | Uint16Array>(parts: readonly T[], make: (n: number) => T): T {
  const out = make(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
