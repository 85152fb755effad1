/**
 * Prometheus series of `tessera serve`, labelled by model, version and label (the label a request
 * was routed by; for per-version gauges, the labels naming the version, joined by `+`):
 *
 * - tessera_serve_requests_total{model,version,label,protocol,code}  requests answered, by status
 *   (HTTP status for rest, gRPC status name for grpc; model "" when the model is unknown)
 * - tessera_serve_request_seconds{model,version,label}    request latency histogram
 * - tessera_serve_batch_size{model,version,label}         examples per request histogram
 * - tessera_serve_version_load_seconds{model,version}     how long the version took to load
 * - tessera_serve_version_age_seconds{model,version,label} time since the version was trained (model.json createdAt)
 * - tessera_serve_versions_refused_total{model,code}      versions refused (corrupt, incompatible, …)
 * - tessera_serve_rows{model,version,tier}                embedding rows: tier "resident" (RAM) or "disk"
 * - tessera_serve_versions_loaded{model}                  versions loaded now
 * - tessera_serve_ready                                   1 once every model has a version loaded
 * - tessera_serve_feedback_rows{model,version,label}      labelled predictions scored (feedback)
 * - tessera_serve_feedback_auc{model,version,label}       streaming AUC of those, with
 *   tessera_serve_feedback_auc_ci_lower / _upper          its DeLong 95% interval, and
 * - tessera_serve_feedback_logloss{model,version,label}   their LogLoss
 *
 * Gauges read the registry at scrape time; requests touch only counters and histograms.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LoadedVersion } from './loaded-version';
import type { ModelRegistry, RegistryEvents } from './model-registry';
import type { RouteGroup } from './prediction-service';
import type { ServedModel } from './served-model';
import type { AucSummary } from '../eval/streaming-auc';
import type { FeedbackStore } from './feedback';

/** Request latency buckets, seconds: from a cached batch-1 answer to a slow large batch. */
const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Batch-size buckets: powers of two up to the default --max-batch. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/** How a request ended, for the request counter. */
export interface RequestOutcome {
  protocol: 'rest' | 'grpc';
  code: string;
  seconds: number;
  /** the model when it is served here, else '' */
  model: string;
  /** where the rows went; [] when the request failed before routing */
  groups: readonly RouteGroup[];
}

/** The serving series; see the file comment. */
export class ServeMetrics {
  private readonly requests: Counter<string>;
  private readonly latency: Histogram<string>;
  private readonly batch: Histogram<string>;
  private readonly loadSeconds: Gauge<string>;
  private readonly refused: Counter<string>;

  private models: ModelRegistry | null = null;
  private feedback: FeedbackStore | null = null;

