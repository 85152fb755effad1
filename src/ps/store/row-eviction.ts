/**
 * Per-row eviction bookkeeping of one embedding table: when each row was last touched, an ageing
 * use counter, a pin bit, and the list of freed row slots.
 *
 * Per row: a uint32 tick (the table's push count for `ttlSteps`, a step-tagged step counted once;
 * whole seconds since creation for `ttlSeconds`) and a uint8 whose low 7 bits count uses and whose top bit pins the row while a
 * request holds its slot. 5 bytes per row, in per-slab arrays beside the row slabs. A free slot
 * has the pin bit with count 0, which no row has (a pinned row has been used), so sweeps skip it.
 *
 * Victims are found by a clock hand over the row slots, so no list or heap is kept per row; the
 * table removes each victim's id from the index (`onEvict`). Budget eviction is approximate LFU
 * with ageing: the hand evicts a row whose count is 0 and halves every other count it passes, so
 * a row survives about log2(uses) sweeps without use. Expired rows are evicted whenever the hand
 * passes them. The hand goes over row slots, not index slots: an index-order hand empties the
 * index just behind it and leaves it fullest just ahead (a full cycle of new rows), and at index
 * loads near 0.8 linear probing then builds runs of tens of thousands of slots. Row slots are
 * unrelated to hashes, so victims leave the index evenly.
 *
 * Ordering. Eviction runs only inside a table call, at two points: while a request makes room
 * for its new rows (after pinning every row the request already holds, so none of them can be
 * chosen), and after a push has applied its gradients. Nothing awaits in between, so a pull or
 * push never sees a slot change under it.
 */
import type { EvictionConfig } from './table-options';

/** Metadata bytes per row: uint32 tick + uint8 count/pin. */
export const EVICTION_META_BYTES_PER_ROW = 5;
const PIN = 0x80;
const COUNT = 0x7f;
/** `uses` of a free slot: pinned with count 0, which no row has. */
const FREE = PIN;
/** Index slots the after-push TTL sweep visits per pushed row, plus a floor. */
const TTL_SLOTS_PER_ROW = 2;
const TTL_SLOTS_MIN = 64;
/**
 * Ages from here up are ticks ahead of the clock, not old ones. A migration stages a row half the
 * clock (2^31) ahead of its tick (migrated-meta.ts), and that tick, in this PS's clock, can itself
 * run a few steps ahead before the fence settles the two clocks' offset, which puts the staged age
 * just below 2^31. A quarter of the clock keeps both sides of 2^31 "ahead" (issue 17: staged rows
 * were evicted at an age of 2^31 - 1); real ages stay far below it (2^30 steps or seconds).
 */
const AHEAD = 2 ** 30;

/** Recent steps remembered per worker, so a step's late requests (re-routed parts) do not tick again. */
const RECENT_STEPS = 16;

/** The step a push belongs to (its step tag, ADR 0040): a worker's step-numbering id and step number. */
export interface PushStep {
  client: bigint;
  step: number;
}

/** Evicted rows by cause. */
export interface EvictionCounts {
  ttl: number;
  budget: number;
}

/** Eviction state of one table. */
export class RowEviction {
  /** Resident-row budget (Infinity without one). */
  readonly maxRows: number;
  readonly evicted: EvictionCounts = { ttl: 0, budget: 0 };
  private readonly ttl: number;
  private readonly bySeconds: boolean;
  private readonly ticks: Uint32Array[] = [];
  private readonly uses: Uint8Array[] = [];
  private readonly shift: number;
  private readonly mask: number;
  /** Head of the free-slot list, -1 when empty; a free slot's tick holds `next + 1`. */
  private freeHead = -1;
  private step = 0;
  /** The steps that ticked `step` lately, per worker (newest last), with the tick each began at. */
  private readonly recent = new Map<bigint, { step: number; tick: number }[]>();
  /** Next row slot the clock hand visits. */
  private hand = 0;
  /** One past the highest slot a row was created in since the last reset: the hand's range. */
  private top = 0;
  /** A slot the hand never visits (the table's shared unknown row), or -1. */
  private reserved = -1;
  private readonly startMs: number;
  private nowTick = 0;
  private readonly expire: (row: number) => boolean;
  private readonly victim: (row: number) => boolean;

