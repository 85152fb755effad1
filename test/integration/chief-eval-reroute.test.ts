/**
 * Issue 17: the chief's evaluation client re-routes on a stale shard map like a worker's
 * (docs/adr/0035) instead of failing the evaluation. Two PS serve map v1; the chief's model is
 * built on v1 and evaluates once. Then v2 is published and installed on both PS (a PS refuses a
 * v1 request from then on): the same model evaluates again, reads v2, re-sends the refused pulls
 * by it and gets the same figures. Without `latestMap` the refusal is still an error.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { silentLogger } from '../../src/common/logger';
import { ChiefModel, psChiefModel } from '../../src/chief/chief-model';
import { generate } from '../../src/gen/generate';
import { selectBackend } from '../../src/model/backend';
import { bucketsOwnedBy, ShardMap } from '../../src/sharding/shard-map';
import { loadJobSpec } from '../../src/spec/job-spec';
import { ckptCluster, CkptCluster } from '../helpers/checkpoint';
import { SYNTHETIC_SPEC } from '../helpers/cluster';

describe('the chief\'s evaluation re-routes on a stale shard map (issue 17)', function () {
  this.timeout(60_000);
  const spec = loadJobSpec(SYNTHETIC_SPEC);
  let dir = '';
  let evalFile = '';
  let cluster: CkptCluster;
  const models: ChiefModel[] = [];

  before(async () => {
    await selectBackend(silentLogger());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-chief-eval-'));
    evalFile = path.join(dir, 'eval.tsv');
    await generate({ rows: 1_000, seed: 5, vocab: 10_000, zipf: 1.1, out: evalFile });
  });
  beforeEach(async () => { cluster = await ckptCluster(2, []); });
  afterEach(async () => {
    for (const m of models.splice(0)) m.close();
    await cluster.tearDown();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Publishes `map` at the next version and installs it on every PS (each refuses older versions from then on). */
  const republish = (map: ShardMap): ShardMap => {
    const next = { ...map, version: map.version + 1 };
    cluster.servers.forEach((s, i) => s.node.setShardMap(next.version, next.numBuckets, bucketsOwnedBy(next, i)));
    return next;
  };

  it('an evaluation routed by an old map re-sends its pulls by the published one and gives the same figures', async () => {
    let published = cluster.map;
    const model = psChiefModel(spec, cluster.map, silentLogger(), { latestMap: async () => published });
    models.push(model);
    await model.initTables();
    const before = await model.evaluate(evalFile);
    expect(before.rows).to.equal(1_000);

    published = republish(cluster.map);
    const after = await model.evaluate(evalFile);
    expect(after).to.deep.equal(before);
    expect(model.client.map.version, 'the client routes by the published map').to.equal(published.version);
  });

  it('without latestMap a stale map still fails the evaluation, naming it', async () => {
    const model = psChiefModel(spec, cluster.map, silentLogger());
    models.push(model);
    await model.initTables();
    republish(cluster.map);
    const err = await model.evaluate(evalFile).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/shard.map/i);
  });
});
