/**
 * Every model under the model root, kept in line with what is on disk. A `rescan` lists the
 * root; for each model it reads the labels, decides the versions to hold (the version policy's,
 * plus every version a label names), loads the missing ones in the background, newest first,
 * swapping each in once it passed its checks, and then retires the versions no longer wanted.
 *
 * What it never does: unload a model's last servable versions because the wanted ones could not
 * be loaded, or because files went away. A version refused (corrupt, incompatible) is logged,
 * counted and shown in status, and the versions already loaded keep serving; a model root or a
 * version directory that disappears is reported the same way, and what is in memory keeps serving.
 *
 * ```ts
 * const registry = new ModelRegistry({ root: '/models', policy: parseVersionPolicy('latest'), loader: {}, logger });
 * await registry.rescan();            // loads what is there
 * registry.model('ctr').resolve({});  // the version a request reaches
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { Labels, LABELS_FILE, readLabels } from '../export/model-labels';
import { MODEL_MANIFEST } from '../export/model-dir';
import { listModels, listVersions, versionDir } from '../export/model-root';
import type { LoadedVersion } from './loaded-version';
import { ServedModel } from './served-model';
import { loadVersion, LoaderOptions } from './version-loader';
import { policyVersions, VersionPolicy } from './version-policy';

/** What the registry reports as it goes (metrics, tests). */
export interface RegistryEvents {
  onLoaded?(model: string, v: LoadedVersion): void;
  onRefused?(model: string, version: number, code: string, reason: string): void;
  onUnloaded?(model: string, v: LoadedVersion): void;
}

/** The registry's dependencies. */
export interface RegistryDeps {
  root: string;
  policy: VersionPolicy;
  loader: LoaderOptions;
  logger: Logger;
  events?: RegistryEvents;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The models under one root; see the file comment. */
export class ModelRegistry {
  private readonly models = new Map<string, ServedModel>();
  private readonly log: Logger;
  private running: Promise<void> | null = null;
  private readonly scanListeners = new Set<() => void>();
  private again = false;
  private closed = false;
  /** Why the root could not be listed at the last scan; null when it could. */
  rootError: string | null = null;
  /** Completed scans. */
  scans = 0;

  constructor(private readonly deps: RegistryDeps) {
    this.log = deps.logger.child({ component: 'model-registry' });
  }

  /** The model root. */
  get root(): string {
    return this.deps.root;
  }

  /** The version policy. */
  get policy(): VersionPolicy {
    return this.deps.policy;
  }

