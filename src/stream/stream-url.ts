/**
 * `redis-stream://HOST:PORT/KEY`: where a stream job reads its events. The stream is split
 * into partitions, each its own Redis stream key `KEY:0` … `KEY:N-1`; the held-out slice that
 * the chief evaluates on is `KEY:eval` (see docs/online-learning.md).
 */
import { ERROR_CODES, TesseraError } from '../common/errors';

/** The URL scheme of a Redis Streams source. */
export const REDIS_STREAM_SCHEME = 'redis-stream:';

/** Suffix of the held-out partition the chief evaluates on. */
export const EVAL_PARTITION = 'eval';

/** A parsed stream URL. */
export interface StreamUrl {
  host: string;
  port: number;
  /** The stream's base key; partitions are `${key}:${n}`. */
  key: string;
}

/** True when `text` names a stream source rather than data files. */
export function isStreamUrl(text: string): boolean {
  return text.trim().toLowerCase().startsWith(`${REDIS_STREAM_SCHEME}//`);
}

/**
 * Parses `redis-stream://HOST:PORT/KEY`; a malformed one is a CONFIG error naming what is wrong.
 *
 * ```ts
 * parseStreamUrl('redis-stream://127.0.0.1:6379/clicks'); // { host: '127.0.0.1', port: 6379, key: 'clicks' }
 * ```
 */
export function parseStreamUrl(text: string): StreamUrl {
  const bad = (why: string): never => {
    throw new TesseraError(ERROR_CODES.CONFIG, `stream source '${text}': ${why}; expected redis-stream://HOST:PORT/KEY`);
  };
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return bad('not a URL');
  }
  if (url.protocol !== REDIS_STREAM_SCHEME) bad(`scheme ${url.protocol} is not ${REDIS_STREAM_SCHEME}`);
  if (!url.hostname) bad('no host');
  const port = Number(url.port);
  if (!url.port || !Number.isInteger(port) || port < 1 || port > 65535) bad('no port (give HOST:PORT)');
  const key = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!key || key.includes('/')) bad('the key must be one non-empty path segment');
  if (url.search || url.hash || url.username || url.password) bad('no query, fragment or credentials are allowed');
  return { host: url.hostname, port, key };
}

/** The Redis key of partition `p` (a number, or EVAL_PARTITION). */
export function partitionKey(key: string, p: number | typeof EVAL_PARTITION): string {
  return `${key}:${p}`;
}

/** The URL of one partition, as a stream job's data shard names it. */
export function partitionUrl(s: StreamUrl, p: number | typeof EVAL_PARTITION): string {
  return `${REDIS_STREAM_SCHEME}//${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}/${encodeURIComponent(partitionKey(s.key, p))}`;
}
