/**
 * Tessera as a library, exactly as README.md shows it ("Use it as a library"; a test keeps the two
 * equal): create a table on a running `tessera ps`, pull rows, push gradients and pull again.
 *
 *   tessera ps --port 7000 &
 *   npx tsc -p examples/library/tsconfig.json && node dist/examples/library/pull-push.js 127.0.0.1:7000
 *
 * Prints one JSON line: the rows of ids [42, 7, 42] before and after one SGD push.
 */
import { createLogger, idsFrom, planShardMap, PsClient } from '@tessera-ps/tessera';

async function main(addr = process.argv[2] ?? '127.0.0.1:7000'): Promise<void> {
  const ps = new PsClient({ shardMap: planShardMap([{ id: 0, addr }]), logger: createLogger({ level: 'warn' }), maxInflightPushes: 2 });
  await ps.waitReady();
  await ps.admin.installShardMap();
  await ps.admin.createTable({ name: 'user', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 0.5 } });
  const ids = idsFrom([42n, 7n, 42n]);
  const before = await ps.data.pull('user', ids, 4);                  // Float32Array [3 × 4]
  await ps.data.push('user', ids, new Float32Array(3 * 4).fill(0.1)); // async, bounded in flight
  await ps.data.flush();
  const after = await ps.data.pull('user', ids, 4);
  console.log(JSON.stringify({ before: Array.from(before), after: Array.from(after) }));
  ps.close();
}

main().catch((err: unknown) => { console.error(`pull-push: ${String(err)}`); process.exitCode = 1; });
