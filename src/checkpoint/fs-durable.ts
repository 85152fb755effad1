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

/** Writes `data` to `file` atomically: `file.tmp-PID`, fsync, rename over `file`, fsync the dir. */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await fs.promises.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
  await fsyncDir(path.dirname(file));
}
