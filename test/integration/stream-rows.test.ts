/**
 * Issue #15 §1 against a real redis-server: the Redis stream log appends and reads entries, and
 * StreamRows yields one partition per batch with its last entry id, skipping bad entries with one
 * reported line each, and resuming exactly after a position.
 */
import { expect } from 'chai';
import { CRITEO_SCHEMA } from '../../src/data/record';
import { RedisStreamLog } from '../../src/stream/redis-stream-log';
import { START_POSITION } from '../../src/stream/stream-log';
import { StreamRows } from '../../src/stream/stream-rows';
import { parseStreamUrl } from '../../src/stream/stream-url';
import { redisForSuite } from '../helpers/redis';

function line(label: number, c1: string): string {
  return [String(label), ...Array(13).fill('1'), c1, ...Array(25).fill('')].join('\t');
}

describe('StreamRows over a real Redis (issue #15)', () => {
  const redis = redisForSuite();
  let log: RedisStreamLog;
  beforeEach(() => { log = new RedisStreamLog(parseStreamUrl(redis.handle.streamUrl('unused'))); });
  afterEach(async () => log.close());

  it('reads two partitions in batches of one partition each, skipping and reporting bad entries', async () => {
    const ids = await log.append([
      { key: 'a:0', fields: { line: line(1, 'x0') } }, { key: 'a:1', fields: { line: line(0, 'y0') } },
      { key: 'a:0', fields: { bogus: '1' } }, { key: 'a:0', fields: { json: JSON.stringify({ label: 1, C1: 'x2' }) } },
      { key: 'a:1', fields: { line: 'short' } },
    ]);
    expect(ids).to.have.length(5);
    const bad: string[] = [];
    const rows = new StreamRows(log, {
      after: new Map([['a:0', START_POSITION], ['a:1', START_POSITION]]), schema: CRITEO_SCHEMA, blockMs: 50, roundMs: 10_000,
      onBad: (where, reason) => bad.push(`${where}: ${reason}`),
    });
    const got: { key: string; id: string; c1: (string | null)[] }[] = [];
    for await (const b of rows.positionedBatches(10)) got.push({ ...b.next, c1: b.rows.map((r) => r.categorical[0]) });
    expect(got).to.deep.equal([{ key: 'a:0', id: ids[3], c1: ['x0', 'x2'] }, { key: 'a:1', id: ids[4], c1: ['y0'] }]);
    expect(bad).to.deep.equal([`a:0@${ids[2]}: entry has no 'line' or 'json' field (fields: bogus)`, `a:1@${ids[4]}: expected 40 fields, got 1`]);
    expect(rows.stats()).to.include({ rows: 3, bad: 2 });
  });

  it('resumes exactly after a position and caps a batch at batchSize', async () => {
    const ids = await log.append(Array.from({ length: 7 }, (_, i) => ({ key: 'b:0', fields: { line: line(i % 2, `v${i}`) } })));
    const rows = new StreamRows(log, { after: new Map([['b:0', ids[1]]]), schema: CRITEO_SCHEMA, blockMs: 50, roundMs: 10_000 });
    const got: string[][] = [];
    for await (const b of rows.positionedBatches(3)) got.push(b.rows.map((r) => r.categorical[0]!));
    expect(got).to.deep.equal([['v2', 'v3', 'v4'], ['v5', 'v6']]);
    expect((await log.newest('b:0', 2)).map((e) => e.id)).to.deep.equal(ids.slice(5));
  });
});
