/**
 * A small real filesystem for tests of full and read-only disks: a tmpfs of a given size mounted
 * on a fresh directory (needs root and mount(8); otherwise the test is skipped, saying why).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** A mounted tmpfs: its directory, a resize (remount), and unmount. */
export interface Tmpfs {
  dir: string;
  /** Remounts with a new size (e.g. to free space mid-run). */
  resize(bytes: number): void;
  unmount(): void;
}

function mountArgs(bytes: number, readOnly: boolean): string {
  return `size=${Math.ceil(bytes / 1024)}k${readOnly ? ',ro' : ''}`;
}

/** Mounts a tmpfs of `bytes` (read-only with `readOnly`); skips `ctx` when mounting is not possible here. */
export function mountTmpfs(ctx: Mocha.Context, bytes: number, opts: { readOnly?: boolean } = {}): Tmpfs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', mountArgs(bytes, opts.readOnly === true), 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    fs.rmdirSync(dir);
    // eslint-disable-next-line no-console
    console.warn(`  skipping: cannot mount a tmpfs here (needs root): ${(r.stderr || r.error?.message || '').trim()}`);
    ctx.skip();
  }
  return {
    dir,
    resize(n: number) {
      const rr = spawnSync('mount', ['-o', `remount,${mountArgs(n, opts.readOnly === true)}`, dir], { encoding: 'utf8' });
      if (rr.status !== 0) throw new Error(`remount of ${dir} failed: ${rr.stderr}`);
    },
    unmount() {
      spawnSync('umount', [dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
