import { expect } from 'chai';
import { DenseTable } from '../../../src/ps/store/dense-table';
import { EmbeddingTable } from '../../../src/ps/store/embedding-table';
import { TableSpec } from '../../../src/ps/store/table-spec';
import { TableStore } from '../../../src/ps/store/table-store';
import { idsFrom } from '../../../src/wire/key-block';

const EMB: TableSpec = { name: 'user', kind: 'embedding', dim: 8, optimizer: { kind: 'adagrad', lr: 0.05 } };
const DENSE: TableSpec = { name: 'mlp', kind: 'dense', size: 100, optimizer: { kind: 'adam', lr: 0.001 } };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('TableStore', () => {
  it('creates, gets, lists and drops tables', () => {
    const store = new TableStore();
    store.create(EMB);
    store.create(DENSE);
    expect(store.get('user')).to.be.instanceOf(EmbeddingTable);
    expect(store.get('mlp')).to.be.instanceOf(DenseTable);
    expect(store.has('user')).to.equal(true);
    store.getEmbedding('user').pull(idsFrom([1n, 2n, 3n]), new Float32Array(24));
    const list = store.list();
    expect(list.map((t) => t.name)).to.deep.equal(['mlp', 'user']);
    expect(list[1]).to.include({ name: 'user', kind: 'embedding', dim: 8, rows: 3, optimizer: 'adagrad' });
    expect(list[1].bytes).to.be.greaterThan(3 * 16 * 4);
    expect(list[0]).to.include({ name: 'mlp', kind: 'dense', size: 100, dim: 100, rows: 1, optimizer: 'adam' });
    expect(store.drop('user')).to.equal(true);
    expect(store.drop('user')).to.equal(false);
    expect(store.has('user')).to.equal(false);
  });

  it('create is idempotent for an identical spec, defaults included', () => {
    const store = new TableStore();
    store.create(EMB);
    const t = store.get('user');
    store.create({ ...EMB, optimizer: { kind: 'adagrad', lr: 0.05, initialAccumulator: 0.1 }, seed: 0 });
    store.create({ ...EMB, initializer: { kind: 'uniform', scale: 0.01 }, optimizer: { lr: 0.05, kind: 'adagrad' } });
    expect(store.get('user')).to.equal(t);
    expect(store.spec('user')).to.deep.equal({
      name: 'user', kind: 'embedding', dim: 8, seed: 0, initializer: { kind: 'uniform', scale: 0.01 },
      optimizer: { kind: 'adagrad', lr: 0.05, initialAccumulator: 0.1, eps: 1e-10 },
    });
  });

  it('refuses the same name with a different spec (TESSERA_ERR_TABLE_EXISTS)', () => {
    const store = new TableStore();
    store.create(EMB);
    expect(() => store.create({ ...EMB, dim: 16 })).to.throw('table "user" already exists')
      .with.property('code', 'TESSERA_ERR_TABLE_EXISTS');
    expect(codeOf(() => store.create({ ...EMB, optimizer: { kind: 'sgd', lr: 0.05 } }))).to.equal('TESSERA_ERR_TABLE_EXISTS');
    expect(codeOf(() => store.create({ ...DENSE, name: 'user' }))).to.equal('TESSERA_ERR_TABLE_EXISTS');
  });

  it('get of an unknown table throws TESSERA_ERR_UNKNOWN_TABLE naming it', () => {
    const store = new TableStore();
    expect(() => store.get('nope')).to.throw('table "nope" does not exist').with.property('code', 'TESSERA_ERR_UNKNOWN_TABLE');
    store.create(DENSE);
    expect(() => store.getEmbedding('mlp')).to.throw('is dense');
  });

  describe('validates specs, naming the key', () => {
    const cases: Array<[string, unknown, string]> = [
      ['empty name', { ...EMB, name: '' }, 'name must be'],
      ['name with a slash', { ...EMB, name: 'a/b' }, 'name must be'],
      ['name too long', { ...EMB, name: 'x'.repeat(129) }, 'name must be'],
      ['fractional dim', { ...EMB, dim: 1.5 }, 'dim must be an integer'],
      ['dim too large', { ...EMB, dim: 5000 }, 'dim must be <= 4096'],
      ['dense without size', { ...DENSE, size: undefined }, 'size must be a finite number'],
      ['unknown kind', { ...EMB, kind: 'sparse' }, 'kind must be'],
      ['bad optimizer', { ...EMB, optimizer: { kind: 'sgd', lr: 0 } }, 'optimizer.lr must be > 0'],
      ['missing optimizer', { ...EMB, optimizer: undefined }, 'optimizer must be an object'],
      ['bad initializer', { ...EMB, initializer: { kind: 'normal', std: -1 } }, 'initializer.std must be >= 0'],
      ['bad seed', { ...EMB, seed: 2 ** 32 }, 'seed must be <= 4294967295'],
      ['unknown key', { ...EMB, dims: 8 }, 'spec.dims is not a known key'],
    ];
    for (const [what, spec, message] of cases) {
      it(what, () => {
        const store = new TableStore();
        expect(() => store.create(spec as TableSpec)).to.throw(message).with.property('code', 'TESSERA_ERR_INVALID_ARGUMENT');
        expect(store.list()).to.deep.equal([]);
      });
    }
  });
});
