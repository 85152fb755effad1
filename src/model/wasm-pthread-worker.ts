/**
 * Entry point of one tfjs wasm pthread under Node (see `wasm-threads.ts`).
 *
 * `workerData.source` is the Emscripten worker script that tfjs would have loaded from a `blob:`
 * URL. It is evaluated here, in this module's scope, because it reads `require` and `__filename`.
 * The main script it then imports was bundled by rollup and names Node modules through the bundle's
 * own variables (`require$$0`…); those are defined as globals before it runs. A main script that
 * arrives as text (prefixed with `SCRIPT_TEXT_PREFIX`) is evaluated directly, the way the browser
 * would evaluate the Blob.
 */
import { workerData } from 'node:worker_threads';
import { SCRIPT_TEXT_PREFIX } from './wasm-threads';

const g = globalThis as unknown as Record<string, unknown>;
g['require$$0'] = require('fs');
g['require$$1'] = require('path');
g['require$$3'] = require('perf_hooks');
g['require$$4'] = require('os');
g.commonjsGlobal = globalThis;

// eslint-disable-next-line no-eval
eval((workerData as { source: string }).source);

const importFile = g.importScripts as (file: string) => void;
g.importScripts = (file: string): void => {
  // eslint-disable-next-line no-eval
  if (file.startsWith(SCRIPT_TEXT_PREFIX)) (0, eval)(file.slice(SCRIPT_TEXT_PREFIX.length));
  else importFile(file);
};
