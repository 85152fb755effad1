/**
 * Watches the model root for new versions, deleted versions and label changes: `fs.watch` on
 * the root and on every model's directory (a publish's rename, a labels.json replacement), plus a
 * periodic rescan for what watching misses (network file systems such as the NFS behind a
 * Kubernetes ReadWriteMany volume deliver no events; a watched directory that is replaced stops
 * reporting). Every event asks the registry for a rescan; the registry folds overlapping asks
 * into one more scan, so a burst of events costs at most two scans.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../common/logger';
import type { ModelRegistry } from './model-registry';

/** Default period of the safety-net rescan, ms. */
export const DEFAULT_POLL_MS = 2000;

/** See the file comment. */
export class RootWatcher {
  /** Watched directories with the inode watched: a directory replaced under the same name is watched again. */
  private readonly watchers = new Map<string, { w: fs.FSWatcher; ino: number }>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly deps: { registry: ModelRegistry; pollMs?: number; logger: Logger }) {
    this.log = deps.logger.child({ component: 'root-watcher' });
  }

  /** Starts watching and polling. */
  start(): void {
    this.sync();
    const poll = this.deps.pollMs ?? DEFAULT_POLL_MS;
    // The poll keeps no process alive on its own: the servers do.
    this.timer = setInterval(() => this.changed(), poll).unref();
  }

  /** Stops every watch and the poll. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const { w } of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private changed(): void {
    if (this.stopped) return;
    this.deps.registry.rescan().then(() => this.sync(), (err: Error) => this.log.error({ err: err.message }, 'rescan failed'));
  }

  /** Watches the root and every model directory not watched yet (a new model, or one watched before it was replaced). */
  private sync(): void {
    if (this.stopped) return;
    const { root } = this.deps.registry;
    this.watch(root);
    for (const m of this.deps.registry.list()) this.watch(path.join(root, m.name));
  }

  private watch(dir: string): void {
    let ino: number;
    try {
      ino = fs.statSync(dir).ino;
    } catch {
      return; // not there (yet): the poll finds it, and the next sync watches it
    }
    const had = this.watchers.get(dir);
    if (had?.ino === ino) return;
    had?.w.close();
    this.watchers.delete(dir);
    let w: fs.FSWatcher;
    try {
      w = fs.watch(dir, { persistent: false }, () => this.changed());
    } catch {
      return;
    }
    w.on('error', () => {
      w.close();
      if (this.watchers.get(dir)?.w === w) this.watchers.delete(dir);
      this.changed();
    });
    this.watchers.set(dir, { w, ino });
  }
}
