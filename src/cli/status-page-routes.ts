/**
 * The chief's status page on its metrics port: `/` (and `/ui`) the page, `/ui/app.js` its
 * script, `/ui/uplot.js` and `/ui/uplot.css` the plotting library (uPlot, served from
 * node_modules: pods and air-gapped machines have no CDN), and `/api/status` the JSON it polls.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StatusPage } from '../chief/status-page';
import type { Logger } from '../common/logger';
import type { MetricsServer, RouteHandler } from '../metrics/http';

/** The page's files: ui/ at the package root (beside dist/ and src/). */
export const UI_DIR = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '', 'ui');

function file(p: string, type: string): RouteHandler {
  return (_req, res) => {
    fs.readFile(p, (err, body) => {
      if (err) res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot read ${p}: ${err.message}\n`);
      else res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' }).end(body);
    });
  };
}

/** Adds the page's routes to the chief's metrics server. */
export function serveStatusPage(http: MetricsServer, page: StatusPage, logger: Logger): void {
  const uplot = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  const html = file(path.join(UI_DIR, 'index.html'), 'text/html; charset=utf-8');
  http.route('/', html);
  http.route('/ui', html);
  http.route('/ui/app.js', file(path.join(UI_DIR, 'app.js'), 'text/javascript; charset=utf-8'));
  http.route('/ui/uplot.js', file(path.join(uplot, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'));
  http.route('/ui/uplot.css', file(path.join(uplot, 'uPlot.min.css'), 'text/css; charset=utf-8'));
  http.route('/api/status', (_req, res) => {
    page.record().then(
      (r) => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(r)),
      (err: Error) => {
        logger.warn({ err: err.message }, 'status page: cannot read the job status');
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `cannot read the job status: ${err.message.split('\n')[0]}` }));
      },
    );
  });
  logger.info({ url: http.url.replace(/\/metrics$/, '/') }, 'status page listening');
}
