/**
 * `training.wire_encoding: f16` end to end (issue 18 §4): `tessera train` against real
 * `tessera ps` processes, each behind a TCP proxy that counts the bytes of the data plane, once
 * with f32 and once with f16 on the same Criteo rows. f16 must carry about half the bytes both
 * ways (values and gradients are half floats, ids stay 8 bytes) and train to the same AUC.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { PsProcess, spawnPs } from '../../src/local/ps-process';
import { criteoSplitDir, lastJson, runTessera as tessera } from '../helpers/tessera';
import { TcpProxy } from '../helpers/tcp-proxy';

const ROOT = path.resolve(__dirname, '..', '..', '..');

interface WireRun { auc: number; samples: number; sent: number; received: number }

describe('training.wire_encoding: f16 goes over the wire as half floats (issue 18, real PS processes)', function () {
  this.timeout(180_000);
  let dir: string;
  const ps: PsProcess[] = [];
  const proxies: TcpProxy[] = [];
  before(function () {
    const split = criteoSplitDir('tessera-wire-');
    if (split === undefined) this.skip();
    dir = split;
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all(ps.map((p) => p.stop()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Trains on a fresh PS process behind a fresh proxy; what the proxy counted. */
  async function train(wire: 'f32' | 'f16'): Promise<WireRun> {
    const doc = parse(fs.readFileSync(path.join(ROOT, 'examples', 'criteo-deepfm.yaml'), 'utf8'));
    doc.training = { ...doc.training, wire_encoding: wire };
    const job = path.join(dir, `${wire}.yaml`);
    fs.writeFileSync(job, stringify(doc));
    const p = await spawnPs({ args: ['--log-level', 'warn'] });
    ps.push(p);
    const proxy = await TcpProxy.start(p.addr);
    proxies.push(proxy);
    const t = await tessera(['train', '--job', job, '--data', path.join(dir, 'train.txt'), '--eval', path.join(dir, 'eval.txt'),
      '--epochs', '1', '--ps', proxy.addr, '--out', path.join(dir, `model-${wire}`), '--json']);
    expect(t.code, t.stderr).to.equal(0);
    const r = lastJson(t.stdout);
    return { auc: r.auc, samples: r.samples, sent: proxy.bytesFromClients, received: proxy.bytesFromServer };
  }

  it('halves the bytes of pulls and pushes and trains to the same AUC as f32', async () => {
    const f32 = await train('f32');
    const f16 = await train('f16');
    expect(f16.samples).to.equal(7000);
    expect(f32.samples).to.equal(7000);
    // Same rows and steps both times, so the only difference on the wire is the value encoding:
    // 4 bytes a value against 2 (ids, headers and framing stay), about 0.5-0.6 of the bytes.
    const down = f16.received / f32.received;
    const up = f16.sent / f32.sent;
    expect(down, `pull answers: f16 ${f16.received} B, f32 ${f32.received} B`).to.be.within(0.4, 0.65);
    expect(up, `requests (pushes): f16 ${f16.sent} B, f32 ${f32.sent} B`).to.be.within(0.4, 0.65);
    expect(f32.auc).to.be.above(0.65);
    expect(Math.abs(f16.auc - f32.auc), `AUC f16 ${f16.auc} against f32 ${f32.auc}`).to.be.below(0.01);
  });
});
