/**
 * A pino logger whose JSON lines are captured in memory, so tests can await and assert on log
 * events instead of sleeping: a test waits for the line it expects, never for a fixed time.
 */
import { EventEmitter } from 'events';
import { Writable } from 'stream';
import pino from 'pino';
import type { Logger } from '../../src/common/logger';

export interface LogSink {
  logger: Logger;
  lines: Record<string, unknown>[];
  /** Resolves once `count` captured lines satisfy `match` (counting lines already captured). */
  waitFor(match: (line: Record<string, unknown>) => boolean, count?: number, timeoutMs?: number): Promise<void>;
}

export function createLogSink(level = 'debug'): LogSink {
  const lines: Record<string, unknown>[] = [];
  const events = new EventEmitter();
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const text of String(chunk).split('\n')) {
        if (!text) continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        events.emit('line', line);
      }
      cb();
    },
  });
  const logger = pino({ level }, stream);
  return {
    logger,
    lines,
    waitFor(match, count = 1, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        let seen = lines.filter(match).length;
        if (seen >= count) return resolve();
        const timer = setTimeout(() => {
          events.off('line', onLine);
          reject(new Error(`log sink: ${seen}/${count} matching lines within ${timeoutMs} ms`));
        }, timeoutMs);
        const onLine = (line: Record<string, unknown>) => {
          if (!match(line) || ++seen < count) return;
          clearTimeout(timer);
          events.off('line', onLine);
          resolve();
        };
        events.on('line', onLine);
      });
    },
  };
}
