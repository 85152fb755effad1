/// <reference types="@webgpu/types" />
/**
 * `FusedTowerModel`: DeepFM and Wide & Deep stepping on Tessera's own WGSL kernels on the webgpu
 * backend's device (ADR 0015), instead of op by op through tfjs. What a step costs on a GPU is op
 * count, dispatch and transfers rather than arithmetic, so a step here:
 * - keeps the dense weights resident on the GPU, uploading them again only when the vector the
 *   caller passes differs from the one last uploaded (a byte comparison of 1.3 MB costs about
 *   0.1 ms; the trainer passes the same vector between dense syncs);
 * - writes the batch straight into preallocated GPU buffers with `queue.writeBuffer`, bypassing
 *   tfjs's tensor upload path;
 * - runs one compute pass of 9 dispatches for DeepFM (tower-kernels.ts), against about a hundred
 *   kernels through tfjs;
 * - reads everything back with one copy into one mapped staging buffer; the loss and the
 *   probabilities are then computed on the host from the logits.
 *
 * Steps may overlap: the upload and submission of a step happen synchronously when it is called,
 * so a caller that starts step N+1 before awaiting step N has N+1's upload overlap N's compute
 * (the queue orders the writes after N's work). Results equal the cpu backend's within float32
 * rounding (tested at 1e-5).
 *
 * ```ts
 * const model = createModel(cfg);            // a FusedTowerModel when webgpu is the backend
 * const step = await model.trainStep(dense, batch);
 * ```
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { dropoutKey } from '../dropout';
import { meanLogLossOf, sigmoidInto } from '../inputs';
import type { PsModel } from '../ps-model';
import type { BatchInputs, CtrModel, ModelConfig, ParamSlice, StepResult } from '../types';
import { readbackFloats, stepShape, towerPlan, type StepShape, type TowerPlan } from './tower-plan';
import { capacityFor, StagingPool, TowerResources, type CompiledKernel } from './tower-resources';
import { UNIFORM_BYTES } from './tower-kernels';

/** Counters of what the model did on the GPU (tests and the GPU check read them). */
export interface FusedStats {
  steps: number;
  /** Uploads of the dense vector (once per dense sync when the caller passes the same vector). */
  paramUploads: number;
  /** Dispatches of the last step. */
  lastDispatches: number;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

/** A fusable CTR model (tower-plan.ts `fusable`) stepping on a WebGPU device. */
export class FusedTowerModel implements CtrModel {
  readonly config: Readonly<ModelConfig>;
  readonly denseSize: number;
  readonly layout: readonly ParamSlice[];
  readonly reads: Readonly<{ emb: boolean; linear: boolean }>;
  readonly stats: FusedStats = { steps: 0, paramUploads: 0, lastDispatches: 0 };
  private readonly plan: TowerPlan;
  private readonly staging: StagingPool;
  /** The dense vector as last uploaded. */
  private readonly shadow: Float32Array;
  private resources: Promise<TowerResources> | undefined;
  private cap = 0;
  private paramsOnGpu = false;

  /** `base` gives the layout, the initial vector and the argument checks. */
  constructor(private readonly base: PsModel, private readonly device: GPUDevice) {
    this.config = base.config;
    this.denseSize = base.denseSize;
    this.layout = base.layout;
    this.reads = base.reads;
    this.plan = towerPlan(base.config, base.layout, base.denseSize);
    this.staging = new StagingPool(device);
    this.shadow = new Float32Array(base.denseSize);
  }

  initialDense(): Float32Array {
    return this.base.initialDense();
  }

  async trainStep(params: Float32Array, inputs: BatchInputs): Promise<StepResult> {
    this.base.checkStep(params, inputs, true);
    const key = dropoutKey(this.config.seed ?? 0, this.base.nextTrainStep());
    const res = await this.resourcesFor(inputs.batch);
    const data = await this.run(res, res.train, params, inputs, key);
    const { p, f, fd } = this.plan;
    const b = inputs.batch;
    const logits = data.subarray(p, p + b);
    const probs = new Float32Array(b);
    sigmoidInto(logits, probs);
    return {
      loss: meanLogLossOf(logits, inputs.labels as Float32Array),
      probs,
      denseGrad: data.subarray(0, p),
      linearGrad: data.subarray(p + b, p + b + b * f),
      embGrad: data.subarray(p + b + b * f, p + b + b * f + b * fd),
    };
  }

