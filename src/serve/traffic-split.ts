/**
 * The canary split: `--split stable=90,canary=10` sends each label its share of the requests that
 * name no version or label. A row goes where the hash of its key field's value falls (the key is
 * a user id, say, named by `--split-key` or per request), so one user stays on one version, on
 * every replica and across restarts. A row without a key value goes to the default version.
 *
 * The hash is the feature hash of the key value under the salt field `__split__`
 * (src/sharding/feature-hash.ts, vectors in docs/hash-vectors.md): a key's position in [0, 1) is
 * the id's high 32 bits / 2^32, and the labels take consecutive intervals in the order given.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { checkLabel } from '../export/model-labels';
import { FeatureHasher } from '../sharding/feature-hash';

/** The field name that salts the split hash. */
export const SPLIT_SALT_FIELD = '__split__';

/** A parsed split: labels with their shares (summing to 1), in the order given. */
export interface TrafficSplit {
  readonly shares: readonly { label: string; share: number }[];
}

/**
 * Parses `label=weight,label=weight,…` (weights are positive numbers, normalised to sum to 1).
 * @throws TesseraError CONFIG naming the part that is wrong
 */
export function parseSplit(text: string): TrafficSplit {
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new TesseraError(ERROR_CODES.CONFIG, `--split "${text}": expected label=weight,… such as stable=90,canary=10`);
  const shares = parts.map((p) => {
    const m = /^([^=]+)=(.+)$/.exec(p);
    const w = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(w) || w <= 0) throw new TesseraError(ERROR_CODES.CONFIG, `--split "${text}": "${p}" is not label=weight with a positive weight`);
    return { label: checkLabel(m[1].trim()), weight: w };
  });
  const repeated = shares.find((s, i) => shares.findIndex((x) => x.label === s.label) !== i);
  if (repeated) throw new TesseraError(ERROR_CODES.CONFIG, `--split "${text}": label ${repeated.label} is named twice`);
  const total = shares.reduce((n, s) => n + s.weight, 0);
  return { shares: shares.map((s) => ({ label: s.label, share: s.weight / total })) };
}

/** Assigns keys to labels; one per server, shared by every model. */
export class SplitRouter {
  private readonly hasher = new FeatureHasher(SPLIT_SALT_FIELD);
  private readonly id = new Uint32Array(2);

  constructor(readonly split: TrafficSplit) {}

  /** The key's position in [0, 1). */
  position(key: string): number {
    this.hasher.hash(key, this.id, 0);
    return this.id[1] / 2 ** 32;
  }

  /** The label whose interval holds `key`'s position. */
  labelOf(key: string): string {
    const x = this.position(key);
    let upTo = 0;
    for (const s of this.split.shares) {
      upTo += s.share;
      if (x < upTo) return s.label;
    }
    return this.split.shares[this.split.shares.length - 1].label;
  }
}