  /** Registers the series; the per-version gauges read the registry given to `watch`. */
  constructor(registry: Registry) {
    const registers = [registry];
    const list = (): ServedModel[] => this.models?.list() ?? [];
    this.requests = new Counter({ name: 'tessera_serve_requests_total', help: 'Prediction requests answered, by status code.', labelNames: ['model', 'version', 'label', 'protocol', 'code'], registers });
    this.latency = new Histogram({ name: 'tessera_serve_request_seconds', help: 'Prediction request latency (decode, predict, encode).', labelNames: ['model', 'version', 'label'], buckets: LATENCY_BUCKETS_S, registers });
    this.batch = new Histogram({ name: 'tessera_serve_batch_size', help: 'Examples per prediction request.', labelNames: ['model', 'version', 'label'], buckets: BATCH_BUCKETS, registers });
    this.loadSeconds = new Gauge({ name: 'tessera_serve_version_load_seconds', help: 'Seconds a version took to load (checks, rows, warm-up).', labelNames: ['model', 'version'], registers });
    this.refused = new Counter({ name: 'tessera_serve_versions_refused_total', help: 'Versions refused: corrupt, partial or incompatible.', labelNames: ['model', 'code'], registers });
    const each = (fn: (model: string, v: LoadedVersion, labels: string) => void): void => {
      for (const m of list()) for (const v of m.loaded()) fn(m.name, v, m.labelsOf(v.version).join('+'));
    };
    new Gauge({
      name: 'tessera_serve_version_age_seconds', help: 'Seconds since the served version was written by training.', labelNames: ['model', 'version', 'label'], registers,
      collect() {
        this.reset();
        each((model, v, label) => this.set({ model, version: String(v.version), label }, (Date.now() - Date.parse(v.origin.manifest.createdAt)) / 1000));
      },
    });
    new Gauge({
      name: 'tessera_serve_rows', help: 'Embedding rows of a loaded version: resident in RAM, or on its disk tier.', labelNames: ['model', 'version', 'tier'], registers,
      collect() {
        this.reset();
        each((model, v) => {
          const r = v.rows();
          this.set({ model, version: String(v.version), tier: 'resident' }, r.resident);
          this.set({ model, version: String(v.version), tier: 'disk' }, r.disk);
        });
      },
    });
    new Gauge({
      name: 'tessera_serve_versions_loaded', help: 'Versions of a model loaded now.', labelNames: ['model'], registers,
      collect() {
        this.reset();
        for (const m of list()) this.set({ model: m.name }, m.loaded().length);
      },
    });
    this.feedbackGauges(registers);
    const ready = (): boolean => this.models?.ready() ?? false;
    new Gauge({ name: 'tessera_serve_ready', help: '1 once every model has a version loaded.', registers, collect() { this.set(ready() ? 1 : 0); } });
  }

  /** The models whose versions the gauges read. */
  watch(models: ModelRegistry): void {
    this.models = models;
  }

  /** The feedback whose per-version quality the feedback gauges read. */
  watchFeedback(feedback: FeedbackStore): void {
    this.feedback = feedback;
  }

  private feedbackGauges(registers: Registry[]): void {
    const labelNames = ['model', 'version', 'label'];
    const gauge = (name: string, help: string, pick: (s: AucSummary) => number): void => {
      const self = this;
      new Gauge({
        name, help, labelNames, registers,
        collect() {
          this.reset();
          for (const { model, version, summary } of self.feedback?.summaries() ?? []) {
            const m = self.models?.list().find((x) => x.name === model);
            const v = pick(summary);
            if (Number.isFinite(v)) this.set({ model, version: String(version), label: m?.labelsOf(version).join('+') ?? '' }, v);
          }
        },
      });
    };
    gauge('tessera_serve_feedback_rows', 'Labelled predictions scored by feedback.', (s) => s.count);
    gauge('tessera_serve_feedback_auc', 'Streaming AUC of the predictions scored by feedback.', (s) => s.auc);
    gauge('tessera_serve_feedback_auc_ci_lower', 'Lower end of the DeLong 95% interval of tessera_serve_feedback_auc.', (s) => s.auc_ci95[0]);
    gauge('tessera_serve_feedback_auc_ci_upper', 'Upper end of the DeLong 95% interval of tessera_serve_feedback_auc.', (s) => s.auc_ci95[1]);
    gauge('tessera_serve_feedback_logloss', 'LogLoss of the predictions scored by feedback.', (s) => s.logloss);
  }

  /** The registry events that feed the load and refusal series. */
  events(): RegistryEvents {
    return {
      onLoaded: (model, v) => this.loadSeconds.set({ model, version: String(v.version) }, v.origin.loadSeconds),
      onRefused: (model, _version, code) => this.refused.inc({ model, code }),
      onUnloaded: (model, v) => this.loadSeconds.remove({ model, version: String(v.version) }),
    };
  }

  /** Counts one answered request (one series per version its rows went to). */
  request(o: RequestOutcome): void {
    if (o.groups.length === 0) {
      this.requests.inc({ model: o.model, version: '', label: '', protocol: o.protocol, code: o.code });
      return;
    }
    for (const g of o.groups) {
      const labels = { model: o.model, version: String(g.version), label: g.label };
      this.requests.inc({ ...labels, protocol: o.protocol, code: o.code });
      this.latency.observe(labels, o.seconds);
      this.batch.observe(labels, g.rows);
    }
  }
}
