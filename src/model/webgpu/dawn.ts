/// <reference types="@webgpu/types" />
/**
 * Dawn (Chromium's WebGPU implementation) under Node. The `webgpu` npm package ships a prebuilt
 * binding, `dist/<platform>-<arch>/dawn.node`, which drives the GPU through Vulkan on Linux. This
 * module loads it, installs the globals that WebGPU code expects from a browser (`navigator.gpu`
 * and the `GPUBufferUsage`-style constants; tfjs-backend-webgpu reads both), and asks Dawn for an
 * adapter.
 *
 * The binding is loaded directly rather than through the package's entry point: that entry is an
 * ES module, which CommonJS code cannot `require` on every Node 20, and all it adds is a patch
 * that unmaps buffers on `device.destroy()`, which Tessera calls only when the process ends.
 *
 * Without a GPU, Dawn accepts a software Vulkan (SwiftShader, which Debian's `chromium-common`
 * ships, or Mesa's lavapipe); both report themselves as fallback adapters.
 *
 * ```ts
 * const probe = await requestDawnAdapter((id) => require(id));
 * if (probe.ok) console.log(describeAdapter(probe.summary)); // "nvidia nvidia-h200 (…)"
 * ```
 */
import * as path from 'node:path';

/** The npm package that carries Dawn's Node binding. */
export const DAWN_PACKAGE = 'webgpu';

/** What Tessera reports about an adapter (a subset of GPUAdapterInfo). */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software (or otherwise degraded) adapter such as SwiftShader or lavapipe. */
  fallback: boolean;
}

/** An adapter, or why there is none. */
export type AdapterProbe = { ok: true; adapter: GPUAdapter; summary: AdapterSummary } | { ok: false; reason: string };

interface DawnBinding {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/** Path of the prebuilt binding for this platform inside the installed package. */
export function dawnBindingPath(resolve: (id: string) => string = require.resolve): string {
  const root = path.dirname(resolve(`${DAWN_PACKAGE}/package.json`));
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  return path.join(root, 'dist', `${process.platform}-${arch}`, 'dawn.node');
}

/** First line of a load error, with "not installed" for a missing package. */
function loadReason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const msg = String(e?.message ?? err).split('\n')[0];
  if (e?.code === 'MODULE_NOT_FOUND' && msg.includes('dawn.node')) return `${DAWN_PACKAGE}: no prebuilt Dawn binding for ${process.platform}-${process.arch} (${msg})`;
  if (e?.code === 'MODULE_NOT_FOUND' || e?.code === 'ENOENT') return `${DAWN_PACKAGE}: not installed`;
  return `${DAWN_PACKAGE}: failed to load Dawn's binding (${msg})`;
}

/**
 * The process's `navigator.gpu`, created from Dawn on first use. Browser code (tfjs-backend-webgpu)
 * finds WebGPU there, so the global is the one instance per process.
 */
function dawnGpu(load: (id: string) => unknown): GPU {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu !== undefined) return nav.gpu;
  load(`${DAWN_PACKAGE}/package.json`); // throws MODULE_NOT_FOUND when the package is absent
  const dawn = load(dawnBindingPath()) as DawnBinding;
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  const gpu = dawn.create([]);
  if (nav === undefined) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  return gpu;
}

/** The summary of an adapter's (or a device's) info. */
export function summarise(info: GPUAdapterInfo): AdapterSummary {
  const i = info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  return {
    vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
    fallback: i.isFallbackAdapter === true,
  };
}

/** One line for logs: `nvidia nvidia-h200 (NVIDIA H200, driver …)`, marked when it is software. */
export function describeAdapter(s: AdapterSummary): string {
  const name = [s.vendor, s.device || s.architecture].filter((x) => x !== '').join(' ');
  return `${name} (${s.description})${s.fallback ? ' [fallback adapter]' : ''}`;
}

/**
 * Loads Dawn and requests the high-performance adapter; says why when there is none (package not
 * installed, binding failed to load, no Vulkan driver).
 */
export async function requestDawnAdapter(load: (id: string) => unknown): Promise<AdapterProbe> {
  let gpu: GPU;
  try {
    gpu = dawnGpu(load);
  } catch (err) {
    return { ok: false, reason: loadReason(err) };
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { ok: false, reason: `${DAWN_PACKAGE}: requestAdapter failed (${String((err as Error)?.message ?? err).split('\n')[0]})` };
  }
  if (adapter === null) {
    return { ok: false, reason: `${DAWN_PACKAGE}: Dawn found no WebGPU adapter (no Vulkan driver: install the GPU's Vulkan ICD and libvulkan1, or point VK_ICD_FILENAMES at one)` };
  }
  return { ok: true, adapter, summary: summarise(adapter.info) };
}
