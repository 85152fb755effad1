/**
 * The admin side of serving:
 * - `tessera serve status [--server URL | --model-root ROOT]`: a running server's versions,
 *   labels, load times and traffic (GET /status), or what the model root holds;
 * - `tessera serve rollback --model NAME --to V --model-root ROOT [--server URL,…]`: moves the
 *   `stable` label, which the default route follows, to version V;
 * - `tessera serve label --model NAME --set canary=4[,…] [--remove L,…] --model-root ROOT [--server URL,…]`.
 *
 * Labels live in ROOT/NAME/labels.json (written atomically), so every server watching the root
 * applies them and a restarted server keeps them. With --server the command asks each server to
 * rescan now and checks that it applied the change; without it servers apply it on their own
 * file-system event or next rescan.
 *
 * A server started with `--tls-*` is HTTPS and requires a client certificate of its job: give
 * `--server https://…` with the same three flags (`--tls-cert/--tls-key/--tls-ca`, e.g. an admin
 * certificate from `tessera certs issue --role admin`); the server must hold a certificate of
 * that job signed by that CA.
 */
import * as path from 'node:path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { loadTlsConfig, httpsClientOptions, HttpsClientOptions } from '../wire/tls';
import { requestJson } from './admin-http';
import { checkLabel, Labels, readLabels, writeLabels } from '../export/model-labels';
import { checkModelName, listModels, listVersions } from '../export/model-root';
import { helpText, OptionSpec, parseArgs, ParsedArgs } from '../runtime/args';
import { SECURITY_OPTIONS } from '../runtime/security-options';
import { STABLE_LABEL } from '../serve/served-model';
import type { ServerStatus } from '../serve/serve-status';

const COMMON: Record<string, OptionSpec> = {
  'model-root': { type: 'string', describe: 'the model root [TESSERA_MODEL_ROOT]' },
  server: { type: 'string', describe: 'REST URL(s) of running servers, comma-separated (http://host:port, or https:// with --tls-*)' },
  json: { type: 'boolean', describe: 'print the result as one JSON object' },
  'tls-cert': { ...SECURITY_OPTIONS['tls-cert'], describe: 'a certificate of the servers\' job (e.g. role admin: tessera certs issue --role admin) for https:// servers, which require one [TESSERA_TLS_CERT]' },
  'tls-key': SECURITY_OPTIONS['tls-key'],
  'tls-ca': { ...SECURITY_OPTIONS['tls-ca'], describe: 'the job\'s CA (PEM): the servers\' certificates must be signed by it and name the same job [TESSERA_TLS_CA]' },
};
const STATUS_SPEC: Record<string, OptionSpec> = { ...COMMON };
const ROLLBACK_SPEC: Record<string, OptionSpec> = { ...COMMON, model: { type: 'string', describe: 'model name' }, to: { type: 'string', describe: 'version the stable label moves to' } };
const LABEL_SPEC: Record<string, OptionSpec> = {
  ...COMMON, model: { type: 'string', describe: 'model name' },
  set: { type: 'string', describe: 'LABEL=VERSION[,…] to set' }, remove: { type: 'string', describe: 'LABEL[,…] to remove' },
};

/** The admin subcommands' help. */
export const SERVE_ADMIN_HELP = [
  helpText('tessera serve status [--server URL [--tls-cert F --tls-key F --tls-ca F] | --model-root ROOT] [--json]', 'A server\'s models: versions, labels, load times, traffic (or what ROOT holds).', STATUS_SPEC),
  helpText('tessera serve rollback --model NAME --to V --model-root ROOT [--server URL,…]', 'Moves the stable label (the default route) to version V; servers apply it at once and keep it across restarts.', ROLLBACK_SPEC),
  helpText('tessera serve label --model NAME --set LABEL=V[,…] [--remove LABEL,…] --model-root ROOT [--server URL,…]', 'Sets or removes labels (stable, canary, …) of a model.', LABEL_SPEC),
].join('\n\n');

function rootOf(args: ParsedArgs): string {
  const root = (args.options['model-root'] as string | undefined) ?? process.env.TESSERA_MODEL_ROOT;
  if (!root) throw new TesseraError(ERROR_CODES.CONFIG, '--model-root ROOT is required');
  return path.resolve(root);
}

function servers(args: ParsedArgs): string[] {
  return String(args.options.server ?? '').split(',').map((s) => s.trim().replace(/\/+$/, '')).filter(Boolean);
}

/** The caller's certificate for https:// servers (`--tls-*`, TESSERA_TLS_*), checked as a role checks its own; undefined without. */
function clientTls(args: ParsedArgs): HttpsClientOptions | undefined {
  const o = args.options as Record<string, string | undefined>;
  const config = loadTlsConfig(process.env, { cert: o['tls-cert'], key: o['tls-key'], ca: o['tls-ca'] });
  return config ? httpsClientOptions(config) : undefined;
}

async function runStatus(argv: string[]): Promise<number> {
  const args = parseArgs(argv, STATUS_SPEC);
  const urls = servers(args);
  if (urls.length > 0) {
    const tls = clientTls(args);
    const all = await Promise.all(urls.map((u) => requestJson(`${u}/status`, 'GET', { tls }) as Promise<ServerStatus>));
    for (const [i, s] of all.entries()) process.stdout.write(args.options.json ? `${JSON.stringify(s)}\n` : formatStatus(urls[i], s));
    return 0;
  }
  const root = rootOf(args);
  const models = listModels(root).map((name) => ({ name, versions: listVersions(root, name), labels: readLabels(root, name) }));
  process.stdout.write(args.options.json ? `${JSON.stringify({ root, models })}\n`
    : `${root}\n${models.map((m) => `  ${m.name}: versions ${m.versions.join(', ') || 'none'}; labels ${labelText(m.labels)}\n`).join('')}`);
  return 0;
}

