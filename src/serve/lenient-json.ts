/**
 * JSON bodies as clients really send them. Python's `json.dumps` writes NaN and Infinity as the
 * bare tokens `NaN`, `Infinity` and `-Infinity`, which are not JSON: a strict parse would refuse
 * the whole body by position ("Unexpected token N in JSON at position 812") instead of naming
 * the field. So a body that fails to parse and holds such tokens outside strings is parsed again
 * with each token replaced by a marked string (`NON_FINITE_MARK + "NaN"`), which the field checks
 * then refuse naming the field. Anything else that is not JSON is refused as malformed.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';

/** Prefix of the string a bare NaN / Infinity token becomes. */
export const NON_FINITE_MARK = '\u0000non-finite:';

const TOKENS = ['-Infinity', 'Infinity', 'NaN'];

/** `text` with bare NaN / ±Infinity tokens (outside strings) replaced by marked strings; null if there are none. */
function markNonFinite(text: string): string | null {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    const token = TOKENS.find((t) => text.startsWith(t, i));
    if (token === undefined) continue;
    out += `${text.slice(from, i)}${JSON.stringify(NON_FINITE_MARK + token)}`;
    i += token.length - 1;
    from = i + 1;
  }
  return from === 0 ? null : out + text.slice(from);
}

/**
 * Parses a request body.
 * @throws TesseraError INVALID_ARGUMENT "malformed JSON: …" when it is not JSON (NaN and Infinity
 *   tokens aside, which come back as marked strings)
 */
export function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const marked = markNonFinite(text);
    if (marked !== null) {
      try {
        return JSON.parse(marked);
      } catch {
        // not JSON even with the tokens replaced: report the original error
      }
    }
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `malformed JSON body: ${(err as Error).message}`);
  }
}
