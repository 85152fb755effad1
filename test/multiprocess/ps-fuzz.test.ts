/**
 * Issue 23, "done when": a bounded, fixed-seed run of the PS fuzzer (bench/fuzz, the same code as
 * `npm run fuzz`) against a real `tessera ps` process: random bytes, mutated and hostile messages
 * on every data-plane and admin method, streams with garbage interleaved, broken gRPC framing.
 * On the code before this issue the same run found INTERNAL answers and calls that hung.
 * Issue #16 added the load phase: 200 streams at once (1,000 in `npm run fuzz`) and one 100 MiB
 * message to each of Push, PushStream, Pull and CreateTable, refused by the request limit.
 * The PS runs with a disk tier (`--tier-dir`), and fixed spill-table cases go first (issue 23).
 */
import { expect } from 'chai';
import { runFuzz } from '../../bench/fuzz/fuzz-ps';
import { DATA_PLANES } from '../../src/wire/grpc-options';

// Issue 18: on both data planes (grpc-js, and gRPC framing on node:http2; ADR 0038).
for (const dataPlane of DATA_PLANES) describe(`fuzzing a tessera ps process (issue 23), data plane ${dataPlane}`, function () {
  this.timeout(120_000);

  it('400 fixed-seed cases, 200 concurrent streams, 100 MiB messages: no crash, no hang, no INTERNAL, refused pushes change no row, one SIGTERM ends it', async () => {
    const r = await runFuzz({ seed: 23, cases: 400, hangMs: 5_000, maxRequestBytes: 1 << 20, streams: 200, hugeBytes: 100 << 20, dataPlane }) as Record<string, any>;
    const why = JSON.stringify({ examples: r.examples, log: r.log, by_status: r.by_status });
    expect(r.cases, 'the tier cases, the cases, the streams and the four huge messages').to.equal(5 + 400 + 200 + 4);
    expect(r.crashes, why).to.equal(0);
    expect(r.hangs, why).to.equal(0);
    expect(r.internal, why).to.equal(0);
    expect(r.watched_rows_changed_by_refused_pushes, why).to.equal(0);
    expect(r.sentinel_rows_unchanged).to.equal(true);
    expect(r.cwd_entries, 'entries in the PS\'s working directory').to.equal(0);
    expect(r.root_entries_not_ids, 'entries in the checkpoint root that are not checkpoint ids').to.equal(0);
    expect(r.sigterm).to.include({ code: 0, signal: null });
    // Issue 23: on a PS with a disk tier, spill tables below one slab (or one row) are refused and
    // a spill table dropped before it spilled is fine; both used to abort the PS inside LMDB.
    expect(r.tier_cases, why).to.deep.equal({
      'CreateTable tier: maxRows 100, spill': 'INVALID_ARGUMENT', 'CreateTable tier: maxRows 1, spill': 'INVALID_ARGUMENT',
      'CreateTable tier: maxBytes 1, spill': 'INVALID_ARGUMENT', 'CreateTable tier: maxRows 65536 (one slab), spill': 'OK',
      'DropTable tier: the spill table, before it spilled': 'OK',
    });
    // The run exercised what it claims to: refusals, in-band errors and accepted requests alike.
    expect(r.by_status.INVALID_ARGUMENT).to.be.greaterThan(50);
    expect(r.by_status.OK).to.be.greaterThan(50);
    expect(Object.keys(r.by_method).length).to.be.greaterThan(12);
    // Issue #16: every stream of the 200 opened at once ran to its status; the huge messages were
    // refused by the request limit (never decoded, never applied), and the PS's memory stayed bounded.
    expect(r.concurrent_streams.streams).to.equal(200);
    expect(Object.values(r.concurrent_streams.by_status as Record<string, number>).reduce((a, b) => a + b, 0)).to.equal(200);
    expect(r.huge_messages.by_method).to.deep.equal({ Push: 'RESOURCE_EXHAUSTED', PushStream: 'RESOURCE_EXHAUSTED', Pull: 'RESOURCE_EXHAUSTED', CreateTable: 'RESOURCE_EXHAUSTED' });
    expect(r.huge_messages.rss_after_mb, 'the PS never held a 100 MiB message').to.be.below(r.rss_before_mb + 100);
  });
});
