/**
 * Real etcd for tests: membership, election and store tests run against an etcd process, never a
 * mock, because the traps they guard against are etcd3's and etcd's own. Wraps
 * src/common/etcd-launcher.ts; every test that starts one stops it in after()/afterEach().
 */
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import type { ChildProcess } from 'node:child_process';
import { EtcdProcess, etcdAvailable as launcherEtcdAvailable, launchEtcd } from '../../src/common/etcd-launcher';

/** Message used when a suite skips because etcd is absent. */
export const ETCD_SKIP_MESSAGE = 'etcd not installed: apt-get install -y etcd-server';

/** A running test etcd. */
export interface EtcdHandle {
  /** Client URL, `http://127.0.0.1:PORT`. */
  url: string;
  /** Data dir (a mkdtemp dir unless the caller passed one). */
  dataDir: string;
  /** The current etcd child; a new one after `restart()`. */
  proc: ChildProcess;
  /** SIGTERM, await exit, remove the data dir unless `keepData`. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL and await exit (a crash); the data dir stays for `restart()`. */
  kill(): Promise<void>;
  /** Start again on the same port and data dir; resolves when healthy. */
  restart(): Promise<void>;
}

/** True when the `etcd` binary is on PATH. */
export function etcdAvailable(): boolean {
  return launcherEtcdAvailable();
}

/**
 * Starts etcd on free ports with a temp data dir and resolves once `/health` is true.
 *
 * ```ts
 * before(async function () { requireEtcd(this); etcd = await startEtcd(); });
 * after(async () => etcd?.stop());
 * ```
 */
export async function startEtcd(opts: { dataDir?: string; keepData?: boolean } = {}): Promise<EtcdHandle> {
  const p: EtcdProcess = await launchEtcd(opts);
  return {
    url: p.url,
    dataDir: p.dataDir,
    get proc() {
      return p.proc;
    },
    stop: () => p.stop(),
    kill: () => p.kill(),
    restart: () => p.restart(),
  };
}

/**
 * Skips the current suite/test with {@link ETCD_SKIP_MESSAGE} when etcd is not installed.
 * With `TESSERA_REQUIRE_ETCD=1` (CI) it throws instead, so a missing etcd fails rather than skips.
 */
export function requireEtcd(ctx: Mocha.Context): void {
  if (!etcdAvailable()) {
    if (process.env.TESSERA_REQUIRE_ETCD === '1') throw new Error(`TESSERA_REQUIRE_ETCD=1 but ${ETCD_SKIP_MESSAGE}`);
    // eslint-disable-next-line no-console
    console.warn(`  skipping: ${ETCD_SKIP_MESSAGE}`);
    ctx.skip();
  }
}

/**
 * Starts one real etcd for the calling `describe` block (skipping it when etcd is absent) and
 * stops it after the block. Call it at the top of the block.
 */
export function etcdForSuite(): { readonly url: string } {
  let handle: EtcdHandle | undefined;
  before(async function () {
    requireEtcd(this);
    handle = await startEtcd();
  });
  after(async () => handle?.stop());
  return {
    get url(): string {
      if (!handle) throw new Error('etcdForSuite: etcd is not running (used outside a test?)');
      return handle.url;
    },
  };
}

/** etcdForSuite plus a fresh etcd3 client for each test, closed after it. */
export function etcdClientPerTest(): { readonly url: string; readonly client: Etcd3 } {
  const etcd = etcdForSuite();
  let client: Etcd3 | undefined;
  beforeEach(() => {
    client = createEtcdClient(etcd.url);
  });
  afterEach(() => client?.close());
  return {
    get url(): string {
      return etcd.url;
    },
    get client(): Etcd3 {
      if (!client) throw new Error('etcdClientPerTest: no client outside a test');
      return client;
    },
  };
}
