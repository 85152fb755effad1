/**
 * The REST paths of `tessera serve`, each a thin adapter over the registry and the prediction
 * service:
 *
 * KServe Open Inference Protocol v2
 *   GET  /v2/health/live | /v2/health/ready          liveness; ready once every model has a version loaded
 *   GET  /v2 | /v2/models/{name}[/versions/{v}]      server and model metadata (versions, inputs, spec fingerprint)
 *   GET  /v2/models/{name}[/versions/{v}]/ready
 *   POST /v2/models/{name}[/versions/{v}]/infer      one named input per feature field
 * TensorFlow Serving style
 *   GET  /v1/models/{name}[/versions/{v} | /labels/{l}]             version status
 *   POST /v1/models/{name}[/versions/{v} | /labels/{l}]:predict     {"instances": [{…}, …]} or {"inputs": {field: […]}}
 *   POST /v1/models/{name}:feedback                                  labels of earlier predictions: per-version AUC (feedback-route.ts)
 * Tessera
 *   GET  /status                                     every model's versions, labels, load times, traffic
 *   POST /admin/rescan                               rescans the model root now; answers the status after it
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { FeedbackStore } from './feedback';
import { handleFeedback } from './feedback-route';
import type { ModelRegistry } from './model-registry';
import { decodeV2Request, encodeV2Response, probabilityList, versionText } from './kserve-v2';
import type { PredictionService, PredictResult } from './prediction-service';
import type { DecodedRows, RequestRows } from './request-rows';
import type { RestAnswer, RestRequest, RestRoute } from './rest-server';
import type { ServedModel, VersionTarget } from './served-model';
import type { ServerStatus } from './serve-status';

/** What the routes work with. */
export interface RouteContext {
  registry: ModelRegistry;
  service: PredictionService;
  feedback: FeedbackStore;
  status: () => ServerStatus;
  /** the server's own version, for GET /v2 */
  serverVersion: string;
}

const NAME = '(?<name>[^/:]+)';
const TARGET = `(?:/versions/(?<version>[^/:]+)|/labels/(?<label>[^/:]+))?`;

