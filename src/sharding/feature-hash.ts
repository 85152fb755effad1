/**
 * Field-salted feature hashing: the single definition of "raw feature value → u64 id" shared by
 * training and serving. Changing anything here re-keys every embedding table, so the function is
 * pinned by published vectors (docs/hash-vectors.md, test/unit/sharding/feature-hash.test.ts).
 *
 * Definition:
 * ```text
 * salt(field) = XXH64(utf8(field), FIELD_SALT_SEED)
 * id(field, raw) = XXH64(utf8(raw), salt(field))
 * ```
 * UTF-8 follows the WHATWG/Node encoder: a lone surrogate encodes as U+FFFD (EF BF BD).
 */

import { ERROR_CODES, TesseraError } from '../common/errors';
import type { IdArray } from '../wire/key-block';
import { xxh64Seeded } from './xxhash64';

/**
 * Seed of the field-salt hash. Fixed forever ("7e55e7a" ≈ "tessera"); changing it re-keys every
 * table.
 */
export const FIELD_SALT_SEED = 0x7e55e7a;

/** The 64-bit salt of a field as (lo, hi) uint32 halves. */
export interface FieldSalt {
  lo: number;
  hi: number;
}

/**
 * Strings up to this many UTF-16 code units are encoded into the shared scratch buffer without
 * allocating. Each code unit needs at most 3 UTF-8 bytes (a surrogate pair: 4 bytes for 2 units),
 * so the scratch is 3× this.
 */
const SCRATCH_CHARS = 1024;
const scratch = Buffer.allocUnsafe(SCRATCH_CHARS * 3);
const saltOut = new Uint32Array(2);

/**
 * Encodes `s` as UTF-8 into the shared scratch; returns the byte length, or -1 when `s` is too
 * long for the scratch (the caller then allocates). Pure-ASCII strings, the common case for CTR
 * features, are written by a JS loop, which is cheaper than a native call for short strings.
 */
function encodeToScratch(s: string): number {
  const n = s.length;
  if (n > SCRATCH_CHARS) return -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return scratch.write(s, 0, 'utf8'); // fits: n ≤ SCRATCH_CHARS, ≤ 3 bytes/unit
    scratch[i] = c;
  }
  return n;
}

/**
 * Hashes utf8(s) with the seed (lo, hi) at seed[0], seed[1] into out[outOff], out[outOff + 1].
 * The seed travels in a typed array because V8 may box a 32-bit number passed as an argument.
 */
function hashString(s: string, seed: Uint32Array, out: Uint32Array, outOff: number): void {
  const len = encodeToScratch(s);
  if (len >= 0) {
    xxh64Seeded(scratch, 0, len, seed, 0, out, outOff);
  } else {
    const bytes = Buffer.from(s, 'utf8'); // rare: values of 1 KiB or more
    xxh64Seeded(bytes, 0, bytes.length, seed, 0, out, outOff);
  }
}

/** FIELD_SALT_SEED as a (lo, hi) seed pair. */
const SALT_SEED = new Uint32Array([FIELD_SALT_SEED, 0]);

function checkString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string') {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${what} must be a string, got ${typeof value}`);
  }
}

/**
 * The 64-bit salt for `field`: XXH64(utf8(field), FIELD_SALT_SEED).
 * @throws TesseraError INVALID_ARGUMENT when `field` is not a non-empty string.
 *
 * ```ts
 * const { lo, hi } = fieldSalt('C1');
 * ```
 */
export function fieldSalt(field: string): FieldSalt {
  checkString(field, 'field');
  // An empty field name is almost always a config bug (an unset column name), not a real field.
  if (field.length === 0) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, 'field must be a non-empty string');
  hashString(field, SALT_SEED, saltOut, 0);
  return { lo: saltOut[0], hi: saltOut[1] };
}

/**
 * Hashes raw values of one field into ids. Construct one per field and reuse it; `hash` does not
 * allocate for values shorter than 1 KiB.
 *
 * ```ts
 * const c1 = new FeatureHasher('C1');
 * const ids = new Uint32Array(2 * batch.length);
 * for (let i = 0; i < batch.length; i++) c1.hash(batch[i], ids, i);
 * ```
 */
export class FeatureHasher {
  /** The field this hasher salts with. */
  readonly field: string;
  /** The field salt as (lo, hi), the seed of every hash this hasher computes. */
  private readonly salt = new Uint32Array(2);

  /** @param field the feature field (column) name, e.g. "C1" or "user_id". */
  constructor(field: string) {
    const { lo, hi } = fieldSalt(field);
    this.field = field;
    this.salt[0] = lo;
    this.salt[1] = hi;
  }

  /**
   * Writes the id of `raw` into `out[2 * index]` (lo) and `out[2 * index + 1]` (hi).
   * Hot path: `raw` is not type-checked and `index` is not bounds-checked.
   */
  hash(raw: string, out: IdArray, index: number): void {
    hashString(raw, this.salt, out, 2 * index);
  }
}

const featureOut = new Uint32Array(2);
const featureSeed = new Uint32Array(2);

/**
 * The id of (`field`, `raw`) as a BigInt (tests, tools, debugging; not for hot paths).
 *
 * ```ts
 * hashFeature('C1', '68fd1e64'); // same id as new FeatureHasher('C1').hash('68fd1e64', ids, i)
 * ```
 */
export function hashFeature(field: string, raw: string): bigint {
  checkString(raw, 'raw');
  const { lo, hi } = fieldSalt(field);
  featureSeed[0] = lo;
  featureSeed[1] = hi;
  hashString(raw, featureSeed, featureOut, 0);
  return (BigInt(featureOut[1]) << 32n) | BigInt(featureOut[0]);
}
