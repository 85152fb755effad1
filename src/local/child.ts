/**
 * One child OS process of a local cluster: `tessera <role> …` with its stdout and stderr appended
 * to a log file in the run directory.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { TESSERA_BIN } from './ps-process';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  readonly running: boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<number | null>;
  kill(): Promise<void>;
}

/** Runs `tessera <args…>` with this process's environment plus `env`. */
export function spawnTessera(name: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = {}): Child {
  return spawnNode(name, [TESSERA_BIN, ...args], logFile, { ...process.env, ...env });
}

/** Runs `node <argv…>` with exactly `env`, its stdout and stderr appended to `logFile`. */
export function spawnNode(name: string, argv: string[], logFile: string, env: NodeJS.ProcessEnv): Child {
  const fd = fs.openSync(logFile, 'a');
  // detached: its own process group, so a terminal's Ctrl-C (SIGINT to the whole foreground
  // group) reaches only tessera local, which then stops the roles in order (LocalCluster.stop).
  const proc = spawn(process.execPath, argv, { stdio: ['ignore', fd, fd], env, detached: true });
  fs.closeSync(fd);
  let running = true;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => { running = false; resolve(code); }));
  return {
    name, proc, logFile, exited,
    get running() { return running; },
    async stop(graceMs = 10_000) {
      if (!running) return exited;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (running) proc.kill('SIGKILL');
      await exited;
    },
  };
}
