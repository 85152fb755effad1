/**
 * The chief's live training page in a real browser (issue 19): Debian's headless Chromium loads
 * the page `tessera local` prints, during a real run; the plots have drawn points, and every
 * figure, table size and shard row on the page is the one in the `/api/status` response it
 * rendered, whose shared fields `tessera status --json` prints too. The same run is scraped by a
 * real Prometheus, and the Grafana dashboard's panels are drawn from its range queries.
 * Screenshots of both are kept as artifacts (artifactDir()).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { artifactDir, launchChromium, requireChromium } from '../helpers/chromium';
import { requireEtcd } from '../helpers/etcd';
import { prometheusConfig, PrometheusHandle, requirePrometheus, startPrometheus } from '../helpers/prometheus';
import { lastJson, runTessera } from '../helpers/tessera';
import { panelData, writeDashboardPage } from './dashboard-render';
import { awaitFile, ObsRun, startObsRun } from './obs-run';

// The functions passed to page.evaluate run in the browser; these names are the browser's.
declare const document: { getElementById(id: string): { dataset: Record<string, string | undefined> } | null; querySelectorAll(sel: string): Iterable<BrowserElement> };
interface BrowserElement { getAttribute(name: string): string | null; children: ArrayLike<{ dataset: Record<string, string | undefined> }>; width: number }
declare const window: { tesseraPage: { record: any; plots: Record<string, { data: (number | null)[][] }>; stop(): void; refresh(): Promise<unknown> }; drawn: number };

/** What the page shows: each figure's raw value, and the table and shard rows. */
async function shown(page: Page) {
  return page.evaluate(() => {
    const v = (id: string) => document.getElementById(id)!.dataset.value;
    return {
      phase: v('phase'), epoch: v('epoch'), samples: v('samples'), step: v('step'), loss: v('loss'), auc: v('auc'), workers: v('workers'), shardsDone: v('shards-done'),
      pushStaleness: v('push-staleness'),
      tables: [...document.querySelectorAll('#tables tr[data-table]')].map((tr) => ({ name: tr.getAttribute('data-table'), rows: tr.children[1].dataset.value })),
      shards: [...document.querySelectorAll('#shards [data-shard]')].map((el) => ({ shard: el.getAttribute('data-shard'), rows: el.getAttribute('data-rows') })),
      checkpoints: [...document.querySelectorAll('#checkpoints tr[data-checkpoint]')].map((tr) => tr.getAttribute('data-checkpoint')),
    };
  });
}

