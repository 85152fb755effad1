/**
 * The webgpu backend in tests. Without a GPU, Dawn runs on a software Vulkan driver: SwiftShader
 * from Debian's `chromium-common`, or Mesa's lavapipe. When neither VK_ICD_FILENAMES nor
 * VK_DRIVER_FILES is set, importing this module points the Vulkan loader at the first one
 * installed, before any test creates Dawn's Vulkan instance (mocha loads every test file first).
 *
 * Suites select the backend with `useWebgpu()`. Where it cannot start they skip, naming the reason,
 * unless TESSERA_REQUIRE_WEBGPU=1 (CI), where they fail instead.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend';

/** Software Vulkan drivers (ICD manifests), in order of preference. */
export const SOFTWARE_VULKAN_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json',
];

/** The software driver the loader was pointed at, if this module did it. */
export const SOFTWARE_ICD: string | undefined = (() => {
  if (process.env.VK_ICD_FILENAMES !== undefined || process.env.VK_DRIVER_FILES !== undefined) return undefined;
  const icd = SOFTWARE_VULKAN_ICDS.find((f) => fs.existsSync(f));
  if (icd !== undefined) process.env.VK_ICD_FILENAMES = icd;
  return icd;
})();

/** True when an unavailable webgpu backend must fail the tests rather than skip them (CI). */
export function webgpuRequired(): boolean {
  return process.env.TESSERA_REQUIRE_WEBGPU === '1';
}

/** Selects webgpu, software adapters allowed; resolves with why not when it cannot start. */
export async function startWebgpu(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const got = await selectBackend(undefined, 'webgpu', { allowFallbackAdapter: true });
  if (got.name === 'webgpu') return { ok: true };
  return { ok: false, reason: got.skipped.find((s) => s.backend === 'webgpu')?.reason ?? 'unknown' };
}

/**
 * Runs the enclosing suite on the webgpu backend and puts the previous backend back afterwards;
 * skips the suite (or fails it under TESSERA_REQUIRE_WEBGPU=1) when webgpu cannot start.
 */
export function useWebgpu(): void {
  let previous: string | null = null;
  before(async function () {
    this.timeout(60_000);
    previous = tf.engine().backendName ?? null;
    const started = await startWebgpu();
    if (started.ok) return;
    if (webgpuRequired()) throw new Error(`TESSERA_REQUIRE_WEBGPU=1 but the webgpu backend cannot start: ${started.reason}`);
    console.warn(`    (webgpu tests skipped: ${started.reason})`);
    this.skip();
  });
  after(async () => {
    if (previous !== null) await tf.setBackend(previous);
  });
}
