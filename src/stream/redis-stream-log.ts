/**
 * The StreamLog of a Redis server (Redis Streams, 5.0+), through ioredis. Reads use XREAD on a
 * connection of their own, because a blocking XREAD holds its connection until it answers;
 * appends and range reads use a second one, pipelined. Replies are read as RESP2 arrays and
 * checked for shape: a server that answers something else is an error naming the command, not a
 * crash further down.
 */
import Redis from 'ioredis';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { PartitionEntries, StreamEntry, StreamLog } from './stream-log';
import type { StreamUrl } from './stream-url';

/**
 * How long a command may wait for a connection before it fails (ms). Redis unreachable is a
 * retryable UNAVAILABLE: the worker backs off and reads again from its committed position.
 */
const CONNECT_TIMEOUT_MS = 5_000;

function client(url: StreamUrl): Redis {
  // protocol 2: plain array replies in every ioredis version; one retry per command, so a dead
  // server surfaces as an error the caller's backoff handles instead of an unbounded queue.
  return new Redis({ host: url.host, port: url.port, protocol: 2, lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 1 });
}

function unavailable(url: StreamUrl, what: string, err: unknown): TesseraError {
  return new TesseraError(ERROR_CODES.UNAVAILABLE, `redis ${url.host}:${url.port}: ${what} failed: ${(err as Error).message}`);
}

function entriesOf(v: unknown, what: string): StreamEntry[] {
  if (!Array.isArray(v)) throw new TesseraError(ERROR_CODES.INTERNAL, `${what}: unexpected reply shape`);
  return v.map((e: unknown) => {
    if (!Array.isArray(e) || typeof e[0] !== 'string' || !Array.isArray(e[1])) throw new TesseraError(ERROR_CODES.INTERNAL, `${what}: unexpected entry shape`);
    const flat = e[1] as unknown[];
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1]);
    return { id: e[0], fields };
  });
}

/** A Redis Streams log at `url` (the key in `url` is not used: callers name partition keys). */
export class RedisStreamLog implements StreamLog {
  private readonly reader: Redis;
  private readonly writer: Redis;

  constructor(private readonly url: StreamUrl) {
    this.reader = client(url);
    this.writer = client(url);
    // Connection errors reach the commands that fail; without a listener ioredis logs each one.
    this.reader.on('error', () => undefined);
    this.writer.on('error', () => undefined);
  }

  async read(after: ReadonlyMap<string, string>, count: number, blockMs: number): Promise<PartitionEntries[]> {
    if (after.size === 0) return [];
    const keys = [...after.keys()];
    let reply: unknown;
    try {
      reply = await this.reader.call('XREAD', 'COUNT', String(count), 'BLOCK', String(blockMs), 'STREAMS', ...keys, ...keys.map((k) => after.get(k)!));
    } catch (err) {
      throw unavailable(this.url, 'XREAD', err);
    }
    if (reply === null) return [];
    if (!Array.isArray(reply)) throw new TesseraError(ERROR_CODES.INTERNAL, 'XREAD: unexpected reply shape');
    return reply.map((r: unknown) => {
      if (!Array.isArray(r) || typeof r[0] !== 'string') throw new TesseraError(ERROR_CODES.INTERNAL, 'XREAD: unexpected stream shape');
      return { key: r[0], entries: entriesOf(r[1], 'XREAD') };
    });
  }

  async append(entries: readonly { key: string; fields: Record<string, string> }[]): Promise<string[]> {
    const pipe = this.writer.pipeline();
    for (const e of entries) pipe.xadd(e.key, '*', ...Object.entries(e.fields).flat());
    let out: [Error | null, unknown][] | null;
    try {
      out = await pipe.exec();
    } catch (err) {
      throw unavailable(this.url, 'XADD', err);
    }
    return (out ?? []).map(([err, id]) => {
      if (err) throw unavailable(this.url, 'XADD', err);
      return String(id);
    });
  }

  async newest(key: string, count: number): Promise<StreamEntry[]> {
    let reply: unknown;
    try {
      reply = await this.writer.call('XREVRANGE', key, '+', '-', 'COUNT', String(count));
    } catch (err) {
      throw unavailable(this.url, 'XREVRANGE', err);
    }
    return entriesOf(reply, 'XREVRANGE').reverse();
  }

  async close(): Promise<void> {
    // disconnect(), not quit(): a blocking XREAD in flight would hold quit() until it answers.
    this.reader.disconnect();
    this.writer.disconnect();
  }
}