describe('the training page in headless Chromium, and the dashboard drawn from Prometheus (issue 19)', function () {
  this.timeout(300_000);
  let dir: string;
  let run: ObsRun | undefined;
  let browser: BrowserContext | undefined;
  let prom: PrometheusHandle | undefined;

  before(function () {
    requireEtcd(this);
    requireChromium(this);
    requirePrometheus(this);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-page-'));
  });
  after(async () => {
    await browser?.close();
    run?.proc.kill('SIGINT');
    await run?.done;
    await prom?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('draws the curves and shows the numbers of /api/status during a tessera local run', async () => {
    // 300,000 rows: epoch 2 must still train when the page has an eval, a checkpoint and 5 points
    // (100,000 once ended first with the faster worker step).
    run = startObsRun(dir, `page-${process.pid}`, 300_000);
    await awaitFile(run, path.join(run.runDir, 'prometheus-targets.json'));
    prom = await startPrometheus(path.join(dir, 'prometheus'), prometheusConfig('tessera', path.join(run.runDir, 'prometheus-targets.json'), []));
    const url = (await run.stderrMatch(/training page (http:\/\/\S+)/))[1];
    browser = await launchChromium(dir);
    const page = await browser.newPage();
    await page.goto(url);
    // Wait (as the page updates itself) for an evaluated epoch and a checkpoint, and push staleness
    // measured in epoch 2 (committed with the workers' progress about once a second).
    await page.waitForFunction(() => {
      const r = window.tesseraPage?.record;
      return r && r.evals.length >= 1 && r.checkpoints.length >= 1 && r.progress?.phase === 'train' && r.history.length >= 5 && r.tables?.length > 0
        && r.progress.push_staleness_p99 !== null;
    }, null, { timeout: 240_000, polling: 250 });

    // Freeze the page's polling, refresh once, and compare what it shows with the JSON it rendered.
    await page.evaluate(() => window.tesseraPage.stop());
    const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/status')), page.evaluate(() => window.tesseraPage.refresh())]);
    const record = await response.json();
    const s = await shown(page);
    const p = record.progress;
    expect(s).to.deep.include({
      phase: p.phase, epoch: String(p.epoch), samples: String(p.samples), step: String(p.step), loss: String(p.loss),
      auc: String(p.last_eval.auc), workers: String(p.workers), shardsDone: String(p.shards_done), pushStaleness: String(p.push_staleness_p99),
    });
    expect(p.epoch).to.equal(2);
    // Two workers pushing asynchronously: sampled steps have measured staleness by now (issue 19 §4).
    expect(p.push_staleness_p99).to.be.a('number');
    expect(s.tables).to.deep.equal(record.tables.map((t: { name: string; rows: number }) => ({ name: t.name, rows: String(t.rows) })));
    expect(s.tables.map((t) => t.name)).to.include('emb');
    expect(s.shards).to.deep.equal(record.shards.map((sh: { shard: number; rows: number }) => ({ shard: String(sh.shard), rows: String(sh.rows) })));
    expect(s.checkpoints).to.have.length(record.checkpoints.length).and.length.greaterThan(0);

    // The plots have drawn points: loss and samples/s over time (total and each worker), AUC per epoch.
    const points = await page.evaluate(() => Object.fromEntries(Object.entries(window.tesseraPage.plots).map(([id, u]) =>
      [id, u.data.slice(1).map((series) => series.filter((v) => v !== null && Number.isFinite(v)).length)])));
    expect(points['plot-loss'][0]).to.be.greaterThan(2);
    expect(points['plot-rate'].length, 'total + 2 workers').to.equal(3);
    for (const n of points['plot-rate']) expect(n).to.be.greaterThan(0);
    expect(points['plot-eval']).to.deep.equal([record.evals.length, record.evals.length]);
    const canvases = await page.evaluate(() => [...document.querySelectorAll('main canvas')].map((c) => c.width));
    expect(canvases).to.have.length(3);

    // `tessera status --json` prints the same record (without the page's live additions).
    const cli = lastJson((await runTessera(['status', '--etcd', /etcd (http:\/\/\S+),/.exec((await run.stderrMatch(/etcd http:\/\/\S+, job/))[0])![1], '--job', run.job, '--json'])).stdout);
    expect(cli.job).to.equal(record.job);
    expect(cli.evals).to.deep.equal(record.evals);
    expect(cli.shard_map).to.deep.equal(record.shard_map);
    // `replication` is the CLI's own: it asks each PS for its replica lag (issue 17).
    expect(Object.keys(cli).filter((k) => k !== 'replication').sort()).to.deep.equal(Object.keys(record).filter((k) => !['history', 'checkpoints', 'tables'].includes(k)).sort());

    const shot = path.join(artifactDir(), 'training-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`      screenshot: ${shot}`); // eslint-disable-line no-console
    expect(fs.statSync(shot).size).to.be.greaterThan(10_000);

    // The Grafana dashboard's panels, drawn from the same run's Prometheus range queries.
    const panels = await panelData(prom, { job: 'tessera', tessera_job: run.job }, 180);
    expect(panels.filter((pd) => !pd.series.some((se) => se.points.length > 0)).map((pd) => pd.title), 'panels with no points').to.deep.equal([]);
    const board = await browser.newPage();
    await board.setViewportSize({ width: 1200, height: 900 });
    await board.goto(writeDashboardPage(dir, `Tessera training — ${run.job} (drawn from Prometheus range queries)`, panels));
    await board.waitForFunction((n) => window.drawn === n, panels.length);
    const boardShot = path.join(artifactDir(), 'dashboard.png');
    await board.screenshot({ path: boardShot, fullPage: true });
    console.log(`      dashboard: ${boardShot}`); // eslint-disable-line no-console
  });
});
