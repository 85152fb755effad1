/**
 * Issue 18 §3: the id index's growth rehashes natively (`rehashIds`, native/rows/store_kernels.c)
 * into exactly the slots the JavaScript rehash writes, through the ×2 steps and past 2^20 slots
 * into the ×1.25 ones, with ids removed between growths; and the kernel refuses slots it cannot
 * fill instead of writing past them.
 *
 * Skips when the addon is not built, unless TESSERA_REQUIRE_NATIVE=1 (CI), where that fails.
 */
import { expect } from 'chai';
import { loadNativeRows } from '../../../src/common/native-rows';
import { bothPaths, requireNativeRowsOrSkip } from '../../helpers/native-rows';
import { mulberry32 } from '../../../src/common/mulberry32';
import { IdIndex } from '../../../src/ps/store/id-index';

const loaded = loadNativeRows();

/** The slot array of `index` (the words every lookup reads). */
const slotsOf = (index: IdIndex): Uint32Array => (index as unknown as { slots: Uint32Array }).slots;

/**
 * Inserts `n` random ids into a fresh index (about one in eight removed again right after a
 * growth, so rehashes see holes and shifted runs), recording the slots after every growth.
 */
function grownIndex(n: number, seed: number): { index: IdIndex; afterGrowth: Uint32Array[] } {
  const next = mulberry32(seed);
  const index = new IdIndex();
  const afterGrowth: Uint32Array[] = [];
  const kept: number[] = [];
  for (let i = 0; i < n; i++) {
    const lo = next();
    const hi = i % 3 === 0 ? 0 : next();
    const cap = index.capacity;
    index.findOrInsert(lo, hi, i);
    kept.push(lo, hi);
    if (index.capacity === cap) continue;
    afterGrowth.push(slotsOf(index).slice());
    for (let k = 0; k + 1 < kept.length; k += 16) index.remove(kept[k], kept[k + 1]);
  }
  return { index, afterGrowth };
}

describe('id index rehash, native against JavaScript (issue 18 §3)', function () {
  this.timeout(60000);
  requireNativeRowsOrSkip();

  it('writes the same slots at every growth, past 2^20 slots', () => {
    const { js, native } = bothPaths(() => grownIndex(1_000_000, 11));
    expect(native.index.capacity).to.be.above(2 ** 20);
    expect(native.afterGrowth.length).to.equal(js.afterGrowth.length);
    for (let g = 0; g < js.afterGrowth.length; g++) {
      const a = js.afterGrowth[g];
      const b = native.afterGrowth[g];
      expect(b.length, `growth ${g}`).to.equal(a.length);
      expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)), `growth ${g}`).to.equal(0);
    }
    expect(native.index.size).to.equal(js.index.size);
  });

  it('refuses a wrong scale, partial slots, and slots with no room left', () => {
    if (!loaded.ok) return;
    const k = loaded.rows;
    const old = new Uint32Array(3 * 4);
    for (let s = 0; s < 4; s++) old.set([s + 1, 7, s + 1], 3 * s);
    expect(() => k.rehashIds(old, new Uint32Array(3 * 8), 9 / 2 ** 32)).to.throw(RangeError, /scale/);
    expect(() => k.rehashIds(old, new Uint32Array(3 * 8 + 1), 8 / 2 ** 32)).to.throw(RangeError, /3-word slots/);
    expect(() => k.rehashIds(old.subarray(1), new Uint32Array(3 * 8), 8 / 2 ** 32)).to.throw(RangeError, /3-word slots/);
    const small = new Uint32Array(3 * 3);
    expect(() => k.rehashIds(old, small, 3 / 2 ** 32)).to.throw(RangeError, /no empty slot/);
    const fits = new Uint32Array(3 * 8);
    k.rehashIds(old, fits, 8 / 2 ** 32);
    let rows = 0;
    for (let s = 0; s < 8; s++) if (fits[3 * s + 2] !== 0) rows++;
    expect(rows).to.equal(4);
  });
});
