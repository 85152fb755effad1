/**
 * Issue 17 §2 (ADR 0037, amendment 3): a buddy replays the primary's pushes on its replica with
 * `EmbeddingTable.replay`, which leaves out the undo copy, the gradient scan and the stamps that
 * only a served table needs. It must still compute exactly what `push` computes.
 */
import { expect } from 'chai';
import { useNativeRows } from '../../../src/common/native-rows';
import { EmbeddingTable, EmbeddingTableOptions } from '../../../src/ps/store/embedding-table';
import { idsFrom } from '../../../src/wire/key-block';

const hex = (t: EmbeddingTable): string[] => {
  const out: string[] = [];
  const h = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
  t.forEachRow((lo, hi, w, s) => out.push(`${lo}:${hi} ${h(w)}|${h(s)}`));
  return out.sort();
};

const OPTIONS: Array<[string, Omit<EmbeddingTableOptions, 'name'>]> = [
  ['adagrad f32', { dim: 16, optimizer: { kind: 'adagrad', lr: 0.05 } }],
  ['adam, dim 3', { dim: 3, optimizer: { kind: 'adam', lr: 0.01 }, seed: 4 }],
  ['adagrad f16', { dim: 8, optimizer: { kind: 'adagrad', lr: 0.1 }, weightFormat: 'f16' }],
];

describe('EmbeddingTable.replay: a replica\'s push (issue 17 §2)', () => {
  for (const native of [true, false]) {
    for (const [label, opts] of OPTIONS) {
      it(`${label} (${native ? 'native' : 'JavaScript'} kernels): the same rows, bit for bit, as push, with versions left alone`, () => {
        const was = useNativeRows(native);
        try {
          const served = new EmbeddingTable({ name: 't', ...opts });
          const replica = new EmbeddingTable({ name: 't', ...opts });
          for (let k = 0; k < 6; k++) {
            const ids = idsFrom(Array.from({ length: 40 }, (_, i) => BigInt((i * 13 + k * 7) % 50)));
            const grads = Float32Array.from({ length: 40 * opts.dim }, (_, i) => Math.cos(i * 0.3 + k));
            expect(replica.replay(ids, grads)).to.equal(served.push(ids, grads));
          }
          expect(hex(replica)).to.deep.equal(hex(served));
          const v = new Uint32Array(1);
          served.pull(idsFrom([7n]), new Float32Array(opts.dim), 0, v);
          expect(v[0], 'push stamps row versions').to.be.greaterThan(0);
          replica.pull(idsFrom([7n]), new Float32Array(opts.dim), 0, v);
          expect(v[0], 'a replica\'s rows are never read for versions: replay leaves them').to.equal(0);
        } finally {
          useNativeRows(was);
        }
      });
    }
  }

  it('refuses an update that would leave a row non-finite, naming the table and id', () => {
    const t = new EmbeddingTable({ name: 'r', dim: 2, optimizer: { kind: 'sgd', lr: 1 } });
    const ids = idsFrom([1n, 2n]);
    expect(() => t.replay(ids, Float32Array.of(3e38, 3e38, -3e38, -3e38))).to.not.throw();
    expect(() => t.replay(ids, Float32Array.of(3e38, 3e38, -3e38, -3e38))).to.throw(/table "r": replaying the primary.s push would make id 1 non-finite/);
  });
});
