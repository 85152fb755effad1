/**
 * Issue 23, "done when": a bounded, fixed-seed run of the PS fuzzer (bench/fuzz, the same code as
 * `npm run fuzz`) against a real `tessera ps` process: random bytes, mutated and hostile messages
 * on every data-plane and admin method, streams with garbage interleaved, broken gRPC framing.
 * On the code before this issue the same run found INTERNAL answers and calls that hung.
 */
import { expect } from 'chai';
import { runFuzz } from '../../bench/fuzz/fuzz-ps';

describe('fuzzing a tessera ps process (issue 23)', function () {
  this.timeout(120_000);

  it('400 fixed-seed cases: no crash, no hang, no INTERNAL, refused pushes change no row, one SIGTERM ends it', async () => {
    const r = await runFuzz({ seed: 23, cases: 400, hangMs: 5_000, maxRequestBytes: 1 << 20 }) as Record<string, any>;
    const why = JSON.stringify({ examples: r.examples, log: r.log, by_status: r.by_status });
    expect(r.cases).to.equal(400);
    expect(r.crashes, why).to.equal(0);
    expect(r.hangs, why).to.equal(0);
    expect(r.internal, why).to.equal(0);
    expect(r.watched_rows_changed_by_refused_pushes, why).to.equal(0);
    expect(r.sentinel_rows_unchanged).to.equal(true);
    expect(r.cwd_entries, 'entries in the PS\'s working directory').to.equal(0);
    expect(r.root_entries_not_ids, 'entries in the checkpoint root that are not checkpoint ids').to.equal(0);
    expect(r.sigterm).to.include({ code: 0, signal: null });
    // The run exercised what it claims to: refusals, in-band errors and accepted requests alike.
    expect(r.by_status.INVALID_ARGUMENT).to.be.greaterThan(50);
    expect(r.by_status.OK).to.be.greaterThan(50);
    expect(Object.keys(r.by_method).length).to.be.greaterThan(12);
  });
});
