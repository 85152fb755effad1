/**
 * Serving labels of a model: `ROOT/<name>/labels.json`, names such as `stable` and `canary`
 * mapped to version numbers. `tessera serve label|rollback` writes it atomically (temporary file,
 * fsync, rename); every `tessera serve` watching the root reads it, so a label move or a rollback
 * reaches every replica and survives a restart.
 *
 * ```json
 * {"format": "tessera-labels/1", "labels": {"stable": 3, "canary": 4}, "updated_at": "2026-…"}
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../checkpoint/fs-durable';
import { ERROR_CODES, TesseraError } from '../common/errors';

/** `format` of labels.json. */
export const LABELS_FORMAT = 'tessera-labels/1';
/** The file's name in a model's directory. */
export const LABELS_FILE = 'labels.json';
/** Label names: lower-case, usable in URLs and metric labels unescaped. */
export const LABEL_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

/** Label → version. */
export type Labels = Readonly<Record<string, number>>;

/** Throws CONFIG unless `label` is a valid label name; returns it. */
export function checkLabel(label: string): string {
  if (!LABEL_PATTERN.test(label)) throw new TesseraError(ERROR_CODES.CONFIG, `label "${label}" must be 1-63 lower-case letters, digits, '_' or '-', starting with a letter`);
  return label;
}

/** The labels file of model `name`. */
export function labelsPath(root: string, name: string): string {
  return path.join(root, name, LABELS_FILE);
}

function invalid(file: string, why: string): TesseraError {
  return new TesseraError(ERROR_CODES.CONFIG, `${file}: ${why}`);
}

/**
 * The labels of model `name`; {} when it has no labels file.
 * @throws TesseraError CONFIG naming the file and what is wrong with it
 */
export function readLabels(root: string, name: string): Labels {
  const file = labelsPath(root, name);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw invalid(file, (err as Error).message);
  }
  let doc: { format?: unknown; labels?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (err) {
    throw invalid(file, `not valid JSON (${(err as Error).message})`);
  }
  if (doc?.format !== LABELS_FORMAT) throw invalid(file, `format ${JSON.stringify(doc?.format)}, expected "${LABELS_FORMAT}"`);
  if (typeof doc.labels !== 'object' || doc.labels === null || Array.isArray(doc.labels)) throw invalid(file, '"labels" must be an object of label → version');
  const out: Record<string, number> = {};
  for (const [label, v] of Object.entries(doc.labels as Record<string, unknown>)) {
    if (!LABEL_PATTERN.test(label)) throw invalid(file, `label "${label}" is not a valid label name`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw invalid(file, `label "${label}": version must be a positive integer (got ${JSON.stringify(v)})`);
    out[label] = v;
  }
  return out;
}

/** Replaces the labels of model `name` atomically. */
export async function writeLabels(root: string, name: string, labels: Labels): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const doc = { format: LABELS_FORMAT, labels: sorted, updated_at: new Date().toISOString() };
  await writeFileAtomic(labelsPath(root, name), `${JSON.stringify(doc, null, 2)}\n`);
}
