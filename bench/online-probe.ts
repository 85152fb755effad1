/**
 * bench:online's freshness probe (issue 15 §4): the time from writing events with a brand-new id
 * to a served prediction that reflects them, and where that time went along the path
 * (training and the next cut, the cut's publication and announcement, serving's apply).
 *
 * A probe scores the same rows twice in one request (so one served version answers both): once
 * with the planted id in C1 and once with a control id that is never written. Both ids are absent
 * from the model before the probe, so both read their cold-start rows; whatever else moves while
 * the probe waits (background training moves the shared dense weights and the other fields' rows)
 * moves both. Their difference isolates the planted row: the probe resolves when the mean
 * difference rises `threshold` above its value before the events were written.
 */
import * as fs from 'node:fs';
import type { RedisStreamLog } from '../src/stream/redis-stream-log';
import { criteoInstance } from '../test/helpers/serve';

/** What one probe found. */
export interface ProbeResult {
  id: string;
  /** Seconds from the write to the first answer over the threshold (Infinity: none within the timeout). */
  seconds: number;
  /** The version that answered over the threshold (null on a timeout). */
  version: number | null;
  /** The planted-minus-control mean prediction before the write, and at the crossing (or the timeout). */
  coldDiff: number;
  diff: number;
  /** When the events were written and when the crossing answer came, ms since the Unix epoch. */
  writtenAt: number;
  seenAt: number;
  /** Each version the probe was answered by, with the difference it gave and when (seconds after the write). */
  trace: { v: number; d: number; s: number }[];
}

/** How a probe runs. */
export interface ProbeOptions {
  log: RedisStreamLog;
  key: string;
  partitions: number;
  url: string;
  model: string;
  /** Criteo lines scored (their label is ignored); never written as this probe's events. */
  scored: string[];
  /** Criteo lines written, with the planted id and label 1. */
  events: string[];
  id: string;
  control: string;
  threshold: number;
  timeoutMs: number;
}

/** `line` with `id` in C1 and label `label`. */
export function withC1(line: string, id: string, label: number): string {
  const c = line.split('\t');
  c[0] = String(label);
  c[14] = id;
  return c.join('\t');
}

const mean = (xs: ArrayLike<number>, from: number, to: number): number => {
  let s = 0;
  for (let i = from; i < to; i++) s += xs[i];
  return s / (to - from);
};

/** The planted-minus-control mean prediction of one answer, and the version that gave it. */
async function difference(o: ProbeOptions): Promise<{ diff: number; version: number }> {
  const instances = [...o.scored.map((l) => criteoInstance(withC1(l, o.id, 0))), ...o.scored.map((l) => criteoInstance(withC1(l, o.control, 0)))];
  const res = await fetch(`${o.url}/v1/models/${o.model}:predict`, { method: 'POST', body: JSON.stringify({ instances }) });
  if (res.status !== 200) throw new Error(`probe ${o.id}: serving answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const body = await res.json() as { predictions: number[]; model_version: string };
  const n = o.scored.length;
  return { diff: mean(body.predictions, 0, n) - mean(body.predictions, n, 2 * n), version: Number(body.model_version) };
}

/** Runs one probe (see the file comment). */
export async function probe(o: ProbeOptions): Promise<ProbeResult> {
  const cold = await difference(o);
  const events = o.events.map((l) => withC1(l, o.id, 1));
  await o.log.append(events.map((line, i) => ({ key: `${o.key}:${i % o.partitions}`, fields: { line } })));
  // performance.now(): a monotonic clock, so a wall-clock step cannot make a probe look slow or fast.
  const written = performance.now();
  const writtenAt = Date.now();
  const trace: ProbeResult['trace'] = [];
  for (;;) {
    const now = await difference(o);
    const seconds = (performance.now() - written) / 1000;
    if (trace.at(-1)?.v !== now.version) trace.push({ v: now.version, d: Number(now.diff.toFixed(4)), s: Number(seconds.toFixed(2)) });
    const found = { id: o.id, coldDiff: cold.diff, diff: now.diff, writtenAt, seenAt: Date.now(), trace };
    if (now.diff - cold.diff > o.threshold) return { ...found, seconds, version: now.version };
    if (seconds * 1000 > o.timeoutMs) return { ...found, seconds: Infinity, version: null };
    await new Promise((r) => setTimeout(r, 50)); // the probe's sampling interval
  }
}

/** Where a probe's time went, seconds (null where a log line is missing). */
export interface ProbePath {
  /** write → the cut of the version that first reflected the events (reading, training, the next delta tick) */
  toCut: number | null;
  /** the cut → published and announced by the chief */
  publish: number | null;
  /** announced → applied by serving */
  apply: number | null;
  /** applied → the probe's answer from it */
  seen: number | null;
}

/** The times of every version along the path: its cut and publication (chief log), its apply (serving's output). */
export function versionTimes(chiefLog: string, serveLines: readonly string[]): Map<number, { cutAt?: number; published?: number; applied?: number }> {
  const out = new Map<number, { cutAt?: number; published?: number; applied?: number }>();
  const at = (v: number) => out.get(v) ?? out.set(v, {}).get(v)!;
  for (const line of fs.readFileSync(chiefLog, 'utf8').split('\n')) {
    if (!line.includes('"msg":"published delta"')) continue;
    const o = JSON.parse(line) as { version: number; cutAt: number; time: number };
    Object.assign(at(o.version), { cutAt: o.cutAt, published: o.time });
  }
  for (const line of serveLines) {
    if (!line.includes('"msg":"delta applied"')) continue;
    const o = JSON.parse(line) as { version: number; time: number };
    at(o.version).applied = o.time;
  }
  return out;
}

/** Splits a resolved probe's time along the path, from the versions' times. */
export function probePath(r: ProbeResult, times: ReturnType<typeof versionTimes>): ProbePath {
  const t = r.version === null ? undefined : times.get(r.version);
  const span = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : (b - a) / 1000);
  return { toCut: span(r.writtenAt, t?.cutAt), publish: span(t?.cutAt, t?.published), apply: span(t?.published, t?.applied), seen: span(t?.applied, r.seenAt) };
}