  async predict(params: Float32Array, inputs: BatchInputs): Promise<Float32Array> {
    this.base.checkStep(params, inputs, false);
    const res = await this.resourcesFor(inputs.batch);
    const logits = await this.run(res, res.predict, params, inputs);
    const probs = new Float32Array(inputs.batch);
    sigmoidInto(logits, probs);
    return probs;
  }

  /** Frees the GPU buffers; later calls throw. */
  dispose(): void {
    this.base.dispose();
    this.resources?.then((r) => r.destroy(), () => undefined);
    this.resources = undefined;
    this.staging.destroy();
  }

  /**
   * The resources for a batch, rebuilt at a doubled capacity when it does not fit. A step that
   * awaited the old ones submits before they are destroyed (promise reactions run in order).
   */
  private resourcesFor(batch: number): Promise<TowerResources> {
    if (this.resources === undefined || batch > this.cap) {
      const previous = this.resources;
      this.cap = capacityFor(batch);
      this.resources = TowerResources.create(this.device, this.plan, this.cap);
      this.paramsOnGpu = false;
      previous?.then((r) => r.destroy(), () => undefined);
    }
    return this.resources;
  }

  /**
   * Uploads, dispatches `kernels` in one pass, and reads the result back once; `dropKey` (the
   * training step's dropout key) marks a training step.
   */
  private async run(res: TowerResources, kernels: readonly CompiledKernel[], params: Float32Array, inputs: BatchInputs, dropKey?: number): Promise<Float32Array> {
    const train = dropKey !== undefined;
    const shape = { ...stepShape(this.plan, inputs.batch), dropKey: dropKey ?? 0 };
    const bytes = readbackFloats(this.plan, inputs.batch, train) * 4;
    const from = train ? 0 : shape.outLogits * 4;
    this.device.pushErrorScope('validation');
    this.upload(res, params, inputs, shape, train);
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setBindGroup(0, res.bindGroup);
    for (const k of kernels) {
      pass.setPipeline(k.pipeline);
      pass.dispatchWorkgroups(...k.kernel.grid(shape));
    }
    pass.end();
    const staging = this.staging.acquire(bytes);
    encoder.copyBufferToBuffer(res.buffers.res, from, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    const error = this.device.popErrorScope();
    this.stats.steps++;
    this.stats.lastDispatches = kernels.length;
    return this.readback(staging, bytes, error);
  }

  private async readback(staging: GPUBuffer, bytes: number, error: Promise<GPUError | null>): Promise<Float32Array> {
    const [mapped, failed] = await Promise.allSettled([staging.mapAsync(GPUMapMode.READ, 0, bytes), error]);
    const gpuError = failed.status === 'fulfilled' ? failed.value : null;
    if (mapped.status === 'rejected' || gpuError !== null) {
      if (mapped.status === 'fulfilled') staging.unmap();
      staging.destroy();
      const why = gpuError?.message ?? String((mapped as PromiseRejectedResult).reason);
      throw new TesseraError(ERROR_CODES.INTERNAL, `fused webgpu step failed on the device: ${why.split('\n')[0]}`);
    }
    const data = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    staging.unmap();
    this.staging.release(staging);
    return data;
  }

  private upload(res: TowerResources, params: Float32Array, inputs: BatchInputs, shape: StepShape, train: boolean): void {
    const q = this.device.queue;
    const buf = res.buffers;
    if (!this.paramsOnGpu || !sameBits(params, this.shadow)) {
      q.writeBuffer(buf.params, 0, params);
      this.shadow.set(params);
      this.paramsOnGpu = true;
      this.stats.paramUploads++;
    }
    if (this.plan.fd > 0) q.writeBuffer(buf.emb, 0, inputs.emb);
    if (this.plan.linear) q.writeBuffer(buf.lin, 0, inputs.linear);
    if (this.plan.nd > 0) q.writeBuffer(buf.dense, 0, inputs.dense);
    if (train) q.writeBuffer(buf.labels, 0, inputs.labels as Float32Array);
    const u = new ArrayBuffer(UNIFORM_BYTES);
    new Uint32Array(u, 0, 6).set([shape.batch, shape.splits, shape.rowsPerSplit, shape.outLogits, shape.outLinear, shape.outEmb]);
    new Float32Array(u, 24, 1)[0] = 1 / shape.batch;
    new Uint32Array(u, 28, 1)[0] = shape.dropKey;
    q.writeBuffer(buf.uniforms, 0, u);
  }
}
