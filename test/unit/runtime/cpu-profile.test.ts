/**
 * TESSERA_CPU_PROF_DIR (issue 18 §3: profiling the processes bench:cluster starts): a real
 * `tessera` process writes a CPU profile of its main thread when it exits, and none without it.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CPU_PROF_DIR_ENV } from '../../../src/runtime/cpu-profile';

/** bin/tessera.js, from dist/test/unit/runtime/. */
const BIN = resolve(__dirname, '..', '..', '..', '..', 'bin', 'tessera.js');

async function tessera(args: string[], env: NodeJS.ProcessEnv): Promise<{ pid: number; code: number | null }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore', env: { ...process.env, ...env } });
  const [code] = await once(child, 'exit');
  return { pid: child.pid!, code: code as number | null };
}

describe('CPU profile of a tessera process (TESSERA_CPU_PROF_DIR)', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tessera-cpu-prof-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes <id>-<pid>.cpuprofile with samples when the process exits', async () => {
    const out = join(dir, 'profiles');
    const r = await tessera(['plan', '--id', 'ps-7', '--help'], { [CPU_PROF_DIR_ENV]: out });
    expect(r.code).to.equal(0);
    expect(readdirSync(out)).to.deep.equal([`ps-7-${r.pid}.cpuprofile`]);
    const profile = JSON.parse(readFileSync(join(out, `ps-7-${r.pid}.cpuprofile`), 'utf8')) as { nodes: unknown[]; samples: number[]; startTime: number; endTime: number };
    expect(profile.nodes.length).to.be.greaterThan(1);
    expect(profile.endTime).to.be.greaterThan(profile.startTime);
  });

  it('profiles nothing without it', async () => {
    const r = await tessera(['plan', '--help'], { [CPU_PROF_DIR_ENV]: '' });
    expect(r.code).to.equal(0);
    expect(readdirSync(dir)).to.deep.equal([]);
  });
});
