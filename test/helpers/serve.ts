/**
 * Fixtures of the serving tests (issue 14): small real models published into a model root
 * (tessera-model/1 directories with seeded weights, no training needed), request instances, the
 * reference prediction of `tessera eval`'s own code path, and the two outside HTTP clients the
 * tests drive a server with: curl and Python's urllib (test/interop/rest_client.py).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { newRawRow, schemaFor } from '../../src/data/record';
import type { RawRow } from '../../src/data/record';
import { loadModel, writeModel } from '../../src/export/model-dir';
import type { RowChunk } from '../../src/export/model-dir';
import { publishVersion } from '../../src/export/model-root';
import { buildModelParts } from '../../src/infer/model-parts';
import { mulberry32Unit as mulberry32 } from '../../src/common/mulberry32';
import { FeatureHasher } from '../../src/sharding/feature-hash';
import { parseJobSpec } from '../../src/spec/job-spec';
import type { JobSpec } from '../../src/spec/types';
import { buildJob } from '../../src/worker/job';
import { LocalParams } from '../../src/worker/local-params';

/** A small Criteo DeepFM spec: two numeric and three categorical fields. */
export const SERVE_SPEC_YAML = `name: srv
data: { format: criteo }
features:
  numeric:
    - { names: [I1, I2], transform: log }
  categorical:
    - { names: [C1, C2, C3], table: emb }
  tables:
    - { name: emb, dim: 4, optimizer: { kind: adagrad, lr: 0.05 }, initializer: { kind: uniform, scale: 0.05 }, seed: 11 }
model: { kind: deepfm, hidden: [8] }
training: { seed: 3 }
`;

/** Raw values the published models hold rows for, by default: v0 … v19 in each categorical field. */
export const KNOWN_VALUES = valueNames(20);
const CATEGORICAL = ['C1', 'C2', 'C3'];

/** v0 … v<n-1>. */
function valueNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `v${i}`);
}

/** The spec of SERVE_SPEC_YAML, renamed and optionally changed (text replacements). */
export function serveSpec(name = 'srv', edit: (yaml: string) => string = (y) => y): JobSpec {
  return parseJobSpec(edit(SERVE_SPEC_YAML).replace(/^name: srv$/m, `name: ${name}`));
}

async function* once(c: RowChunk): AsyncGenerator<RowChunk> {
  yield c;
}

/** Rows of `values` in each categorical field, `dim` wide, seeded. */
function tableRows(dim: number, seed: number, values: readonly string[]): RowChunk {
  const rnd = mulberry32(seed);
  const ids = new Uint32Array(2 * CATEGORICAL.length * values.length);
  let k = 0;
  for (const f of CATEGORICAL) {
    const h = new FeatureHasher(f);
    for (const v of values) h.hash(v, ids, k++);
  }
  return { ids, values: Float32Array.from({ length: k * dim }, () => (rnd() - 0.5) * 0.6), dim };
}

/**
 * Publishes the next version of a model whose weights come from `seed` (different seeds give
 * different predictions). Returns the version and its directory.
 */
export async function publishTestModel(root: string, opts: { spec?: JobSpec; seed?: number; values?: number } = {}): Promise<{ version: number; dir: string }> {
  const spec = opts.spec ?? serveSpec();
  const seed = opts.seed ?? 1;
  const values = opts.values === undefined ? KNOWN_VALUES : valueNames(opts.values);
  const { model, layout } = buildModelParts(spec);
  const rnd = mulberry32(seed * 7919);
  const dense = model.initialDense().map((w) => w + (rnd() - 0.5) * 0.2);
  return publishVersion(root, spec.name, (dir) => writeModel(dir, {
    spec, tables: layout.tableSpecs(), dense: layout.denseSpec(dense.length), step: seed, samples: 100 * seed,
    rows: (table, kind) => once(kind === 'dense' ? { ids: new Uint32Array(0), values: dense, dim: dense.length }
      : tableRows(table.endsWith('.linear') ? 1 : 4, seed * 31 + table.length, values)),
  }));
}

/** `n` request instances with raw values: known (of `values`) and unseen categorical values, missing fields, nulls. */
export function testInstances(n: number, seed = 5, values = KNOWN_VALUES.length): Record<string, string | number | null>[] {
  const rnd = mulberry32(seed);
  const known = valueNames(values);
  return Array.from({ length: n }, (_, i) => {
    const inst: Record<string, string | number | null> = {};
    if (i % 5 !== 0) inst.I1 = Math.floor(rnd() * 50);
    inst.I2 = i % 7 === 0 ? null : Math.floor(rnd() * 1000) - 10;
    for (const f of CATEGORICAL) {
      const r = rnd();
      if (r < 0.8) inst[f] = known[Math.floor(rnd() * known.length)];
      else if (r < 0.9) inst[f] = `unseen-${i}`;
    }
    return inst;
  });
}

