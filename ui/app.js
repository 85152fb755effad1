// Tessera's training page: polls /api/status, renders the figures, tables and uPlot curves.
// window.tesseraPage exposes refresh(), stop(), the last record and the plots (tests read them).
(function () {
  'use strict';
  const POLL_MS = 2000;
  const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];
  const plots = {};
  const page = { record: null, plots, timer: null };

  const $ = (id) => document.getElementById(id);
  const num = (x, digits) => (x === null || x === undefined ? '–' : digits === undefined ? Math.round(x).toLocaleString('en-US') : x.toFixed(digits));
  function show(id, value, text) {
    const el = $(id);
    el.dataset.value = value === null || value === undefined ? '' : String(value);
    el.textContent = text;
  }
  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  }

  /** Creates or updates a uPlot in `id` with x values and named series. */
  function plot(id, xs, series, opts) {
    const names = series.map((s) => s.label).join('|');
    const data = [xs, ...series.map((s) => s.values)];
    const el = $(id);
    if (plots[id] && plots[id]._names === names) { plots[id].setData(data); return; }
    if (plots[id]) plots[id].destroy();
    const width = Math.max(300, el.clientWidth || 500);
    plots[id] = new uPlot({
      width, height: 220, scales: { x: { time: opts.time } },
      axes: [{ label: opts.xLabel }, { label: opts.yLabel }],
      series: [{ label: opts.xLabel }, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: opts.points } }))],
    }, data, el);
    plots[id]._names = names;
  }

  function renderPlots(r) {
    const h = r.history;
    const xs = h.map((p) => p.t / 1000);
    plot('plot-loss', xs, [{ label: 'loss', values: h.map((p) => p.loss) }], { time: true, xLabel: 'time', yLabel: 'loss' });
    const workers = [...new Set(h.flatMap((p) => Object.keys(p.workers)))].sort();
    plot('plot-rate', xs, [
      { label: 'total', values: h.map((p) => p.samples_per_s) },
      ...workers.map((w) => ({ label: w, values: h.map((p) => (w in p.workers ? p.workers[w] : null)) })),
    ], { time: true, xLabel: 'time', yLabel: 'samples/s' });
    plot('plot-eval', r.evals.map((e) => e.epoch), [
      { label: 'AUC', values: r.evals.map((e) => e.auc) },
      { label: 'LogLoss', values: r.evals.map((e) => e.logloss) },
    ], { time: false, xLabel: 'epoch', yLabel: 'AUC / LogLoss', points: true });
  }

  function renderTables(r) {
    const rows = (r.tables || []).map((t) => `<tr data-table="${t.name}"><td>${t.name}</td><td data-value="${t.rows}">${num(t.rows)}</td><td data-value="${t.bytes}">${bytes(t.bytes)}</td><td>${t.ps}</td></tr>`);
    $('tables').tBodies[0].innerHTML = rows.join('') || '<tr><td colspan="4">no PS attached</td></tr>';
    $('shards').innerHTML = r.shards.map((s) => {
      const frac = s.done ? 1 : s.end > s.start ? (s.next - s.start) / (s.end - s.start) : 0;
      return `<div class="shard${s.done ? ' done' : ''}" data-shard="${s.shard}" data-rows="${s.rows}">#${s.shard} ${s.done ? 'done' : s.worker || 'pending'}<br>${num(s.rows)} rows<div class="bar"><div style="width:${(100 * frac).toFixed(1)}%"></div></div></div>`;
    }).join('');
    $('checkpoints').tBodies[0].innerHTML = r.checkpoints.slice().reverse().map((c) => `<tr data-checkpoint="${c.id}"><td>${c.id}</td><td>${c.kind}</td><td>${c.epoch}</td><td>${c.step}</td><td>${bytes(c.bytes)}</td><td>${c.seconds.toFixed(2)}</td><td>${new Date(c.at).toLocaleTimeString()}</td></tr>`).join('')
      || '<tr><td colspan="7">none yet</td></tr>';
  }

  function render(r) {
    page.record = r;
    const p = r.progress;
    $('job').textContent = r.job;
    $('chief').textContent = r.chief || '(none elected)';
    if (p) {
      const phase = $('phase');
      show('phase', p.phase, p.phase);
      phase.className = `badge ${p.phase}`;
      show('epoch', p.epoch, `${p.epoch}/${p.epochs}`);
      show('samples', p.samples, num(p.samples));
      show('samples-per-s', p.samples_per_s, num(p.samples_per_s));
      show('step', p.step, num(p.step));
      show('loss', p.loss, num(p.loss, 4));
      show('auc', p.last_eval && p.last_eval.auc, p.last_eval ? num(p.last_eval.auc, 4) : '–');
      show('logloss', p.last_eval && p.last_eval.logloss, p.last_eval ? num(p.last_eval.logloss, 4) : '–');
      show('workers', p.workers, String(p.workers));
      show('shards-done', p.shards_done, `${p.shards_done}/${p.shards_total}`);
      show('push-staleness', p.push_staleness_p99, num(p.push_staleness_p99));
    }
    renderPlots(r);
    renderTables(r);
    $('updated').textContent = new Date().toLocaleTimeString();
    $('error').textContent = '';
  }

  async function refresh() {
    const res = await fetch('/api/status', { cache: 'no-store' });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
    render(body);
    return body;
  }
  function tick() {
    refresh().catch((err) => { $('error').textContent = `cannot update: ${err.message}`; });
  }

  page.refresh = refresh;
  page.stop = () => { clearInterval(page.timer); page.timer = null; };
  page.timer = setInterval(tick, POLL_MS);
  window.tesseraPage = page;
  tick();
}());
