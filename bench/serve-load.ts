/**
 * The closed-loop load generator of bench:serve, run as its own process (so it never shares an
 * event loop with the server): `connections` loops over an undici Pool of that many keep-alive
 * connections, each sending its next request as soon as the previous answer is read. Every
 * request's start (epoch ms) and latency are kept, so the parent can cut out any time window
 * (the hot swap) afterwards.
 *
 *   node dist/bench/serve-load.js URL BODY_FILE CONNECTIONS SECONDS
 *
 * It stops after SECONDS, or earlier when its stdin closes (the parent ends a run whose length
 * depends on an event, such as the swap).
 * Prints one JSON line: {"requests", "failures", "first_failure", "seconds", "starts": [...], "latencies_ms": [...]}.
 * A failure is any answer other than 200 with a `predictions` list, or a transport error.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

async function main(): Promise<void> {
  const [url, bodyFile, connArg, secondsArg] = process.argv.slice(2);
  const connections = Number(connArg);
  const seconds = Number(secondsArg);
  if (!url || !bodyFile || !(connections > 0) || !(seconds > 0)) throw new Error('usage: serve-load.js URL BODY_FILE CONNECTIONS SECONDS');
  const target = new URL(url);
  const body = readFileSync(bodyFile);
  const pool = new Pool(target.origin, { connections, pipelining: 1 });
  const starts: number[] = [];
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure: string | null = null;
  const t0 = performance.timeOrigin;
  let end = performance.now() + seconds * 1000;
  process.stdin.resume();
  process.stdin.once('end', () => { end = performance.now(); });
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const started = performance.now();
      try {
        const res = await pool.request({ path: target.pathname, method: 'POST', body, headers: { 'content-type': 'application/json' } });
        const text = await res.body.text();
        if (res.statusCode !== 200 || !text.startsWith('{"predictions":[')) {
          failures++;
          firstFailure ??= `HTTP ${res.statusCode}: ${text.slice(0, 200)}`;
        }
      } catch (err) {
        failures++;
        firstFailure ??= (err as Error).message;
      }
      starts.push(t0 + started);
      latencies.push(performance.now() - started);
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: connections }, loop));
  const elapsed = (performance.now() - began) / 1000;
  await pool.close();
  process.stdin.pause();
  process.stdout.write(`${JSON.stringify({ requests: latencies.length, failures, first_failure: firstFailure, seconds: elapsed, starts, latencies_ms: latencies })}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`serve-load: ${err.message}\n`);
  process.exit(1);
});
