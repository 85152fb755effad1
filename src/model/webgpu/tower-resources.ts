/// <reference types="@webgpu/types" />
/**
 * The GPU side of a fused tower model for one batch capacity: the buffers of tower-plan.ts, one
 * bind group that every kernel shares (one explicit layout: uniforms, then five storage buffers),
 * and the compiled pipelines (cached per device by source, so models of one shape share them). Built once and rebuilt only when a batch exceeds the capacity (which
 * then doubles), so a step allocates nothing on the GPU.
 *
 * Readbacks go through mappable staging buffers from a small pool, one per step in flight, so a
 * step can be submitted while the previous one's results are still being mapped.
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { bufferSizes, type TowerPlan } from './tower-plan';
import { READ_ONLY_BINDINGS, STORAGE_BINDINGS, towerKernels, UNIFORM_BYTES, type TowerKernel } from './tower-kernels';

/** A kernel ready to dispatch. */
export interface CompiledKernel {
  readonly kernel: TowerKernel;
  readonly pipeline: GPUComputePipeline;
}

/** The buffers of one capacity, by binding name (tower-plan.ts). */
export type TowerBuffers = Readonly<Record<'uniforms' | (typeof STORAGE_BINDINGS)[number], GPUBuffer>>;

const MIN_CAPACITY = 64;

/** Capacity for a batch: a power of two, so that growing batches rebuild rarely. */
export function capacityFor(batch: number): number {
  let cap = MIN_CAPACITY;
  while (cap < batch) cap *= 2;
  return cap;
}

/** The bind group layout every kernel shares, and the pipelines compiled on one device. */
interface DeviceKernels {
  readonly bindLayout: GPUBindGroupLayout;
  readonly pipelineLayout: GPUPipelineLayout;
  /** By WGSL source: models of the same shape and capacity share their pipelines. */
  readonly pipelines: Map<string, Promise<GPUComputePipeline>>;
}

/** Per device, like tfjs's own pipeline cache; it goes when the device does. */
const DEVICE_KERNELS = new WeakMap<GPUDevice, DeviceKernels>();

function deviceKernels(device: GPUDevice): DeviceKernels {
  let k = DEVICE_KERNELS.get(device);
  if (k === undefined) {
    const bindLayout = device.createBindGroupLayout({
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        ...STORAGE_BINDINGS.map((name, i): GPUBindGroupLayoutEntry => ({
          binding: i + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: READ_ONLY_BINDINGS.has(name) ? 'read-only-storage' : 'storage' },
        })),
      ],
    });
    k = { bindLayout, pipelineLayout: device.createPipelineLayout({ bindGroupLayouts: [bindLayout] }), pipelines: new Map() };
    DEVICE_KERNELS.set(device, k);
  }
  return k;
}

/** Fails with the compiler's messages when WGSL does not compile (a bug in the generator). */
async function compileNew(device: GPUDevice, layout: GPUPipelineLayout, kernel: TowerKernel): Promise<GPUComputePipeline> {
  const module = device.createShaderModule({ label: kernel.name, code: kernel.code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    throw new TesseraError(ERROR_CODES.INTERNAL, `fused webgpu kernel ${kernel.name} does not compile: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`);
  }
  return device.createComputePipelineAsync({ label: kernel.name, layout, compute: { module, entryPoint: 'main' } });
}

async function compile(device: GPUDevice, kernel: TowerKernel): Promise<CompiledKernel> {
  const k = deviceKernels(device);
  let pipeline = k.pipelines.get(kernel.code);
  if (pipeline === undefined) {
    pipeline = compileNew(device, k.pipelineLayout, kernel);
    k.pipelines.set(kernel.code, pipeline);
    pipeline.catch(() => k.pipelines.delete(kernel.code));
  }
  return { kernel, pipeline: await pipeline };
}

/** Everything a step of up to `layout.cap` rows needs on the device. */
export class TowerResources {
  private constructor(readonly cap: number, readonly buffers: TowerBuffers, readonly bindGroup: GPUBindGroup,
    readonly train: readonly CompiledKernel[], readonly predict: readonly CompiledKernel[]) {}

  /** Allocates the buffers and compiles the kernels for `cap` rows. */
  static async create(device: GPUDevice, plan: TowerPlan, cap: number): Promise<TowerResources> {
    const sizes: Record<(typeof STORAGE_BINDINGS)[number], number> = { params: plan.p, ...bufferSizes(plan, cap) };
    const buffers = { uniforms: device.createBuffer({ label: 'uniforms', size: UNIFORM_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }) } as Record<string, GPUBuffer>;
    for (const name of STORAGE_BINDINGS) {
      // A binding needs a non-empty buffer even where the model has no such input.
      buffers[name] = device.createBuffer({ label: name, size: Math.max(16, sizes[name] * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    }
    const bindGroup = device.createBindGroup({
      layout: deviceKernels(device).bindLayout,
      entries: [buffers.uniforms, ...STORAGE_BINDINGS.map((n) => buffers[n])].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const kernels = towerKernels(plan);
    const train = await Promise.all(kernels.train.map((k) => compile(device, k)));
    const predict = await Promise.all(kernels.predict.map((k) => compile(device, k)));
    return new TowerResources(cap, buffers as TowerBuffers, bindGroup, train, predict);
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
