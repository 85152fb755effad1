/**
 * `POST /v1/models/{name}:feedback`: labels for earlier predictions, or for features predicted
 * again, scored per version (feedback.ts). The body:
 *
 * ```json
 * {"feedback": [{"request_id": "…", "index": 0, "label": 1},
 *               {"request_id": "…", "labels": [0, 1, 0]},
 *               {"instance": {"I1": 3, "C1": "68fd1e64", "user": "u7"}, "label": 0}]}
 * ```
 *
 * The answer: `{"accepted": N, "unmatched": [{item, request_id, reason}], "quality": {version:
 * {count, auc, auc_ci95, logloss, calibration, …}}}`. A malformed item fails the call (400 naming
 * it); a label whose prediction the server no longer remembers is listed, not an error.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { FeedbackStore } from './feedback';
import { labelOf } from './feedback';
import type { ModelRegistry } from './model-registry';
import type { PredictionService } from './prediction-service';
import type { RestAnswer, RestRequest } from './rest-server';

function invalid(where: string, why: string): never {
  throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${where}: ${why}`);
}

interface ParsedFeedback {
  byId: { item: number; requestId: string; index?: number; labels: (0 | 1)[] }[];
  withFeatures: { instances: unknown[]; labels: (0 | 1)[] };
}

function parseItems(body: unknown): ParsedFeedback {
  const list = (body as { feedback?: unknown } | null)?.feedback;
  if (!Array.isArray(list) || list.length === 0) {
    invalid('feedback', 'must be a non-empty list of {request_id, index, label}, {request_id, labels} or {instance, label}');
  }
  const out: ParsedFeedback = { byId: [], withFeatures: { instances: [], labels: [] } };
  list.forEach((raw, i) => {
    const where = `feedback[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) invalid(where, 'must be an object');
    const it = raw as Record<string, unknown>;
    if (it.instance !== undefined) {
      out.withFeatures.instances.push(it.instance);
      out.withFeatures.labels.push(labelOf(it.label, `${where}.label`));
    } else if (typeof it.request_id === 'string') {
      if (it.labels !== undefined) {
        if (!Array.isArray(it.labels)) invalid(`${where}.labels`, 'must be a list of 0 and 1, one per row of the request');
        out.byId.push({ item: i, requestId: it.request_id, labels: it.labels.map((l, k) => labelOf(l, `${where}.labels[${k}]`)) });
      } else {
        if (!Number.isInteger(it.index)) invalid(`${where}.index`, `must be the row's index in its request, got ${JSON.stringify(it.index)}`);
        out.byId.push({ item: i, requestId: it.request_id, index: it.index as number, labels: [labelOf(it.label, `${where}.label`)] });
      }
    } else {
      invalid(where, 'needs "request_id" (with "index" and "label", or "labels") or "instance" (with "label")');
    }
  });
  return out;
}

/** Handles one feedback call for model `req.params.name`. */
export async function handleFeedback(ctx: { registry: ModelRegistry; service: PredictionService; feedback: FeedbackStore }, req: RestRequest): Promise<RestAnswer> {
  const m = ctx.registry.model(req.params.name);
  const parsed = parseItems(req.body);
  const { instances, labels } = parsed.withFeatures;
  // Predict first: a bad instance fails the call before any label is scored.
  const again = instances.length === 0 ? null
    : await ctx.service.predict({ model: m.name, target: {}, quiet: true, decode: (d) => d.fromInstances(instances, 'feedback instances') });
  const out = ctx.feedback.score(m.name, parsed.byId);
  if (again) {
    ctx.feedback.scoreAnswered(again, labels, m.get(again.versions[0])?.spec ?? m.resolve({}).spec);
    out.accepted += labels.length;
  }
  return { status: 200, body: { ...out, quality: ctx.feedback.report(m.name) }, model: m.name, groups: [] };
}
