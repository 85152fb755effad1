/**
 * Child process for the raw-TCP limit bench (tcp-echo.ts). Usage:
 *   node dist/bench/peers/tcp-echo-server.js <responseBytes>
 * Listens on 127.0.0.1:0 and prints `LISTENING <port>`. For every request frame
 * (u32 little-endian length + payload) on a connection it writes one response frame of
 * `responseBytes` from a single preallocated buffer. It exits on SIGTERM or when stdin closes.
 */
import * as net from 'node:net';

const responseBytes = Number(process.argv[2]);
if (!Number.isInteger(responseBytes) || responseBytes < 0) {
  console.error('usage: tcp-echo-server.js <responseBytes>');
  process.exit(2);
}
const response = Buffer.alloc(4 + responseBytes, 7);
response.writeUInt32LE(responseBytes, 0);

const server = net.createServer((sock) => {
  sock.setNoDelay(true);
  // Frame parser state: header bytes still to read (collected in `header`), then payload bytes
  // to skip. Chunks may split a header or hold several frames; nothing is copied but the header.
  const header = Buffer.alloc(4);
  let headerHave = 0;
  let payloadLeft = -1; // -1: reading header
  sock.on('data', (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      if (payloadLeft < 0) {
        const n = Math.min(4 - headerHave, chunk.length - off);
        chunk.copy(header, headerHave, off, off + n);
        headerHave += n;
        off += n;
        if (headerHave < 4) break;
        headerHave = 0;
        payloadLeft = header.readUInt32LE(0);
      }
      const n = Math.min(payloadLeft, chunk.length - off);
      payloadLeft -= n;
      off += n;
      if (payloadLeft === 0) {
        payloadLeft = -1;
        sock.write(response);
      }
    }
  });
  sock.on('error', () => sock.destroy());
});

server.listen(0, '127.0.0.1', () => {
  console.log(`LISTENING ${(server.address() as net.AddressInfo).port}`);
});
process.on('SIGTERM', () => process.exit(0));
// Parent died without signalling: don't linger.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
