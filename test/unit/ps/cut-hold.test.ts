import { expect } from 'chai';
import { ERROR_CODES, TesseraError } from '../../../src/common/errors';
import { silentLogger } from '../../../src/common/logger';
import { CutHold, type Schedule } from '../../../src/ps/cut-hold';
import { StepLedger } from '../../../src/ps/step-ledger';
import type { StepTag } from '../../../src/wire/step-tag';

// Issue 15 (pause per delta <= 50 ms): the PS's hold and cut at per-worker step numbers (ADR 0040).

const A = 0xaaaa_0000_0000_0001n;
const B = 0xbbbb_0000_0000_0002n;

function tag(client: bigint, step: number, o: Partial<StepTag> = {}): StepTag {
  return { client, step, parts: 1, ackedThrough: step - 1, positions: new TextEncoder().encode(`${client.toString(16)}@${step}`), ...o };
}

/** Timers that fire only when the test says so. */
function manualTimers(): { schedule: Schedule; fire: () => void; pending: () => number } {
  const timers = new Set<() => void>();
  return {
    schedule: (_ms, fn) => { timers.add(fn); return () => { timers.delete(fn); }; },
    fire: () => { const all = [...timers]; timers.clear(); for (const fn of all) fn(); },
    pending: () => timers.size,
  };
}

/** One PS as the hold sees it: what it applied, in order, and the cut (a copy of that log). */
class FakePs {
  readonly applied: string[] = [];
  readonly timers = manualTimers();
  readonly hold = new CutHold({ logger: silentLogger(), schedule: this.timers.schedule });
  push(t: StepTag | undefined, label = t ? `${t.client === A ? 'A' : 'B'}${t.step}` : 'untagged', outcome: 'applied' | 'refused' | 'duplicate' = 'applied'): void {
    this.hold.offer(t, () => { if (outcome === 'applied') this.applied.push(label); return outcome; });
  }
  cut(id: string, steps: Map<bigint, number>): Promise<string[]> {
    return this.hold.cutAt(id, steps, 1_000, () => [...this.applied]);
  }
}

const text = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b) : undefined);

describe('StepLedger: which steps of each worker are complete on one PS (issue 15)', () => {
  it('completes a step once every part sent here is answered, in step order', () => {
    const l = new StepLedger();
    const s1a = tag(A, 1, { parts: 2 });
    const s2 = tag(A, 2, { ackedThrough: 0 });
    for (const t of [s1a, s2]) l.heard(t);
    l.applied(s2);
    expect(l.complete(A), 'step 2 is done, but step 1 still misses a part').to.equal(0);
    l.applied(s1a);
    expect(l.complete(A)).to.equal(0);
    l.applied(tag(A, 1, { parts: 2 }));
    expect(l.complete(A)).to.equal(2);
    const highest = l.highestApplied().get(A);
    expect(highest?.step).to.equal(2);
    expect(text(highest?.positions), 'the positions of the highest step applied').to.equal('aaaa000000000001@2');
  });

  it('takes a worker first heard mid-run as complete through what it says it saw answered', () => {
    const l = new StepLedger();
    l.heard(tag(A, 40, { ackedThrough: 38 }));
    expect(l.complete(A)).to.equal(38);
    l.heard(tag(A, 41, { ackedThrough: 39 }));
    expect(l.complete(A), 'step 39 answered everywhere, 40 not yet here').to.equal(39);
  });

  it('remembers a refused part until the worker says its step was answered everywhere', () => {
    const l = new StepLedger();
    const t = tag(A, 1);
    l.heard(t);
    l.refused(t);
    expect(l.complete(A), 'answered here (nothing applied)').to.equal(1);
    expect(l.refusedUpTo(A, 5)).to.equal(1);
    expect(l.refusedUpTo(A, 0)).to.equal(undefined);
    l.heard(tag(A, 2, { ackedThrough: 1 }));
    expect(l.refusedUpTo(A, 5)).to.equal(undefined);
  });

  // Issue 18 (ADR 0045, amendment 4): a tag's positions are a view into a request buffer the
  // node:http2 PS reuses for the next push; the ledger copied them with slice(), which on a
  // Buffer view is another view, so a worker's positions became the next push's bytes.
  it('keeps its own copy of the positions of a tag read from a Buffer (issue 18)', () => {
    const l = new StepLedger();
    const request = Buffer.from('....aaaa000000000001@1....');
    const t = tag(A, 1, { positions: request.subarray(4, 22) });
    l.heard(t);
    l.applied(t);
    request.write('bbbb000000000002@9', 4); // the buffer serves the next request
    expect(text(l.highestApplied().get(A)?.positions)).to.equal('aaaa000000000001@1');
  });

  it('forgets the least recently heard worker beyond its bound', () => {
    const l = new StepLedger(1);
    for (const t of [tag(A, 1), tag(B, 1)]) { l.heard(t); l.applied(t); }
    expect([...l.highestApplied().keys()]).to.deep.equal([B]);
  });
});

