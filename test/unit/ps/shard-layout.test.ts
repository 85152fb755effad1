/** Issue 18: how a `tessera ps --shards K` process numbers, ports and places its shards. */
import { expect } from 'chai';
import * as path from 'node:path';
import { availableParallelism } from 'node:os';
import { loadPsConfig, MAX_SHARDS } from '../../../src/ps/config';
import { shardAdvertise, shardMemberIds, shardPort, shardTierDir } from '../../../src/ps/shard-layout';

describe('PS shard layout (issue 18)', () => {
  it('numbers shards N·K … N·K+K-1 from the process id ps-N, so pods of K shards give dense PS numbers', () => {
    expect(shardMemberIds('ps-0', 1)).to.deep.equal(['ps-0']);
    expect(shardMemberIds('ps-0', 2)).to.deep.equal(['ps-0', 'ps-1']);
    expect(shardMemberIds('ps-1', 2)).to.deep.equal(['ps-2', 'ps-3']);
    expect(shardMemberIds('tessera-ps-3', 4)).to.deep.equal(['tessera-ps-12', 'tessera-ps-13', 'tessera-ps-14', 'tessera-ps-15']);
    // Processes ps-0 … ps-2 of 3 shards each: every number 0..8 once.
    const all = [0, 1, 2].flatMap((n) => shardMemberIds(`ps-${n}`, 3)).map((id) => Number(id.slice(3)));
    expect(all).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // One shard keeps any id; several need the number that places them.
    expect(shardMemberIds('primary', 1)).to.deep.equal(['primary']);
    expect(() => shardMemberIds('primary', 2)).to.throw(/must end in its number/);
  });

  it('moves ports and advertised ports up by the shard, and gives each shard its own tier directory', () => {
    expect([0, 1, 2].map((k) => shardPort(7000, k))).to.deep.equal([7000, 7001, 7002]);
    expect(shardPort(0, 3)).to.equal(0);
    expect(() => shardPort(65535, 1)).to.throw(/above 65535/);
    expect(shardAdvertise('tessera-ps-1.tessera-ps:7000', 0)).to.equal('tessera-ps-1.tessera-ps:7000');
    expect(shardAdvertise('tessera-ps-1.tessera-ps:7000', 3)).to.equal('tessera-ps-1.tessera-ps:7003');
    expect(shardAdvertise('[::1]:7000', 1)).to.equal('[::1]:7001');
    expect(() => shardAdvertise('tessera-ps-1', 1)).to.throw(/must be host:port/);
    expect(shardTierDir('/t', 0, 1)).to.equal('/t');
    expect(shardTierDir('/t', 1, 2)).to.equal(path.join('/t', 'shard-1'));
    expect(shardTierDir(null, 1, 2)).to.equal(null);
  });

  it('--shards defaults to the cores, and a flag beats TESSERA_PS_SHARDS; a bad count is one line naming the flag', () => {
    expect(loadPsConfig({}, {}).shards).to.equal(Math.min(MAX_SHARDS, availableParallelism()));
    expect(loadPsConfig({ TESSERA_PS_SHARDS: '3' }, {}).shards).to.equal(3);
    expect(loadPsConfig({ TESSERA_PS_SHARDS: '3' }, { shards: '2' }).shards).to.equal(2);
    expect(() => loadPsConfig({}, { shards: '0' })).to.throw(/--shards must be an integer in \[1, 64\], got "0"/);
    expect(() => loadPsConfig({ TESSERA_PS_SHARDS: 'four' }, {})).to.throw(/TESSERA_PS_SHARDS must be an integer/);
  });
});
