/**
 * A copy-free `Identity` kernel for tfjs's wasm backend.
 *
 * Why: the tfjs engine clones every tensor it saves for the backward pass (`saveTensorsForBackwardMode`
 * runs the `Identity` kernel on it), and the wasm backend's `Identity` copies the whole buffer. A
 * DeepFM step at batch 1,024 saves about 40 tensors, [1024, 400] activations and the [1024, 26, 16]
 * embeddings among them: about 14 MB copied and freed again every step. Tensors are immutable,
 * so the clone can share its input's buffer and count one more reference to it, which is what the
 * cpu backend's own `Identity` and the wasm backend's `Reshape` already do. The buffer is freed when
 * the last tensor on it is disposed (`BackendWasm.disposeData` counts references).
 *
 * ```ts
 * installSharedIdentity();   // after tf.setBackend('wasm')
 * ```
 */
import * as tf from '@tensorflow/tfjs';

const BACKEND = 'wasm';
/** The kernel replaced; kept to put back. */
let original: tf.KernelConfig | undefined;

/** The part of tfjs-backend-wasm's BackendWasm this kernel uses. */
interface RefCounting {
  incRef(dataId: object): void;
}

function sharedIdentity({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const x = inputs.x as tf.TensorInfo;
  if (x.dtype === 'string') return original!.kernelFunc({ inputs, backend, attrs: {} } as never) as tf.TensorInfo;
  (backend as RefCounting).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** True while the shared `Identity` is registered for the wasm backend. */
export function sharedIdentityInstalled(): boolean {
  return original !== undefined;
}

/**
 * Replaces the wasm backend's `Identity` kernel with the copy-free one. Idempotent.
 *
 * @throws Error when the wasm backend's kernels are not registered (its package is not loaded).
 */
export function installSharedIdentity(): void {
  if (original !== undefined) return;
  const kernel = tf.getKernel('Identity', BACKEND);
  if (kernel === undefined) throw new Error(`shared Identity: the ${BACKEND} backend has no Identity kernel to replace`);
  original = kernel;
  tf.unregisterKernel('Identity', BACKEND);
  tf.registerKernel({ ...kernel, kernelFunc: sharedIdentity as unknown as tf.KernelFunc });
}

/** Puts the wasm backend's copying `Identity` back (tests and A/B measurements compare the two). */
export function uninstallSharedIdentity(): void {
  if (original === undefined) return;
  tf.unregisterKernel('Identity', BACKEND);
  tf.registerKernel(original);
  original = undefined;
}
