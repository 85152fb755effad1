/**
 * Draws a shipped Grafana dashboard's panels from a real Prometheus's range queries with
 * uPlot, in the browser the test drives (there is no Grafana here): one chart per panel, laid out
 * on Grafana's grid, titled as in the JSON, legends from its legendFormat.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DashboardVars, fillVariables, panelQueries } from '../helpers/dashboard';
import type { PrometheusHandle } from '../helpers/prometheus';

/** One drawn panel: its title and its series (legend, [t, v] points). */
export interface PanelData {
  title: string;
  series: { legend: string; points: [number, number][] }[];
}

function legendOf(format: string, labels: Record<string, string>): string {
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) => labels[k] ?? '');
}

/** Runs every panel query of `dashboard` (default: the training one) over the last `seconds` (one point a second). */
export async function panelData(prom: PrometheusHandle, vars: DashboardVars, seconds: number, dashboard?: unknown): Promise<PanelData[]> {
  const panels = new Map<string, PanelData>();
  // One time grid for every query, so a panel's series share their timestamps.
  const end = Math.floor(Date.now() / 1000);
  for (const q of panelQueries(dashboard)) {
    const result = await prom.queryRange(fillVariables(q.expr, vars), end - seconds, end, 1);
    const panel = panels.get(q.panel) ?? { title: q.panel, series: [] };
    for (const r of result) {
      const points = r.values.map(([t, v]) => [t, Number(v)] as [number, number]).filter(([, v]) => Number.isFinite(v));
      panel.series.push({ legend: legendOf(q.legend, r.metric) || q.refId, points });
    }
    panels.set(q.panel, panel);
  }
  return [...panels.values()];
}

/** Writes an HTML page (`dir/name`) drawing `panels` with uPlot (loaded from node_modules). */
export function writeDashboardPage(dir: string, title: string, panels: PanelData[], name = 'dashboard.html'): string {
  const uplot = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<link rel="stylesheet" href="file://${uplot}/uPlot.min.css"><script src="file://${uplot}/uPlot.iife.min.js"></script>
<style>body{font:13px system-ui,sans-serif;background:#111217;color:#ccccdc;margin:0}h1{font-size:16px;margin:10px 14px}
#grid{display:grid;grid-template-columns:1fr 1fr;gap:8px;padding:0 14px 14px}.p{background:#181b1f;border:1px solid #2c3235;border-radius:3px;padding:6px}
.p h2{font-size:13px;margin:0 0 4px;color:#d8d9da}.u-legend{color:#ccccdc;font-size:11px}.u-axis{color:#9fa7b3}</style></head>
<body><h1>${title}</h1><div id="grid"></div><script>
const panels = ${JSON.stringify(panels)};
const colors = ['#73bf69','#f2cc0c','#5794f2','#ff9830','#f2495c','#b877d9','#8ab8ff','#ffb357'];
window.drawn = 0;
const short = (v) => { const a = Math.abs(v); return a >= 1e9 ? (v / 1e9).toFixed(1) + 'G' : a >= 1e6 ? (v / 1e6).toFixed(1) + 'M' : a >= 1e3 ? (v / 1e3).toFixed(1) + 'k' : +v.toFixed(3) + ''; };
for (const p of panels) {
  const box = document.createElement('div'); box.className = 'p'; box.innerHTML = '<h2></h2>'; box.firstChild.textContent = p.title;
  document.getElementById('grid').appendChild(box);
  const ts = [...new Set(p.series.flatMap((s) => s.points.map((q) => q[0])))].sort((a, b) => a - b);
  const data = [ts, ...p.series.map((s) => { const m = new Map(s.points); return ts.map((t) => (m.has(t) ? m.get(t) : null)); })];
  new uPlot({ width: 560, height: 170, series: [{}, ...p.series.map((s, i) => ({ label: s.legend, stroke: colors[i % colors.length], width: 1.5, spanGaps: true, points: { show: false } }))],
    axes: [{ stroke: '#9fa7b3', grid: { stroke: '#2c3235' } }, { stroke: '#9fa7b3', grid: { stroke: '#2c3235' }, size: 60, values: (u, vals) => vals.map(short) }] }, data, box);
  window.drawn++;
}
</script></body></html>`);
  return `file://${file}`;
}
