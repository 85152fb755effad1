/**
 * `tessera_process_memory_limit_bytes`: the memory this process may use, so an alert can compare
 * `process_resident_memory_bytes` against it. It is the container's cgroup limit (v2
 * `memory.max`, v1 `memory.limit_in_bytes`), or the host's memory when no limit is set.
 */
import * as fs from 'node:fs';
import { totalmem } from 'node:os';
import { Gauge, Registry } from 'prom-client';

const CGROUP_LIMIT_FILES = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'];

/** The cgroup memory limit, capped at the host's memory ("max" or no cgroup file: the host's). */
export function memoryLimitBytes(files: readonly string[] = CGROUP_LIMIT_FILES): number {
  const host = totalmem();
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    const n = Number(text);
    // cgroup v1 reports "no limit" as a huge number; v2 as "max".
    return Number.isFinite(n) && n > 0 ? Math.min(n, host) : host;
  }
  return host;
}

/** Registers the gauge on `registry` (read at scrape time: a container's limit can change). */
export function registerMemoryLimit(registry: Registry): void {
  new Gauge({
    name: 'tessera_process_memory_limit_bytes', help: 'Memory this process may use: its container\'s cgroup limit, or the host\'s memory.', registers: [registry],
    collect() {
      this.set(memoryLimitBytes());
    },
  });
}
