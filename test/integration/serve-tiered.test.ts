/**
 * Issue 14, section 2 (models bigger than RAM): with --max-resident-bytes below a model's size,
 * its embedding rows live in the PS's two-tier store: the hot rows in RAM under the budget, the
 * rest in the version's LMDB tier, loaded back when a request reads them. Predictions are exactly
 * those of a model held wholly in RAM (tessera eval's), cold-start values included.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/common/logger';
import { selectBackend } from '../../src/model/backend';
import { ModelServer } from '../../src/serve/model-server';
import { curl, evalPredictions, publishTestModel, testInstances } from '../helpers/serve';

const VALUES = 6000; // 18,000 rows of dim 4 and 18,000 first-order rows: about 1.2 MB resident

describe('tessera serve --max-resident-bytes: hot rows in RAM, cold rows in the LMDB tier (issue 14)', function () {
  this.timeout(60_000);
  let root = '';
  let tiers = '';
  let server: ModelServer | undefined;

  before(() => selectBackend(silentLogger()));
  afterEach(async () => {
    await server?.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(tiers, { recursive: true, force: true });
  });

  it('serves the predictions of the whole model with most rows on disk, and brings read rows back', async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-tier-'));
    tiers = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-tierdir-'));
    const v1 = await publishTestModel(root, { values: VALUES });
    const registry = new Registry();
    server = await ModelServer.start({ root, host: '127.0.0.1', port: 0, pollMs: 0, maxResidentBytes: 600_000, tierDir: tiers }, { logger: silentLogger(), registry });
    await server.registry.rescan();
    const rowsOf = async () => (await curl('GET', `${server!.rest.url}/status`)).body.models[0].versions[0].rows as { resident: number; disk: number; reloads: number };
    const before = await rowsOf();
    expect(before.resident + before.disk, 'every row is somewhere').to.equal(2 * 3 * VALUES);
    expect(before.disk, 'rows beyond the budget are on disk').to.be.greaterThan(before.resident);
    expect(fs.readdirSync(tiers), 'the version has its own tier directory').to.have.length(1);

    const instances = testInstances(300, 17, VALUES);
    const want = await evalPredictions(v1.dir, instances);
    const r = await curl('POST', `${server.rest.url}/v1/models/srv:predict`, JSON.stringify({ instances }));
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    r.body.predictions.forEach((p: number, i: number) => expect(p, `row ${i}`).to.be.closeTo(want[i], 1e-6));

    const after = await rowsOf();
    expect(after.resident + after.disk, 'reads move rows, never add or drop them').to.equal(2 * 3 * VALUES);
    expect(after.reloads, 'the cold rows read came back from disk').to.be.greaterThan(before.reloads);
    const again = await curl('POST', `${server.rest.url}/v1/models/srv:predict`, JSON.stringify({ instances }));
    expect(again.body.predictions, 'the same answer with the rows now resident').to.deep.equal(r.body.predictions);
    const text = await registry.metrics();
    expect(text).to.match(new RegExp(`tessera_serve_rows\\{model="srv",version="1",tier="disk"\\} ${after.disk}`));
    await server.close();
    server = undefined;
    expect(fs.readdirSync(tiers), 'the tier is removed with the version').to.deep.equal([]);
  });
});
