/**
 * The Grafana dashboard and the alert rules, proven against a real Prometheus (Debian's) that
 * scrapes a real `tessera local` run through the run's file_sd file (issue 19):
 * - promtool checks the rules and runs their unit test (the stalled-job alert);
 * - every panel query and every rule expression parses in Prometheus and returns series during
 *   the run, and every metric they name is exported by some target: a panel naming a metric that
 *   does not exist fails;
 * - `promtool check metrics` passes on every process's /metrics;
 * - Prometheus loads the rules and evaluates each without error.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireEtcd } from '../helpers/etcd';
import { alertRules, DASHBOARD_FILE, DashboardVars, emptyVariables, fillVariables, loadedRules, metricNames, panelQueries, RULES_FILE, unknownMetrics } from '../helpers/dashboard';
import { prometheusConfig, PrometheusHandle, requirePrometheus, startPrometheus } from '../helpers/prometheus';
import { awaitFile, scrapeTargets, startObsRun } from './obs-run';

const SCRAPE_JOB = 'tessera-test';

describe('Grafana dashboard and alert rules against a real Prometheus (issue 19)', function () {
  this.timeout(300_000);
  let dir: string;
  let prom: PrometheusHandle | undefined;

  before(function () {
    requireEtcd(this);
    requirePrometheus(this);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-prom-'));
  });
  after(async () => {
    await prom?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('promtool checks the rules and passes their unit test, which fires the stalled-job alert', () => {
    const check = spawnSync('promtool', ['check', 'rules', RULES_FILE], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).to.equal(0);
    expect(check.stdout).to.match(/SUCCESS: 9 rules found/);
    const unit = spawnSync('promtool', ['test', 'rules', 'tessera-rules.test.yaml'], { cwd: path.dirname(RULES_FILE), encoding: 'utf8' });
    expect(unit.status, unit.stdout + unit.stderr).to.equal(0);
    // The unit test can fail: the same file with the alert's expected firing removed does.
    const broken = path.join(dir, 'broken.test.yaml');
    const text = fs.readFileSync(path.join(path.dirname(RULES_FILE), 'tessera-rules.test.yaml'), 'utf8');
    fs.writeFileSync(broken, text.replace('rule_files:\n  - tessera-rules.yaml', `rule_files:\n  - ${RULES_FILE}`).replace(/- eval_time: 26m[\s\S]*?exp_alerts:\n/, '- eval_time: 26m\n        alertname: TesseraJobStalled\n        exp_alerts: []\n        # was:\n'));
    expect(spawnSync('promtool', ['test', 'rules', broken], { encoding: 'utf8' }).status).to.not.equal(0);
  });

  it('every panel query and rule expression parses and returns series during a tessera local run; every endpoint passes promtool check metrics', async () => {
    const run = startObsRun(dir, `obs-${process.pid}`);
    try {
      await awaitFile(run, path.join(run.runDir, 'prometheus-targets.json'));
      prom = await startPrometheus(path.join(dir, 'prometheus'), prometheusConfig(SCRAPE_JOB, path.join(run.runDir, 'prometheus-targets.json'), [RULES_FILE]));
      const vars: DashboardVars = { job: SCRAPE_JOB, tessera_job: run.job };
      const pending = new Map<string, string>();
      for (const q of panelQueries()) pending.set(`panel "${q.panel}" ${q.refId}: ${q.expr}`, fillVariables(q.expr, vars));
      // The serving rules' metrics are checked against a real tessera serve (serving-dashboard.test.ts).
      for (const r of alertRules().filter((x) => x.group === 'tessera-training')) {
        for (const name of metricNames(r.expr)) pending.set(`rule ${r.alert} reads ${name}`, `${name}{tessera_job="${run.job}"}`);
      }
      const checkedEndpoints = new Set<string>();
      let exported = new Set<string>();
      // Until every query has returned series once, or the run is over.
      while (pending.size > 0 && !run.finished()) {
        for (const [what, expr] of [...pending]) {
          const result = await prom.query(expr).catch((err: Error) => { throw new Error(`${what} does not parse: ${err.message}`); });
          if (result.length > 0) pending.delete(what);
        }
        exported = new Set([...exported, ...await prom.api<string[]>('label/__name__/values')]);
        for (const target of scrapeTargets(run)) {
          if (checkedEndpoints.has(target)) continue;
          const text = await fetch(`http://${target}/metrics`).then((r) => r.text(), () => '');
          if (!text) continue;
          const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
          expect(lint.status, `promtool check metrics on ${target}:\n${lint.stdout}${lint.stderr}`).to.equal(0);
          checkedEndpoints.add(target);
        }
        if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 500)); // the next scrape (every 1 s) brings new series
      }
      const early = run.finished() ? `; tessera local exited early: ${(await run.done).stderr.slice(-2000)}` : '';
      expect([...pending.keys()], `queries that never returned series during the run${early}`).to.deep.equal([]);
      expect(checkedEndpoints.size, 'endpoints checked: 2 PS, 2 workers, the leading chief (and the standby once it serves)').to.be.at.least(5);
      expect(await emptyVariables(prom, DASHBOARD_FILE, vars), 'variables with no value').to.deep.equal([]);
      const rules = await loadedRules(prom);
      expect(rules.names).to.deep.equal(alertRules().map((r) => r.alert).sort());
      expect(rules.unhealthy).to.deep.equal([]);

      // Every metric a panel or rule names exists; a panel naming one that does not fails.
      const all = [...panelQueries().map((q) => ({ where: `panel "${q.panel}"`, expr: q.expr })), ...alertRules().filter((r) => r.group === 'tessera-training').map((r) => ({ where: `rule ${r.alert}`, expr: r.expr }))];
      expect(unknownMetrics(all, exported)).to.deep.equal([]);
      const bogus = { panels: [{ title: 'bogus', targets: [{ refId: 'A', expr: 'rate(tessera_job_sampels_total{tessera_job="x"}[1m])' }] }] };
      expect(unknownMetrics(panelQueries(bogus).map((q) => ({ where: `panel "${q.panel}"`, expr: q.expr })), exported))
        .to.deep.equal(['panel "bogus": names tessera_job_sampels_total, which no target exports']);
    } finally {
      // Checks done (or failed): stop the run; its own exit status is not under test here.
      run.proc.kill('SIGINT');
      await run.done;
    }
  });
});
