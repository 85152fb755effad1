/**
 * `RowTier` on LMDB (the `lmdb` package, prebuilt binaries; ADR 0012). One LMDB environment per
 * PS in its tier directory, one named database per table, binary 8-byte keys and raw row records.
 *
 * Durability is deliberately off (`noSync`): the tier holds rows only for the life of the PS
 * process (checkpoints are what survive it), so a write transaction costs page writes into the
 * memory map and no fsync. Reads are `getBinaryFast`, synchronous and zero-copy until the next
 * read, which fits the PS's synchronous request handling.
 *
 * ```ts
 * const tier = new LmdbRowTier({ dir: '/var/lib/tessera/tier' });
 * const t = tier.openTable('user');       // throws TESSERA_ERR_TIER_UNAVAILABLE if the dir is unusable
 * t.put(writeTierKey(new Uint8Array(8), 7, 0), record); t.commit();
 * ```
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import { ERROR_CODES, TesseraError } from '../../common/errors';
import type { RowTier, TableTier } from '../store/row-tier';

/** Named databases (tables that spill) one PS can hold. */
const MAX_TABLES = 256;

export interface LmdbRowTierOptions {
  /** directory of the LMDB environment; created if missing */
  dir: string;
}

function unavailable(where: string, err: unknown): TesseraError {
  const msg = err instanceof Error ? err.message : String(err);
  return new TesseraError(ERROR_CODES.TIER_UNAVAILABLE, `disk tier at ${where}: ${msg}`, { cause: err });
}

/**
 * The error for a failed tier write. A full disk (ENOSPC, or LMDB's map full) is
 * RESOURCE_EXHAUSTED: spilling stops, a request that needs room for new rows is refused, resident
 * rows keep serving, and the rows whose spill failed stay staged in memory, readable, until a
 * later commit succeeds. Anything else is TIER_UNAVAILABLE.
 */
export function tierWriteError(where: string, err: unknown): TesseraError {
  const code = (err as { code?: unknown } | null)?.code;
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'ENOSPC' || code === -30792 || /ENOSPC|No space left|MDB_MAP_FULL/i.test(msg)) {
    return new TesseraError(ERROR_CODES.RESOURCE_EXHAUSTED,
      `disk tier at ${where} is full (${msg}): spilling stopped; requests that need room for new rows are refused until space is freed; resident rows keep serving and no spilled row is lost`,
      { cause: err });
  }
  return unavailable(where, err);
}

type Db = Database<Buffer, Buffer>;

/** One table's named database with writes staged until `commit`. */
export class LmdbTableTier implements TableTier {
  /** Staged writes by key (latin1 string of the 8 key bytes); null stages a delete. */
  private readonly staged = new Map<string, Buffer | null>();
  /** Writes staged since the last commit attempt: what the current table call needs. */
  private fresh = 0;

  constructor(private readonly db: Db, private readonly where: string) {}

  get(key: Uint8Array): Uint8Array | undefined {
    if (this.staged.size > 0) {
      const s = this.staged.get(Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1'));
      if (s !== undefined) return s ?? undefined;
    }
    return this.db.getBinaryFast(Buffer.from(key.buffer, key.byteOffset, key.byteLength));
  }

  put(key: Uint8Array, record: Uint8Array): void {
    this.staged.set(Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1'), Buffer.from(record));
    this.fresh++;
  }

  delete(key: Uint8Array): void {
    const buf = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
    const k = buf.toString('latin1');
    // Reloading a row whose spill never reached the disk (it failed) just cancels that spill.
    if (this.staged.get(k) && this.db.getBinaryFast(buf) === undefined) {
      this.staged.delete(k);
      return;
    }
    this.staged.set(k, null);
    this.fresh++;
  }

  /**
   * Commits the staged writes. A full disk fails only the call that staged new writes; writes
   * left staged by an earlier failure stay staged (and readable) and are retried at every commit,
   * so calls that need no room keep being served from RAM.
   */
  commit(): void {
    if (this.staged.size === 0) return;
    const needed = this.fresh > 0;
    this.fresh = 0;
    try {
      this.db.transactionSync(() => {
        for (const [k, v] of this.staged) {
          const key = Buffer.from(k, 'latin1');
          if (v) this.db.put(key, v);
          else this.db.remove(key);
        }
      });
    } catch (err) {
      const e = tierWriteError(this.where, err);
      if (needed || e.code !== ERROR_CODES.RESOURCE_EXHAUSTED) throw e;
      return; // still full; this call needed no room
    }
    this.staged.clear();
  }

  scan(after: Uint8Array | null, limit: number, fn: (key: Uint8Array, record: Uint8Array) => void): number {
    this.commit();
    const start = after ? Buffer.from(after) : undefined;
    let n = 0;
    for (const { key, value } of this.db.getRange({ start, limit: limit + 1 })) {
      if (start && key.equals(start)) continue;
      if (n === limit) break;
      fn(key, value);
      n++;
    }
    return n;
  }

  clear(): void {
    this.staged.clear();
    try {
      this.db.clearSync();
    } catch (err) {
      throw unavailable(this.where, err);
    }
  }

  drop(): void {
    this.staged.clear();
    this.db.dropSync();
  }
}

/** The PS's disk tier in one directory. */
export class LmdbRowTier implements RowTier {
  readonly location: string;
  private env: RootDatabase | null = null;
  private readonly tables = new Map<string, LmdbTableTier>();

  constructor(opts: LmdbRowTierOptions) {
    this.location = opts.dir;
  }

  openTable(name: string): TableTier {
    const env = this.environment();
    try {
      const db = env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' });
      const t = new LmdbTableTier(db, `${this.location} (table "${name}")`);
      // A previous process's rows are stale (the PS restores from checkpoints), and this write
      // proves the directory is writable now rather than at the first spill.
      t.clear();
      this.tables.set(name, t);
      return t;
    } catch (err) {
      throw err instanceof TesseraError ? err : unavailable(this.location, err);
    }
  }

  dropTable(name: string): void {
    const t = this.tables.get(name);
    if (!t) return;
    this.tables.delete(name);
    t.drop();
  }

  async close(): Promise<void> {
    const env = this.env;
    this.env = null;
    this.tables.clear();
    if (env) await env.close();
  }

  /** Opens the environment on first use, so a PS with an unusable dir still starts and serves. */
  private environment(): RootDatabase {
    if (this.env) return this.env;
    try {
      // No useWritemap: with it, LMDB aborts the whole process (`Assertion 'x <= dl[0].mid'
      // failed in mdb_freelist_save()`) when the first table of a fresh environment is dropped
      // while empty, e.g. a spill table created and dropped before it spilled (issue 23). One
      // request must never kill a PS; the cost is measured in docs/adr/0012-disk-tier.md.
      this.env = open({ path: this.location, noSync: true, maxDbs: MAX_TABLES });
    } catch (err) {
      throw unavailable(this.location, err);
    }
    return this.env;
  }
}
