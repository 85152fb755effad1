/**
 * A real Redis (Debian's `redis-server`) for the stream tests: its own port, no persistence, no
 * config file. Suites skip with a message when it is absent, and fail instead with
 * TESSERA_REQUIRE_REDIS=1 (CI).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { freePort } from './ports';

export const REDIS_SKIP_MESSAGE = 'redis-server not installed: apt-get install -y redis-server';

/** True when `redis-server` is on PATH. */
export function redisAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Skips the suite when Redis is absent; throws instead with TESSERA_REQUIRE_REDIS=1. */
export function requireRedis(ctx: Mocha.Context): void {
  if (redisAvailable()) return;
  if (process.env.TESSERA_REQUIRE_REDIS === '1') throw new Error(`TESSERA_REQUIRE_REDIS=1 but ${REDIS_SKIP_MESSAGE}`);
  // eslint-disable-next-line no-console
  console.warn(`  skipping: ${REDIS_SKIP_MESSAGE}`);
  ctx.skip();
}

/** A running redis-server. */
export interface RedisHandle {
  host: string;
  port: number;
  /** `redis-stream://127.0.0.1:PORT/KEY`. */
  streamUrl(key: string): string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Resolves once the server answers PING on `port`; rejects if it exits first. */
function ready(proc: ChildProcess, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const onExit = (code: number | null) => { if (!done) { done = true; reject(new Error(`redis-server exited (${code}) before it answered`)); } };
    proc.once('exit', onExit);
    const attempt = () => {
      if (done) return;
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => s.write('PING\r\n'));
      s.once('data', (d) => {
        s.destroy();
        if (!done && d.toString().startsWith('+PONG')) { done = true; proc.off('exit', onExit); resolve(); }
      });
      // Not listening yet: the server is still starting; the next attempt follows the refusal.
      s.once('error', () => { s.destroy(); setImmediate(attempt); });
    };
    attempt();
  });
}

/**
 * Starts redis-server on a free port (no persistence) and resolves once it answers PING.
 *
 * ```ts
 * before(async function () { requireRedis(this); redis = await startRedis(); });
 * after(async () => redis?.stop());
 * ```
 */
export async function startRedis(): Promise<RedisHandle> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
      { stdio: 'ignore' });
    try {
      await ready(proc, port);
    } catch (err) {
      if (attempt < 3) continue; // another process took the port first
      throw err;
    }
    const exited = new Promise<void>((resolve) => { if (proc.exitCode !== null) resolve(); else proc.once('exit', () => resolve()); });
    return {
      host: '127.0.0.1', port, proc,
      streamUrl: (key) => `redis-stream://127.0.0.1:${port}/${key}`,
      stop: async () => { if (proc.exitCode === null) proc.kill('SIGTERM'); await exited; },
    };
  }
}

/**
 * Starts one Redis for the calling `describe` block (skipping it when Redis is absent) and stops
 * it after the block.
 */
export function redisForSuite(): { readonly handle: RedisHandle } {
  let handle: RedisHandle | undefined;
  before(async function () {
    requireRedis(this);
    handle = await startRedis();
  });
  after(async () => handle?.stop());
  return { get handle() { return handle!; } };
}
