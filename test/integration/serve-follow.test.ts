/**
 * Issue 15, `tessera serve --follow`: a real server over a real model root follows a delta stream
 * written with the chief's own writer (tessera-delta/1). Each delta is applied once, in order, as
 * a new version swapped in whole (a request holding V keeps V's answers); tombstoned rows return
 * to their cold-start value; a corrupted delta (one flipped byte), a missing delta and a delta of
 * a changed spec are refused while the last good version keeps serving, shown in status and
 * counted, until the chief's next full version resynchronises; a restarted server catches up from
 * the stream's last full version plus the deltas after it.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/common/logger';
import { selectBackend } from '../../src/model/backend';
import { ModelServer } from '../../src/serve/model-server';
import { createLogSink } from '../helpers/log-sink';
import { flipByte, publishDeltaBetween } from '../helpers/serve-deltas';
import { curl, evalPredictions, instanceRow, publishTestModel, testInstances } from '../helpers/serve';

describe('tessera serve --follow: deltas applied in order, refused when bad, caught up after a restart (issue 15)', function () {
  this.timeout(60_000);
  let root = '';
  let scratch = '';
  const servers: ModelServer[] = [];
  const instances = testInstances(12);

  async function start(pollMs = 0, logger = silentLogger(), metrics = new Registry()): Promise<ModelServer> {
    const s = await ModelServer.start({ root, host: '127.0.0.1', port: 0, pollMs, follow: true }, { logger, registry: metrics });
    servers.push(s);
    await s.registry.rescan();
    return s;
  }

  async function served(s: ModelServer): Promise<{ version: string; predictions: number[] }> {
    const r = await curl('POST', `${s.rest.url}/v1/models/srv:predict`, JSON.stringify({ instances }));
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return { version: r.body.model_version, predictions: r.body.predictions };
  }

  function expectSame(got: ArrayLike<number>, want: number[], what: string): void {
    Array.from(got).forEach((p, i) => expect(p, `${what}, instance ${i}`).to.be.closeTo(want[i], 1e-6));
  }

  /** A saved model with seed `seed` (and `values` trained ids per field), outside the served root. */
  async function target(seed: number, values?: number): Promise<string> {
    return (await publishTestModel(scratch, { seed, values })).dir;
  }

  function followStatus(s: ModelServer): any {
    return (s.status().models[0] as any).follow;
  }

  before(() => selectBackend(silentLogger()));
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-follow-'));
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-follow-src-'));
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('applies each delta once, in order, swapping in whole versions; tombstoned rows serve their cold-start value', async () => {
    const v1 = await publishTestModel(root, { seed: 1 });
    const metrics = new Registry();
    const sink = createLogSink('info');
    // A poll far longer than the test: only the watch on the deltas directory brings deltas in.
    const s = await start(600_000, sink.logger, metrics);
    expect((await served(s)).version).to.equal('1');
    const b = await target(2, 10); // half the ids of version 1 are gone: tombstones
    const d2 = await publishDeltaBetween(root, 'srv', v1.dir, b, 2, 1);
    expect(d2.tombstones, 'the fixture tombstones rows').to.be.greaterThan(0);
    await sink.waitFor((l) => l.msg === 'delta applied' && l.version === 2);
    const at2 = await served(s);
    expect(at2.version).to.equal('2');
    expectSame(at2.predictions, await evalPredictions(b, instances), 'version 2 serves what the target model evaluates to (tombstoned ids at cold start)');

    const held = s.registry.model('srv').resolve({}).hold(); // a request in flight on version 2
    const c = await target(3);
    await publishDeltaBetween(root, 'srv', b, c, 3, 2);
    await sink.waitFor((l) => l.msg === 'delta applied' && l.version === 3);
    const at3 = await served(s);
    expect(at3.version).to.equal('3');
    expectSame(at3.predictions, await evalPredictions(c, instances), 'version 3');
    expect([held.version, held.isRetired]).to.deep.equal([2, true]);
    expectSame(await held.predict(instances.map(instanceRow)), at2.predictions, 'the held version 2 still answers as version 2');
    held.unhold();
    await held.released;

    await s.registry.rescan(); // nothing new: nothing applied twice
    expect(followStatus(s)).to.include({ base: 1, head: 3, applied: 2, refused: 0, error: null });
    const text = await metrics.metrics();
    expect(text).to.match(/tessera_serve_model_version\{model="srv"\} 3/);
    expect(text).to.match(/tessera_serve_deltas_applied_total\{model="srv"\} 2/);
    expect(text).to.match(new RegExp(`tessera_serve_rows_tombstoned_total\\{model="srv"\\} ${d2.tombstones}`));
    expect(text).to.match(/tessera_serve_freshness_seconds\{model="srv"\} \d/);
  });

  it('refuses a corrupted delta and a missing delta, keeps serving the last good version, and resynchronises from the next full version', async () => {
    const v1 = await publishTestModel(root, { seed: 1 });
    const metrics = new Registry();
    const s = await start(0, silentLogger(), metrics);
    const b = await target(2);
    await publishDeltaBetween(root, 'srv', v1.dir, b, 2, 1);
    await s.registry.rescan();
    const good = await served(s);
    expect(good.version).to.equal('2');

    await publishDeltaBetween(root, 'srv', b, await target(3), 3, 2);
    flipByte(root, 'srv', 3, 'dense.f32');
    await s.registry.rescan();
    expect(await served(s), 'a corrupted delta leaves version 2 serving').to.deep.equal(good);
    expect(followStatus(s).error).to.include({ version: 3, reason: 'checksum' });
    expect(followStatus(s).error.message).to.match(/dense\.f32: checksum mismatch/);

    const v4 = await publishTestModel(root, { seed: 4 }); // the chief's next full version …
    expect(v4.version).to.equal(4);
    const e = await target(5);
    await publishDeltaBetween(root, 'srv', v4.dir, e, 5, 4); // … and a delta on it: resync
    await s.registry.rescan();
    const at5 = await served(s);
    expect(at5.version).to.equal('5');
    expectSame(at5.predictions, await evalPredictions(e, instances), 'version 5');
    expect(followStatus(s)).to.include({ base: 4, head: 5, error: null });

    // Delta 6 never arrives; 7 names it as its parent: a gap.
    await publishDeltaBetween(root, 'srv', e, await target(7), 7, 6);
    await s.registry.rescan();
    expect(await served(s), 'a gap leaves version 5 serving').to.deep.equal(at5);
    expect(followStatus(s).error).to.include({ version: 7, reason: 'gap' });
    expect(followStatus(s).error.message).to.match(/its parent, version 6, is neither a delta nor a full version on disk/);
    await s.registry.rescan(); // a refused chain is not read again
    expect(followStatus(s).refused).to.equal(2);
    const text = await metrics.metrics();
    expect(text).to.match(/tessera_serve_deltas_refused_total\{model="srv",reason="checksum"\} 1/);
    expect(text).to.match(/tessera_serve_deltas_refused_total\{model="srv",reason="gap"\} 1/);
  });

  it('refuses a delta from a job whose spec changed (fingerprint) and keeps serving the last good version', async () => {
    const v1 = await publishTestModel(root, { seed: 1 });
    const metrics = new Registry();
    const s = await start(0, silentLogger(), metrics);
    await publishDeltaBetween(root, 'srv', v1.dir, await target(2), 2, 1, { fingerprint: 'f'.repeat(64) });
    await s.registry.rescan();
    const r = await served(s);
    expect(r.version).to.equal('1');
    expectSame(r.predictions, await evalPredictions(v1.dir, instances), 'version 1');
    expect(followStatus(s).error).to.include({ version: 2, reason: 'spec' });
    expect(followStatus(s).error.message).to.match(/spec fingerprint f+ differs from the served/);
    expect(await metrics.metrics()).to.match(/tessera_serve_deltas_refused_total\{model="srv",reason="spec"\} 1/);
  });

  it('a restarted server catches up from the stream\'s last full version plus the deltas after it, past an epoch end\'s export', async () => {
    const v1 = await publishTestModel(root, { seed: 1 });
    const b = await target(2);
    const c = await target(3, 8);
    await publishDeltaBetween(root, 'srv', v1.dir, b, 2, 1);
    const first = await start();
    expect((await served(first)).version).to.equal('2');
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    // Published while no server ran: an epoch end's full version (numbered in the sequence, no
    // delta's parent), then the stream's next delta, on version 2.
    expect((await publishTestModel(root, { seed: 9 })).version).to.equal(3);
    await publishDeltaBetween(root, 'srv', b, c, 4, 2);
    const again = await start();
    const r = await served(again);
    expect(r.version).to.equal('4');
    expectSame(r.predictions, await evalPredictions(c, instances), 'caught up to version 4 from full version 1 and deltas 2 and 4');
    expect(followStatus(again)).to.include({ base: 1, head: 4, applied: 2, refused: 0 });
  });
});
