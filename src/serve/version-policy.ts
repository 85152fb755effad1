/**
 * Which versions of a model a server keeps loaded, as TensorFlow Serving's version policies:
 *
 * - `latest` (the default): the newest version;
 * - `latest:N`: the N newest;
 * - `specific:V1,V2`: exactly those (the ones present on disk).
 *
 * Versions a label names are loaded as well, whatever the policy (served-model.ts), so a label
 * or a rollback to an older version works under `latest`.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';

/** A parsed version policy. */
export type VersionPolicy =
  | { kind: 'latest'; count: number }
  | { kind: 'specific'; versions: readonly number[] };

/** Most versions `latest:N` may keep loaded. */
const MAX_LATEST = 64;

function bad(text: string, why: string): never {
  throw new TesseraError(ERROR_CODES.CONFIG, `--version-policy "${text}": ${why} (expected latest, latest:N or specific:V1,V2,…)`);
}

/**
 * Parses `latest`, `latest:N` or `specific:V1,V2`.
 * @throws TesseraError CONFIG naming the text and what is wrong with it
 */
export function parseVersionPolicy(text: string): VersionPolicy {
  const [kind, arg, ...rest] = text.trim().split(':');
  if (rest.length > 0) bad(text, 'more than one ":"');
  if (kind === 'latest') {
    if (arg === undefined) return { kind: 'latest', count: 1 };
    const n = Number(arg);
    if (!/^\d+$/.test(arg) || n < 1 || n > MAX_LATEST) bad(text, `N must be an integer from 1 to ${MAX_LATEST}`);
    return { kind: 'latest', count: n };
  }
  if (kind === 'specific') {
    const versions = (arg ?? '').split(',').map((v) => v.trim());
    const bad1 = versions.find((v) => !/^[1-9]\d{0,14}$/.test(v));
    if (bad1 !== undefined) bad(text, `"${bad1}" is not a version number`);
    return { kind: 'specific', versions: [...new Set(versions.map(Number))].sort((a, b) => a - b) };
  }
  return bad(text, `unknown policy "${kind}"`);
}

/** The versions `policy` keeps, out of those `available` (ascending). */
export function policyVersions(policy: VersionPolicy, available: readonly number[]): number[] {
  if (policy.kind === 'latest') return available.slice(-policy.count);
  return available.filter((v) => policy.versions.includes(v));
}

/** The policy as it is written on the command line. */
export function formatVersionPolicy(policy: VersionPolicy): string {
  return policy.kind === 'latest' ? (policy.count === 1 ? 'latest' : `latest:${policy.count}`) : `specific:${policy.versions.join(',')}`;
}
