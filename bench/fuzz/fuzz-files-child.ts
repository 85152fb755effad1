/**
 * The file fuzzer's worker process (started by fuzz-files.ts, which watches it for crashes and
 * hangs): runs cases [from, to) of a seed, each through the code a `tessera` command runs on a
 * user's file, and prints one JSON line per case:
 * - data: RowReader over the whole file (the format's example spec gives the schema and the
 *   error-rate limit), every batch through the spec's FeatureTransformer, as `tessera eval` and
 *   the worker read data;
 * - spec: loadJobSpec, then the tables and transformer a job builds from it.
 * Outcomes: `parsed` (with rows and bad lines), `refused` (the one line `tessera` would print),
 * `stack` (an error `tessera` would print with its stack: a bug), `long-line` (a refusal of
 * several lines or over MAX_ERROR_LINE_CHARS), `non-finite` (a parsed row whose dense inputs are
 * NaN or infinite). First and last lines report the process's RSS.
 *
 *   node dist/bench/fuzz/fuzz-files-child.js SEED FROM TO DIR REPO_ROOT
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { userErrorLine } from '../../src/cli/user-errors';
import { asDataError } from '../../src/data/data-errors';
import { RowReader } from '../../src/data/reader';
import { schemaFor } from '../../src/data/record';
import { FORMAT_SCHEMAS, FeatureTransformer, jobTables, loadJobSpec, parseJobSpec } from '../../src/spec';
import type { JobSpec } from '../../src/spec';
import { fileCase, FileCase, FileKind, loadSpecExamples } from './fuzz-file-cases';

/** Longest refusal counted as one clear line. */
export const MAX_ERROR_LINE_CHARS = 2_000;

/** One case's result line. */
export interface FileOutcome {
  i: number;
  o: 'parsed' | 'refused' | 'stack' | 'long-line' | 'non-finite';
  rows?: number;
  bad?: number;
  /** the refusal (its first 300 characters), or the start of the stack */
  line?: string;
  /** the refusal's length */
  chars?: number;
}

const rssMb = () => Math.round(process.memoryUsage().rss / (1 << 20));

async function readData(file: string, spec: JobSpec): Promise<FileOutcome['o'] | { rows: number; bad: number }> {
  const reader = new RowReader(file, schemaFor(spec.data.format), { maxErrorRate: spec.data.maxErrorRate });
  const transformer = new FeatureTransformer(spec, FORMAT_SCHEMAS[spec.data.format]);
  for await (const rows of reader.batches(256)) {
    const batch = transformer.transformBatch(rows);
    if (!batch.dense.every(Number.isFinite) || !batch.labels.every(Number.isFinite)) return 'non-finite';
  }
  const s = reader.stats();
  return { rows: s.rows, bad: s.bad };
}

function checkSpec(file: string): { rows: number; bad: number } {
  const spec = loadJobSpec(file);
  jobTables(spec, { emb: true, linear: true });
  new FeatureTransformer(spec, FORMAT_SCHEMAS[spec.data.format]);
  return { rows: 0, bad: 0 };
}

/** Runs one case in `dir`; the file is removed afterwards. */
export async function runFileCase(c: FileCase, dir: string, specs: Record<Exclude<FileKind, 'spec'>, JobSpec>): Promise<FileOutcome> {
  const file = path.join(dir, `case-${c.index}${c.ext}`);
  fs.writeFileSync(file, c.content);
  try {
    const r = c.kind === 'spec' ? checkSpec(file) : await readData(file, specs[c.kind]);
    return typeof r === 'string' ? { i: c.index, o: r } : { i: c.index, o: 'parsed', ...r };
  } catch (err) {
    const line = userErrorLine(c.kind === 'spec' ? err : asDataError(err, file) ?? err);
    if (line === undefined) return { i: c.index, o: 'stack', line: String((err as Error)?.stack ?? err).slice(0, 600) };
    const clear = !/[\r\n]/.test(line) && line.length <= MAX_ERROR_LINE_CHARS;
    return { i: c.index, o: clear ? 'refused' : 'long-line', chars: line.length, line: clear ? line.slice(0, 300) : JSON.stringify(line.slice(0, 300)) };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** The example spec of each data kind (their schema, error-rate limit and transforms). */
export function dataSpecs(examples: readonly string[]): Record<Exclude<FileKind, 'spec'>, JobSpec> {
  return { criteo: parseJobSpec(examples[0]), avazu: parseJobSpec(examples[1]), 'gen-tsv': parseJobSpec(examples[2]) };
}

async function main(): Promise<void> {
  const [seed, from, to] = process.argv.slice(2, 5).map(Number);
  const [dir, repoRoot] = process.argv.slice(5, 7);
  const examples = loadSpecExamples(repoRoot);
  const specs = dataSpecs(examples);
  process.stdout.write(`${JSON.stringify({ rss_mb: rssMb() })}\n`);
  for (let i = from; i < to; i++) {
    const c = fileCase(seed, i, examples);
    // The watchdog times the case from here: making a 32 MB case is the fuzzer's time, not the reader's.
    process.stdout.write(`${JSON.stringify({ start: i })}\n`);
    process.stdout.write(`${JSON.stringify(await runFileCase(c, dir, specs))}\n`);
  }
  process.stdout.write(`${JSON.stringify({ rss_mb: rssMb(), done: true })}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`fuzz-files-child: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 2;
  });
}
