/**
 * `tessera gen`: writes synthetic Criteo DAC rows labelled by a planted teacher and prints the
 * teacher's oracle AUC — the ceiling a model trained on these rows can approach.
 */
import type { Writable } from 'node:stream';
import { textOut } from './output';
import { helpText, intOption, OptionSpec, ParsedArgs, noPositional, parseArgs } from '../runtime/args';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { DEFAULT_VOCAB, DEFAULT_ZIPF, GenerateResult, generate } from '../gen/generate';
import { DEFAULT_CTR } from '../gen/teacher';
import { MAX_HISTORY } from '../gen/history';

/** `--out -` writes the rows to stdout; the summary then goes to stderr. */
const STDOUT_PATH = '-';

const SPEC: Record<string, OptionSpec> = {
  rows: { type: 'string', describe: 'training rows to write', default: '200000' },
  out: { type: 'string', describe: 'output TSV file ("-" = stdout)', default: 'synthetic-train.tsv' },
  'eval-rows': { type: 'string', describe: 'rows of a held-out split from the same teacher (needs --eval-out)' },
  'eval-out': { type: 'string', describe: 'output TSV file of the held-out split' },
  seed: { type: 'string', describe: 'seed of features, teacher and labels (same seed = same bytes)', default: '1' },
  vocab: { type: 'string', describe: 'vocabulary per categorical field, ≤ 2^40 (e.g. 1e6, 2^40)', default: String(DEFAULT_VOCAB) },
  zipf: { type: 'string', describe: 'Zipf exponent of categorical ids, in (0, 10]', default: String(DEFAULT_ZIPF) },
  ctr: { type: 'string', describe: 'target positive rate, in (0, 1)', default: String(DEFAULT_CTR) },
  history: { type: 'string', describe: `plant a user-history teacher: C26 holds up to N "|"-separated C1 items (1..${MAX_HISTORY})` },
  json: { type: 'boolean', describe: 'also print a JSON summary as the last line' },
};

/** Help text of `tessera gen`. */
export const GEN_HELP = helpText(
  'tessera gen [--rows N] [--out FILE] [--eval-rows N --eval-out FILE] [--seed S] [--vocab V] [--zipf S] [--ctr P] [--history N] [--json]',
  'Writes synthetic Criteo-format rows (label, I1..I13, C1..C26; tab-separated) whose labels are drawn\n' +
    'from a planted teacher model, and reports the teacher\'s own (oracle) AUC on them. Categoricals are\n' +
    '8 hex digits (10 when --vocab exceeds 2^32); about 10% of integers and 5% of some categoricals are empty.\n' +
    'With --history N, C1 is a candidate item and C26 the user\'s click history (C1 items joined by "|"),\n' +
    'and the label also depends on whether the history holds an item of the candidate\'s category.',
  SPEC,
);

/** Reads a finite number option that passes `ok`, naming the option and `want` on error. */
function numberOption(args: ParsedArgs, name: string, ok: (x: number) => boolean, want: string): number {
  const raw = args.options[name];
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || !ok(n)) {
    throw new TesseraError(ERROR_CODES.CONFIG, `--${name} must be ${want}, got "${raw}"`);
  }
  return n;
}

/** Reads --vocab: an integer in [1, 2^40], also written as `2^k` or `1e6`. */
function vocabOption(args: ParsedArgs): number {
  const raw = String(args.options.vocab);
  const pow = /^2\^(\d+)$/.exec(raw.trim());
  const n = pow ? 2 ** Number(pow[1]) : Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 1 || n > 2 ** 40) {
    throw new TesseraError(ERROR_CODES.CONFIG, `--vocab must be an integer in [1, 2^40], got "${raw}"`);
  }
  return n;
}

/** Reads a path option; "" is an error naming the option. */
function pathOption(args: ParsedArgs, name: string): string | undefined {
  const raw = args.options[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw === '') throw new TesseraError(ERROR_CODES.CONFIG, `--${name} needs a file path`);
  return raw;
}

