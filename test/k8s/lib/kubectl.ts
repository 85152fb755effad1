/**
 * `kubectl kustomize` for the deploy tests: renders a kustomization directory offline (no API
 * server). Uses $KUBECTL or `kubectl` on PATH; the kustomizations need kubectl 1.22 or newer
 * (kustomize v4.2+: `labels` and components).
 */
import { spawnSync } from 'child_process';

/** Message a suite skips with when kubectl is absent or too old (and TESSERA_REQUIRE_KUBECTL is not 1). */
export const KUBECTL_SKIP_MESSAGE = 'kubectl 1.22 or newer not installed (Debian bookworm\'s kubernetes-client is 1.20): install a newer kubectl (or set KUBECTL)';

/** The oldest kubectl minor version whose kustomize renders deploy/k8s. */
const MIN_MINOR = 22;

/** The kubectl binary the tests use. */
export function kubectlBinary(): string {
  return process.env.KUBECTL || 'kubectl';
}

/** True when the kubectl binary runs and is 1.22 or newer (older ones cannot render the kustomizations). */
export function kubectlAvailable(): boolean {
  const r = spawnSync(kubectlBinary(), ['version', '--client'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) return false;
  const m = /v1\.(\d+)\./.exec(r.stdout);
  return m !== null && Number(m[1]) >= MIN_MINOR;
}

/** True when a missing kubectl must fail the suite instead of skipping it (CI sets it). */
export function kubectlRequired(): boolean {
  return process.env.TESSERA_REQUIRE_KUBECTL === '1';
}

/**
 * Renders `dir` with `kubectl kustomize`: the YAML stream, and the warnings kubectl printed on
 * stderr (deprecated syntax, for one). Throws with kubectl's stderr on failure.
 */
export function kustomizeWithWarnings(dir: string): { yaml: string; warnings: string[] } {
  const r = spawnSync(kubectlBinary(), ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${kubectlBinary()} kustomize ${dir}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${kubectlBinary()} kustomize ${dir} failed (exit ${r.status}): ${r.stderr.trim()}`);
  return { yaml: r.stdout, warnings: r.stderr.split('\n').filter((l) => l.trim() !== '') };
}

/** Renders `dir` with `kubectl kustomize` and returns the YAML stream (warnings dropped). */
export function kustomize(dir: string): string {
  return kustomizeWithWarnings(dir).yaml;
}
