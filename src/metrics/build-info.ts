/**
 * `tessera_build_info{version,backend}`: always 1, so dashboards can join on the labels and show
 * what each process runs. `backend` is the tfjs backend a worker or chief computes on (`none` on
 * a PS, which computes no model).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Gauge, Registry } from 'prom-client';

/** The package's version, read from the package.json above this file (source or dist). */
export function tesseraVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@tessera-ps/tessera' && pkg.version) return pkg.version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

/**
 * The build-info series of one registry.
 *
 * ```ts
 * const info = new BuildInfo(registry);   // tessera_build_info{version="0.1.0",backend="none"} 1
 * info.setBackend('wasm');
 * ```
 */
export class BuildInfo {
  private readonly gauge: Gauge<'version' | 'backend'>;
  private readonly version: string;

  constructor(registry: Registry, version = tesseraVersion()) {
    this.version = version;
    this.gauge = new Gauge({ name: 'tessera_build_info', help: 'Always 1; labels name the Tessera version and the tfjs backend.', labelNames: ['version', 'backend'], registers: [registry] });
    this.setBackend('none');
  }

  /** Names the tfjs backend this process computes on. */
  setBackend(backend: string): void {
    this.gauge.reset();
    this.gauge.labels(this.version, backend).set(1);
  }
}