  /**
   * @param maxRows resident-row budget already derived from `maxRows`/`maxBytes` (Infinity: none)
   * @param now monotonic milliseconds (injected so tests control TTL by seconds)
   */
  constructor(
    cfg: EvictionConfig, maxRows: number, readonly slabRows: number, private readonly now: () => number,
    private readonly onEvict: (row: number, cause: keyof EvictionCounts) => void = () => undefined,
  ) {
    this.maxRows = maxRows;
    this.ttl = cfg.ttlSteps ?? cfg.ttlSeconds ?? 0;
    this.bySeconds = cfg.ttlSeconds !== undefined;
    this.shift = Math.log2(slabRows);
    this.mask = slabRows - 1;
    this.startMs = now();
    // Bound once: the sweep calls these per slot, and fresh closures per sweep would allocate.
    this.expire = (r) => {
      if ((this.uses[r >>> this.shift][r & this.mask] & PIN) !== 0 || !this.expired(r)) return false;
      this.onEvict(r, 'ttl');
      this.release(r);
      this.evicted.ttl++;
      return true;
    };
    this.victim = (r) => this.chooseVictim(r);
  }

  /** Bytes of metadata (the free-slot list lives in freed slots' ticks, so costs nothing). */
  bytes(): number {
    return this.ticks.length * this.slabRows * EVICTION_META_BYTES_PER_ROW;
  }

  /** Makes slot `r`'s metadata addressable. */
  ensure(r: number): void {
    while (r >>> this.shift >= this.ticks.length) {
      this.ticks.push(new Uint32Array(this.slabRows));
      this.uses.push(new Uint8Array(this.slabRows));
    }
  }

  /**
   * Starts a request: reads the clock once, so every row of the request gets the same tick. A
   * push of a `step` counted here already gets the tick that step began at, as one request would.
   */
  begin(step?: PushStep): void {
    const counted = step && !this.bySeconds ? this.recent.get(step.client)?.find((s) => s.step === step.step) : undefined;
    this.nowTick = this.bySeconds ? Math.floor((this.now() - this.startMs) / 1000) >>> 0 : counted?.tick ?? this.step;
  }

  /** Marks row `r` used now and pins it until `unpin`. */
  touch(r: number): void {
    const s = r >>> this.shift;
    const i = r & this.mask;
    this.ticks[s][i] = this.nowTick;
    const u = this.uses[s][i] & COUNT;
    this.uses[s][i] = (u === COUNT ? u : u + 1) | PIN;
  }

  /** Marks a freshly created row: count 1, pinned, touched now. */
  created(r: number): void {
    const s = r >>> this.shift;
    const i = r & this.mask;
    this.ticks[s][i] = this.nowTick;
    this.uses[s][i] = 1 | PIN;
    if (r >= this.top) this.top = r + 1;
  }

  /** The tick a row touched now gets (reads the clock, as `begin`). */
  clock(): number {
    this.begin();
    return this.nowTick;
  }

  /** The tick row `r` was last touched at. */
  tickOf(r: number): number {
    return this.ticks[r >>> this.shift][r & this.mask];
  }

  /** The use count of row `r` (0..127; the pin bit left out). */
  usesOf(r: number): number {
    return this.uses[r >>> this.shift][r & this.mask] & COUNT;
  }

  /**
   * Sets row `r`'s last touch to `tick` and its use count to `uses` (unpinned): a row moved here
   * from another PS, its tick already brought to this PS's clock.
   */
  setMeta(r: number, tick: number, uses: number): void {
    this.ticks[r >>> this.shift][r & this.mask] = tick >>> 0;
    this.uses[r >>> this.shift][r & this.mask] = uses & COUNT;
  }

  /** Moves row `r`'s last touch by `delta` ticks (wrapping). */
  shiftTick(r: number, delta: number): void {
    const t = this.ticks[r >>> this.shift];
    t[r & this.mask] = (t[r & this.mask] + delta) >>> 0;
  }

  /**
   * Evicts row `r` now if it is past its TTL and not pinned (a request found it: an expired row
   * reads as evicted whether or not the hand has passed it yet, so when a row expires does not
   * depend on where the hand is). True when it was evicted, or `r` is already free.
   */
  expireOnAccess(r: number): boolean {
    if (this.uses[r >>> this.shift][r & this.mask] === FREE) return true;
    return this.ttl > 0 && this.expire(r);
  }

  /** Slot `r` holds a row that is never evicted: the hand skips it. */
  reserve(r: number): void {
    this.reserved = r;
  }

