/// <reference types="@webgpu/types" />
/**
 * Counts the GPU programs dispatched while a function runs, at the WebGPU API: every
 * `GPUComputePassEncoder.dispatchWorkgroups` call on any device of the process, whether tfjs's
 * kernels or Tessera's fused ones issue it. The dispatch-count test and the GPU check compare the
 * two step paths with it; tfjs ops that move no data on the GPU (Reshape, Identity, and the like)
 * dispatch nothing and are not counted.
 *
 * ```ts
 * const { dispatches } = await countDispatches(() => model.trainStep(params, batch));
 * ```
 */

type Dispatch = GPUComputePassEncoder['dispatchWorkgroups'];

/**
 * Runs `fn` and counts the dispatches issued meanwhile (also by anything else running on the
 * process's devices then: measure one thing at a time).
 *
 * @throws Error when WebGPU is not loaded in this process (no `GPUComputePassEncoder` global).
 */
export async function countDispatches<T>(fn: () => Promise<T>): Promise<{ value: T; dispatches: number }> {
  const encoder = (globalThis as { GPUComputePassEncoder?: { prototype: { dispatchWorkgroups: Dispatch } } }).GPUComputePassEncoder;
  if (encoder === undefined) throw new Error('countDispatches: WebGPU is not loaded (select the webgpu backend first)');
  const proto = encoder.prototype;
  const original = proto.dispatchWorkgroups;
  let dispatches = 0;
  proto.dispatchWorkgroups = function counted(this: GPUComputePassEncoder, ...args: Parameters<Dispatch>): undefined {
    dispatches++;
    return original.apply(this, args);
  };
  try {
    const value = await fn();
    return { value, dispatches };
  } finally {
    proto.dispatchWorkgroups = original;
  }
}
