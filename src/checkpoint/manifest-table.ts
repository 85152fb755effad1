/**
 * The table record of a checkpoint manifest (format 2; manifest.ts). Its own file so that both
 * the manifest and the reader of format-1 manifests (manifest-format1.ts) can name it.
 */

/**
 * One table of a checkpoint as the PS held it at the cut, every default filled in: what a
 * restore recreates and checks the chunk files against. Its own record, not a wire message, so
 * the file format changes only when this does (docs/checkpoint-format.md).
 */
export interface ManifestTable {
  name: string;
  kind: 'embedding' | 'dense';
  /** embedding tables: the row width */
  dim?: number;
  /** dense tables: the number of floats */
  size?: number;
  /**
   * the optimizer as one self-describing value: its kind and every hyper-parameter by the name
   * the job YAML uses (`{ kind: 'adagrad', params: { lr: 0.05, initial_accumulator: 0.1, eps: 1e-10 } }`)
   */
  optimizer: { kind: string; params: Record<string, number> };
  /** `{ kind: 'zeros' | 'constant' | 'uniform' | 'normal' }` plus that kind's `value`, `scale` or `std` */
  initializer: { kind: string; [key: string]: string | number };
  seed: number;
  /** embedding tables: `f32` or `f16` */
  weightFormat?: string;
  /** embedding tables with admission: `minCount`, `sketchWidth`, `sketchDepth`, `unadmitted` */
  admission?: Record<string, number | string>;
  /** embedding tables with eviction: `policy` and the limits set (`ttlSteps`, `maxRows`, ...), `spill` */
  eviction?: Record<string, number | string | boolean>;
}
