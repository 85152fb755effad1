/** Shared fixtures of the spec tests: a small valid spec to mutate, and a raw Criteo row. */
import { expect } from 'chai';
import { stringify } from 'yaml';
import { ERROR_CODES } from '../../../src/common/errors';
import { JobSpecError, parseJobSpec } from '../../../src/spec/job-spec';
import type { RawRow } from '../../../src/spec/transform';

/** A small valid criteo DeepFM spec as a plain object (a fresh copy each call). */
export function baseSpec(): Record<string, any> {
  return {
    name: 'unit',
    data: { format: 'criteo' },
    features: {
      numeric: [{ name: 'I1', transform: 'log' }],
      categorical: [
        { name: 'C1', table: 'c1' },
        { names: ['C2', 'C3'], table: 'shared' },
      ],
      tables: [
        { name: 'c1', dim: 4, optimizer: { kind: 'adagrad', lr: 0.05 } },
        { name: 'shared', dim: 4, optimizer: { kind: 'sgd', lr: 0.1 } },
      ],
    },
    model: { kind: 'deepfm', hidden: [8] },
  };
}

/** Parses a plain object as YAML text (the way a file would arrive). */
export function parseObject(o: unknown, source?: string): ReturnType<typeof parseJobSpec> {
  return parseJobSpec(stringify(o), source);
}

/**
 * Asserts that parsing `input` (YAML text, or an object stringified to YAML) fails with a
 * JobSpecError at `keyPath` whose message contains `detail`; returns the error.
 */
export function expectSpecError(input: unknown, keyPath: string, detail: string): JobSpecError {
  const text = typeof input === 'string' ? input : stringify(input);
  try {
    parseJobSpec(text);
  } catch (e) {
    expect(e).to.be.instanceOf(JobSpecError);
    const err = e as JobSpecError;
    expect(err.code).to.equal(ERROR_CODES.CONFIG);
    expect(err.keyPath, err.message).to.equal(keyPath);
    expect(err.message).to.contain(keyPath === '' ? detail : `${keyPath}: ${detail}`);
    return err;
  }
  throw new Error(`expected a JobSpecError at ${keyPath}`);
}

/** The golden Criteo line of the transform tests (label, I1..I13, C1..C26; I12 and C22 empty). */
export const CRITEO_GOLDEN_LINE = '0\t1\t1\t5\t0\t1382\t4\t15\t2\t181\t1\t2\t\t2\t68fd1e64\t80e26c9b\tfb936136\t7b4723c4'
  + '\t25c83c98\t7e0ccccf\tde7995b8\t1f89b562\ta73ee510\ta8cd5504\tb2cb9c98\t37c9c164\t2824a5f6\t1adce6ef\t8ba8b39a'
  + '\t891b62e7\te5ba7672\tf54016b9\t21ddcdc9\tb1252a9d\t07b5194c\t\t3a171ecb\tc5c50484\te8b83407\t9727dd16';

/** Splits a Criteo line on tabs into a RawRow, '' → null (what the Criteo reader does). */
export function criteoRow(line: string): RawRow {
  const p = line.split('\t');
  return {
    label: Number(p[0]),
    numeric: p.slice(1, 14).map((x) => (x === '' ? null : Number(x))),
    categorical: p.slice(14, 40).map((x) => (x === '' ? null : x)),
  };
}
