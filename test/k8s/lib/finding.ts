/**
 * One problem found in a manifest: which file, which object, where inside it, and what.
 * Every check in test/k8s/lib returns these, so a failure always names the file and the path.
 */

/** A validation problem. `path` is a JSON pointer inside the object (`/spec/template/...`). */
export interface Finding {
  /** Source file, relative to the repository root (for rendered overlays: the file that declares the object). */
  file: string;
  /** `Kind/name` of the object. */
  object: string;
  /** JSON pointer inside the object; '' for the whole object. */
  path: string;
  message: string;
  /** Which check produced it: schema, strict, xref, policy, args. */
  check: string;
  /** 1-based line in `file`, when known. */
  line?: number;
}

/** `file[:line]: Kind/name /path: message [check]`, one line per finding. */
export function formatFinding(f: Finding): string {
  const where = f.line === undefined ? f.file : `${f.file}:${f.line}`;
  return `${where}: ${f.object} ${f.path || '/'}: ${f.message} [${f.check}]`;
}

/** Joins findings into one message for an assertion, or '' when there are none. */
export function formatFindings(findings: Finding[]): string {
  return findings.map(formatFinding).join('\n');
}

/** Builds a JSON pointer from path segments, escaping `~` and `/` (RFC 6901). */
export function pointer(segments: ReadonlyArray<string | number>): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** Splits a JSON pointer back into segments. */
export function segmentsOf(ptr: string): string[] {
  if (ptr === '') return [];
  return ptr.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Where an object came from, as much as a finding needs. */
export interface Located {
  obj: Record<string, unknown> & { kind?: unknown; metadata?: { name?: unknown } };
  file: string;
  lineOf(ptr: string): number | undefined;
}

/** A finding about `at` in the object of `m`. */
export function findingAt(m: Located, path: string, message: string, check: string): Finding {
  return { file: m.file, object: `${String(m.obj.kind)}/${String(m.obj.metadata?.name)}`, path, message, check, line: m.lineOf(path) };
}
