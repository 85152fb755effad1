import { expect } from 'chai';
import { ERROR_CODES, TesseraError } from '../../../src/common/errors';
import { silentLogger } from '../../../src/common/logger';
import { mulberry32Unit } from '../../../src/common/mulberry32';
import { cutAtSteps, highestSteps, type StepCut, type StepCutParty, stepsToCut } from '../../../src/client/step-cut';
import { CutHold } from '../../../src/ps/cut-hold';

// Issue 15 (pause per delta <= 50 ms): the chief's two rounds of a cut at per-worker steps
// (ADR 0040), over the PS's CutHold, with workers that never stop pushing.

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b) : undefined);
const never = (): (() => void) => () => undefined;

describe('stepsToCut: round 1 answers to the steps of the cut (issue 15)', () => {
  it('takes per client the highest step over every PS, with the positions of that step', () => {
    const cut = stepsToCut(highestSteps([
      new Map([[1n, { step: 4, positions: enc('w1@4') }], [2n, { step: 9, positions: enc('w2@9') }]]),
      new Map([[1n, { step: 5, positions: enc('w1@5') }]]),
    ]));
    expect([...cut.steps]).to.deep.equal([[1n, 5], [2n, 9]]);
    expect(dec(cut.positions.get(1n))).to.equal('w1@5');
  });

  it('leaves out the workers the caller does not count (dead, or an old incarnation)', () => {
    const best = highestSteps([new Map([[1n, { step: 4, positions: enc('dead') }], [2n, { step: 2, positions: enc('live') }]])]);
    const cut = stepsToCut(best, { counted: [...best].filter(([, s]) => dec(s.positions) === 'live').map(([c]) => c) });
    expect([...cut.steps]).to.deep.equal([[2n, 2]]);
  });
});

/** A PS in the simulation: its CutHold, what it applied in order, and its snapshot. */
interface SimPs { hold: CutHold; applied: string[]; snapshot?: string[] }

/**
 * Workers pushing steps to every PS through per-connection FIFO queues, delivered in a random
 * order (seeded); a chief running both rounds meanwhile, its messages queued the same way.
 */
class Sim {
  readonly ps: SimPs[];
  /** Deliveries waiting, per connection (worker→PS, and chief→PS last). */
  readonly queues: (() => void)[][];
  readonly sent = new Map<string, string[]>(); // `${w}/${p}/${step}` → part labels
  private readonly next: number[];
  private readonly acked: number[];
  private readonly open: Map<number, number>[];

  constructor(readonly rnd: () => number, readonly workers: number, readonly psCount: number, readonly steps: number, readonly window: number) {
    this.ps = Array.from({ length: psCount }, () => ({ hold: new CutHold({ logger: silentLogger(), schedule: never }), applied: [] }));
    this.queues = Array.from({ length: (workers + 1) * psCount }, () => []);
    this.next = Array(workers).fill(1);
    this.acked = Array(workers).fill(0);
    this.open = Array.from({ length: workers }, () => new Map());
  }

  client(w: number): bigint { return BigInt(w + 1) << 40n; }

  /** The chief's view of every PS: its messages queue behind the chief's connection to that PS. */
  parties(): StepCutParty[] {
    return this.ps.map((s, p) => {
      const q = this.queues[this.workers * this.psCount + p];
      return {
        prepare: (id, holdMs) => new Promise((resolve) => q.push(() => resolve(s.hold.prepare(id, holdMs)))),
        cutAt: (id, steps, waitMs) => new Promise((resolve, reject) => q.push(() => {
          s.hold.cutAt(id, steps, waitMs, () => { s.snapshot = [...s.applied]; }).then(resolve, reject);
        })),
        release: (id, reason) => new Promise((resolve) => q.push(() => resolve(s.hold.release(id, reason)))),
      };
    });
  }

  /** Starts worker `w`'s next step if its window allows: 1-2 parts to every PS (an empty one counts). */
  startStep(w: number): boolean {
    const step = this.next[w];
    if (step > this.steps || step - 1 - this.acked[w] > this.window) return false;
    this.next[w]++;
    const total = { n: 0 };
    for (let p = 0; p < this.psCount; p++) {
      const parts = 1 + Math.floor(this.rnd() * 2);
      const labels: string[] = [];
      for (let i = 0; i < parts; i++) {
        const label = `w${w}s${step}p${i}`;
        labels.push(label);
        const tag = { client: this.client(w), step, parts, ackedThrough: this.acked[w], positions: enc(`w${w}@${step}`) };
        total.n++;
        this.queues[w * this.psCount + p].push(() => this.ps[p].hold.offer(tag, () => {
          this.ps[p].applied.push(label);
          this.answered(w, step);
          return 'applied';
        }));
      }
      this.sent.set(`${w}/${p}/${step}`, labels);
    }
    this.open[w].set(step, total.n);
    return true;
  }

  private answered(w: number, step: number): void {
    const left = this.open[w].get(step)! - 1;
    this.open[w].set(step, left);
    while (this.open[w].get(this.acked[w] + 1) === 0) this.open[w].delete(++this.acked[w]);
  }