describe('CutHold: a cut at per-worker steps, without stopping workers (issue 15)', () => {
  it('applies pushes at once while no cut is prepared', () => {
    const ps = new FakePs();
    ps.push(tag(A, 1));
    expect(ps.applied).to.deep.equal(['A1']);
    expect(ps.hold.holding).to.equal(null);
  });

  it('holds pushes after prepare, cuts at exactly the steps asked, answers their positions, then applies the rest in arrival order', async () => {
    const ps = new FakePs();
    ps.push(tag(A, 1));
    ps.push(tag(B, 1));
    const highest = ps.hold.prepare('c1', 1_000);
    expect([...highest].map(([w, a]) => [w, a.step, text(a.positions)])).to.deep.equal([[A, 1, 'aaaa000000000001@1'], [B, 1, 'bbbb000000000002@1']]);
    ps.push(tag(A, 2));
    ps.push(tag(B, 2));
    ps.push(undefined);
    ps.push(tag(A, 3));
    expect(ps.applied, 'no tagged push applied while held; an untagged one carries no positions and goes through').to.deep.equal(['A1', 'B1', 'untagged']);
    expect(ps.hold.held).to.equal(3);
    // Another PS had applied A's step 2: the chief cuts at A 2, B 1.
    expect(await ps.cut('c1', new Map([[A, 2], [B, 1]]))).to.deep.equal(['A1', 'B1', 'untagged', 'A2']);
    expect(ps.applied).to.deep.equal(['A1', 'B1', 'untagged', 'A2', 'B2', 'A3']);
    expect(ps.hold.holding).to.equal(null);
    expect(ps.timers.pending(), 'no timer left behind').to.equal(0);
  });

  it('waits for a step part still on its way, applying it on arrival, before cutting', async () => {
    const ps = new FakePs();
    ps.hold.prepare('c1', 1_000);
    let cut: string[] | undefined;
    const done = ps.cut('c1', new Map([[A, 2]])).then((r) => { cut = r; });
    ps.push(tag(A, 1, { parts: 2 }), 'A1a');
    ps.push(tag(A, 3, { ackedThrough: 0 }), 'A3');
    await Promise.resolve();
    expect(cut, 'step 1 misses a part; step 2 none arrived').to.equal(undefined);
    ps.push(tag(A, 1, { parts: 2 }), 'A1b');
    ps.push(tag(A, 2), 'A2');
    await done;
    expect(cut).to.deep.equal(['A1a', 'A1b', 'A2']);
    expect(ps.applied).to.deep.equal(['A1a', 'A1b', 'A2', 'A3']);
  });

  it('two PS and two workers: each cut holds the same steps, whatever each PS had applied at prepare', async () => {
    const ps = [new FakePs(), new FakePs()];
    // A's step 1 and 2 reached PS 0, only step 1 reached PS 1; B's step 1 reached PS 1 only so far.
    ps[0].push(tag(A, 1));
    ps[0].push(tag(A, 2));
    ps[1].push(tag(A, 1));
    ps[1].push(tag(B, 1));
    const highest = ps.map((p) => p.hold.prepare('c1', 1_000));
    const steps = new Map<bigint, number>();
    for (const h of highest) for (const [w, a] of h) steps.set(w, Math.max(a.step, steps.get(w) ?? 0));
    expect([...steps]).to.deep.equal([[A, 2], [B, 1]]);
    const cuts = ps.map((p) => p.cut('c1', steps));
    // In flight at prepare, and arriving while the chief decides: A2 and B1 to their PS, then the next steps.
    ps[1].push(tag(A, 2));
    ps[0].push(tag(B, 1));
    ps[0].push(tag(B, 2));
    ps[1].push(tag(A, 3));
    const [c0, c1] = await Promise.all(cuts);
    expect(c0.sort()).to.deep.equal(['A1', 'A2', 'B1']);
    expect(c1.sort()).to.deep.equal(['A1', 'A2', 'B1']);
    expect(ps[0].applied).to.include('B2');
    expect(ps[1].applied).to.include('A3');
  });

  it('releases a prepared hold when no cut follows in time (the chief died between the rounds)', () => {
    const ps = new FakePs();
    ps.hold.prepare('c1', 1_000);
    ps.push(tag(A, 1));
    ps.push(tag(B, 1));
    ps.timers.fire();
    expect(ps.applied).to.deep.equal(['A1', 'B1']);
    expect(ps.hold.holding).to.equal(null);
  });

  it('fails the cut and releases everything when a step does not arrive in time (a worker died mid-step)', async () => {
    const ps = new FakePs();
    ps.hold.prepare('c1', 1_000);
    ps.push(tag(B, 1));
    const cut = ps.cut('c1', new Map([[A, 1]]));
    ps.timers.fire();
    const err = await cut.then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(TesseraError);
    expect((err as TesseraError).code).to.equal(ERROR_CODES.UNAVAILABLE);
    expect((err as Error).message).to.match(/client aaaa000000000001 steps 1\.\.1 did not arrive within 1000 ms/);
    expect(ps.applied).to.deep.equal(['B1']);
  });

  it('takes acknowledged steps it never heard of as complete (the PS started after them), and still waits for the others', async () => {
    const ps = new FakePs();
    ps.hold.prepare('c1', 1_000);
    ps.push(tag(B, 1));
    let cut: string[] | undefined;
    const done = ps.hold.cutAt('c1', new Map([[A, 80], [B, 2]]), 1_000, () => [...ps.applied], [A]).then((c) => { cut = c; });
    await Promise.resolve();
    expect(cut, 'B2 is neither acknowledged nor here').to.equal(undefined);
    expect(ps.hold.ledger.complete(A)).to.equal(80);
    ps.push(tag(B, 2));
    await done;
    expect(cut).to.deep.equal(['B1', 'B2']);
  });

  it('clears a refusal the acknowledgement covers (the worker re-sent that part elsewhere and saw it answered)', async () => {
    const ps = new FakePs();
    ps.hold.prepare('c1', 1_000);
    ps.push(tag(A, 1), 'A1', 'refused');
    const cut = await ps.hold.cutAt('c1', new Map([[A, 1]]), 1_000, () => [...ps.applied], [A]);
    expect(cut).to.deep.equal([]);
  });

  it('refuses a cut over a step whose part was refused here (it may have gone to another PS)', async () => {
    const ps = new FakePs();
    ps.hold.prepare('c1', 1_000);
    ps.push(tag(A, 1), 'A1', 'refused');
    ps.push(tag(A, 2, { ackedThrough: 0 }));
    const err = await ps.cut('c1', new Map([[A, 2]])).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).to.match(/a push of step 1 of client aaaa000000000001 was refused here/);
    expect(ps.applied).to.deep.equal(['A2']);
  });

  it('does not count a retry of a push twice (a duplicate leaves the step incomplete)', async () => {
    const ps = new FakePs();
    ps.hold.prepare('c1', 1_000);
    ps.push(tag(A, 1, { parts: 2 }), 'A1a');
    ps.push(tag(A, 1, { parts: 2 }), 'A1a again', 'duplicate');
    let cut: string[] | undefined;
    const done = ps.cut('c1', new Map([[A, 1]])).then((c) => { cut = c; });
    await Promise.resolve();
    expect(cut).to.equal(undefined);
    ps.push(tag(A, 1, { parts: 2 }), 'A1b');
    await done;
    expect(cut).to.deep.equal(['A1a', 'A1b']);
  });

  it('refuses a cut that was not prepared here (the PS restarted between the rounds)', async () => {
    const ps = new FakePs();
    const err = await ps.cut('c1', new Map([[A, 1]])).then(() => null, (e: unknown) => e as TesseraError);
    expect(err?.code).to.equal(ERROR_CODES.UNAVAILABLE);
    expect(err?.message).to.match(/not prepared on this PS/);
  });

  it('answers a repeated prepare for the same cut, refuses another cut while one holds, and releases on request', () => {
    const ps = new FakePs();
    ps.hold.prepare('c1', 1_000);
    expect(() => ps.hold.prepare('c1', 1_000)).not.to.throw();
    expect(() => ps.hold.prepare('c2', 1_000)).to.throw(TesseraError, /cut c1 is holding pushes/);
    ps.push(tag(A, 1));
    expect(ps.hold.release('c2', 'not mine')).to.equal(false);
    expect(ps.hold.release('c1', 'abandoned by the chief')).to.equal(true);
    expect(ps.applied).to.deep.equal(['A1']);
    expect(ps.timers.pending()).to.equal(0);
  });

  it('releases the held pushes when the snapshot itself fails', async () => {
    const ps = new FakePs();
    ps.hold.prepare('c1', 1_000);
    ps.push(tag(A, 1));
    ps.push(tag(A, 2));
    const err = await ps.hold.cutAt('c1', new Map([[A, 1]]), 1_000, (): string[] => { throw new TesseraError(ERROR_CODES.SNAPSHOT_CONFLICT, 'still writing'); })
      .then(() => null, (e: unknown) => e as Error);
    expect(err?.message).to.equal('still writing');
    expect(ps.applied).to.deep.equal(['A1', 'A2']);
    expect(ps.hold.holding).to.equal(null);
  });
});
