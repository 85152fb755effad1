/**
 * Reading a step's result tensors back to the host. On the `webgpu` backend every read is a GPU
 * round trip (copy to a staging buffer, map, wait), so the tensors are flattened into one and read
 * once. On the `wasm` backend the values already live in the wasm heap, and are copied from there
 * straight into the caller's arrays: `dataSync`/`data()` would first copy each into a new array
 * (about 3 MB a DeepFM step at batch 1,024, garbage the next GC must collect). On the cpu backend
 * each is read as it is.
 */
import * as tf from '@tensorflow/tfjs';

/** The part of tfjs-backend-wasm's BackendWasm read here: a view of a tensor's heap memory. */
interface WasmHeapView {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/**
 * The values of `tensors`, in order, read with one readback on a GPU backend; disposes the
 * tensors, also when the read fails.
 *
 * ```ts
 * const [loss, logits] = await readTensors(tf.tidy(() => [lossTensor(), logitTensor()]));
 * ```
 */
export function readTensors(tensors: readonly tf.Tensor[]): Promise<Float32Array[]> {
  return readTensorsInto(tensors, []);
}

/**
 * Like {@link readTensors}, but tensor i is written into `dests[i]` when given (it must hold
 * exactly that tensor's values), which is then what is returned for it; others get new arrays.
 *
 * ```ts
 * const [loss, grad] = await readTensorsInto([lossT, gradT], [undefined, result.grad]);
 * ```
 */
export async function readTensorsInto(tensors: readonly tf.Tensor[], dests: ReadonlyArray<Float32Array | undefined>): Promise<Float32Array[]> {
  try {
    const backend = tf.engine().backendName;
    if (backend === 'wasm') return fromWasmHeap(tensors, dests);
    const values = backend === 'webgpu' && tensors.length > 1
      ? await flatRead(tensors)
      : await Promise.all(tensors.map(async (t) => (await t.data()) as Float32Array));
    return values.map((v, i) => place(v, dests[i]));
  } finally {
    tf.dispose(tensors as tf.Tensor[]);
  }
}

function place(values: Float32Array, dest: Float32Array | undefined): Float32Array {
  if (dest === undefined) return values;
  dest.set(values);
  return dest;
}

/** Copies straight out of the heap (views are valid only until the tensors are disposed). */
function fromWasmHeap(tensors: readonly tf.Tensor[], dests: ReadonlyArray<Float32Array | undefined>): Float32Array[] {
  const heap = tf.backend() as unknown as WasmHeapView;
  return tensors.map((t, i) => {
    const view = heap.typedArrayFromHeap(t);
    return dests[i] === undefined ? view.slice() : place(view, dests[i]);
  });
}

/** Every tensor's values from one GPU readback of their concatenation. */
async function flatRead(tensors: readonly tf.Tensor[]): Promise<Float32Array[]> {
  const flat = tf.tidy(() => tf.concat(tensors.map((t) => tf.reshape(t, [-1]))));
  let all: Float32Array;
  try {
    all = (await flat.data()) as Float32Array;
  } finally {
    flat.dispose();
  }
  let at = 0;
  return tensors.map((t) => all.subarray(at, (at += t.size)));
}
