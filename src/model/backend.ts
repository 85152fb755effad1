/**
 * Start-up choice of the tfjs backend: `tensorflow` (from @tensorflow/tfjs-node-gpu, then
 * @tensorflow/tfjs-node, when installed) → `webgpu` (Dawn on a Vulkan GPU, webgpu/webgpu-backend.ts;
 * a software adapter only with TESSERA_WEBGPU_ALLOW_FALLBACK=1) → `wasm` → `cpu`. The choice, and
 * why each faster backend was skipped, is logged once per call.
 *
 * tfjs keeps its active backend in a process-wide engine; this module only switches it and keeps
 * no state of its own, so calling `selectBackend` again with the same preference re-selects the
 * same, already initialised backend cheaply.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { enableWasmThreads, type WasmThreadsModule } from './wasm-threads';
import { installNativeKernels, loadNativeBlas, uninstallNativeKernels, type NativeBlas } from './native-kernels';
import { installSharedIdentity, uninstallSharedIdentity } from './wasm-shared-identity';
import { releaseWebgpu, tryWebgpu } from './webgpu/webgpu-backend';
export { tfThreads } from './tf-threads';

/** Backends Tessera knows, fastest first. */
export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
/** A tfjs backend name. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The selected backend, a one-line description of what provides it, and why others were not. */
export interface BackendChoice {
  name: BackendName;
  detail: string;
  /** Every other backend, with why it was skipped (as logged). */
  skipped: Array<{ backend: BackendName; reason: string }>;
}

/** Start-up settings, and injection points for tests. */
export interface BackendDeps {
  /** Loads a module by id (default: Node's `require`). */
  requireModule?: (id: string) => unknown;
  /**
   * Threads for the wasm backend's kernels (default 1). Decided once per process: the first
   * initialisation of the wasm backend fixes it (see `wasm-threads.ts`).
   */
  threads?: number;
  /**
   * Swap the wasm backend's matMul/transpose kernels for native OpenBLAS ones when the addon is
   * built (default: on unless `TESSERA_NATIVE_KERNELS=0`; see `native-kernels.ts`).
   */
  nativeKernels?: boolean;
  /**
   * Give the wasm backend the copy-free Identity kernel (default: on unless
   * `TESSERA_WASM_SHARED_IDENTITY=0`; see `wasm-shared-identity.ts`).
   */
  sharedIdentity?: boolean;
  /** Loads the native addon (tests inject a failing one). */
  loadNative?: () => { ok: true; blas: NativeBlas } | { ok: false; reason: string };
  /**
   * Accept a fallback (software) WebGPU adapter such as SwiftShader (default: only when
   * `TESSERA_WEBGPU_ALLOW_FALLBACK=1`). Without it such an adapter is refused, with the reason logged.
   */
  allowFallbackAdapter?: boolean;
}

/** Packages that register the `tensorflow` backend, GPU build first. */
const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
/** The wasm binaries ship next to this file of the package. */
const WASM_BINARY = `${WASM_PACKAGE}/dist/tfjs-backend-wasm.wasm`;

type Attempt = { ok: true; detail: string } | { ok: false; reason: string };

/** First line of an error, with "not installed" for a missing package. */
function loadFailure(id: string, err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const msg = String(e?.message ?? err).split('\n')[0];
  if (e?.code === 'MODULE_NOT_FOUND' && msg.includes(`'${id}'`)) return `${id}: not installed`;
  return `${id}: failed to load (${msg})`;
}

async function tryTensorflow(load: (id: string) => unknown): Promise<Attempt> {
  const reasons: string[] = [];
  for (const id of TFJS_NODE_PACKAGES) {
    try {
      load(id);
    } catch (err) {
      reasons.push(loadFailure(id, err));
      continue;
    }
    // A tfjs-node built against another tfjs-core copy registers on that copy, not ours.
    if (tf.findBackendFactory('tensorflow') === null) {
      reasons.push(`${id}: loaded but did not register the 'tensorflow' backend with this @tensorflow/tfjs`);
    } else if (await tf.setBackend('tensorflow')) {
      return { ok: true, detail: `${id} (libtensorflow)` };
    } else {
      reasons.push(`${id}: the 'tensorflow' backend failed to initialise`);
    }
  }
  return { ok: false, reason: reasons.join('; ') };
}

