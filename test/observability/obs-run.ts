/**
 * A `tessera local` run for the observability tests: the synthetic DeepFM job with feature
 * admission, an eviction budget and a disk tier on its table (so the admission, eviction and
 * tier series exist), asynchronous pushes, two epochs (so an eval lands mid-run) and a
 * checkpoint every 2 s, started as a real `tessera local` process.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { SYNTHETIC_SPEC } from '../helpers/cluster';

/** A running `tessera local`. */
export interface ObsRun {
  readonly runDir: string;
  readonly job: string;
  readonly proc: ChildProcess;
  /** Resolves with the exit code and output once `tessera local` exits. */
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** True once it has exited. */
  finished(): boolean;
  /** Resolves with the first match of `re` in its stderr; rejects if it exits first. */
  stderrMatch(re: RegExp): Promise<RegExpExecArray>;
}

/** Writes the job spec and starts `tessera local` in `dir`. */
export function startObsRun(dir: string, job: string, rows = 100_000): ObsRun {
  const spec = parse(fs.readFileSync(SYNTHETIC_SPEC, 'utf8'));
  spec.name = job;
  spec.features.tables[0].admission = { min_count: 2 };
  spec.features.tables[0].eviction = { max_rows: 65536, spill: true };
  spec.training.max_inflight_pushes = 2;
  const specFile = path.join(dir, 'obs.yaml');
  fs.writeFileSync(specFile, stringify(spec));
  const runDir = path.join(dir, 'run');
  const proc = spawn(process.execPath, [TESSERA_BIN, 'local', '--job', specFile, '--name', job, '--synthetic-rows', String(rows), '--epochs', '2',
    '--checkpoint-every', '2', '--run-dir', runDir, '--backend', 'wasm', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  proc.stdout!.on('data', (c) => { stdout += c; });
  proc.stderr!.on('data', (c) => { stderr += c; });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => proc.once('exit', (code) => {
    exited = true;
    resolve({ code, stdout, stderr });
  }));
  const stderrMatch = (re: RegExp) => new Promise<RegExpExecArray>((resolve, reject) => {
    const look = () => {
      const m = re.exec(stderr);
      if (!m) return false;
      proc.stderr!.off('data', look);
      resolve(m);
      return true;
    };
    if (look()) return;
    proc.stderr!.on('data', look);
    void done.then(() => look() || reject(new Error(`tessera local exited before printing ${re}: ${stderr.slice(-2000)}`)));
  });
  return { runDir, job, proc, done, finished: () => exited, stderrMatch };
}

/** Resolves once `file` exists (written by the run), or rejects when the run exits first. */
export async function awaitFile(run: ObsRun, file: string): Promise<void> {
  while (!fs.existsSync(file)) {
    if (run.finished()) throw new Error(`tessera local exited before writing ${file}: ${(await run.done).stderr.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the file appears once the cluster starts
  }
}

/** The /metrics addresses currently listed in the run's file_sd file. */
export function scrapeTargets(run: ObsRun): string[] {
  const groups = JSON.parse(fs.readFileSync(path.join(run.runDir, 'prometheus-targets.json'), 'utf8')) as { targets: string[] }[];
  return groups.flatMap((g) => g.targets);
}
