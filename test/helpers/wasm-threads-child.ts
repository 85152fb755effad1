/**
 * Child process for the wasm-threads tests: starts the wasm backend with `argv[2]` kernel threads,
 * multiplies two fixed matrices large enough for XNNPACK to split across threads, and prints one
 * JSON line: the backend detail, the thread count the backend reports, and the largest difference
 * from a float64 reference product. It then returns without calling `process.exit`, so the test
 * also sees whether the pool threads let the process end.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend';

const M = 256;
const K = 200;
const N = 96;

function fill(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = (s / 2 ** 32) - 0.5;
  }
  return a;
}

async function main(): Promise<void> {
  const threads = Number(process.argv[2]);
  const choice = await selectBackend(undefined, 'wasm', { threads });
  const a = fill(M * K, 1);
  const b = fill(K * N, 2);
  const got = tf.tidy(() => tf.matMul(tf.tensor2d(a, [M, K]), tf.tensor2d(b, [K, N])).dataSync());
  let maxErr = 0;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let ref = 0;
      for (let k = 0; k < K; k++) ref += a[i * K + k] * b[k * N + j];
      maxErr = Math.max(maxErr, Math.abs(ref - got[i * N + j]));
    }
  }
  const backend = tf.backend() as unknown as { wasm?: { tfjs?: { getThreadsCount?: () => number } } };
  const reported = backend.wasm?.tfjs?.getThreadsCount?.() ?? null;
  process.stdout.write(`${JSON.stringify({ name: choice.name, detail: choice.detail, reported, maxErr })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exitCode = 1;
});
