/**
 * The file fuzzer's cases: data files for the readers (Criteo TSV, Avazu CSV, and the TSV that
 * `tessera gen` writes) and job specs (YAML and JSON) for the spec loader. Each case is built
 * from its own seed (`seed`, case index), so a run can resume after a crash or hang at the next
 * case and still make the same cases. What a case holds:
 * - data: valid lines, lines mutated byte-wise (fuzz-bytes.ts), hostile lines (wrong field
 *   counts, 10,000 fields, numbers of 400 digits, NaN/Infinity, labels other than 0/1, NUL and
 *   control bytes, non-UTF-8, a BOM, bare CRs, 100 KB fields), a 10 MB line, binary junk, an
 *   empty file, and gzip: valid, truncated, corrupted, of junk, a bomb of zeros, magic only;
 * - specs: the shipped examples, byte-mutated, with one value replaced by a hostile one (as YAML
 *   or JSON), a key removed or an unknown one added, and hostile documents (alias bombs, 100,000
 *   nested brackets, 10 MB scalars, several documents, binary junk, custom tags).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { AVAZU_HEADER } from '../../src/data/record';
import { FuzzRng, mutate } from './fuzz-bytes';

/** What reads a case: a data reader of one format, or the spec loader. */
export type FileKind = 'criteo' | 'avazu' | 'gen-tsv' | 'spec';

/** One file case. */
export interface FileCase {
  index: number;
  kind: FileKind;
  /** how the content was made, e.g. `criteo hostile:nul-bytes` */
  label: string;
  /** file name suffix (.txt, .csv, .gz, .yaml, .json) */
  ext: string;
  content: Buffer;
}

/** Example specs the spec cases start from (path relative to the repository root). */
export const SPEC_EXAMPLES = ['examples/criteo-deepfm.yaml', 'examples/avazu-deepfm.yaml', 'examples/synthetic-deepfm.yaml'];

const hex = (rng: FuzzRng) => rng.u32().toString(16).padStart(8, '0');

function criteoLine(rng: FuzzRng, gen: boolean): string {
  const ints = Array.from({ length: 13 }, () => (rng.chance(gen ? 0 : 0.2) ? '' : String(rng.int(gen ? 1_000_000_000 : 5000) - (gen ? 0 : 2))));
  const cats = Array.from({ length: 26 }, () => (rng.chance(gen ? 0 : 0.1) ? '' : hex(rng)));
  return [String(rng.int(2)), ...ints, ...cats].join('\t');
}

function avazuLine(rng: FuzzRng): string {
  const cats = Array.from({ length: 21 }, (_, k) => (k < 2 || k > 10 ? String(rng.int(2000)) : hex(rng)));
  return [String(rng.u32()), String(rng.int(2)), `141021${String(rng.int(24)).padStart(2, '0')}`, ...cats].join(',');
}

function validLines(rng: FuzzRng, kind: Exclude<FileKind, 'spec'>, n: number): string[] {
  const lines = Array.from({ length: n }, () => (kind === 'avazu' ? avazuLine(rng) : criteoLine(rng, kind === 'gen-tsv')));
  return kind === 'avazu' ? [AVAZU_HEADER, ...lines] : lines;
}

/** Hostile edits of one valid line (sep: the format's field separator). */
const LINE_EDITS: Record<string, (rng: FuzzRng, line: string, sep: string) => string> = {
  'field-dropped': (rng, l, s) => l.split(s).filter((_, i) => i !== 1 + rng.int(5)).join(s),
  'field-added': (_rng, l, s) => `${l}${s}extra`,
  'ten-thousand-fields': (_rng, l, s) => `${l}${s.repeat(10_000)}`,
  'huge-number': (_rng, l, s) => l.split(s).map((f, i) => (i === 1 || i === 2 ? '9'.repeat(400) : f)).join(s),
  'nan-inf': (rng, l, s) => l.split(s).map((f, i) => (i === 1 || i === 2 ? rng.pick(['NaN', 'Infinity', '-Infinity', '1e309', '0x10', '1.5', '-0', '+3']) : f)).join(s),
  'bad-label': (rng, l, s) => { const f = l.split(s); f[s === ',' ? 1 : 0] = rng.pick(['2', '-1', '', 'yes', '0.5', '1e0']); return f.join(s); },
  'nul-bytes': (_rng, l) => l.replace(/[0-9a-f]/, '\u0000'),
  'control-bytes': (rng, l) => l + String.fromCharCode(rng.int(32)),
  'non-utf8': (_rng, l) => `${l}\udcff`, // written below as raw bytes 0xff 0xfe
  bom: (_rng, l) => `\ufeff${l}`,
  'bare-cr': (_rng, l) => l.replace(/\t|,/, '\r'),
  'field-100kb': (_rng, l, s) => l.split(s).map((f, i) => (i === 20 ? 'x'.repeat(100_000) : f)).join(s),
  'unicode-field': (_rng, l, s) => l.split(s).map((f, i) => (i === 16 ? '😀\u202eé' : f)).join(s),
  'empty-line': () => '',
  'only-separators': (_rng, l, s) => s.repeat(l.split(s).length - 1),
};