  /**
   * Brings the loaded versions in line with the root. Calls made while a scan runs are folded
   * into one more scan after it; the promise resolves when a scan that started after the call
   * has finished.
   */
  rescan(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.scan();
        this.scans++;
        for (const fn of this.scanListeners) fn();
      } while (this.again && !this.closed);
    })().finally(() => { this.running = null; });
    return this.running;
  }

  /** Calls `fn` after every scan; returns the function that stops it. */
  afterScan(fn: () => void): () => void {
    this.scanListeners.add(fn);
    return () => this.scanListeners.delete(fn);
  }

  /**
   * The model `name`.
   * @throws TesseraError UNKNOWN_MODEL naming it and the models served
   */
  model(name: string): ServedModel {
    const m = this.models.get(name);
    if (!m) throw new TesseraError(ERROR_CODES.UNKNOWN_MODEL, `model "${name}" is not served here; models: ${[...this.models.keys()].sort().join(', ') || 'none'}`);
    return m;
  }

  /** Every model, by name. */
  list(): ServedModel[] {
    return [...this.models.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** True when there is a model and every model with versions has one loaded. */
  ready(): boolean {
    const wanted = this.list().filter((m) => m.onDisk.length > 0 || m.loaded().length > 0);
    return wanted.length > 0 && wanted.every((m) => m.loaded().length > 0);
  }

  /** Stops scanning, retires every version and resolves once each is released (its last request ended). */
  async close(): Promise<void> {
    this.closed = true;
    await this.running?.catch(() => undefined);
    const retired = this.list().flatMap((m) => m.loaded().map((v) => m.remove(v.version)!));
    await Promise.all(retired.map((v) => v.released));
  }

  private async scan(): Promise<void> {
    let names: string[];
    try {
      names = listModels(this.deps.root);
      if (this.rootError) this.log.info({ root: this.deps.root }, 'model root is back');
      this.rootError = null;
    } catch (err) {
      const why = `cannot list the model root ${this.deps.root}: ${message(err)}`;
      if (this.rootError !== why) this.log.error({ root: this.deps.root, err: message(err) }, 'model root unreadable; the loaded versions keep serving');
      this.rootError = why;
      return;
    }
    for (const name of names) if (!this.models.has(name)) this.models.set(name, new ServedModel(name));
    for (const m of this.list()) {
      if (this.closed) return;
      await this.reconcile(m, names.includes(m.name));
    }
  }

  /** Labels, then loads, then unloads, for one model. */
  private async reconcile(m: ServedModel, present: boolean): Promise<void> {
    if (!present) {
      if (m.dirError === null) this.log.warn({ model: m.name }, 'model directory gone from the root; its loaded versions keep serving');
      m.dirError = `directory ${path.join(this.deps.root, m.name)} is gone`;
      return;
    }
    m.dirError = null;
    this.readLabelsOf(m);
    try {
      m.onDisk = listVersions(this.deps.root, m.name);
    } catch (err) {
      m.dirError = `cannot list ${path.join(this.deps.root, m.name)}: ${message(err)}`;
      return;
    }
    const labelled = Object.values(m.labels).filter((v) => m.onDisk.includes(v));
    const wanted = [...new Set([...policyVersions(this.deps.policy, m.onDisk), ...labelled])].sort((a, b) => b - a);
    for (const v of wanted) {
      if (this.closed) return;
      const held = m.get(v);
      // A version held with another manifest than the one on disk was replaced under its number.
      if ((!held || held.origin.stamp !== this.stampOf(m.name, v)) && !this.stillRefused(m, v)) await this.load(m, v);
    }
    if (!wanted.some((v) => m.get(v))) return; // nothing wanted is servable: keep what serves
    for (const v of m.loaded()) {
      if (wanted.includes(v.version)) continue;
      m.remove(v.version);
      this.deps.events?.onUnloaded?.(m.name, v);
      this.log.info({ model: m.name, version: v.version, onDisk: m.onDisk.includes(v.version), inFlight: v.inFlight }, 'version unloaded');
    }
  }

  private readLabelsOf(m: ServedModel): void {
    let labels: Labels;
    try {
      labels = readLabels(this.deps.root, m.name);
    } catch (err) {
      if (m.labelsError !== message(err)) this.log.error({ model: m.name, err: message(err) }, `${LABELS_FILE} unreadable; the previous labels stay in force`);
      m.labelsError = message(err);
      return;
    }
    m.labelsError = null;
    if (JSON.stringify(labels) !== JSON.stringify(m.labels)) this.log.info({ model: m.name, labels, before: m.labels }, 'labels changed');
    m.labels = labels;
  }

  private async load(m: ServedModel, v: number): Promise<void> {
    const served = m.defaultVersion()?.spec ?? m.loaded().pop()?.spec;
    try {
      const loaded = await loadVersion(this.deps.root, m.name, v, served, this.deps.loader);
      if (this.closed) {
        loaded.retire();
        return;
      }
      m.add(loaded);
      this.deps.events?.onLoaded?.(m.name, loaded);
      this.log.info({ model: m.name, version: v, seconds: loaded.origin.loadSeconds, rows: loaded.rows() }, 'version loaded');
    } catch (err) {
      const code = err instanceof TesseraError ? err.code : ERROR_CODES.INTERNAL;
      m.refused.set(v, { version: v, code, reason: message(err), at: Date.now(), stamp: this.stampOf(m.name, v) });
      this.deps.events?.onRefused?.(m.name, v, code, message(err));
      this.log.error({ model: m.name, version: v, code, err: message(err) }, 'version refused; the loaded versions keep serving');
    }
  }

  /** True when `v` was refused and its manifest has not changed since. */
  private stillRefused(m: ServedModel, v: number): boolean {
    const r = m.refused.get(v);
    return r !== undefined && r.stamp === this.stampOf(m.name, v);
  }

  private stampOf(name: string, v: number): number {
    try {
      return fs.statSync(path.join(versionDir(this.deps.root, name, v), MODEL_MANIFEST)).mtimeMs;
    } catch {
      return -1;
    }
  }
}
