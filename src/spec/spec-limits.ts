/**
 * Limits a job spec's text must meet before the YAML parser sees it. A job spec is a few KB with
 * a handful of nesting levels; a hostile or broken file (issue #16's fuzzer: 100,000 nested
 * brackets, a 12 MB document) otherwise costs seconds of parsing and ends in the parser's own
 * "Maximum call stack size exceeded".
 */
import { JobSpecError } from './spec-error';

/** Largest job spec accepted, in characters. */
export const MAX_SPEC_CHARS = 1 << 20;
/** Deepest nesting of flow collections (`[`, `{`) accepted. */
export const MAX_FLOW_DEPTH = 64;

/** The deepest flow-collection nesting in `text`, ignoring quoted strings and comments. */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"') i++;
    } else if (c === '"' || c === '\'') quote = c;
    else if (c === '#') while (i < text.length && text[i] !== '\n') i++;
    else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return max;
}

/** Throws a JobSpecError (naming `source`) when `text` is over the size or nesting limit. */
export function checkSpecLimits(text: string, source: string): void {
  if (text.length > MAX_SPEC_CHARS) {
    throw new JobSpecError('', `the spec is ${text.length} characters; a job spec is at most ${MAX_SPEC_CHARS} (is this the right file?)`, { source });
  }
  const depth = flowDepth(text);
  if (depth > MAX_FLOW_DEPTH) throw new JobSpecError('', `invalid YAML: [ and { nest ${depth} deep; at most ${MAX_FLOW_DEPTH}`, { source });
}
