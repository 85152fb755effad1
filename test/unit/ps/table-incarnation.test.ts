/**
 * Issue 23, item 2: a table has an incarnation, set when it is created. A pull or push that names
 * another incarnation is refused whole (TESSERA_ERR_TABLE_INCARNATION), so a table dropped and
 * created again empty is never trained as if it were the old one.
 */
import { expect } from 'chai';
import { ERROR_CODES } from '../../../src/common/errors';
import { silentLogger } from '../../../src/common/logger';
import { PsNode } from '../../../src/ps/ps-node';
import type { TableSpec } from '../../../src/ps/store/table-store';

const SPEC: TableSpec = { name: 't', kind: 'embedding', dim: 2, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'zeros' } };

describe('table incarnations on the PS (issue 23, item 2)', () => {
  const ids = Buffer.from(new BigUint64Array([5n]).buffer);
  const grads = Buffer.from(new Float32Array([1, 1]).buffer);
  const node = () => new PsNode({ config: { maxRequestBytes: 1 << 20 }, logger: silentLogger() });
  const pull = (n: PsNode, tableIncarnation?: number) => {
    let out = new Float32Array(0);
    n.pull({ table: 't', shardMapVersion: 0, ids, encoding: 0, tableIncarnation }, (bytes) => { const r = new Uint8Array(bytes); out = new Float32Array(r.buffer); return r; });
    return Array.from(out);
  };

  it('gives a table a new incarnation each time it is created, and keeps it while it exists', () => {
    const n = node();
    n.createTable(SPEC);
    const first = n.store.incarnation('t');
    expect(first).to.be.within(1, 2 ** 48);
    n.createTable(SPEC); // identical: the same table
    expect(n.store.incarnation('t')).to.equal(first);
    expect(n.stats().tables[0].incarnation).to.equal(first);
    n.dropTable('t');
    n.createTable(SPEC);
    expect(n.store.incarnation('t')).to.not.equal(first);
  });

  it('serves a request naming the current incarnation (or none), refuses one naming another, and changes nothing', () => {
    const n = node();
    n.createTable(SPEC);
    const inc = n.store.incarnation('t');
    expect(n.push({ table: 't', shardMapVersion: 0, ids, grads, encoding: 0, tableIncarnation: inc })).to.equal(1);
    expect(pull(n, inc)).to.deep.equal([-1, -1]);
    expect(pull(n)).to.deep.equal([-1, -1]); // 0 / absent: not checked (tools, other clients)
    n.dropTable('t');
    n.createTable(SPEC);
    const push = () => n.push({ table: 't', shardMapVersion: 0, ids, grads, encoding: 0, tableIncarnation: inc });
    expect(push).to.throw(/table "t" on this PS is incarnation \d+, the request expected \d+: the table was dropped and created again/)
      .with.property('code', ERROR_CODES.TABLE_INCARNATION);
    expect(() => pull(n, inc)).to.throw().with.property('code', ERROR_CODES.TABLE_INCARNATION);
    expect(pull(n)).to.deep.equal([0, 0]); // the refused push changed nothing
  });
});
