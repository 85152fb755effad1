/**
 * The job spec in etcd (`/tessera/<job>/spec`): the YAML text plus its fingerprint
 * (src/spec/canonical.ts), so every process of a job can check it runs the same spec, and a second
 * `tessera train` with a different spec under the same job name is refused instead of silently
 * mixing two models in one set of tables.
 */
import type { IKeyValue, Namespace } from 'etcd3';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { childLogger, Logger } from '../common/logger';
import { callOptions } from './etcd-common';
import { jobPrefix, KEYS } from './keys';

/** The JSON value of the `spec` key. */
export interface StoredSpec {
  /** Fingerprint of the canonical spec (lowercase hex). */
  fingerprint: string;
  /** The spec's YAML text as submitted. */
  yaml: string;
  /** ISO-8601 time of the write. */
  writtenAt: string;
}

/** Outcome of {@link SpecStore.putIfAbsentOrSame}. */
export type SpecPutResult = 'created' | 'same' | 'replaced';

/** Dependencies of {@link SpecStore}. */
export interface SpecStoreDeps {
  /** An etcd3 client (or namespace). Not closed here. */
  client: Namespace;
  job: string;
  logger: Logger;
  now?: () => Date;
}

/**
 * Attempts of the read-compare-write loop. Each attempt is one transaction; only a concurrent
 * writer (or a delete) between our read and write forces another, so 5 is never reached in
 * practice and merely bounds a pathological race.
 */
const MAX_ATTEMPTS = 5;

const FINGERPRINT_PATTERN = /^[0-9a-f]{8,64}$/;

/**
 * Stores the job spec.
 *
 * ```ts
 * const specs = new SpecStore({ client, job: spec.name, logger });
 * await specs.putIfAbsentOrSame(yamlText, specFingerprint(spec), args.force); // 'created' | 'same' | 'replaced'
 * ```
 */
export class SpecStore {
  private readonly ns: Namespace;
  private readonly logger: Logger;
  private readonly now: () => Date;

  constructor(private readonly deps: SpecStoreDeps) {
    this.ns = deps.client.namespace(jobPrefix(deps.job));
    this.logger = childLogger(deps.logger, { component: 'spec-store', job: deps.job });
    this.now = deps.now ?? (() => new Date());
  }

  /** The stored spec, or undefined. Throws INVALID_ARGUMENT if the stored value is corrupt. */
  async get(): Promise<StoredSpec | undefined> {
    const kv = (await this.ns.get(KEYS.SPEC).options(callOptions()).exec()).kvs[0];
    return kv === undefined ? undefined : decode(kv);
  }

  /**
   * Stores the spec if the job has none; accepts it if the stored one has the same fingerprint;
   * otherwise refuses with a CONFIG error naming both fingerprints, unless `force` (then replaces).
   * Every write is a transaction on what was read, so two racing writers cannot both win.
   */
  async putIfAbsentOrSame(yamlText: string, fingerprint: string, force = false): Promise<SpecPutResult> {
    if (!FINGERPRINT_PATTERN.test(fingerprint)) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `fingerprint must be 8-64 lowercase hex digits (got ${JSON.stringify(fingerprint)})`);
    }
    const value = JSON.stringify({ fingerprint, yaml: yamlText, writtenAt: this.now().toISOString() } satisfies StoredSpec);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const res = await this.ns
        .if(KEYS.SPEC, 'Version', '==', 0)
        .then(this.ns.put(KEYS.SPEC).value(value))
        .else(this.ns.get(KEYS.SPEC))
        .options(callOptions())
        .commit();
      if (res.succeeded) {
        this.logger.info({ fingerprint }, 'job spec stored');
        return 'created';
      }
      const kv = res.responses[0]?.response_range.kvs[0];
      if (kv === undefined) continue; // deleted between compare and get: try again
      const stored = tryDecode(kv);
      if (stored?.fingerprint === fingerprint) return 'same';
      if (!force) throw conflict(this.deps.job, stored?.fingerprint, fingerprint);
      const put = await this.ns.if(KEYS.SPEC, 'Mod', '==', kv.mod_revision).then(this.ns.put(KEYS.SPEC).value(value)).options(callOptions()).commit();
      if (put.succeeded) {
        this.logger.warn({ previous: stored?.fingerprint ?? 'unreadable', fingerprint }, 'job spec replaced (--force)');
        return 'replaced';
      }
    }
    throw new TesseraError(ERROR_CODES.UNAVAILABLE, `job "${this.deps.job}" spec kept changing under ${MAX_ATTEMPTS} attempts to write it; retry`);
  }
}

function decode(kv: IKeyValue): StoredSpec {
  const spec = tryDecode(kv);
  if (spec === undefined) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, 'stored job spec is not {fingerprint, yaml, writtenAt} JSON');
  return spec;
}

function tryDecode(kv: IKeyValue): StoredSpec | undefined {
  try {
    const o = JSON.parse(kv.value.toString('utf8')) as Record<string, unknown>;
    if (typeof o.fingerprint !== 'string' || typeof o.yaml !== 'string') return undefined;
    return { fingerprint: o.fingerprint, yaml: o.yaml, writtenAt: typeof o.writtenAt === 'string' ? o.writtenAt : '' };
  } catch {
    return undefined;
  }
}

function conflict(job: string, stored: string | undefined, submitted: string): TesseraError {
  return new TesseraError(ERROR_CODES.CONFIG,
    `job "${job}" already has a different spec in etcd (fingerprint ${stored ?? 'unreadable'}); this spec's fingerprint is ${submitted}. ` +
    'Use another job name, or pass --force to replace the stored spec');
}
