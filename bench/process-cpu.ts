/**
 * CPU seconds per process of a running `tessera local` cluster, read from /proc while it runs
 * (a process that has exited and been reaped can no longer be read, so the last reading counts).
 * bench:cluster reports the split per process kind: etcd, chief, each PS, each worker.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { LocalCluster } from '../src/local/local-cluster';
import type { JobPhase } from '../src/control/job-types';

/** Clock ticks per second of /proc's utime and stime (`getconf CLK_TCK`). */
export const CLOCK_TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** utime + stime of process `pid` (every thread) in seconds, or null once it is gone. */
export function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    // After "(comm) ", field 3 of proc(5) is index 0: utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}

/** Per-process CPU seconds: the whole run and the training phase (first `train` status to the first other one). */
export interface ProcessCpuSplit {
  total: Record<string, number>;
  train: Record<string, number>;
}

/**
 * Samples every process of `cluster` at each status poll: call `sample(phase)` from waitDone's
 * callback and `sample()` once more before stopping the cluster.
 */
export class ProcessCpuSampler {
  private readonly last = new Map<string, number>();
  private readonly atTrainStart = new Map<string, number>();
  private readonly atTrainEnd = new Map<string, number>();
  private phase: JobPhase | undefined;

  constructor(private readonly cluster: LocalCluster) {}

  /** Reads every process's CPU time now; `phase` is the job's phase just polled. */
  sample(phase?: JobPhase): void {
    for (const [name, pid] of this.pids()) {
      const s = processCpuSeconds(pid);
      if (s !== null) this.last.set(name, s);
    }
    if (phase === 'train' && this.phase !== 'train') this.copy(this.atTrainStart);
    if (phase !== undefined && phase !== 'train' && this.phase === 'train') this.copy(this.atTrainEnd);
    if (phase !== undefined) this.phase = phase;
  }

  /** The split so far; a process's training CPU is 0 when the training phase was not seen. */
  split(): ProcessCpuSplit {
    const round = (x: number) => Math.round(x * 100) / 100;
    const total: Record<string, number> = {};
    const train: Record<string, number> = {};
    for (const [name, s] of this.last) {
      total[name] = round(s);
      const end = this.atTrainEnd.get(name) ?? s;
      train[name] = round(Math.max(0, end - (this.atTrainStart.get(name) ?? end)));
    }
    return { total, train };
  }

  private copy(into: Map<string, number>): void {
    for (const [name, s] of this.last) into.set(name, s);
  }

  private pids(): [string, number | undefined][] {
    const c = this.cluster;
    return [
      ['etcd', c.etcd?.proc.pid],
      ...c.chiefs.map((x): [string, number | undefined] => [x.name, x.proc.pid]),
      ...c.ps.map((p, i): [string, number | undefined] => [`ps-${i}`, p.proc.pid]),
      ...c.workers.map((w): [string, number | undefined] => [w.name, w.proc.pid]),
    ];
  }
}
