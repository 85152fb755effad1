/**
 * Reading a step's result tensors back to the host. On the `webgpu` backend every read is a GPU
 * round trip (copy to a staging buffer, map, wait), so the tensors are flattened into one and read
 * once; on the cpu and wasm backends the values already live in host memory and each is read as
 * it is (a concatenation there would only add a copy).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * The values of `tensors`, in order, read with one readback on a GPU backend; disposes the
 * tensors, also when the read fails.
 *
 * ```ts
 * const [loss, logits] = await readTensors(tf.tidy(() => [lossTensor(), logitTensor()]));
 * ```
 */
export async function readTensors(tensors: readonly tf.Tensor[]): Promise<Float32Array[]> {
  try {
    if (tf.engine().backendName !== 'webgpu' || tensors.length < 2) {
      return await Promise.all(tensors.map(async (t) => (await t.data()) as Float32Array));
    }
    const flat = tf.tidy(() => tf.concat(tensors.map((t) => tf.reshape(t, [-1]))));
    let all: Float32Array;
    try {
      all = (await flat.data()) as Float32Array;
    } finally {
      flat.dispose();
    }
    let at = 0;
    return tensors.map((t) => all.subarray(at, (at += t.size)));
  } finally {
    tf.dispose(tensors as tf.Tensor[]);
  }
}
