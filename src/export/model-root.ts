/**
 * The model root: numbered versions of each model, the layout training publishes into and
 * `tessera serve` reads (docs/model-format.md, "Model root").
 *
 *   ROOT/<name>/<version>/     a complete saved model (model-dir.ts); version = decimal 1, 2, …
 *   ROOT/<name>/.tmp-*         a version being written: never read, never listed
 *   ROOT/<name>/.last-version  the last version number published here
 *   ROOT/<name>/labels.json    serving's labels (stable, canary, …), written by `tessera serve label|rollback`
 *
 * A version appears atomically: it is written under a dot-prefixed temporary directory, every
 * file fsynced, then renamed to the next free number and the parent directory fsynced. A reader
 * listing the directory sees a version whole or not at all. Versions only grow: the new number is
 * one more than the largest present or ever published here (`.last-version`), and if another
 * publisher takes it first (the rename finds the directory there) the next number is tried.
 *
 * ```ts
 * const v = await publishVersion('/models', 'ctr', (dir) => writeModel(dir, content));
 * listVersions('/models', 'ctr'); // [1, 2, …, v]
 * ```
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir } from '../checkpoint/fs-durable';
import { asDiskError } from '../common/disk-errors';
import { ERROR_CODES, TesseraError } from '../common/errors';

/** Model names: one path component, usable in URLs and metric labels unescaped. */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** A version directory's name: a positive decimal integer without leading zeros. */
const VERSION_DIR = /^[1-9][0-9]{0,14}$/;
/** Renames tried before giving up on a root that keeps taking the next number. */
const MAX_PUBLISH_RACES = 64;
/**
 * The last version number published, kept beside the versions so that deleting the newest
 * version never lets its number be published again with other weights (a server that still holds
 * the deleted version would not see the new one as new).
 */
const LAST_VERSION_FILE = '.last-version';

function lastPublished(modelDir: string): number {
  try {
    const n = Number(fs.readFileSync(path.join(modelDir, LAST_VERSION_FILE), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}

/** Raises the last-published mark to `v` (never lowers it; a racing publisher may raise it further). */
async function markPublished(modelDir: string, v: number): Promise<void> {
  if (lastPublished(modelDir) >= v) return;
  const tmp = path.join(modelDir, `${LAST_VERSION_FILE}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  fs.writeFileSync(tmp, `${v}\n`);
  fs.renameSync(tmp, path.join(modelDir, LAST_VERSION_FILE));
  await fsyncDir(modelDir);
}

/** Throws CONFIG unless `name` is a valid model name; returns it. */
export function checkModelName(name: string, what = 'model name'): string {
  if (!MODEL_NAME_PATTERN.test(name)) {
    throw new TesseraError(ERROR_CODES.CONFIG, `${what} "${name}" must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'`);
  }
  return name;
}

/** The version a directory name stands for, or undefined when it is not a version directory. */
export function versionOfDir(name: string): number | undefined {
  return VERSION_DIR.test(name) ? Number(name) : undefined;
}

/** The directory of version `v` of model `name`. */
export function versionDir(root: string, name: string, v: number): string {
  return path.join(root, name, String(v));
}

/** Version numbers of model `name` under `root`, ascending; [] when the model has none. */
export function listVersions(root: string, name: string): number[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(root, name), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries.filter((e) => e.isDirectory()).map((e) => versionOfDir(e.name))
    .filter((v): v is number => v !== undefined).sort((a, b) => a - b);
}

/** Model names under `root` (directories not starting with a dot), sorted. */
export function listModels(root: string): string[] {
  return fs.readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && MODEL_NAME_PATTERN.test(e.name)).map((e) => e.name).sort();
}

/**
 * Publishes a new version of model `name` under `root`: `write(tmpDir)` fills a fresh temporary
 * directory (fsyncing what it writes), which is then renamed to the next version number.
 * Returns the version. The temporary directory is removed if `write` fails; a disk error (root
 * full, not writable, read-only) is thrown as TESSERA_ERR_CHECKPOINT_DIR ("export dir full
 * (ENOSPC): …").
 */
export async function publishVersion(root: string, name: string, write: (dir: string) => Promise<unknown>): Promise<{ version: number; dir: string }> {
  checkModelName(name);
  const modelDir = path.join(root, name);
  try {
    return await publishInto(root, name, modelDir, write);
  } catch (err) {
    throw asDiskError(err, modelDir, 'export dir');
  }
}

async function publishInto(root: string, name: string, modelDir: string, write: (dir: string) => Promise<unknown>): Promise<{ version: number; dir: string }> {
  fs.mkdirSync(modelDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(modelDir, `.tmp-${process.pid}-`));
  try {
    // mkdtemp makes it 0700; a version must be readable by servers running as other users.
    fs.chmodSync(tmp, 0o755 & ~process.umask());
    await write(tmp);
    await fsyncDir(tmp);
    for (let attempt = 0; attempt < MAX_PUBLISH_RACES; attempt++) {
      const version = Math.max(listVersions(root, name).pop() ?? 0, lastPublished(modelDir)) + 1;
      const dir = versionDir(root, name, version);
      try {
        fs.renameSync(tmp, dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') continue; // another publisher took this number
        throw err;
      }
      await fsyncDir(modelDir);
      await markPublished(modelDir, version);
      return { version, dir };
    }
    throw new TesseraError(ERROR_CODES.INTERNAL, `could not publish a version of ${name} under ${root}: the next number was taken ${MAX_PUBLISH_RACES} times`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
