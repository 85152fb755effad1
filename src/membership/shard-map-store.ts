/**
 * The published shard map in etcd (`/tessera/<job>/shardmap`, JSON from shardMapToJSON). Only the
 * elected chief publishes; everyone else reads and watches.
 *
 * The guard: `publish(map, expectedPreviousVersion)` succeeds only if the stored map's `version`
 * is `expectedPreviousVersion` (0: no map yet). It reads the key, checks the JSON `version`, then
 * writes in a transaction conditioned on the key's `mod_revision` from that read, so a write by
 * anyone in between fails the transaction instead of being overwritten. The JSON version is what
 * callers reason about; the mod_revision makes the check-and-set atomic.
 */
import type { IKeyValue, Namespace } from 'etcd3';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { childLogger, Logger } from '../common/logger';
import { ShardMap, shardMapFromJSON, shardMapToJSON } from '../sharding/shard-map';
import { callOptions, nextRevision } from './etcd-common';
import { watcherConnected } from './etcd-member-watch';
import { jobPrefix, KEYS } from './keys';
import { EventGate } from './membership';

/** Dependencies of {@link ShardMapStore}. */
export interface ShardMapStoreDeps {
  /** An etcd3 client (or namespace). Not closed here. */
  client: Namespace;
  job: string;
  logger: Logger;
}

/** What {@link ShardMapStore.watch} resolves to. */
export interface ShardMapWatch {
  /** The map stored when the watch started, if any. */
  initial: ShardMap | undefined;
  stop(): Promise<void>;
}

/**
 * Reads, writes and watches the job's shard map.
 *
 * ```ts
 * const store = new ShardMapStore({ client, job: 'criteo', logger });
 * const prev = await store.get();
 * const next = planShardMap(psList, { previous: prev });
 * await store.publish(next, prev?.version ?? 0);   // throws STALE_SHARD_MAP if someone else won
 * ```
 */
export class ShardMapStore {
  private readonly ns: Namespace;
  private readonly logger: Logger;

  constructor(deps: ShardMapStoreDeps) {
    this.ns = deps.client.namespace(jobPrefix(deps.job));
    this.logger = childLogger(deps.logger, { component: 'shard-map-store', job: deps.job });
  }

  /** The stored map, or undefined if none was published. Throws INVALID_ARGUMENT if it is corrupt. */
  async get(): Promise<ShardMap | undefined> {
    const kv = await this.readKv();
    return kv === undefined ? undefined : decode(kv);
  }

  /**
   * Publishes `map` if the stored version is `expectedPreviousVersion` (0 when none is stored) and
   * `map.version` is greater. Returns the etcd revision of the write.
   *
   * @throws TesseraError STALE_SHARD_MAP (not retryable) when another writer got there first;
   *   INVALID_ARGUMENT when `map.version <= expectedPreviousVersion`.
   */
  async publish(map: ShardMap, expectedPreviousVersion: number): Promise<string> {
    if (!Number.isInteger(expectedPreviousVersion) || expectedPreviousVersion < 0 || map.version <= expectedPreviousVersion) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT,
        `shard map version ${map.version} must be greater than expectedPreviousVersion ${expectedPreviousVersion} (an integer >= 0)`);
    }
    const text = JSON.stringify(shardMapToJSON(map));
    const kv = await this.readKv();
    const stored = kv === undefined ? 0 : decode(kv).version;
    if (stored !== expectedPreviousVersion) throw stale(map.version, expectedPreviousVersion, stored);
    const guard = kv === undefined
      ? this.ns.if(KEYS.SHARD_MAP, 'Version', '==', 0)
      : this.ns.if(KEYS.SHARD_MAP, 'Mod', '==', kv.mod_revision);
    const res = await guard.then(this.ns.put(KEYS.SHARD_MAP).value(text)).options(callOptions()).commit();
    if (!res.succeeded) {
      const now = await this.get();
      throw stale(map.version, expectedPreviousVersion, now?.version ?? 0);
    }
    this.logger.info({ version: map.version, previous: expectedPreviousVersion, revision: res.header.revision }, 'shard map published');
    return res.header.revision;
  }

  /**
   * Calls `onMap` with every map published after the returned `initial`, in order. A stored value
   * that does not decode is logged and skipped. Never called before this resolves.
   */
  async watch(onMap: (map: ShardMap) => void): Promise<ShardMapWatch> {
    const res = await this.ns.get(KEYS.SHARD_MAP).options(callOptions()).exec();
    const initialKv = res.kvs[0];
    const initial = initialKv === undefined ? undefined : this.tryDecode(initialKv);
    const gate = new EventGate<ShardMap>((m) => {
      try {
        onMap(m);
      } catch (err) {
        this.logger.error({ err }, 'shard map watch callback threw');
      }
    });
    const watcher = this.ns.watch().key(KEYS.SHARD_MAP).startRevision(nextRevision(res.header.revision)).watcher();
    watcher.on('put', (kv: IKeyValue) => {
      const map = this.tryDecode(kv);
      if (map !== undefined) gate.push(map);
    });
    watcher.on('delete', () => this.logger.warn('shard map key deleted; keeping the last map'));
    watcher.on('error', (err: Error) => this.logger.error({ err }, 'shard map watch cancelled by etcd; restart it'));
    await watcherConnected(watcher);
    gate.open();
    return {
      initial,
      stop: async () => {
        gate.close();
        await watcher.cancel();
      },
    };
  }

  private async readKv(): Promise<IKeyValue | undefined> {
    return (await this.ns.get(KEYS.SHARD_MAP).options(callOptions()).exec()).kvs[0];
  }

  private tryDecode(kv: IKeyValue): ShardMap | undefined {
    try {
      return decode(kv);
    } catch (err) {
      this.logger.error({ err, modRevision: kv.mod_revision }, 'ignoring a stored shard map that does not decode');
      return undefined;
    }
  }
}

function decode(kv: IKeyValue): ShardMap {
  let obj: unknown;
  try {
    obj = JSON.parse(kv.value.toString('utf8'));
  } catch (err) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `stored shard map is not JSON: ${(err as Error).message}`);
  }
  return shardMapFromJSON(obj);
}

function stale(version: number, expected: number, stored: number): TesseraError {
  return new TesseraError(ERROR_CODES.STALE_SHARD_MAP,
    `shard map v${version} refused: expected to replace v${expected} but etcd holds ${stored === 0 ? 'no map' : `v${stored}`}; ` +
    'another chief published first: re-read the map and re-plan', { retryable: false });
}
