import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { silentLogger } from '../../src/common/logger';
import { newCheckpointId } from '../../src/checkpoint/checkpoint-id';
import { readManifest } from '../../src/checkpoint/manifest';
import { takeCheckpoint } from '../../src/client/take-checkpoint';
import { verifyCheckpoint } from '../../src/checkpoint/verify';
import { PsProcess, spawnPs } from '../../src/local/ps-process';
import { planShardMap } from '../../src/sharding/shard-map';
import { PsClient } from '../../src/client/ps-client';
import { idRange, tempRoot, trainRound } from '../helpers/checkpoint';
import { lastJson, runTessera } from '../helpers/tessera';

describe('tessera checkpoint ls|inspect|verify and a PS killed mid-write (issue #5)', function () {
  this.timeout(120_000);
  let root = '';
  let ps: PsProcess | null = null;
  let client: PsClient | null = null;
  let first = '';
  before(async () => {
    root = tempRoot();
  });
  after(async () => {
    client?.close();
    if (ps) await ps.kill();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('kill -9 of a PS while it writes a snapshot leaves the previous checkpoint verifying; ls/latest ignore the partial one', async () => {
    ps = await spawnPs({ args: ['--checkpoint-root', root] });
    client = new PsClient({ shardMap: planShardMap([{ id: 0, addr: ps.addr }]), logger: silentLogger(), maxInflightPushes: 0 });
    await client.admin.installShardMap();
    await client.admin.createTable({ name: 'emb', kind: 'embedding', dim: 16, optimizer: { kind: 'adagrad', lr: 0.05 } });
    for (let a = 0; a < 300_000; a += 50_000) await trainRound(client, 'emb', idRange(a, 50_000), 16, 0);
    first = newCheckpointId(1);
    await takeCheckpoint(client.checkpoints, root, { id: first, kind: 'full', job: { step: 42, spec: 'model: {kind: lr}\n' } });
    const second = newCheckpointId(2);
    await client.checkpoints.snapshot(second, root, 'full');
    await ps.kill(); // SIGKILL right after the cut, while the PS writes
    ps = null;
    expect(fs.existsSync(path.join(root, second, 'manifest.json'))).to.equal(false);
    expect((await verifyCheckpoint(root, first)).faults).to.deep.equal([]);

    const ls = await runTessera(['checkpoint', 'ls', root, '--json']);
    expect(ls.code, ls.stderr).to.equal(0);
    // Issue 22 §2: with --json, stdout is only the JSON (the table moves to stderr).
    expect(JSON.parse(ls.stdout).checkpoints.map((c: { id: string }) => c.id)).to.deep.equal([first]);
    expect(ls.stderr).to.match(new RegExp(`${first}\\s+42\\s+full`));
    const table = await runTessera(['checkpoint', 'ls', root]);
    expect(table.stdout).to.match(new RegExp(`${first}\\s+42\\s+full`)).and.not.include('{');

    const verify = await runTessera(['checkpoint', 'verify', root, '--json']);
    expect(verify.code, verify.stderr).to.equal(0);
    expect(lastJson(verify.stdout)).to.include({ ok: true, id: first });

    const inspect = await runTessera(['checkpoint', 'inspect', path.join(root, first), '--json']);
    expect(inspect.code, inspect.stderr).to.equal(0);
    expect(JSON.parse(inspect.stdout).rows).to.deep.equal({ emb: 300_000 });
    // Issue 22 §2: the spec as the YAML itself, not escaped JSON.
    const text = await runTessera(['checkpoint', 'inspect', path.join(root, first)]);
    expect(text.stdout).to.include('spec (YAML):\n').and.include('\nmodel: {kind: lr}').and.not.include('\\n');
  });

  it('verify exits non-zero naming the damaged file and chunk; bad arguments are clear errors', async () => {
    const id = first;
    const m = await readManifest(path.join(root, id));
    const file = path.join(root, id, m.files[0].path);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 3] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const bad = await runTessera(['checkpoint', 'verify', path.join(root, id)]);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include(m.files[0].path).and.match(/chunk \d+ \(offset \d+\): payload checksum mismatch/);
    const missing = await runTessera(['checkpoint', 'inspect', path.join(root, 'nope')]);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.include('TESSERA_ERR_CHECKPOINT_NOT_FOUND');
    const help = await runTessera(['checkpoint', '--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.include('verify');
  });
});
