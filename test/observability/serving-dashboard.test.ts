/**
 * The serving dashboard (deploy/grafana/tessera-serving.json) and the serving alert rules, proven
 * against a real Prometheus (Debian's) scraping a real `tessera serve --follow` (so the delta
 * stream's series, freshness among them, exist: issue 15) that answers real HTTP requests
 * (issue 19): every panel query and every metric a serving rule reads parses and returns
 * series, every metric they name is exported, the variables find the server and its model,
 * Prometheus evaluates every rule without error, and `promtool check metrics` passes on the
 * server's /metrics. Then the panels are drawn from the same Prometheus's range queries with
 * uPlot in Debian's headless Chromium (there is no Grafana here): serving-dashboard.png, the
 * picture in docs/images/.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { artifactDir, launchChromium, requireChromium } from '../helpers/chromium';
import { alertRules, DashboardVars, emptyVariables, fillVariables, loadedRules, metricNames, panelQueries, RULES_FILE, SERVING_DASHBOARD_FILE, unknownMetrics } from '../helpers/dashboard';
import { prometheusConfig, PrometheusHandle, requirePrometheus, startPrometheus } from '../helpers/prometheus';
import { publishTestModel, testInstances } from '../helpers/serve';
import { publishDeltaBetween } from '../helpers/serve-deltas';
import { spawnNode, Spawned } from '../helpers/spawn';
import { panelData, writeDashboardPage } from './dashboard-render';

// The function passed to waitForFunction runs in the browser; this is the drawing page's counter.
declare const window: { drawn: number };

const SCRAPE_JOB = 'tessera-serve-test';
/** Rounds of requests and queries before giving up (a scrape and a rule evaluation every second). */
const MAX_ROUNDS = 120;

