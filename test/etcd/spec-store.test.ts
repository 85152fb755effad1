/** SpecStore over a real etcd: one spec per job name unless forced. */
import { expect } from 'chai';
import { TesseraError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { SpecStore } from '../../src/membership/spec-store';
import { etcdClientPerTest } from '../helpers/etcd';

const YAML_A = 'name: criteo\nmodel: { kind: lr }\n';
const YAML_B = 'name: criteo\nmodel: { kind: deepfm }\n';
const FP_A = '0123456789abcdef';
const FP_B = 'fedcba9876543210';

describe('SpecStore (real etcd)', function () {
  // One etcd; each test is a few etcd round trips.
  this.timeout(30_000);
  const etcd = etcdClientPerTest();
  let jobSeq = 0;
  const specs = (job: string) => new SpecStore({ client: etcd.client, job, logger: silentLogger(), now: () => new Date('2025-01-02T03:04:05Z') });


  it('stores a spec once, accepts the same fingerprint again, keeps the first text', async () => {
    const job = `spec-${++jobSeq}`;
    const s = specs(job);
    expect(await s.get()).to.equal(undefined);
    expect(await s.putIfAbsentOrSame(YAML_A, FP_A)).to.equal('created');
    expect(await s.putIfAbsentOrSame(`# reformatted\n${YAML_A}`, FP_A)).to.equal('same');
    expect(await s.get()).to.deep.equal({ fingerprint: FP_A, yaml: YAML_A, writtenAt: '2025-01-02T03:04:05.000Z' });
    const raw = JSON.parse((await etcd.client.get(`/tessera/${job}/spec`).string())!) as Record<string, unknown>;
    expect(raw).to.deep.equal({ fingerprint: FP_A, yaml: YAML_A, writtenAt: '2025-01-02T03:04:05.000Z' });
  });

  it('refuses a conflicting spec naming both fingerprints, and replaces it with force', async () => {
    const job = `spec-${++jobSeq}`;
    const s = specs(job);
    await s.putIfAbsentOrSame(YAML_A, FP_A);
    const err = await s.putIfAbsentOrSame(YAML_B, FP_B).then(() => undefined, (e: TesseraError) => e);
    expect(err?.code).to.equal('TESSERA_ERR_CONFIG');
    expect(err?.message).to.equal(
      `job "${job}" already has a different spec in etcd (fingerprint ${FP_A}); this spec's fingerprint is ${FP_B}. ` +
      'Use another job name, or pass --force to replace the stored spec');
    expect((await s.get())?.fingerprint).to.equal(FP_A);
    expect(await s.putIfAbsentOrSame(YAML_B, FP_B, true)).to.equal('replaced');
    expect(await s.get()).to.deep.include({ fingerprint: FP_B, yaml: YAML_B });
  });

  it('lets exactly one of two racing first writers create the spec', async () => {
    const job = `spec-${++jobSeq}`;
    const results = await Promise.allSettled([specs(job).putIfAbsentOrSame(YAML_A, FP_A), specs(job).putIfAbsentOrSame(YAML_B, FP_B)]);
    const created = results.filter((r) => r.status === 'fulfilled');
    expect(created).to.have.length(1);
    const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((loser.reason as Error).message).to.match(/already has a different spec/);
  });

  it('rejects a malformed fingerprint, naming the field', async () => {
    const err = await specs('x').putIfAbsentOrSame(YAML_A, 'NOT-HEX').then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/^fingerprint must be 8-64 lowercase hex digits/);
  });
});
