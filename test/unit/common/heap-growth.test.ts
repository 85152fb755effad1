/**
 * Issue 18 §1: the data-plane processes' heap growth setting (src/common/heap-growth.ts, ADR 0045).
 */
import { expect } from 'chai';
import { DEFAULT_HEAP_GROWING_PERCENT, HEAP_GROWTH_ENV, heapGrowingPercent } from '../../../src/common/heap-growth';
import { TesseraError } from '../../../src/common/errors';

describe('heap growth of data-plane processes (issue 18 §1)', () => {
  it('defaults to a factor of 4, takes 0 (V8\'s own heuristic) to 1000', () => {
    expect(heapGrowingPercent({})).to.equal(DEFAULT_HEAP_GROWING_PERCENT);
    expect(heapGrowingPercent({ [HEAP_GROWTH_ENV]: '' })).to.equal(DEFAULT_HEAP_GROWING_PERCENT);
    expect(heapGrowingPercent({ [HEAP_GROWTH_ENV]: '0' })).to.equal(0);
    expect(heapGrowingPercent({ [HEAP_GROWTH_ENV]: '150' })).to.equal(150);
  });

  it('refuses anything else with one line naming the variable and the range', () => {
    for (const raw of ['-1', '4x', '1.5', '1001', ' 300']) {
      expect(() => heapGrowingPercent({ [HEAP_GROWTH_ENV]: raw }), raw).to.throw(TesseraError, new RegExp(`^${HEAP_GROWTH_ENV} must be an integer from 0 .* to 1000, got "${raw.replace('.', '\\.')}"$`));
    }
  });
});