/** Text lines to bytes; the non-UTF-8 marker becomes two bytes no UTF-8 decoder accepts. */
function linesToBytes(lines: string[], crlf: boolean): Buffer {
  const parts = lines.join(crlf ? '\r\n' : '\n').split('\udcff');
  return Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [Buffer.from(p)] : [Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from(p)])));
}

/** A data case of `kind`: mostly valid files with a few lines edited, sometimes a whole-file oddity. */
function dataCase(rng: FuzzRng, kind: Exclude<FileKind, 'spec'>): { label: string; content: Buffer; gz?: boolean } {
  const sep = kind === 'avazu' ? ',' : '\t';
  const lines = validLines(rng, kind, 1 + rng.int(40));
  const first = kind === 'avazu' ? 1 : 0;
  const roll = rng.int(100);
  if (roll < 10) return { label: 'valid', content: linesToBytes(lines, rng.chance(0.3)) };
  if (roll < 45) {
    const edit = rng.pick(Object.keys(LINE_EDITS));
    for (let k = 1 + rng.int(3); k > 0 && lines.length > first; k--) {
      const at = first + rng.int(lines.length - first);
      lines[at] = LINE_EDITS[edit](rng, lines[at], sep);
    }
    return { label: `hostile:${edit}`, content: linesToBytes(lines, false) };
  }
  if (roll < 75) {
    const m = mutate(rng, linesToBytes(lines, false));
    return { label: `mutated:${m.how}`, content: m.bytes };
  }
  return wholeFile(rng, lines, kind);
}

/** 32 MiB of zeros, gzipped (32 KB): made once per process. */
let zeroBomb: Buffer | undefined;

/** Whole-file oddities: junk, empty, a 10 MB line, Avazu header variants, and gzip in every state. */
function wholeFile(rng: FuzzRng, lines: string[], kind: string): { label: string; content: Buffer; gz?: boolean } {
  const valid = linesToBytes(lines, false);
  const gz = gzipSync(valid);
  const variants: [string, () => Buffer][] = [
    ['binary-junk', () => rng.bytes(1 + rng.int(64 * 1024))],
    ['empty', () => Buffer.alloc(0)],
    ['only-newlines', () => Buffer.alloc(1 + rng.int(5000), 0x0a)],
    ['gzip', () => gz],
    ['gzip-truncated', () => gz.subarray(0, 2 + rng.int(gz.length - 2))],
    ['gzip-corrupted', () => { const b = Buffer.from(gz); for (let k = 0; k < 4; k++) b[10 + rng.int(b.length - 10)] ^= 0xff; return b; }],
    ['gzip-of-junk', () => gzipSync(rng.bytes(1 + rng.int(16 * 1024)))],
    ['gzip-magic-only', () => Buffer.from([0x1f, 0x8b])],
    ['gzip-twice', () => gzipSync(gz)],
    ['gzip-members-concatenated', () => Buffer.concat([gz, gzipSync(valid)])],
  ];
  // Rarer: each costs a 10-32 MB write and read.
  const big: [string, () => Buffer][] = [
    ['gzip-bomb-of-zeros', () => (zeroBomb ??= gzipSync(Buffer.alloc(32 << 20)))],
    ['ten-mb-line', () => Buffer.concat([valid, Buffer.alloc(10 << 20, 0x61), Buffer.from('\n'), valid])],
  ];
  if (kind === 'avazu') {
    variants.push(['avazu-header-only', () => Buffer.from(`${AVAZU_HEADER}\n`)], ['avazu-wrong-header', () => Buffer.from(`id,click,hour\n${lines.slice(1).join('\n')}`)],
      ['avazu-header-twice', () => Buffer.from([AVAZU_HEADER, ...lines].join('\n'))]);
  }
  const [how, make] = rng.pick(rng.chance(0.1) ? big : variants);
  return { label: `file:${how}`, content: make(), gz: how.startsWith('gzip') };
}

/** Values a spec field is replaced with. */
const HOSTILE_VALUES: unknown[] = [
  -1, 0, 0.5, 2 ** 31, 2 ** 53 + 1, 1e309, -1e309, 'NaN', '', 'x'.repeat(10 * 1024), null, true, [], {}, [[[[[]]]]], { a: { b: { c: 1 } } }, '../../etc/passwd', '\u0000', '😀', [1, 'two', null],
];

