/**
 * The fuzzer's counts: answers by status, per method and in-band; hangs; INTERNAL or UNKNOWN
 * answers (never right: malformed input is INVALID_ARGUMENT or another precise code); refused
 * pushes that changed the watched rows; and a few examples of each problem to start from.
 */
import type { FuzzCase } from './fuzz-cases';
import type { Outcome } from './fuzz-runner';

/** Statuses that must never answer client input. */
const FORBIDDEN = new Set(['INTERNAL', 'UNKNOWN']);
/** Examples kept per problem. */
const EXAMPLES = 5;

/** Running counts of one fuzz run. */
export class FuzzTally {
  private cases = 0;
  private rpcs = 0;
  private readonly byStatus: Record<string, number> = {};
  private readonly inBand: Record<string, number> = {};
  private readonly byMethod: Record<string, Record<string, number>> = {};
  private readonly byKind: Record<string, number> = {};
  private hangs = 0;
  private internal = 0;
  private watchedChanges = 0;
  private readonly examples: Record<string, string[]> = { hang: [], internal: [], watched: [] };

  constructor(private readonly hangMs: number) {}

  /** Counts one case and its outcome. */
  add(c: FuzzCase, o: Outcome): void {
    this.cases++;
    this.rpcs += Math.max(1, c.messages.length);
    const inc = (m: Record<string, number>, k: string) => { m[k] = (m[k] ?? 0) + 1; };
    inc(this.byStatus, o.status);
    inc((this.byMethod[c.method] ??= {}), o.status);
    inc(this.byKind, c.label.slice(c.label.indexOf(' ') + 1).replace(/:.*/, ''));
    for (const s of o.inBand) inc(this.inBand, s);
    if (o.status === 'HANG') this.note('hang', c);
    if (FORBIDDEN.has(o.status) || o.inBand.some((s) => FORBIDDEN.has(s))) this.note('internal', c);
  }

  /** A refused push aimed at the watched rows changed them. */
  watchedChanged(c: FuzzCase): void {
    this.watchedChanges++;
    this.examples.watched.length < EXAMPLES && this.examples.watched.push(describe(c));
  }

  /** The report: the counts, `extra` (run-level figures) and the examples of each problem. */
  report(extra: Record<string, unknown> & { crashed: boolean }): Record<string, unknown> {
    return {
      fuzz: 'ps',
      cases: this.cases,
      rpcs: this.rpcs,
      crashes: extra.crashed ? 1 : 0,
      hangs: this.hangs,
      hang_limit_ms: this.hangMs,
      internal: this.internal,
      watched_rows_changed_by_refused_pushes: this.watchedChanges,
      ...extra,
      by_status: this.byStatus,
      in_band: this.inBand,
      by_method: this.byMethod,
      by_kind: this.byKind,
      examples: this.examples,
    };
  }

  private note(what: 'hang' | 'internal', c: FuzzCase): void {
    if (what === 'hang') this.hangs++;
    else this.internal++;
    if (this.examples[what].length < EXAMPLES) this.examples[what].push(describe(c));
  }
}

/** A case as one line: label, path and the first bytes of each message. */
function describe(c: FuzzCase): string {
  return `${c.label} ${c.path} ${c.messages.map((m) => m.subarray(0, 48).toString('hex')).join(',')}`;
}
