/**
 * The cluster sections of the GPU check: runs the real `tessera local` (its own etcd, PS, workers
 * and chief as separate processes) with the given flags and reports its --json result together
 * with the backend each worker actually computed on, read from the workers' logs in the run
 * directory. A worker whose preferred backend cannot start falls back with a warning, so without
 * this a "webgpu" run could silently be a wasm one.
 *
 *   node dist/bench/gpu-check.js cluster --backend webgpu --run-dir DIR [any tessera local flag]
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The `tessera` binary of this checkout (this file runs from dist/bench/). */
const TESSERA_BIN = path.resolve(__dirname, '..', '..', 'bin', 'tessera.js');

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

/** The backend each `worker-N.log` in `runDir` says it started on ('worker ready'). */
export function workerBackends(runDir: string): string[] {
  const logs = fs.readdirSync(runDir).filter((f) => /^worker-\d+\.log$/.test(f)).sort();
  return logs.map((f) => {
    for (const line of fs.readFileSync(path.join(runDir, f), 'utf8').split('\n')) {
      if (!line.includes('"worker ready"')) continue;
      try { return String((JSON.parse(line) as { backend?: unknown }).backend); } catch { /* not JSON */ }
    }
    return 'unknown';
  });
}

/** The section's JSON: tessera local's result, the workers' backends, and whether they match. */
export async function runClusterSection(): Promise<Record<string, unknown>> {
  const backend = flag('backend');
  const runDir = flag('run-dir');
  if (backend === undefined || runDir === undefined) throw new Error('cluster needs --backend NAME and --run-dir DIR');
  const args = ['local', ...process.argv.slice(3).filter((a) => a !== '--json'), '--json'];
  const child = spawn(process.execPath, [TESSERA_BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const last = stdout.trim().split('\n').pop() ?? '';
  let result: Record<string, unknown> = {};
  try { result = JSON.parse(last) as Record<string, unknown>; } catch { /* reported below */ }
  const backends = fs.existsSync(runDir) ? workerBackends(runDir) : [];
  const onBackend = backends.length > 0 && backends.every((b) => b === backend);
  return {
    ok: code === 0 && onBackend, ...result, worker_backends: backends,
    ...(code !== 0 ? { error: `tessera local exited with ${code}` } : onBackend ? {} : { error: `workers ran on ${backends.join(', ') || 'nothing'}, not ${backend}` }),
  };
}
