/**
 * The shipped Grafana dashboard and alert rules as tests read them: every panel query with its
 * variables filled in, and the metric names an expression reads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './cluster';
import type { PrometheusHandle } from './prometheus';

export const DASHBOARD_FILE = path.join(ROOT, 'deploy', 'grafana', 'tessera-training.json');
export const SERVING_DASHBOARD_FILE = path.join(ROOT, 'deploy', 'grafana', 'tessera-serving.json');
export const RULES_FILE = path.join(ROOT, 'deploy', 'prometheus', 'tessera-rules.yaml');

/** One query of one panel. */
export interface PanelQuery {
  panel: string;
  refId: string;
  legend: string;
  expr: string;
}

/** Every panel query of a dashboard JSON (default: the shipped one). */
export function panelQueries(dashboard: unknown = JSON.parse(fs.readFileSync(DASHBOARD_FILE, 'utf8'))): PanelQuery[] {
  const panels = (dashboard as { panels: { title: string; targets: { refId: string; expr: string; legendFormat?: string }[] }[] }).panels;
  return panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, refId: t.refId, legend: t.legendFormat ?? '', expr: t.expr })));
}

/** A dashboard file's variable queries (`label_values(selector, label)`; default: the training one). */
export function variableQueries(file = DASHBOARD_FILE): { name: string; selector: string; label: string }[] {
  const d = JSON.parse(fs.readFileSync(file, 'utf8')) as { templating: { list: { name: string; type: string; query: unknown }[] } };
  return d.templating.list.filter((v) => v.type === 'query').map((v) => {
    const q = (v.query as { query: string }).query;
    const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q);
    if (!m) throw new Error(`variable ${v.name}: not label_values(selector, label): ${q}`);
    return { name: v.name, selector: m[1], label: m[2] };
  });
}

/** The values Grafana would put in for the dashboard's variables. */
export interface DashboardVars {
  job: string;
  /** the training dashboard's job selector */
  tessera_job?: string;
  /** the serving dashboard's model selector (default: All) */
  model?: string;
}

/** `expr` with the dashboard's variables replaced as Grafana would (All = `.+`). */
export function fillVariables(expr: string, v: DashboardVars, rateInterval = '10s'): string {
  return expr.replace(/\$__rate_interval/g, rateInterval).replace(/\$tessera_job\b/g, v.tessera_job ?? '.+').replace(/\$job\b/g, v.job)
    .replace(/\$instance\b/g, '.+').replace(/\$model\b/g, v.model ?? '.+');
}

/**
 * The metric names an expression reads: identifiers outside label matchers (`{…}`) and
 * grouping clauses (`by (…)`, `on (…)`), of Tessera's and Node's process series.
 */
export function metricNames(expr: string): string[] {
  const bare = expr.replace(/\{[^}]*\}/g, '').replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...new Set(bare.match(/\b(tessera|process|nodejs)_[a-z0-9_]+\b/g) ?? [])];
}

/** Metric names in the queries' expressions that no target exports ("panel …: names …"). */
export function unknownMetrics(queries: { where: string; expr: string }[], exported: Set<string>): string[] {
  return queries.flatMap((q) => metricNames(q.expr).filter((n) => !exported.has(n) && !exported.has(n.replace(/_(bucket|sum|count)$/, '')))
    .map((n) => `${q.where}: names ${n}, which no target exports`));
}

/** Every alerting rule of the shipped rule file, with its group (`tessera-training`, `tessera-serving`). */
export function alertRules(): { group: string; alert: string; expr: string }[] {
  const doc = parse(fs.readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string }[] }[] };
  return doc.groups.flatMap((g) => g.rules.map((r) => ({ group: g.name, alert: r.alert, expr: r.expr })));
}

/** The variables of a dashboard file for which Prometheus finds no value. */
export async function emptyVariables(prom: PrometheusHandle, file: string, vars: DashboardVars): Promise<string[]> {
  const empty: string[] = [];
  for (const v of variableQueries(file)) {
    const series = await prom.api<Record<string, string>[]>(`series?match[]=${encodeURIComponent(fillVariables(v.selector, vars))}`);
    if (!series.some((s) => s[v.label])) empty.push(v.name);
  }
  return empty;
}

/** The alerting rules Prometheus has loaded (sorted names), and those it failed to evaluate. */
export async function loadedRules(prom: PrometheusHandle): Promise<{ names: string[]; unhealthy: string[] }> {
  const rules = await prom.api<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>('rules');
  const loaded = rules.groups.flatMap((g) => g.rules);
  return { names: loaded.map((r) => r.name).sort(), unhealthy: loaded.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError}`) };
}
