/**
 * Spawns `node <script>` children for multi-process tests and waits on their output lines.
 * Every test that spawns must `kill()` (or await `exited`) in afterEach.
 */
import { ChildProcess, spawn } from 'node:child_process';

/** How a spawned child ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A spawned node child with its collected output. */
export interface Spawned {
  proc: ChildProcess;
  /** Every stdout line so far (pino logs land here). */
  stdout: string[];
  /** Every stderr line so far. */
  stderr: string[];
  /** stdout and stderr lines interleaved in arrival order, for error messages. */
  lines: string[];
  /**
   * Resolves with the first line (stdout or stderr, past or future) matching `re`. Rejects with
   * the collected output if the child exits first or `timeoutMs` passes.
   */
  waitForLine(re: RegExp, timeoutMs: number): Promise<string>;
  /** Resolves once the child has exited. */
  exited: Promise<ExitInfo>;
  /** Sends `signal` (default SIGTERM) unless already exited; resolves on exit. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
}

/** Output lines quoted in a rejection, so a failing test shows why without flooding the log. */
const OUTPUT_TAIL_LINES = 60;

/**
 * Runs `process.execPath script ...args` with piped output.
 *
 * ```ts
 * const ps = spawnNode('bin/tessera.js', ['ps', '--port', String(port)]);
 * await ps.waitForLine(/"msg":"listening"/, 5000);
 * afterEach(() => ps.kill());
 * ```
 */
export function spawnNode(script: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Spawned {
  const proc = spawn(process.execPath, [script, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let exitInfo: ExitInfo | undefined;
  const exitListeners = new Set<(info: ExitInfo) => void>();

  const attach = (stream: NodeJS.ReadableStream, sink: string[]): void => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) push(line, sink);
    });
    stream.on('end', () => {
      if (partial !== '') push(partial, sink);
      partial = '';
    });
  };
  const push = (line: string, sink: string[]): void => {
    sink.push(line);
    lines.push(line);
    for (const l of [...listeners]) l(line);
  };
  attach(proc.stdout!, stdout);
  attach(proc.stderr!, stderr);

  // 'close' (not 'exit') fires after the output streams end, so no line is missed.
  const exited = new Promise<ExitInfo>((resolve) => {
    const done = (info: ExitInfo): void => {
      if (exitInfo) return;
      exitInfo = info;
      for (const l of [...exitListeners]) l(info);
      resolve(info);
    };
    proc.once('close', (code, signal) => done({ code, signal }));
    proc.once('error', () => done({ code: null, signal: null }));
  });

  const describe = (): string => `\n--- output of ${script} (tail) ---\n${lines.slice(-OUTPUT_TAIL_LINES).join('\n')}`;

  const waitForLine = (re: RegExp, timeoutMs: number): Promise<string> => {
    const seen = lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    if (exitInfo) return Promise.reject(new Error(`${script} exited (${JSON.stringify(exitInfo)}) before printing ${re}${describe()}`));
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        listeners.delete(onLine);
        exitListeners.delete(onExit);
      };
      const onLine = (line: string): void => {
        if (!re.test(line)) return;
        cleanup();
        resolve(line);
      };
      const onExit = (info: ExitInfo): void => {
        cleanup();
        reject(new Error(`${script} exited (${JSON.stringify(info)}) before printing ${re}${describe()}`));
      };
      // The caller's bound on how long the event may take; it fails the wait, not the child.
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} from ${script}${describe()}`));
      }, timeoutMs);
      listeners.add(onLine);
      exitListeners.add(onExit);
    });
  };

  const kill = (signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitInfo> => {
    if (!exitInfo) proc.kill(signal);
    return exited;
  };

  return { proc, stdout, stderr, lines, waitForLine, exited, kill };
}