/** Every path (as keys and indices) into a parsed document. */
function pathsOf(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (at.length > 0) out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...at, k], out);
  return out;
}

function edit(doc: unknown, p: (string | number)[], f: (parent: Record<string | number, unknown>, key: string | number) => void): void {
  let o = doc as Record<string | number, unknown>;
  for (const k of p.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  f(o, p[p.length - 1]);
}

/** Documents no spec loader should choke on. */
const HOSTILE_DOCS: Record<string, (rng: FuzzRng) => string> = {
  'alias-bomb': () => ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`)].join('\n'),
  'deep-brackets': () => `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
  'deep-maps': () => Array.from({ length: 5000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n'),
  'ten-mb-scalar': () => `name: ${'n'.repeat(10 << 20)}\n`,
  'many-documents': (rng) => Array.from({ length: 2 + rng.int(5) }, () => 'name: a').join('\n---\n'),
  'custom-tags': (rng) => `name: !!js/function "function(){}"\nmodel: !${rng.pick(['foo', '!binary', '!!python/object'])} {kind: lr}\n`,
  'duplicate-keys': () => 'name: a\nname: b\n',
  'merge-keys': () => 'base: &b {kind: lr}\nmodel: {<<: *b, <<: *b}\n',
  'tabs-indent': () => 'name: a\nmodel:\n\tkind: lr\n',
  'binary-junk': (rng) => rng.bytes(1 + rng.int(4096)).toString('latin1'),
  'json-array': () => '[1, 2, 3]',
  'scalar-only': (rng) => rng.pick(['42', 'null', '~', '"text"', 'true', '.inf']),
  'huge-numbers': () => `name: a\ntraining: {batch_size: ${'9'.repeat(400)}, epochs: 1e400}\n`,
};

/** A spec case: an example as is, mutated byte-wise, edited structurally, or a hostile document. */
function specCase(rng: FuzzRng, examples: readonly string[]): { label: string; content: Buffer; json: boolean } {
  const text = rng.pick(examples);
  const roll = rng.int(100);
  if (roll < 5) return { label: 'valid', content: Buffer.from(text), json: false };
  if (roll < 35) {
    const m = mutate(rng, Buffer.from(text));
    return { label: `mutated:${m.how}`, content: m.bytes, json: false };
  }
  if (roll < 85) {
    const doc = parseYaml(text) as unknown;
    const paths = pathsOf(doc);
    const p = rng.pick(paths);
    const how = rng.pick(['replace', 'replace', 'remove', 'unknown-key']);
    if (how === 'replace') edit(doc, p, (o, k) => { o[k] = rng.pick(HOSTILE_VALUES); });
    else if (how === 'remove') edit(doc, p, (o, k) => (Array.isArray(o) ? o.splice(Number(k), 1) : delete o[k]));
    else edit(doc, p, (o) => { if (o && typeof o === 'object' && !Array.isArray(o)) o[`unknown_${rng.int(5)}`] = 1; });
    const json = rng.chance(0.4);
    return { label: `${how}:${p.filter((x) => typeof x === 'string').join('.')}`, content: Buffer.from(json ? JSON.stringify(doc) : toYaml(doc)), json };
  }
  const name = rng.pick(Object.keys(HOSTILE_DOCS));
  return { label: `hostile:${name}`, content: Buffer.from(HOSTILE_DOCS[name](rng), name === 'binary-junk' ? 'latin1' : 'utf8'), json: false };
}

/** Reads the example specs once (the child process does, at start). */
export function loadSpecExamples(repoRoot: string): string[] {
  return SPEC_EXAMPLES.map((p) => fs.readFileSync(path.join(repoRoot, p), 'utf8'));
}

/** Case `index` of the run seeded `seed`: 60% data files (a third per format), 40% specs. */
export function fileCase(seed: number, index: number, examples: readonly string[]): FileCase {
  const rng = new FuzzRng((seed * 1_000_003 + index) >>> 0);
  const roll = rng.int(10);
  if (roll < 4) {
    const s = specCase(rng, examples);
    return { index, kind: 'spec', label: `spec ${s.label}`, ext: s.json ? '.json' : '.yaml', content: s.content };
  }
  const kind = (['criteo', 'avazu', 'gen-tsv'] as const)[roll % 3];
  const d = dataCase(rng, kind);
  return { index, kind, label: `${kind} ${d.label}`, ext: d.gz ? '.gz' : kind === 'avazu' ? '.csv' : '.txt', content: d.content };
}
