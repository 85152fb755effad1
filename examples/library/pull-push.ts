/**
 * Tessera as a library: create a table on a running `tessera ps`, pull rows, push gradients and
 * pull again, importing only from the package's entry point.
 *
 *   tessera ps --port 7000 &
 *   npx tsc -p examples/library/tsconfig.json && node dist/examples/library/pull-push.js 127.0.0.1:7000
 *
 * Prints one JSON line: the rows of ids [42, 7, 42] before and after one SGD push.
 */
import { createLogger, idsFrom, planShardMap, PsClient, TesseraError } from 'tessera';

async function main(addr: string): Promise<void> {
  const logger = createLogger({ level: 'warn' });
  const ps = new PsClient({ shardMap: planShardMap([{ id: 0, addr }]), logger, maxInflightPushes: 2 });
  try {
    await ps.waitReady();
    await ps.admin.installShardMap();
    await ps.admin.createTable({ name: 'user', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 0.5 } });
    const ids = idsFrom([42n, 7n, 42n]);
    const before = await ps.data.pull('user', ids, 4);                 // Float32Array [3 × 4]
    await ps.data.push('user', ids, new Float32Array(3 * 4).fill(0.1)); // async, bounded in flight
    await ps.data.flush();
    const after = await ps.data.pull('user', ids, 4);
    process.stdout.write(`${JSON.stringify({ before: Array.from(before), after: Array.from(after) })}\n`);
  } finally {
    ps.close();
  }
}

const addr = process.argv[2];
if (!addr) {
  process.stderr.write('usage: node pull-push.js HOST:PORT (a running tessera ps)\n');
  process.exitCode = 2;
} else {
  main(addr).catch((err: unknown) => {
    process.stderr.write(`pull-push: ${err instanceof TesseraError ? `${err.message} [${err.code}]` : String(err)}\n`);
    process.exitCode = 1;
  });
}