  /** One random action; false when none is left. */
  act(): boolean {
    const actions: (() => void)[] = [];
    for (const q of this.queues) if (q.length) actions.push(() => q.shift()!());
    for (let w = 0; w < this.workers; w++) if (this.next[w] <= this.steps && this.next[w] - 1 - this.acked[w] <= this.window) actions.push(() => this.startStep(w));
    if (actions.length === 0) return false;
    actions[Math.floor(this.rnd() * actions.length)]();
    return true;
  }
}

/** The labels of worker `w`'s parts of steps 1..s sent to PS `p`. */
function partsThrough(sim: Sim, w: number, p: number, s: number): string[] {
  const out: string[] = [];
  for (let step = 1; step <= s; step++) out.push(...(sim.sent.get(`${w}/${p}/${step}`) ?? []));
  return out.sort();
}

describe('cutAtSteps: a cut while workers keep pushing (issue 15)', () => {
  let seedsThatHeld = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const workers = 2 + (seed % 2);
    const psCount = 2 + (seed % 3 === 0 ? 1 : 0);
    const window = seed % 3;
    it(`seed ${seed}: ${workers} workers (push window ${window}), ${psCount} PS: every cut holds exactly each worker's steps <= s_w`, async () => {
      const rnd = mulberry32Unit(seed);
      const sim = new Sim(rnd, workers, psCount, 12, window);
      let cut: StepCut | undefined;
      let failed: unknown;
      let started = false;
      let held = 0;
      const startAt = 5 + Math.floor(rnd() * 40);
      for (let i = 0; ; i++) {
        held = Math.max(held, ...sim.ps.map((s) => s.hold.held));
        if (!started && i === startAt) {
          started = true;
          void cutAtSteps(sim.parties(), 'c1', { holdMs: 1_000, waitMs: 1_000 }).then((c) => { cut = c; }, (e: unknown) => { failed = e; });
        }
        const acted = sim.act();
        await new Promise(setImmediate); // let the chief's rounds run between deliveries
        if (!acted && (cut || failed || !started)) break;
        expect(i, 'the simulation ends').to.be.lessThan(10_000);
      }
      if (held > 0) seedsThatHeld++;
      expect(failed).to.equal(undefined);
      expect(cut, 'the cut completed').to.not.equal(undefined);
      for (let p = 0; p < psCount; p++) {
        const snap = sim.ps[p].snapshot!;
        expect(snap, `PS ${p} cut`).to.not.equal(undefined);
        for (let w = 0; w < workers; w++) {
          const s = cut!.steps.get(sim.client(w)) ?? 0;
          expect(snap.filter((l) => l.startsWith(`w${w}s`)).sort(), `PS ${p}, worker ${w}, s_w ${s}`).to.deep.equal(partsThrough(sim, w, p, s));
          if (s > 0) expect(dec(cut!.positions.get(sim.client(w)))).to.equal(`w${w}@${s}`);
        }
        expect(sim.ps[p].applied.length, 'every push applied in the end').to.equal([...sim.sent].filter(([k]) => k.split('/')[1] === String(p)).reduce((n, [, l]) => n + l.length, 0));
        expect(sim.ps[p].hold.holding).to.equal(null);
      }
    });
  }

  it('the seeds above did hold pushes while cutting (the simulation exercises the hold)', () => {
    expect(seedsThatHeld).to.be.greaterThan(20);
  });

  it('abandons the cut and releases every hold when a PS restarted between the rounds', async () => {
    const holds = [new CutHold({ logger: silentLogger(), schedule: never }), new CutHold({ logger: silentLogger(), schedule: never })];
    const applied: string[] = [];
    const parties: StepCutParty[] = holds.map((h, i) => ({
      prepare: async (id, ms) => h.prepare(id, ms),
      // PS 1 restarted: its new process never saw round 1.
      cutAt: (id, steps, ms) => (i === 1 ? new CutHold({ logger: silentLogger() }) : h).cutAt(id, steps, ms, () => undefined),
      release: async (id, reason) => h.release(id, reason),
    }));
    const parties0 = parties[0];
    const first = parties0.prepare('c1', 1_000);
    await first;
    holds[0].offer({ client: 1n, step: 1, parts: 1, ackedThrough: 0, positions: enc('w@1') }, () => { applied.push('held'); return 'applied'; });
    expect(applied, 'held by the prepared PS').to.deep.equal([]);
    const err = await cutAtSteps(parties, 'c1', { holdMs: 1_000, waitMs: 1_000 }).then(() => null, (e: unknown) => e as TesseraError);
    expect(err?.code).to.equal(ERROR_CODES.UNAVAILABLE);
    expect(err?.message).to.match(/not prepared on this PS/);
    expect(applied, 'released when the cut was abandoned').to.deep.equal(['held']);
    expect(holds.map((h) => h.holding)).to.deep.equal([null, null]);
  });

  it('wraps a non-Tessera failure as UNAVAILABLE naming the cut', async () => {
    const party: StepCutParty = { prepare: () => Promise.reject(new Error('connection reset')), cutAt: async () => undefined, release: async () => undefined };
    const err = await cutAtSteps([party], 'c9', { holdMs: 1, waitMs: 1 }).then(() => null, (e: unknown) => e as TesseraError);
    expect(err).to.be.instanceOf(TesseraError);
    expect(err?.message).to.equal('cut c9 abandoned: connection reset');
  });
});
