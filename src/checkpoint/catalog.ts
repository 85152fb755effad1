/**
 * The checkpoints under a root directory: listing, the newest, incremental chains, and garbage
 * collection that never breaks a chain a kept checkpoint needs. Only directories with a
 * manifest count; a directory without one is an unfinished write.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { checkpointSeq, compareCheckpointIds } from './checkpoint-id';
import { Manifest, MANIFEST_FILE, readManifest } from './manifest';

/** One line of `listCheckpoints`. */
export interface CheckpointInfo {
  id: string;
  /** `job.step` when the chief recorded one */
  step: number | null;
  kind: 'full' | 'incremental';
  base: string | null;
  /** bytes of this checkpoint's own chunk files (not its base's) */
  bytes: number;
  createdAt: string;
}

async function subdirs(root: string): Promise<string[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(root, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TesseraError(ERROR_CODES.CHECKPOINT_NOT_FOUND, `${root}: no such checkpoint directory`);
    }
    throw err;
  }
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort(compareCheckpointIds);
}

function hasManifest(root: string, id: string): boolean {
  return fs.existsSync(path.join(root, id, MANIFEST_FILE));
}

/** Every complete checkpoint under `root`, oldest first. */
export async function listCheckpoints(root: string): Promise<CheckpointInfo[]> {
  const out: CheckpointInfo[] = [];
  for (const id of await subdirs(root)) {
    if (!hasManifest(root, id)) continue;
    const m = await readManifest(path.join(root, id));
    const step = (m.job as { step?: unknown } | null)?.step;
    out.push({
      id, step: typeof step === 'number' ? step : null, kind: m.kind, base: m.base,
      bytes: m.files.reduce((s, f) => s + f.bytes, 0), createdAt: m.createdAt,
    });
  }
  return out;
}

/** The newest complete checkpoint's id; CHECKPOINT_NOT_FOUND when there is none. */
export async function latestCheckpointId(root: string): Promise<string> {
  const ids = (await subdirs(root)).filter((id) => hasManifest(root, id));
  if (ids.length === 0) throw new TesseraError(ERROR_CODES.CHECKPOINT_NOT_FOUND, `${root}: no complete checkpoint (none has a ${MANIFEST_FILE})`);
  return ids[ids.length - 1];
}

/**
 * The manifests needed to restore `id`, oldest first: its full base, then each incremental up to
 * `id`. Errors name a missing link.
 */
export async function resolveChain(root: string, id: string): Promise<Manifest[]> {
  const chain: Manifest[] = [];
  const seen = new Set<string>();
  for (let cur: string | null = id; cur !== null;) {
    if (seen.has(cur)) throw new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `${root}: checkpoint chain of "${id}" loops at "${cur}"`);
    seen.add(cur);
    let m: Manifest;
    try {
      m = await readManifest(path.join(root, cur));
    } catch (err) {
      if (cur !== id && err instanceof TesseraError && err.code === ERROR_CODES.CHECKPOINT_NOT_FOUND) {
        throw new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `${root}: checkpoint "${id}" needs base "${cur}", which is missing or incomplete`);
      }
      throw err;
    }
    const prev = chain[0];
    if (prev && m.numBuckets !== prev.numBuckets) {
      throw new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `${root}: "${prev.id}" has ${prev.numBuckets} buckets but its base "${m.id}" has ${m.numBuckets}`);
    }
    chain.unshift(m);
    cur = m.base;
  }
  return chain;
}

/**
 * Deletes every checkpoint except the newest `keep` and every checkpoint their chains need, and
 * every unfinished checkpoint directory (named like a checkpoint id, no manifest: a write that
 * crashed). Other directories under the root are left alone. Run it after a manifest is
 * written, never while a checkpoint is being written (its directory has no manifest yet).
 * @returns the ids (directory names) removed
 */
export async function collectGarbage(root: string, keep: number): Promise<string[]> {
  if (!Number.isInteger(keep) || keep < 1) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `keep: must be an integer >= 1, got ${keep}`);
  const dirs = await subdirs(root);
  const complete = dirs.filter((id) => hasManifest(root, id));
  const needed = new Set<string>();
  for (const id of complete.slice(-keep)) {
    for (const m of await resolveChain(root, id)) needed.add(m.id);
  }
  const removed: string[] = [];
  for (const id of dirs) {
    // Only checkpoint directories: a root may hold other things (the chief's saved model).
    if (needed.has(id) || (checkpointSeq(id) === null && !complete.includes(id))) continue;
    await fs.promises.rm(path.join(root, id), { recursive: true, force: true });
    removed.push(id);
  }
  return removed;
}

/**
 * Splits a CLI argument into root and id: `DIR/ID` when DIR/ID holds a manifest, else `DIR` is a
 * root and the id is its newest checkpoint.
 */
export async function resolveCheckpointArg(arg: string): Promise<{ root: string; id: string }> {
  const abs = path.resolve(arg);
  if (fs.existsSync(path.join(abs, MANIFEST_FILE))) return { root: path.dirname(abs), id: path.basename(abs) };
  if (!fs.existsSync(abs)) throw new TesseraError(ERROR_CODES.CHECKPOINT_NOT_FOUND, `${arg}: no such checkpoint or checkpoint directory`);
  return { root: abs, id: await latestCheckpointId(abs) };
}