function fmt(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

/** The one-line human summary. */
function summaryLine(r: GenerateResult, out: string, evalOut: string | undefined): string {
  const pct = (p: number, n: number): string => `${((100 * p) / n).toFixed(1)}%`;
  let line =
    `tessera gen: wrote ${r.rows} rows to ${out} in ${r.seconds.toFixed(2)} s ` +
    `(${Math.round(r.rows / r.seconds)} rows/s total); positives ${pct(r.positives, r.rows)}, ` +
    `oracle AUC ${fmt(r.oracleAuc, 4)}, oracle logloss ${fmt(r.oracleLogloss, 4)}`;
  if (r.eval && evalOut) {
    line += `; eval: ${r.eval.rows} rows to ${evalOut}, positives ${pct(r.eval.positives, r.eval.rows)}, oracle AUC ${fmt(r.eval.oracleAuc, 4)}`;
  }
  return line;
}

/** The --json line: snake_case keys, NaN as null. */
function jsonLine(r: GenerateResult, out: string, evalOut: string | undefined, seed: number): string {
  const num = (x: number): number | null => (Number.isFinite(x) ? x : null);
  const o: Record<string, unknown> = {
    rows: r.rows,
    positives: r.positives,
    oracle_auc: num(r.oracleAuc),
    oracle_logloss: num(r.oracleLogloss),
    out,
    seed,
    seconds: r.seconds,
  };
  if (r.eval && evalOut) {
    Object.assign(o, { eval_out: evalOut, eval_rows: r.eval.rows, eval_positives: r.eval.positives });
    Object.assign(o, { eval_oracle_auc: num(r.eval.oracleAuc), eval_oracle_logloss: num(r.eval.oracleLogloss) });
  }
  return JSON.stringify(o);
}

/**
 * Runs `tessera gen`; resolves with the exit code.
 *
 * ```ts
 * await runGen(['--rows', '2000', '--out', '/tmp/t.tsv', '--json']);
 * ```
 * @throws TesseraError CONFIG naming the bad option (main.ts prints it and exits 2).
 */
export async function runGen(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  noPositional(args);
  const rows = intOption(args, 'rows', 1);
  const seed = intOption(args, 'seed', 0);
  if (!Number.isSafeInteger(seed)) throw new TesseraError(ERROR_CODES.CONFIG, `--seed must be a safe integer, got "${args.options.seed}"`);
  const out = pathOption(args, 'out') as string;
  const evalOut = pathOption(args, 'eval-out');
  const evalRows = args.options['eval-rows'] === undefined ? undefined : intOption(args, 'eval-rows', 1);
  if ((evalRows === undefined) !== (evalOut === undefined)) {
    throw new TesseraError(ERROR_CODES.CONFIG, evalOut ? '--eval-out needs --eval-rows' : '--eval-rows needs --eval-out');
  }
  if (evalOut === STDOUT_PATH) throw new TesseraError(ERROR_CODES.CONFIG, '--eval-out cannot be stdout');
  const opts = { rows, seed, vocab: vocabOption(args), zipf: numberOption(args, 'zipf', (x) => x > 0 && x <= 10, 'a number in (0, 10]') };
  const ctr = numberOption(args, 'ctr', (x) => x > 0 && x < 1, 'a number in (0, 1)');
  const toStdout = out === STDOUT_PATH;
  const history = args.options.history === undefined ? undefined : intOption(args, 'history', 1);
  const result = await generate({ ...opts, ctr, out: toStdout ? (process.stdout as Writable) : out, evalRows, evalOut, ...(history === undefined ? {} : { history }) });
  const json = args.options.json === true;
  // Rows on stdout leave no room for a result there; with --json, stdout holds only the JSON.
  (toStdout ? process.stderr : textOut(json)).write(`${summaryLine(result, out, evalOut)}\n`);
  if (json) (toStdout ? process.stderr : process.stdout).write(`${jsonLine(result, out, evalOut, seed)}\n`);
  return 0;
}
