/**
 * The grpc-js transport limit: the same request/response sizes as a PS pull over one bidi
 * stream to a separate process, with no PS work at all. Shows how much of the gap to raw TCP is
 * grpc-js itself and how much is the PS and client.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { clientChannelOptions } from '../../src/wire/grpc-options';
import { ECHO_SERVICE } from './grpc-echo-server';

export interface GrpcEchoResult {
  roundTripsPerS: number;
  responseMbPerS: number;
}

/** Untimed warm-up (JIT, window growth). */
const WARMUP_MS = 500;

export async function measureGrpcStream(opts: { requestBytes: number; responseBytes: number; seconds: number; inflight: number }): Promise<GrpcEchoResult> {
  const child = spawn(process.execPath, [path.join(__dirname, 'grpc-echo-server.js'), String(opts.responseBytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      const m = /LISTENING (\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error('grpc-echo-server exited before listening')));
  });
  const Client = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), clientChannelOptions(64 << 20)) as unknown as grpc.Client & { Echo(): grpc.ClientDuplexStream<Buffer, Buffer> };
  const call = client.Echo();
  call.on('error', () => undefined); // CANCELLED when the client closes at the end
  const request = Buffer.alloc(opts.requestBytes, 1);
  const run = (ms: number) => new Promise<number>((resolve) => {
    let done = 0;
    let outstanding = 0;
    const deadline = Date.now() + ms;
    const onData = () => {
      outstanding--;
      done++;
      if (Date.now() < deadline) { outstanding++; call.write(request); } else if (outstanding === 0) { call.off('data', onData); resolve(done); }
    };
    call.on('data', onData);
    for (let i = 0; i < opts.inflight; i++) { outstanding++; call.write(request); }
  });
  try {
    await run(WARMUP_MS);
    const t0 = performance.now();
    const done = await run(opts.seconds * 1000);
    const s = (performance.now() - t0) / 1000;
    return { roundTripsPerS: done / s, responseMbPerS: (done * opts.responseBytes) / s / 1e6 };
  } finally {
    call.end();
    client.close();
    child.kill('SIGTERM');
    await exited;
  }
}