function labelText(l: Labels): string {
  return Object.entries(l).map(([k, v]) => `${k} → ${v}`).join(', ') || 'none';
}

function formatStatus(url: string, s: ServerStatus): string {
  const lines = [`${url}: ${s.ready ? 'ready' : 'NOT READY'}, root ${s.root}${s.root_error ? ` (${s.root_error})` : ''}, policy ${s.policy}`
    + `${s.split ? `, split ${Object.entries(s.split.shares).map(([k, v]) => `${k}=${(100 * v).toFixed(0)}%`).join(',')} by ${s.split.key ?? 'the request\'s split_key'}` : ''}`];
  for (const m of s.models) {
    lines.push(`  ${m.name}: default version ${m.default_version ?? '-'}, labels ${labelText(m.labels)}, on disk ${m.on_disk.join(', ') || 'none'}`);
    for (const v of m.versions) {
      lines.push(`    v${v.version}${v.labels.length ? ` [${v.labels.join(', ')}]` : ''}${v.default ? ' default' : ''}: loaded ${v.loaded_at} in ${v.load_seconds.toFixed(2)} s, `
        + `${v.traffic.requests} requests / ${v.traffic.rows} rows, rows ${v.rows.resident} in RAM + ${v.rows.disk} on disk${v.deleted_on_disk ? ', DELETED ON DISK' : ''}`);
    }
    for (const r of m.refused) lines.push(`    v${r.version} refused: ${r.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `next` as NAME's labels, then has every --server apply them and checks it did. */
async function applyLabels(args: ParsedArgs, root: string, name: string, next: Labels): Promise<Record<string, unknown>> {
  const tls = servers(args).length > 0 ? clientTls(args) : undefined;
  const before = readLabels(root, name);
  await writeLabels(root, name, next);
  const applied: Record<string, unknown> = {};
  for (const url of servers(args)) {
    const s = await requestJson(`${url}/admin/rescan`, 'POST', { tls }) as ServerStatus;
    const m = s.models.find((x) => x.name === name);
    if (!m || JSON.stringify(m.labels) !== JSON.stringify(Object.fromEntries(Object.entries(next).sort()))) {
      throw new TesseraError(ERROR_CODES.UNAVAILABLE, `${url} did not apply the labels of ${name}: it has ${JSON.stringify(m?.labels ?? null)}${m?.labels_error ? ` (${m.labels_error})` : ''}`, { retryable: false });
    }
    applied[url] = { default_version: m.default_version };
  }
  return { model: name, labels: next, before, servers: applied };
}

function checkVersion(root: string, name: string, v: number, what: string): void {
  const on = listVersions(root, name);
  if (!on.includes(v)) throw new TesseraError(ERROR_CODES.CONFIG, `${what}: version ${v} of ${name} is not in ${root} (versions: ${on.join(', ') || 'none'})`);
}

function versionArg(text: string, what: string): number {
  if (!/^[1-9]\d{0,14}$/.test(text)) throw new TesseraError(ERROR_CODES.CONFIG, `${what}: "${text}" is not a version number`);
  return Number(text);
}

async function runRollback(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ROLLBACK_SPEC);
  const o = args.options as Record<string, string | undefined>;
  if (!o.model || !o.to) throw new TesseraError(ERROR_CODES.CONFIG, 'tessera serve rollback needs --model NAME and --to VERSION');
  const root = rootOf(args);
  const name = checkModelName(o.model);
  const v = versionArg(o.to, '--to');
  checkVersion(root, name, v, '--to');
  const out = await applyLabels(args, root, name, { ...readLabels(root, name), [STABLE_LABEL]: v });
  const was = (out.before as Labels)[STABLE_LABEL];
  process.stdout.write(args.options.json ? `${JSON.stringify(out)}\n` : `${name}: ${STABLE_LABEL} → ${v}${was !== undefined ? ` (was ${was})` : ''}\n`);
  return 0;
}

async function runLabel(argv: string[]): Promise<number> {
  const args = parseArgs(argv, LABEL_SPEC);
  const o = args.options as Record<string, string | undefined>;
  if (!o.model || (!o.set && !o.remove)) throw new TesseraError(ERROR_CODES.CONFIG, 'tessera serve label needs --model NAME and --set LABEL=V[,…] or --remove LABEL[,…]');
  const root = rootOf(args);
  const name = checkModelName(o.model);
  const next: Record<string, number> = { ...readLabels(root, name) };
  for (const l of (o.remove ?? '').split(',').map((x) => x.trim()).filter(Boolean)) delete next[checkLabel(l)];
  for (const pair of (o.set ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const [l, v] = pair.split('=');
    const version = versionArg(v ?? '', `--set ${pair}`);
    checkVersion(root, name, version, `--set ${pair}`);
    next[checkLabel(l)] = version;
  }
  const out = await applyLabels(args, root, name, next);
  process.stdout.write(args.options.json ? `${JSON.stringify(out)}\n` : `${name}: labels ${labelText(next)}\n`);
  return 0;
}

/** `tessera serve <sub>` handlers. */
export const ADMIN_COMMANDS: Readonly<Record<string, (argv: string[]) => Promise<number>>> = {
  status: runStatus,
  rollback: runRollback,
  label: runLabel,
};
