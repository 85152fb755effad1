/**
 * An opt-in CPU profile of a whole `tessera` process, for processes started by others (`tessera
 * local`, bench:cluster) where `node --cpu-prof` cannot be passed (NODE_OPTIONS refuses it).
 *
 * With `TESSERA_CPU_PROF_DIR=DIR` in its environment, a process profiles its main thread from
 * start-up and writes `DIR/<argv role>-<pid>.cpuprofile` (Chrome DevTools format, like
 * `--cpu-prof`) when it exits by any path that runs `exit` handlers (a finished command,
 * `process.exit`, the graceful stop after SIGTERM). Worker threads are not profiled.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Session } from 'node:inspector';

/** The environment variable naming the directory profiles go to; unset, nothing is profiled. */
export const CPU_PROF_DIR_ENV = 'TESSERA_CPU_PROF_DIR';

/**
 * Starts the profiler when `env[CPU_PROF_DIR_ENV]` is set; the profile is written at exit as
 * `<label>-<pid>.cpuprofile`. Returns whether it started.
 */
export function startCpuProfileFromEnv(label: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const dir = env[CPU_PROF_DIR_ENV];
  if (!dir) return false;
  fs.mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  // An in-thread session runs each command synchronously: these calls are done when they return.
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.once('exit', () => {
    session.post('Profiler.stop', (err, res) => {
      if (err) return;
      fs.writeFileSync(path.join(dir, `${label}-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
  return true;
}