  /** Clears the pin of every slot in `rows[0..n)` (slots < 0 are skipped). */
  unpin(rows: Int32Array, n: number): void {
    const { uses, shift, mask } = this;
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      if (r >= 0) uses[r >>> shift][r & mask] &= COUNT;
    }
  }

  /** The slot a new row would take: the head of the free list, or `fresh` when it is empty. */
  nextSlot(fresh: number): number {
    return this.freeHead >= 0 ? this.freeHead : fresh;
  }

  /** Takes `r` off the free list; `r` must be what `nextSlot` returned from the list. */
  claim(r: number): void {
    if (r !== this.freeHead) return;
    this.freeHead = this.ticks[r >>> this.shift][r & this.mask] - 1;
  }

  /** True when there is a resident-row budget. */
  get bounded(): boolean {
    return this.maxRows !== Infinity;
  }

  /**
   * Evicts at least `want` unpinned rows (expired ones first as the hand meets them, then the
   * least used), and about 1/64 of the budget more, so this runs once per that many new rows
   * instead of on every request. Returns the number evicted.
   */
  makeRoom(want: number): number {
    const target = want + Math.max(1, Math.floor(this.maxRows / 64));
    // Each full pass halves every unpinned count (≤ 127), so 9 passes always reach the target
    // unless the pinned rows alone exceed it.
    return this.sweep(this.top * 9, target, this.victim);
  }

  /**
   * Counts a push (the step clock of `ttlSteps`) and sweeps part of the rows for expired ones. A
   * push of a `step` already counted here does not tick again: a step sends one request per PS,
   * but the part a migration's fence refused on another PS comes here later, re-routed.
   */
  afterPush(rows: number, step?: PushStep): void {
    if (!step || this.firstOf(step)) this.step = (this.step + 1) >>> 0;
    if (this.ttl === 0) return;
    this.begin();
    this.sweep(TTL_SLOTS_PER_ROW * rows + TTL_SLOTS_MIN, Infinity, this.expire);
  }

  /** The newest step counted per worker (step-tagged pushes only). */
  stepsCounted(): Map<bigint, number> {
    const out = new Map<bigint, number>();
    for (const [client, steps] of this.recent) out.set(client, Math.max(...steps.map((s) => s.step)));
    return out;
  }

  /** Sweeps every row for expired ones now; returns how many were evicted. */
  evictExpired(): number {
    if (this.ttl === 0) return 0;
    this.begin();
    return this.sweep(this.top, Infinity, this.expire);
  }

  /**
   * Moves the hand over up to `maxSlots` row slots (wrapping below `top`), evicting each row for
   * which `evict(r)` returns true, until `want` are evicted. Returns how many were.
   */
  private sweep(maxSlots: number, want: number, evict: (r: number) => boolean): number {
    const { top, reserved } = this;
    if (top === 0) return 0;
    let r = this.hand < top ? this.hand : 0;
    let removed = 0;
    for (let k = 0; k < maxSlots && removed < want; k++) {
      if (r !== reserved && evict(r)) removed++;
      if (++r === top) r = 0;
    }
    this.hand = r;
    return removed;
  }

  /**
   * Past the TTL. An age of 2^30 ticks or more is a tick ahead of the clock (a row staged by a
   * migration, or moved from a PS whose clock ran ahead), never expired (`AHEAD`).
   */
  private expired(r: number): boolean {
    if (this.ttl === 0) return false;
    const age = (this.nowTick - this.ticks[r >>> this.shift][r & this.mask]) >>> 0;
    return age > this.ttl && age < AHEAD;
  }

  /** True the first time `s` is seen (among the worker's recent steps); remembers it. */
  private firstOf(s: PushStep): boolean {
    let steps = this.recent.get(s.client);
    if (!steps) this.recent.set(s.client, steps = []);
    if (steps.some((x) => x.step === s.step)) return false;
    steps.push({ step: s.step, tick: this.step });
    if (steps.length > RECENT_STEPS) steps.shift();
    return true;
  }

  private chooseVictim(r: number): boolean {
    const s = r >>> this.shift;
    const i = r & this.mask;
    const u = this.uses[s][i];
    if (u & PIN) return false;
    if (this.expired(r)) {
      this.onEvict(r, 'ttl');
      this.release(r);
      this.evicted.ttl++;
      return true;
    }
    if (u === 0) {
      this.onEvict(r, 'budget');
      this.release(r);
      this.evicted.budget++;
      return true;
    }
    this.uses[s][i] = u >>> 1;
    return false;
  }

  /** Puts slot `r` on the free list without counting an eviction (a restore removed its row). */
  free(r: number): void {
    this.release(r);
  }

  /** Forgets every slot (the table was cleared): the free list is empty and the hand restarts. */
  reset(): void {
    this.freeHead = -1;
    this.hand = 0;
    this.top = 0;
  }

  private release(r: number): void {
    this.ticks[r >>> this.shift][r & this.mask] = this.freeHead + 1;
    this.uses[r >>> this.shift][r & this.mask] = FREE;
    this.freeHead = r;
  }
}