function invalid(where: string, why: string): never {
  throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${where}: ${why}`);
}

/** The version or label a path names. */
function targetOf(p: Readonly<Record<string, string>>): VersionTarget {
  if (p.version === undefined) return p.label === undefined ? {} : { label: p.label };
  if (!/^[1-9]\d{0,14}$/.test(p.version)) throw new TesseraError(ERROR_CODES.UNKNOWN_MODEL, `version "${p.version}" of model ${p.name} does not exist (versions are positive integers)`);
  return { version: Number(p.version) };
}

function object(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) invalid('body', 'must be a JSON object');
  return body as Record<string, unknown>;
}

/** TF Serving's two input forms: row-wise `instances`, or column-wise `inputs` (checked once the model is known). */
function decodeTf(b: Record<string, unknown>): (d: RequestRows) => DecodedRows {
  return (d) => {
    if (b.instances !== undefined) return d.fromInstances(b.instances);
    const inputs = b.inputs;
    if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) invalid('body', 'needs "instances" (a list of objects) or "inputs" (an object of field → list of values)');
    return d.fromColumns(Object.entries(inputs as Record<string, unknown>).map(([name, values]) => {
      if (!Array.isArray(values)) invalid(`inputs.${name}`, 'must be a list of values, one per example');
      return { name, values, where: `inputs.${name}` };
    }));
  };
}

function answered(r: PredictResult, body: unknown): RestAnswer {
  return { status: 200, body, model: r.model, groups: r.groups };
}

async function predictTf(ctx: RouteContext, req: RestRequest): Promise<RestAnswer> {
  const b = object(req.body);
  if (b.split_key !== undefined && typeof b.split_key !== 'string') invalid('split_key', 'must be a field name');
  const r = await ctx.service.predict({ model: req.params.name, target: targetOf(req.params), decode: decodeTf(b), splitKey: b.split_key as string | undefined });
  return answered(r, { predictions: probabilityList(r.probs), model_version: versionText(r), versions: Array.from(r.versions), request_id: r.requestId });
}

async function inferV2(ctx: RouteContext, req: RestRequest): Promise<RestAnswer> {
  const m = ctx.registry.model(req.params.name);
  const target = targetOf(req.params);
  const fields = new Map(ctx.service.decoder(m.resolve(target)).fields().map((f) => [f.name, f.numeric]));
  const v2 = decodeV2Request(req.body, (name) => fields.get(name));
  const r = await ctx.service.predict({ model: m.name, target, decode: (d) => d.fromColumns(v2.columns), splitKey: v2.splitKey, requestId: v2.id });
  return answered(r, encodeV2Response(r));
}

/** KServe v2 model metadata, with the versions, labels and the spec's fingerprint. */
function metadataV2(ctx: RouteContext, m: ServedModel, target: VersionTarget): unknown {
  const v = m.resolve(target);
  const inputs = ctx.service.decoder(v).fields().map((f) => ({ name: f.name, datatype: f.numeric ? 'FP64' : 'BYTES', shape: [-1] }));
  return {
    name: m.name, versions: (target.version !== undefined ? [v] : m.loaded()).map((x) => String(x.version)), platform: 'tessera',
    inputs, outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1] }, { name: 'version', datatype: 'INT64', shape: [-1] }],
    spec_fingerprint: v.origin.manifest.specFingerprint, model_kind: v.spec.model.kind, labels: { ...m.labels }, default_version: String(m.defaultVersion()?.version ?? ''),
    created_at: v.origin.manifest.createdAt, step: v.origin.manifest.step,
  };
}

/** TF Serving's GetModelStatus: loaded versions AVAILABLE, refused ones END with the reason. */
function statusTf(m: ServedModel, target: VersionTarget): unknown {
  const ok = (target.version !== undefined || target.label !== undefined ? [m.resolve(target)] : m.loaded())
    .map((v) => ({ version: String(v.version), state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }));
  const refused = target.version !== undefined || target.label !== undefined ? [] : m.refusedList()
    .map((r) => ({ version: String(r.version), state: 'END', status: { error_code: r.code, error_message: r.reason } }));
  return { model_version_status: [...ok, ...refused] };
}

function readyAnswer(ready: boolean, extra: Record<string, unknown> = {}): RestAnswer {
  return { status: ready ? 200 : 503, body: { ready, ...extra } };
}

/** The route table. */
export function restRoutes(ctx: RouteContext): RestRoute[] {
  const model = (req: RestRequest): ServedModel => ctx.registry.model(req.params.name);
  return [
    { method: 'GET', pattern: /^\/v2\/health\/live$/, handle: () => ({ status: 200, body: { live: true } }) },
    { method: 'GET', pattern: /^\/v2\/health\/ready$/, handle: () => readyAnswer(ctx.registry.ready(), ctx.registry.rootError ? { error: ctx.registry.rootError } : {}) },
    { method: 'GET', pattern: /^\/v2\/?$/, handle: () => ({ status: 200, body: { name: 'tessera', version: ctx.serverVersion, extensions: [] } }) },
    { method: 'GET', pattern: new RegExp(`^/v2/models/${NAME}(?:/versions/(?<version>[^/:]+))?$`), handle: (req) => ({ status: 200, body: metadataV2(ctx, model(req), targetOf(req.params)) }) },
    {
      method: 'GET', pattern: new RegExp(`^/v2/models/${NAME}(?:/versions/(?<version>[^/:]+))?/ready$`),
      handle: (req) => {
        const m = model(req);
        const target = targetOf(req.params);
        return readyAnswer(target.version !== undefined ? m.get(target.version) !== undefined : m.loaded().length > 0, { name: m.name });
      },
    },
    { method: 'POST', pattern: new RegExp(`^/v2/models/${NAME}(?:/versions/(?<version>[^/:]+))?/infer$`), metered: true, handle: (req) => inferV2(ctx, req) },
    { method: 'GET', pattern: new RegExp(`^/v1/models/${NAME}${TARGET}$`), handle: (req) => ({ status: 200, body: statusTf(model(req), targetOf(req.params)) }) },
    { method: 'POST', pattern: new RegExp(`^/v1/models/${NAME}${TARGET}:predict$`), metered: true, handle: (req) => predictTf(ctx, req) },
    { method: 'POST', pattern: new RegExp(`^/v1/models/${NAME}:feedback$`), handle: (req) => handleFeedback(ctx, req) },
    { method: 'GET', pattern: /^\/status$/, handle: () => ({ status: 200, body: ctx.status() }) },
    { method: 'POST', pattern: /^\/admin\/rescan$/, handle: async () => { await ctx.registry.rescan(); return { status: 200, body: ctx.status() }; } },
  ];
}
