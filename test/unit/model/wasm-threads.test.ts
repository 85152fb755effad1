/**
 * Multi-threaded wasm kernels under Node (src/model/wasm-threads.ts): the pthread bridge finds
 * what it needs in the installed package, a process started with 2 threads reports 2 and
 * computes the same product as with 1, and the pool threads do not keep the process alive.
 */
import * as path from 'node:path';
import { expect } from 'chai';
import { pthreadWorkerSource } from '../../../src/model/wasm-threads';
import { spawnNode, Spawned } from '../../helpers/spawn';

const CHILD = path.resolve(__dirname, '../../helpers/wasm-threads-child.js');
const WASM_DIR = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));

interface ChildResult { name: string; detail: string; reported: number | null; maxErr: number }

async function run(threads: number): Promise<ChildResult> {
  const child: Spawned = spawnNode(CHILD, [String(threads)]);
  // Awaiting the exit (not a kill) is the check that pool threads do not hold the process open.
  const exit = await child.exited;
  expect(exit, child.lines.join('\n')).to.deep.equal({ code: 0, signal: null });
  return JSON.parse(child.stdout[child.stdout.length - 1]) as ChildResult;
}

describe('wasm kernel threads', function () {
  this.timeout(60000);

  it('finds the Emscripten pthread worker script in the installed tfjs-backend-wasm', () => {
    const src = pthreadWorkerSource(WASM_DIR);
    expect(src).to.be.a('string');
    expect(src).to.include('importScripts');
    expect(src).to.include('WasmBackendModuleThreadedSimd');
    expect(pthreadWorkerSource('/nonexistent')).to.equal(null);
  });

  it('runs 2 threads, with the same product as 1 thread, and the process exits by itself', async () => {
    const [one, two] = [await run(1), await run(2)];
    expect(one.name).to.equal('wasm');
    expect(one.detail).to.match(/threads=1\)/);
    expect(two.detail).to.match(/threads=2\)/);
    expect(two.reported).to.equal(2);
    expect(one.maxErr).to.be.below(1e-4);
    expect(two.maxErr).to.be.below(1e-4);
  });
});
