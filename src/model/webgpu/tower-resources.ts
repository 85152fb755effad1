/// <reference types="@webgpu/types" />
/**
 * The GPU side of a fused tower model for one batch capacity: the buffers of tower-plan.ts, one
 * bind group that every kernel shares (one explicit layout: uniforms, then five storage buffers),
 * and the compiled pipelines. Built once and rebuilt only when a batch exceeds the capacity (which
 * then doubles), so a step allocates nothing on the GPU.
 *
 * Readbacks go through mappable staging buffers from a small pool, one per step in flight, so a
 * step can be submitted while the previous one's results are still being mapped.
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { bufferLayout, type BufferLayout, type TowerPlan } from './tower-plan';
import { STORAGE_BINDINGS, towerKernels, UNIFORM_BYTES, type TowerKernel } from './tower-kernels';

/** A kernel ready to dispatch. */
export interface CompiledKernel {
  readonly kernel: TowerKernel;
  readonly pipeline: GPUComputePipeline;
}

/** The buffers of one capacity. */
export interface TowerBuffers {
  readonly uniforms: GPUBuffer;
  readonly params: GPUBuffer;
  readonly inp: GPUBuffer;
  readonly work: GPUBuffer;
  readonly res: GPUBuffer;
  readonly part: GPUBuffer;
}

const MIN_CAPACITY = 64;

/** Capacity for a batch: a power of two, so that growing batches rebuild rarely. */
export function capacityFor(batch: number): number {
  let cap = MIN_CAPACITY;
  while (cap < batch) cap *= 2;
  return cap;
}

/** Fails with the compiler's messages when WGSL does not compile (a bug in the generator). */
async function compile(device: GPUDevice, layout: GPUPipelineLayout, kernel: TowerKernel): Promise<CompiledKernel> {
  const module = device.createShaderModule({ label: kernel.name, code: kernel.code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    throw new TesseraError(ERROR_CODES.INTERNAL, `fused webgpu kernel ${kernel.name} does not compile: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`);
  }
  const pipeline = await device.createComputePipelineAsync({ label: kernel.name, layout, compute: { module, entryPoint: 'main' } });
  return { kernel, pipeline };
}

/** Everything a step of up to `layout.cap` rows needs on the device. */
export class TowerResources {
  readonly layout: BufferLayout;
  readonly buffers: TowerBuffers;
  readonly bindGroup: GPUBindGroup;
  private constructor(layout: BufferLayout, buffers: TowerBuffers, bindGroup: GPUBindGroup,
    readonly train: readonly CompiledKernel[], readonly predict: readonly CompiledKernel[]) {
    this.layout = layout;
    this.buffers = buffers;
    this.bindGroup = bindGroup;
  }

  /** Allocates the buffers and compiles the kernels for `cap` rows. */
  static async create(device: GPUDevice, plan: TowerPlan, cap: number): Promise<TowerResources> {
    const lay = bufferLayout(plan, cap);
    const storage = (label: string, floats: number): GPUBuffer => device.createBuffer({
      label, size: Math.max(16, floats * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    const buffers: TowerBuffers = {
      uniforms: device.createBuffer({ label: 'uniforms', size: UNIFORM_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
      params: storage('params', plan.p), inp: storage('inp', lay.batchSize), work: storage('work', lay.workSize),
      res: storage('res', lay.outSize), part: storage('part', lay.partSize),
    };
    const bindLayout = device.createBindGroupLayout({
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        ...STORAGE_BINDINGS.map((name, i): GPUBindGroupLayoutEntry => ({
          binding: i + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: name === 'params' || name === 'inp' ? 'read-only-storage' : 'storage' },
        })),
      ],
    });
    const bindGroup = device.createBindGroup({
      layout: bindLayout,
      entries: [buffers.uniforms, ...STORAGE_BINDINGS.map((n) => buffers[n])].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [bindLayout] });
    const kernels = towerKernels(plan, lay);
    const train = await Promise.all(kernels.train.map((k) => compile(device, pipelineLayout, k)));
    // The predict list starts with the same forward kernels: compile only its head.
    const predictHead = await compile(device, pipelineLayout, kernels.predict[kernels.predict.length - 1]);
    const predict = [...train.slice(0, kernels.predict.length - 1), predictHead];
    return new TowerResources(lay, buffers, bindGroup, train, predict);
  }

  /** Frees the buffers (pipelines go with the device). */
  destroy(): void {
    for (const b of Object.values(this.buffers)) (b as GPUBuffer).destroy();
  }
}

/** Mappable buffers for readbacks, reused once unmapped. */
export class StagingPool {
  private readonly free: GPUBuffer[] = [];

  constructor(private readonly device: GPUDevice) {}

  /** A buffer of at least `bytes` (the caller hands it back with `release`). */
  acquire(bytes: number): GPUBuffer {
    const i = this.free.findIndex((b) => b.size >= bytes);
    if (i >= 0) return this.free.splice(i, 1)[0];
    return this.device.createBuffer({ label: 'readback', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Returns an unmapped buffer to the pool. */
  release(buffer: GPUBuffer): void {
    this.free.push(buffer);
  }

  /** Frees every pooled buffer. */
  destroy(): void {
    for (const b of this.free.splice(0)) b.destroy();
  }
}
