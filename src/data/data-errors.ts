/**
 * Data files that cannot be used, as one TESSERA_ERR_BAD_DATA error a user can act on: a missing
 * or unreadable file, or a file in another format than the spec says (with a hint naming the
 * format its lines look like). Retrying never helps: the same bytes give the same answer.
 */
import { access, constants, stat } from 'node:fs/promises';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { AVAZU_HEADER, RowFormat } from './record';

/** Tab-separated fields of a Criteo line: label, 13 integers, 26 categoricals. */
const CRITEO_FIELDS = 40;
/** Comma-separated fields of an Avazu line (id, click, then 22 features; hour included). */
const AVAZU_FIELDS = AVAZU_HEADER.split(',').length;

/** File-system error codes that mean the file itself is unusable (not a passing fault). */
const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
};

/**
 * The format `line` looks like: `criteo` (40 tab-separated fields), `avazu` (its header, or 24
 * comma-separated fields), `csv` (other comma-separated text); undefined when it is none of these.
 */
export function sniffFormat(line: string): RowFormat | 'csv' | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.startsWith('id,click,') || (!text.includes('\t') && text.split(',').length === AVAZU_FIELDS)) return 'avazu';
  if (text.split('\t').length === CRITEO_FIELDS) return 'criteo';
  if (!text.includes('\t') && text.includes(',')) return 'csv';
  return undefined;
}

/**
 * A hint to append to a malformed-lines error when `line` (a bad one) looks like another format
 * than `expected`: "; the lines look like Avazu CSV: set data.format: avazu". '' when not.
 */
export function formatHint(line: string | undefined, expected: RowFormat): string {
  if (line === undefined) return '';
  const looks = sniffFormat(line);
  if (looks === undefined || looks === expected) return '';
  if (looks === 'csv') return `; the lines look like CSV, which is not the ${expected} format (Criteo is tab-separated; Avazu CSV has the header '${AVAZU_HEADER.slice(0, 20)}…')`;
  return `; the lines look like ${looks === 'avazu' ? 'Avazu CSV' : 'Criteo TSV'}: set data.format: ${looks} in the job spec`;
}

/**
 * `err` as the TESSERA_ERR_BAD_DATA error it means, or undefined when it is no data error: a
 * BAD_DATA TesseraError as it is, a file-system error on `file` (missing, unreadable, a
 * directory) as "cannot read data file PATH: no such file (ENOENT)".
 */
export function asDataError(err: unknown, file: string): TesseraError | undefined {
  if (err instanceof TesseraError) return err.code === ERROR_CODES.BAD_DATA ? err : undefined;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined || !(code in FILE_ERRORS)) return undefined;
  const at = (err as NodeJS.ErrnoException).path ?? file;
  return new TesseraError(ERROR_CODES.BAD_DATA, `cannot read data file ${at}: ${FILE_ERRORS[code]} (${code}); give --data an existing file`, { cause: err });
}

/**
 * Checks that every file in `paths` exists and is a readable file, before any work starts;
 * throws TESSERA_ERR_BAD_DATA naming `what` (e.g. "training data") and the path otherwise.
 */
export async function checkDataFiles(paths: readonly string[], what: string): Promise<void> {
  for (const p of paths) {
    try {
      if ((await stat(p)).isDirectory()) throw Object.assign(new Error(p), { code: 'EISDIR', path: p });
      await access(p, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (!(code in FILE_ERRORS)) throw err;
      throw new TesseraError(ERROR_CODES.BAD_DATA, `${what} ${p}: ${FILE_ERRORS[code]} (${code}); give an existing file`);
    }
  }
}
