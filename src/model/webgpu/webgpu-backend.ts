/// <reference types="@webgpu/types" />
/**
 * The `webgpu` tfjs backend on Dawn (ADR 0015). Tessera requests the adapter and the device itself
 * rather than through tfjs-backend-webgpu's own factory, so that it can
 * - refuse a fallback (software) adapter unless asked to take one, with the reason logged;
 * - say which GPU it runs on;
 * - share the one device per process between tfjs's kernels and the fused model steps
 *   (`webgpuDevice()`, see fused-tower-model.ts);
 * - destroy that device when the process is done (`releaseWebgpu()`): a live Dawn device may keep
 *   Node's event loop alive.
 */
import * as tf from '@tensorflow/tfjs';
import { describeAdapter, requestDawnAdapter, summarise } from './dawn';

/** The npm package with tfjs's WebGPU kernels. */
export const TFJS_WEBGPU_PACKAGE = '@tensorflow/tfjs-backend-webgpu';
const BACKEND = 'webgpu';
/** tfjs-backend-webgpu registers itself at this priority; ours replaces that registration. */
const PRIORITY = 3;

/** How the backend may start. */
export interface WebgpuOptions {
  /** Accept a fallback (software) adapter such as SwiftShader (TESSERA_WEBGPU_ALLOW_FALLBACK=1). */
  allowFallback: boolean;
}

type Attempt = { ok: true; detail: string } | { ok: false; reason: string };
type WebgpuBackendClass = new (device: GPUDevice, info: GPUAdapterInfo) => tf.KernelBackend;

/** The device of an initialised tfjs webgpu backend, or undefined. */
function registeredDevice(): GPUDevice | undefined {
  const registry = (tf.engine() as unknown as { registry: Record<string, { device?: GPUDevice } | undefined> }).registry;
  return registry[BACKEND]?.device;
}

/** The GPU device the active tfjs backend computes on; undefined unless `webgpu` is active. */
export function webgpuDevice(): GPUDevice | undefined {
  return tf.engine().backendName === BACKEND ? registeredDevice() : undefined;
}

function detailOf(device: GPUDevice): string {
  return `${TFJS_WEBGPU_PACKAGE} on Dawn (Vulkan): ${describeAdapter(summarise(device.adapterInfo))}`;
}

function refusal(description: string): string {
  return `${description} refused: a fallback (software) adapter is far slower than the wasm backend; `
    + 'set TESSERA_WEBGPU_ALLOW_FALLBACK=1 to use it anyway (tests and CI do)';
}

/** The limits tfjs-backend-webgpu's own factory asks for (the adapter's, for large tensors), and more bindings. */
function deviceDescriptor(adapter: GPUAdapter): GPUDeviceDescriptor {
  const l = adapter.limits;
  return {
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      // The fused steps bind eight storage buffers, the default maximum: take what the adapter has.
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  };
}

/** Requests the adapter and device and registers the tfjs backend over them. */
async function registerOnDawn(load: (id: string) => unknown, opts: WebgpuOptions): Promise<Attempt> {
  const probe = await requestDawnAdapter(load);
  if (!probe.ok) return probe;
  if (probe.summary.fallback && !opts.allowFallback) return { ok: false, reason: refusal(describeAdapter(probe.summary)) };
  let Backend: WebgpuBackendClass;
  try {
    // After the globals are in place: the package registers its kernels when it loads.
    Backend = (load(TFJS_WEBGPU_PACKAGE) as { WebGPUBackend: WebgpuBackendClass }).WebGPUBackend;
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    return { ok: false, reason: e?.code === 'MODULE_NOT_FOUND' ? `${TFJS_WEBGPU_PACKAGE}: not installed` : `${TFJS_WEBGPU_PACKAGE}: failed to load (${String(e?.message ?? err).split('\n')[0]})` };
  }
  const device = await probe.adapter.requestDevice(deviceDescriptor(probe.adapter));
  if (tf.findBackendFactory(BACKEND) !== null) tf.removeBackend(BACKEND);
  tf.registerBackend(BACKEND, () => new Backend(device, probe.adapter.info), PRIORITY);
  return { ok: true, detail: '' };
}

/**
 * Starts (or re-selects) the `webgpu` backend. The reason says why not: Dawn or the tfjs package
 * not installed, no adapter, a refused fallback adapter, or a failed initialisation.
 */
export async function tryWebgpu(load: (id: string) => unknown, opts: WebgpuOptions): Promise<Attempt> {
  let device = registeredDevice();
  if (device === undefined) {
    const registered = await registerOnDawn(load, opts);
    if (!registered.ok) return registered;
  } else if (summarise(device.adapterInfo).fallback && !opts.allowFallback) {
    return { ok: false, reason: refusal(describeAdapter(summarise(device.adapterInfo))) };
  }
  if (!(await tf.setBackend(BACKEND))) return { ok: false, reason: `${TFJS_WEBGPU_PACKAGE}: the 'webgpu' backend failed to initialise` };
  device = registeredDevice() as GPUDevice;
  return { ok: true, detail: detailOf(device) };
}

/**
 * Removes the `webgpu` backend and destroys its device, so that the process can exit. For the end
 * of a process (or of a test): GPU models built on that device stop working. A no-op when the
 * backend never started.
 */
export function releaseWebgpu(): void {
  const device = registeredDevice();
  if (device === undefined) return;
  tf.removeBackend(BACKEND);
  device.destroy();
}