/**
 * Points the wasm backend at the binaries inside node_modules. In Node the Emscripten loader
 * already looks next to its own script (`__dirname`); resolving the path explicitly keeps that
 * working when the JS is bundled elsewhere, and fails here with a clear reason if a binary is gone.
 */
/**
 * True once a backend has been initialised. (`tf.findBackend` is no test: it starts initialising a
 * registered backend as a side effect, before paths and threads are set.)
 */
function initialised(name: string): boolean {
  return name in (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
}

function configureWasmPaths(mod: { setWasmPaths?: (prefix: string) => void }): string {
  const dir = path.dirname(require.resolve(WASM_BINARY)) + path.sep;
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) {
    if (!fs.existsSync(dir + f)) throw new Error(`missing ${dir}${f}`);
  }
  // setWasmPaths must run before the backend initialises; once it has, the paths are settled.
  if (!initialised('wasm') && mod.setWasmPaths !== undefined) mod.setWasmPaths(dir);
  return dir;
}

type WasmModule = WasmThreadsModule & { setWasmPaths?: (prefix: string) => void; getThreadsCount?: () => number };

/** Installs the native kernels over the started wasm backend; the detail says which, or why not. */
function withNativeKernels(deps: BackendDeps, threads: number, logger?: Logger): string {
  const on = deps.nativeKernels ?? process.env.TESSERA_NATIVE_KERNELS !== '0';
  if (!on) {
    uninstallNativeKernels();
    return 'native kernels off';
  }
  const loaded = (deps.loadNative ?? loadNativeBlas)();
  if (!loaded.ok) {
    uninstallNativeKernels();
    logger?.warn({ reason: loaded.reason }, 'native matMul kernels unavailable: the wasm kernels run instead (several times slower)');
    return `native kernels unavailable: ${loaded.reason}`;
  }
  return installNativeKernels(loaded.blas, threads);
}

/**
 * The copy-free Identity kernel (wasm-shared-identity.ts) unless TESSERA_WASM_SHARED_IDENTITY=0,
 * which keeps the copying one for A/B measurements; the detail says which.
 */
function withSharedIdentity(deps: BackendDeps): string {
  if (!(deps.sharedIdentity ?? process.env.TESSERA_WASM_SHARED_IDENTITY !== '0')) {
    uninstallSharedIdentity();
    return 'copying Identity (TESSERA_WASM_SHARED_IDENTITY=0)';
  }
  installSharedIdentity();
  return 'shared Identity';
}

