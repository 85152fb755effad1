/**
 * Child process for the grpc-js transport limit (grpc-echo.ts). Usage:
 *   node dist/bench/peers/grpc-echo-server.js <responseBytes>
 * Serves one bidi-streaming method with raw Buffer (de)serializers that answers every request
 * with one preallocated response of `responseBytes`, with the same server settings as a PS.
 * Prints `LISTENING <port>`; exits on SIGTERM.
 */
import * as grpc from '@grpc/grpc-js';
import { serverOptions } from '../../src/wire/grpc-options';

export const ECHO_SERVICE = {
  Echo: {
    path: '/tessera.bench.Echo/Echo', requestStream: true, responseStream: true,
    requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
  },
} satisfies grpc.ServiceDefinition;

if (require.main === module) {
  const response = Buffer.alloc(Number(process.argv[2]), 7);
  const server = new grpc.Server(serverOptions(64 << 20));
  const settings = (server as unknown as { commonServerOptions: { settings?: object } }).commonServerOptions;
  settings.settings = { ...settings.settings, initialWindowSize: 16 << 20 };
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', () => call.write(response));
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    process.stdout.write(`LISTENING ${port}\n`);
  });
  process.on('SIGTERM', () => server.forceShutdown());
}