/** An instance as the raw row training reads (Criteo schema order; absent fields missing). */
export function instanceRow(inst: Record<string, string | number | null>): RawRow {
  const schema = schemaFor('criteo');
  const row = newRawRow(schema);
  for (const [k, v] of Object.entries(inst)) {
    const n = schema.numericNames.indexOf(k);
    if (n >= 0) row.numeric[n] = v as number | null;
    else row.categorical[schema.categoricalNames.indexOf(k)] = v as string | null;
  }
  return row;
}

/** The predictions `tessera eval` computes for `instances` on the model in `dir` (its own code path). */
export async function evalPredictions(dir: string, instances: Record<string, string | number | null>[]): Promise<number[]> {
  const { spec, store } = await loadModel(dir);
  const { trainer } = buildJob(spec, new LocalParams(store), silentLogger());
  await trainer.init();
  const out: number[] = [];
  async function* batches(): AsyncGenerator<RawRow[]> {
    yield instances.map(instanceRow);
  }
  await trainer.evaluate(batches(), (_rows, probs) => { out.push(...probs); });
  return out;
}

/** Exact AUC of (prediction, label) pairs by counting pairs (ties one half): an independent check. */
export function exactAuc(pairs: readonly { p: number; y: number }[]): number {
  const pos = pairs.filter((x) => x.y === 1);
  const neg = pairs.filter((x) => x.y === 0);
  let wins = 0;
  for (const a of pos) for (const b of neg) wins += a.p > b.p ? 1 : a.p === b.p ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

/** An HTTP answer: status and parsed JSON body (or text). */
export interface HttpAnswer {
  status: number;
  body: any;
}

/** Runs `cmd args` with `input` on stdin; resolves with its stdout, rejects (with stderr) on a non-zero exit. */
function run(cmd: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => { out += c; });
    p.stderr.on('data', (c) => { err += c; });
    p.once('error', reject);
    p.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
    p.stdin.end(input);
  });
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Client TLS files for curl: the CA to trust and, optionally, the certificate and key to present. */
export interface CurlTls {
  ca: string;
  cert?: string;
  key?: string;
}

/** Sends one request with curl (an HTTP client Tessera did not write); with `tls`, over HTTPS. */
export async function curl(method: 'GET' | 'POST', url: string, body?: string, tls?: CurlTls): Promise<HttpAnswer> {
  const args = ['-s', '-S', '-X', method, '-H', 'content-type: application/json', '-w', '\n%{http_code}', url];
  if (tls) args.push('--cacert', tls.ca, ...(tls.cert && tls.key ? ['--cert', tls.cert, '--key', tls.key] : []));
  if (body !== undefined) args.push('--data-binary', '@-');
  const out = await run('curl', args, body ?? '');
  const cut = out.lastIndexOf('\n');
  return { status: Number(out.slice(cut + 1)), body: parsed(out.slice(0, cut)) };
}

/** One request for rest_client.py (see its docstring). */
export interface PyRequest {
  method: 'GET' | 'POST';
  path: string;
  json?: unknown;
  raw?: string;
  repeat_bytes?: number;
}

const REST_CLIENT = path.resolve(__dirname, '..', '..', '..', 'test', 'interop', 'rest_client.py');

/** The Python to run rest_client.py with, or null when there is none. */
export function pythonAvailable(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) if (spawnSync(py, ['-c', 'import urllib.request'], { stdio: 'ignore' }).status === 0) return py;
  return null;
}

/** Sends `requests` with Python's urllib; one answer per request, in order. */
export async function pyRequests(python: string, base: string, requests: PyRequest[]): Promise<HttpAnswer[]> {
  const out = await run(python, [REST_CLIENT, base], JSON.stringify(requests));
  return out.trim().split('\n').map((l) => JSON.parse(l) as HttpAnswer);
}

/** A Criteo line as a prediction request instance: raw values by field name, empty cells left out. */
export function criteoInstance(line: string): Record<string, string | number> {
  const cells = line.split('\t');
  const inst: Record<string, string | number> = {};
  for (let i = 1; i <= 13; i++) if (cells[i] !== '') inst[`I${i}`] = Number(cells[i]);
  for (let i = 1; i <= 26; i++) if (cells[13 + i] !== '') inst[`C${i}`] = cells[13 + i];
  return inst;
}