describe('Grafana serving dashboard and serving alert rules against a real Prometheus and tessera serve (issue 19)', function () {
  this.timeout(180_000);
  let dir = '';
  let prom: PrometheusHandle | undefined;
  let serve: Spawned | undefined;
  let rest = '';
  /** One round of real traffic: 5 predictions (batches of 1 to 29) and one bad request (400). */
  const traffic = async (round: number): Promise<{ answered: number; refused: number }> => {
    const predict = (body: string) => fetch(`${rest}/v1/models/srv:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    let answered = 0;
    for (let i = 0; i < 5; i++) answered += (await predict(JSON.stringify({ instances: testInstances(1 + i * 7, round * 5 + i) }))).status === 200 ? 1 : 0;
    return { answered, refused: (await predict('{"instances": "not a list"}')).status === 400 ? 1 : 0 };
  };

  before(async function () {
    requirePrometheus(this);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-prom-serve-'));
    const root = path.join(dir, 'models');
    const v1 = await publishTestModel(root, { seed: 1 });
    const v2 = await publishTestModel(root, { seed: 2 });
    // A delta on version 2 (it serves what version 1 serves): the follower applies it at its first scan.
    await publishDeltaBetween(root, 'srv', v2.dir, v1.dir, 3, v2.version);
  });
  after(async () => {
    await prom?.stop();
    await serve?.kill();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every panel query and serving rule returns series while tessera serve answers requests; its /metrics passes promtool', async () => {
    serve = spawnNode(TESSERA_BIN, ['serve', '--follow', '--model-root', path.join(dir, 'models'), '--port', '0', '--grpc-port', '0', '--metrics-port', '0', '--version-policy', 'latest:2', '--json']);
    const where = JSON.parse(await serve.waitForLine(/^\{"rest":/, 30_000)) as { rest: string; metrics: string };
    rest = where.rest;
    await serve.waitForLine(/"msg":"first scan done"/, 30_000);
    const target = new URL(where.metrics).host;
    const targets = path.join(dir, 'targets.json');
    fs.writeFileSync(targets, JSON.stringify([{ targets: [target] }]));
    prom = await startPrometheus(path.join(dir, 'prometheus'), prometheusConfig(SCRAPE_JOB, targets, [RULES_FILE]));

    const vars: DashboardVars = { job: SCRAPE_JOB };
    const dashboard = JSON.parse(fs.readFileSync(SERVING_DASHBOARD_FILE, 'utf8'));
    const pending = new Map<string, string>();
    for (const q of panelQueries(dashboard)) pending.set(`panel "${q.panel}" ${q.refId}: ${q.expr}`, fillVariables(q.expr, vars));
    const servingRules = alertRules().filter((r) => r.group === 'tessera-serving');
    expect(servingRules.map((r) => r.alert)).to.deep.equal(['TesseraServeNotReady', 'TesseraServeErrors', 'TesseraServeSlow']);
    for (const r of servingRules) {
      for (const name of metricNames(r.expr)) pending.set(`rule ${r.alert} reads ${name}`, `${name}{job="${SCRAPE_JOB}"}`);
    }
    let answered = 0;
    let refused = 0;
    for (let round = 0; round < MAX_ROUNDS && pending.size > 0; round++) {
      const sent = await traffic(round);
      answered += sent.answered;
      refused += sent.refused;
      for (const [what, expr] of [...pending]) {
        const result = await prom.query(expr).catch((err: Error) => { throw new Error(`${what} does not parse: ${err.message}`); });
        if (result.length > 0) pending.delete(what);
      }
      if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 500)); // the next scrape (every 1 s) brings new series
    }
    expect(answered, 'predictions answered 200').to.be.greaterThan(0);
    expect(refused, 'bad requests answered 400').to.be.greaterThan(0);
    expect([...pending.keys()], 'queries that never returned series while tessera serve answered requests').to.deep.equal([]);

    // The figures are the traffic's: some errors, both loaded versions, a latency.
    const errorRatio = await prom.query(fillVariables(panelQueries(dashboard).find((q) => q.panel === 'Error ratio per model' && q.refId === 'A')!.expr, vars));
    expect(errorRatio.map((s) => s.metric.model)).to.deep.equal(['srv']);
    expect(Number(errorRatio[0].value[1])).to.be.within(0.01, 0.99);
    const versions = await prom.query(fillVariables(panelQueries(dashboard).find((q) => q.panel === 'Loaded versions and labels')!.expr, vars));
    expect(versions.map((s) => s.metric.version).sort(), 'both full versions and the delta applied on version 2').to.deep.equal(['1', '2', '3']);

    expect(await emptyVariables(prom, SERVING_DASHBOARD_FILE, vars), 'variables with no value').to.deep.equal([]);
    const rules = await loadedRules(prom);
    expect(rules.names).to.deep.equal(alertRules().map((r) => r.alert).sort());
    expect(rules.unhealthy).to.deep.equal([]);

    const exported = new Set(await prom.api<string[]>('label/__name__/values'));
    const all = [...panelQueries(dashboard).map((q) => ({ where: `panel "${q.panel}"`, expr: q.expr })), ...servingRules.map((r) => ({ where: `rule ${r.alert}`, expr: r.expr }))];
    expect(unknownMetrics(all, exported)).to.deep.equal([]);
    const text = await (await fetch(where.metrics)).text();
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.status, `promtool check metrics on ${target}:\n${lint.stdout}${lint.stderr}`).to.equal(0);
  });

  it('draws the serving panels from Prometheus range queries in headless Chromium (serving-dashboard.png)', async function () {
    requireChromium(this);
    if (!prom || !rest) this.skip(); // the first test did not get as far as a serving server
    const dashboard = JSON.parse(fs.readFileSync(SERVING_DASHBOARD_FILE, 'utf8'));
    const vars: DashboardVars = { job: SCRAPE_JOB };
    // More traffic until every panel has 40 s of points to draw.
    let panels = await panelData(prom!, vars, 60, dashboard);
    const short = () => panels.filter((pd) => Math.max(0, ...pd.series.map((se) => se.points.length)) < 40).map((pd) => pd.title);
    for (let round = 1000; round < 1000 + MAX_ROUNDS && short().length > 0; round++) {
      await traffic(round);
      await new Promise((resolve) => setTimeout(resolve, 500)); // let a scrape (every 1 s) record it
      panels = await panelData(prom!, vars, 60, dashboard);
    }
    expect(short(), 'panels with under 40 points').to.deep.equal([]);
    const browser = await launchChromium(dir);
    try {
      const board = await browser.newPage();
      await board.setViewportSize({ width: 1200, height: 900 });
      await board.goto(writeDashboardPage(dir, 'Tessera serving — srv (drawn from Prometheus range queries)', panels, 'serving-dashboard.html'));
      await board.waitForFunction((n) => window.drawn === n, panels.length);
      const shot = path.join(artifactDir(), 'serving-dashboard.png');
      await board.screenshot({ path: shot, fullPage: true });
      console.log(`      serving dashboard: ${shot}`); // eslint-disable-line no-console
      expect(fs.statSync(shot).size).to.be.greaterThan(10_000);
    } finally {
      await browser.close();
    }
  });
});
