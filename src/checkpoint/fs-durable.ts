/**
 * Durable file operations for checkpoints: fsync of files and directories, and the atomic
 * replace (tmp, fsync, rename, fsync dir) that makes a manifest appear whole or not at all.
 */
import * as fs from 'fs';
import * as path from 'path';

/** fsyncs a directory, so entries created or renamed in it survive a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `data` to `file` atomically: `file.tmp-PID`, fsync, rename over `file`, fsync the dir.
 * On failure the temporary file is removed and the error rethrown as is.
 */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fh = await fs.promises.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (err) {
    // A half-written temporary file would stay behind on a full disk, filling it further.
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(path.dirname(file));
}
