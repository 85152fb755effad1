/**
 * Multi-threaded kernels for the tfjs wasm backend under Node.
 *
 * `@tensorflow/tfjs-backend-wasm` ships a threaded SIMD binary whose XNNPACK matmuls run on a
 * pthread pool, but turns threads off in Node (tfjs#3830). Three things stand in the way, and this
 * module bridges each for the pinned package version (4.22):
 * 1. The Emscripten loader starts each pthread as `new Worker(blob: URL)`, which Node's
 *    worker_threads cannot load. The loader assigns `globalThis.Worker` itself, so an accessor
 *    keeps that assignment from replacing our subclass, which starts `wasm-pthread-worker.js` with
 *    the loader's own worker script (read out of the package) as `workerData`.
 * 2. The loader's `load` message carries the main script as a Blob that the worker would load
 *    through another `blob:` URL. The subclass reads the Blob (asynchronously) and sends its text
 *    instead, holding any later message until that one is sent so the order is kept.
 * 3. The C side caps the pool at half of `os.cpus()` (it assumes two hyperthreads per core), so
 *    while the module instantiates `os.cpus()` reports `2 × threads` entries.
 *
 * On a 2-core host, two threads run a 1024×416·416×400 matmul at about 54 GFLOP/s against
 * 29 GFLOP/s for one. The pieces are checked before anything is changed; when one is missing
 * (another tfjs version), `enableWasmThreads` says why and the backend stays single-threaded.
 */
import * as fs from 'node:fs';
// The module object itself (not an import namespace, whose properties are read-only getters).
import os = require('node:os');
import * as path from 'node:path';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';

/** Prefix of a `urlOrBlob` string that carries script text rather than a file name. */
export const SCRIPT_TEXT_PREFIX = '\u0000tessera-script:';
/** Most threads the loader's pool pre-creates (PTHREAD_POOL_SIZE in the package's build). */
export const MAX_WASM_THREADS = 8;

const BOOTSTRAP = path.join(__dirname, 'wasm-pthread-worker.js');
const LOADER_FILE = 'tf-backend-wasm.node.js';
const WORKER_SOURCE = /var wasmWorkerContents = ("(?:[^"\\]|\\.)*");/;

/** The wasm package's exports that threads need. */
export interface WasmThreadsModule {
  setThreadsCount?: (n: number) => void;
}

/** The Emscripten pthread worker script embedded in the package's Node loader, or null. */
export function pthreadWorkerSource(loaderDir: string): string | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(loaderDir, LOADER_FILE), 'utf8');
  } catch {
    return null;
  }
  const m = WORKER_SOURCE.exec(text);
  if (!m) return null;
  // tfjs escapes newlines the same way before it builds the worker's Blob.
  return (JSON.parse(m[1]) as string).replace(/\n/g, '\\n');
}

type Queued = [unknown, readonly unknown[] | undefined];

/** A worker_threads Worker that runs Emscripten pthreads from the loader's `blob:` URLs. */
function pthreadWorkerClass(source: string): typeof NodeWorker {
  return class PthreadWorker extends NodeWorker {
    private held: Queued[] | null = null;

    constructor(url: string | URL, options?: WorkerOptions) {
      const isBlob = typeof url === 'string' && url.startsWith('blob:');
      super(isBlob ? BOOTSTRAP : url, isBlob ? { ...options, workerData: { source } } : options);
      this.unref();
    }

    /**
     * A pool thread never keeps the process alive: the loader refs a worker while it runs a
     * pthread, and XNNPACK's pool threads run (parked on a futex) for the life of the process.
     */
    override ref(): void {}

    override postMessage(msg: unknown, transfer?: readonly unknown[]): void {
      if (this.held) {
        this.held.push([msg, transfer]);
        return;
      }
      const m = msg as { cmd?: unknown; urlOrBlob?: unknown } | null;
      if (m?.cmd === 'load' && m.urlOrBlob instanceof Blob) {
        this.held = [];
        void m.urlOrBlob.text().then((text) => {
          this.send({ ...m, urlOrBlob: SCRIPT_TEXT_PREFIX + text }, transfer);
          const later = this.held ?? [];
          this.held = null;
          for (const [x, t] of later) this.postMessage(x, t);
        });
        return;
      }
      this.send(msg, transfer);
    }

    private send(msg: unknown, transfer?: readonly unknown[]): void {
      super.postMessage(msg, transfer as Parameters<NodeWorker['postMessage']>[1]);
    }
  };
}

/** What `enableWasmThreads` did: the thread count asked for, or why threads stay off. */
export type WasmThreadsResult = { ok: true; threads: number } | { ok: false; reason: string };

/**
 * Prepares the wasm backend to start with `threads` XNNPACK threads. Must run before the backend
 * first initialises; `instantiate` is that initialisation (e.g. `() => tf.setBackend('wasm')`),
 * run while `os.cpus()` reports enough cores. `setFlag` sets tfjs's
 * `WASM_HAS_MULTITHREAD_SUPPORT`.
 */
export async function enableWasmThreads<T>(
  mod: WasmThreadsModule, loaderDir: string, threads: number,
  setFlag: (on: boolean) => void, instantiate: () => Promise<T>,
): Promise<{ result: WasmThreadsResult; value: T }> {
  const n = Math.min(Math.max(1, Math.floor(threads)), MAX_WASM_THREADS);
  const source = n > 1 ? pthreadWorkerSource(loaderDir) : null;
  let result: WasmThreadsResult;
  if (n <= 1) result = { ok: false, reason: 'one thread asked for' };
  else if (source === null) result = { ok: false, reason: `no pthread worker script found in ${path.join(loaderDir, LOADER_FILE)}` };
  else if (typeof mod.setThreadsCount !== 'function') result = { ok: false, reason: 'the wasm package has no setThreadsCount' };
  else if (!fs.existsSync(BOOTSTRAP)) result = { ok: false, reason: `missing ${BOOTSTRAP}` };
  else result = { ok: true, threads: n };
  if (!result.ok) return { result, value: await instantiate() };

  const Pthread = pthreadWorkerClass(source!);
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => Pthread, set: () => undefined });
  setFlag(true);
  mod.setThreadsCount!(n);
  const realCpus = os.cpus;
  (os as { cpus: typeof os.cpus }).cpus = () => {
    const cpus = realCpus();
    while (cpus.length > 0 && cpus.length < 2 * n) cpus.push(cpus[0]);
    return cpus;
  };
  try {
    return { result, value: await instantiate() };
  } finally {
    (os as { cpus: typeof os.cpus }).cpus = realCpus;
  }
}