async function tryWasm(load: (id: string) => unknown, deps: BackendDeps, logger?: Logger): Promise<Attempt> {
  const threads = deps.threads ?? 1;
  let dir: string;
  let mod: WasmModule;
  try {
    mod = load(WASM_PACKAGE) as WasmModule;
    dir = configureWasmPaths(mod);
  } catch (err) {
    return { ok: false, reason: loadFailure(WASM_PACKAGE, err) };
  }
  let started: boolean;
  if (initialised('wasm')) {
    started = await tf.setBackend('wasm'); // already initialised: its thread count is settled
  } else {
    const setFlag = (on: boolean): void => { tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', on); };
    const { result, value } = await enableWasmThreads(mod, dir, threads, setFlag, () => tf.setBackend('wasm'));
    if (!result.ok && threads > 1) logger?.warn({ threads, reason: result.reason }, 'wasm backend: staying single-threaded');
    started = value;
  }
  if (!started) return { ok: false, reason: `${WASM_PACKAGE}: the 'wasm' backend failed to initialise` };
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const n = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? mod.getThreadsCount?.() ?? 1 : 1;
  const native = withNativeKernels(deps, threads, logger);
  const identity = withSharedIdentity(deps);
  return { ok: true, detail: `${WASM_PACKAGE} (simd=${simd}, threads=${n}) from ${dir}; ${native}; ${identity}` };
}

async function tryCpu(): Promise<Attempt> {
  return (await tf.setBackend('cpu'))
    ? { ok: true, detail: '@tensorflow/tfjs-backend-cpu (plain JS)' }
    : { ok: false, reason: "the 'cpu' backend failed to initialise" };
}

function checkPrefer(prefer: string | undefined): BackendName | undefined {
  if (prefer === undefined || prefer === '') return undefined;
  if ((BACKEND_NAMES as readonly string[]).includes(prefer)) return prefer as BackendName;
  throw new TesseraError(ERROR_CODES.CONFIG,
    `TESSERA_TF_BACKEND: unknown backend '${prefer}' (expected one of ${BACKEND_NAMES.join(', ')})`);
}

async function attempt(name: BackendName, load: (id: string) => unknown, deps: BackendDeps, logger?: Logger): Promise<Attempt> {
  if (name === 'tensorflow') return tryTensorflow(load);
  if (name === 'webgpu') {
    return tryWebgpu(load, { allowFallback: deps.allowFallbackAdapter ?? process.env.TESSERA_WEBGPU_ALLOW_FALLBACK === '1' });
  }
  return name === 'wasm' ? tryWasm(load, deps, logger) : tryCpu();
}

/**
 * Selects and initialises the tfjs backend: `prefer` first (from config, e.g. the
 * `TESSERA_TF_BACKEND` variable), then the default order tensorflow → webgpu → wasm → cpu. A
 * preferred backend that cannot start falls through to the next, with a warning.
 *
 * ```ts
 * const { name, detail } = await selectBackend(logger.child({ component: 'model' }), config.tfBackend);
 * ```
 *
 * @throws TesseraError TESSERA_ERR_CONFIG when `prefer` is not a backend name.
 */
export async function selectBackend(logger?: Logger, prefer?: string, deps: BackendDeps = {}): Promise<BackendChoice> {
  const wanted = checkPrefer(prefer);
  const load = deps.requireModule ?? ((id: string) => require(id) as unknown);
  const order: BackendName[] = wanted === undefined ? [...BACKEND_NAMES] : [wanted, ...BACKEND_NAMES.filter((n) => n !== wanted)];
  const skipped: Array<{ backend: BackendName; reason: string }> = [];
  for (const name of order) {
    const tried = await attempt(name, load, deps, logger);
    if (!tried.ok) {
      skipped.push({ backend: name, reason: tried.reason });
      if (name === wanted) logger?.warn({ backend: name, reason: tried.reason }, 'preferred tfjs backend unavailable');
      continue;
    }
    for (const n of BACKEND_NAMES) {
      if (n === name || skipped.some((x) => x.backend === n)) continue;
      const faster = BACKEND_NAMES.indexOf(n) < BACKEND_NAMES.indexOf(name);
      skipped.push({ backend: n, reason: faster ? `not tried: prefer=${wanted}` : `not needed: '${name}' is faster` });
    }
    logger?.info({ backend: name, detail: tried.detail, prefer: wanted ?? null, skipped }, `tfjs backend: ${name}`);
    return { name, detail: tried.detail, skipped };
  }
  // Unreachable in practice: the cpu backend ships with @tensorflow/tfjs.
  throw new TesseraError(ERROR_CODES.INTERNAL, `no tfjs backend could start: ${skipped.map((s) => s.reason).join('; ')}`);
}


/**
 * Releases what the backend holds outside tfjs's tensors: the `webgpu` backend's Dawn device, which
 * may keep Node's event loop alive. Call it when the process is done with the model (the CLI does
 * after every command); a later `selectBackend` starts afresh.
 */
export function releaseBackend(): void {
  releaseWebgpu();
}
