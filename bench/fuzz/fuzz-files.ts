/**
 * The file half of `npm run fuzz`: hostile data files and job specs (fuzz-file-cases.ts) through
 * the readers and the spec loader, in a child process (fuzz-files-child.ts) this one watches.
 * A case with no result within the hang limit is a hang (the child is killed); a child that dies
 * mid-case is a crash; either way a fresh child resumes at the next case, so one bad case cannot
 * hide the rest. Counts outcomes by kind, keeps examples of every problem, and reports the
 * child's RSS at its start and at the end of the run.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import type { FileOutcome } from './fuzz-files-child';
import { fileCase, loadSpecExamples } from './fuzz-file-cases';

/** What a file fuzz run does. */
export interface FileFuzzOptions {
  seed: number;
  cases: number;
  /** a case with no result after this long is a hang */
  hangMs: number;
  progress?: (done: number) => void;
}

/** Examples kept per problem. */
const EXAMPLES = 5;
/** Outcomes that are never right for a user's file: one clear line or a parse is. */
const PROBLEMS = ['stack', 'long-line', 'non-finite', 'hang', 'crash'] as const;
/** dist/bench/fuzz → the repository root (the example specs live there). */
const REPO_ROOT = path.resolve(__dirname, '../../..');

class FileTally {
  readonly byOutcome: Record<string, number> = {};
  readonly byKind: Record<string, Record<string, number>> = {};
  readonly examples: Record<string, string[]> = Object.fromEntries(PROBLEMS.map((p) => [p, []]));
  rows = 0;
  badLines = 0;
  longestRefusal = 0;
  done = 0;

  constructor(private readonly seed: number, private readonly examplesText: readonly string[]) {}

  add(r: FileOutcome | { i: number; o: 'hang' | 'crash'; line?: string }): void {
    this.done++;
    const c = fileCase(this.seed, r.i, this.examplesText);
    const inc = (m: Record<string, number>, k: string) => { m[k] = (m[k] ?? 0) + 1; };
    inc(this.byOutcome, r.o);
    inc((this.byKind[c.kind] ??= {}), r.o);
    if ('rows' in r) {
      this.rows += r.rows ?? 0;
      this.badLines += r.bad ?? 0;
    }
    const chars = 'chars' in r ? r.chars ?? 0 : 0;
    if (r.o === 'refused') this.longestRefusal = Math.max(this.longestRefusal, chars);
    const ex = this.examples[r.o];
    if (ex && ex.length < EXAMPLES) ex.push(`#${r.i} ${c.label}${c.ext}: ${r.o === 'long-line' ? `${chars} chars: ` : ''}${r.line ?? ''}`.slice(0, 800));
  }
}

/** One child over cases [from, to); resolves with how it ended and the RSS lines it printed. */
function runChild(opts: FileFuzzOptions, from: number, dir: string, tally: FileTally, rss: number[]): Promise<void> {
  const child = spawn(process.execPath, [path.join(__dirname, 'fuzz-files-child.js'), String(opts.seed), String(from), String(opts.cases), dir, REPO_ROOT],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  let next = from;
  let timer: NodeJS.Timeout | undefined;
  let hung = false;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, opts.hangMs);
  };
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const r = JSON.parse(text) as FileOutcome & { rss_mb?: number; done?: boolean; start?: number };
    if (r.rss_mb !== undefined) rss.push(r.rss_mb);
    if (r.start !== undefined) arm();
    if (r.start !== undefined || r.rss_mb !== undefined) return;
    clearTimeout(timer);
    tally.add(r);
    next = r.i + 1;
    if (tally.done % 1000 === 0) opts.progress?.(tally.done);
  });
  return new Promise((resolve) => child.once('close', (code, signal) => {
    clearTimeout(timer);
    if (next < opts.cases && (hung || code !== 0 || signal !== null)) {
      tally.add({ i: next, o: hung ? 'hang' : 'crash', line: hung ? `no result within ${opts.hangMs} ms` : `exit ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
      next++;
    }
    resolve(runMore(opts, next, dir, tally, rss));
  }));
}

function runMore(opts: FileFuzzOptions, from: number, dir: string, tally: FileTally, rss: number[]): Promise<void> {
  return from < opts.cases ? runChild(opts, from, dir, tally, rss) : Promise.resolve();
}

/** Runs the file fuzzer; resolves with its report. */
export async function runFileFuzz(opts: FileFuzzOptions): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-fuzz-files-'));
  const tally = new FileTally(opts.seed, loadSpecExamples(REPO_ROOT));
  const rss: number[] = [];
  const t0 = performance.now();
  try {
    await runMore(opts, 0, dir, tally, rss);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return {
    fuzz: 'files',
    seed: opts.seed,
    cases: tally.done,
    seconds: (performance.now() - t0) / 1000,
    ...Object.fromEntries(PROBLEMS.map((p) => [p === 'long-line' ? 'long_lines' : p === 'non-finite' ? 'non_finite' : `${p}${p.endsWith('h') ? 'es' : 's'}`, tally.byOutcome[p] ?? 0])),
    hang_limit_ms: opts.hangMs,
    parsed: tally.byOutcome.parsed ?? 0,
    refused: tally.byOutcome.refused ?? 0,
    rows_parsed: tally.rows,
    bad_lines_counted: tally.badLines,
    longest_refusal_chars: tally.longestRefusal,
    rss_before_mb: rss[0] ?? null,
    rss_after_mb: rss[rss.length - 1] ?? null,
    by_kind: tally.byKind,
    examples: tally.examples,
  };
}
