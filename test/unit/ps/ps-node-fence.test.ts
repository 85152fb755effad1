import { expect } from 'chai';
import { silentLogger } from '../../../src/common/logger';
import { PsNode } from '../../../src/ps/ps-node';

describe('PsNode fencing (lease lost)', () => {
  it('refuses pushes with a retryable UNAVAILABLE while fenced, keeps serving pulls, and accepts pushes once unfenced', () => {
    const node = new PsNode({ config: { maxRequestBytes: 1 << 20 }, logger: silentLogger() });
    node.createTable({ name: 't', kind: 'embedding', dim: 2, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'zeros' } });
    const ids = Buffer.from(new BigUint64Array([5n]).buffer);
    const grads = Buffer.from(new Float32Array([1, 1]).buffer);
    const push = () => node.push({ table: 't', shardMapVersion: 0, ids, grads, encoding: 0 });
    node.setFenced('lease lost');
    expect(push).to.throw(/fenced \(lease lost\)/).with.property('retryable', true);
    let out = new Float32Array(0);
    node.pull({ table: 't', shardMapVersion: 0, ids, encoding: 0 }, (bytes) => { const r = new Uint8Array(bytes); out = new Float32Array(r.buffer); return r; });
    expect(Array.from(out)).to.deep.equal([0, 0]); // the refused push changed nothing
    node.setFenced(null);
    expect(push()).to.equal(1);
  });
});
