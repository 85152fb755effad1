/**
 * `ReplicaTiers` on LMDB (issue 17, ADR 0037 amendment 5): the replica of primary N lives in its
 * own LMDB environment, `<tier dir>/replicas/ps-N`, beside the PS's own tier, and is deleted
 * whole when the buddy stops keeping that replica. Like the PS's tier it holds rows only for the
 * life of the process: a table's store is emptied when it is opened.
 *
 * ```ts
 * const tiers = new LmdbReplicaTiers({ dir: '/var/lib/tessera/tier' });
 * const store = new TableStore({ tier: tiers.of(3) });  // ps 3's replica tables spill here
 * await tiers.release(3);
 * ```
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ReplicaTiers, RowTier } from '../store/row-tier';
import { LmdbRowTier } from './lmdb-row-tier';

/** The replicas' disk tiers under one PS's tier directory. */
export class LmdbReplicaTiers implements ReplicaTiers {
  private readonly tiers = new Map<number, LmdbRowTier>();
  private readonly releasing = new Map<number, Promise<void>>();

  /** @param opts.dir the PS's own tier directory; replicas go under `replicas/` in it */
  constructor(private readonly opts: { dir: string }) {}

  /** Where the replica of `primaryId` spills. */
  dirOf(primaryId: number): string {
    return path.join(this.opts.dir, 'replicas', `ps-${primaryId}`);
  }

  of(primaryId: number): RowTier {
    let t = this.tiers.get(primaryId);
    if (!t) this.tiers.set(primaryId, (t = new LmdbRowTier({ dir: this.dirOf(primaryId) })));
    return t;
  }

  release(primaryId: number): Promise<void> {
    const pending = this.releasing.get(primaryId);
    if (pending) return pending;
    const t = this.tiers.get(primaryId);
    this.tiers.delete(primaryId);
    const done = (async () => {
      await t?.close();
      await fs.rm(this.dirOf(primaryId), { recursive: true, force: true });
    })().finally(() => this.releasing.delete(primaryId));
    this.releasing.set(primaryId, done);
    return done;
  }

  async close(): Promise<void> {
    const all = [...this.tiers.values()];
    this.tiers.clear();
    await Promise.all(all.map((t) => t.close()));
  }
}
