/**
 * A small, strict command-line parser: `--name value`, `--name=value` and boolean `--flag`.
 * Unknown options are errors that name the option, so typos never pass silently.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';

/** One option of a command: whether it takes a value, its help line and its default. */
export interface OptionSpec {
  /** 'string' takes a value; 'boolean' does not. */
  type: 'string' | 'boolean';
  describe: string;
  default?: string;
}

/** Parsed options (by name, defaults filled in) and the positional arguments, in order. */
export interface ParsedArgs {
  options: Record<string, string | boolean | undefined>;
  positional: string[];
}

/** Parses `argv` against `spec`; throws TesseraError naming the bad option. */
export function parseArgs(argv: string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const options: Record<string, string | boolean | undefined> = {};
  for (const [k, s] of Object.entries(spec)) if (s.default !== undefined) options[k] = s.default;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const s = spec[name];
    if (!s) throw new TesseraError(ERROR_CODES.CONFIG, `unknown option --${name} (see --help)`);
    if (s.type === 'boolean') {
      options[name] = eq > 0 ? a.slice(eq + 1) !== 'false' : true;
    } else {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new TesseraError(ERROR_CODES.CONFIG, `option --${name} needs a value`);
      options[name] = v;
    }
  }
  return { options, positional };
}

/** Reads a non-negative integer option, naming the option on error. */
export function intOption(args: ParsedArgs, name: string, min = 0): number {
  const raw = args.options[name];
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < min) {
    throw new TesseraError(ERROR_CODES.CONFIG, `--${name} must be an integer ≥ ${min}, got "${raw}"`);
  }
  return n;
}

/** Renders help text for a subcommand. */
export function helpText(usage: string, summary: string, spec: Record<string, OptionSpec>): string {
  const lines = [`Usage: ${usage}`, '', summary, '', 'Options:'];
  for (const [k, s] of Object.entries(spec)) {
    const flag = s.type === 'string' ? `--${k} <value>` : `--${k}`;
    lines.push(`  ${flag.padEnd(28)} ${s.describe}${s.default !== undefined ? ` (default: ${s.default})` : ''}`);
  }
  lines.push(`  ${'--help'.padEnd(28)} show this help`);
  return lines.join('\n');
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tib: 1024 ** 4 };

/**
 * Reads a byte-size option: an integer, optionally with a binary unit (`512MiB`, `4g`, `1024k`).
 * Undefined when the option is absent; throws CONFIG naming the option when it is malformed.
 */
export function bytesOption(args: ParsedArgs, name: string): number | undefined {
  const raw = args.options[name];
  if (raw === undefined) return undefined;
  const m = /^(\d+)\s*([a-z]*)$/i.exec(String(raw).trim());
  const unit = m ? BYTE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) < 1) {
    throw new TesseraError(ERROR_CODES.CONFIG, `--${name} must be a positive byte count such as 536870912, 512MiB or 4GiB, got "${raw}"`);
  }
  return Number(m[1]) * unit;
}
