/**
 * What the training loop needs from parameter storage. psParams (over a PsClient: gRPC to PS
 * processes) and LocalParams (an in-process TableStore, for evaluation of a saved model) both
 * provide it, so the trainer's logic stays free of transport.
 */
import type { DensePush, SparsePush } from '../client/data-client';
import type { TableSpec } from '../ps/store/table-store';
import type { IdArray } from '../wire/key-block';

/** Parameter storage as the training loop sees it. */
export interface ParameterAccess {
  createTable(spec: TableSpec): Promise<void>;
  /**
   * Rows [n × dim] for ids, in order; readOnly pulls never create rows. With `versions` ([n]),
   * storage that tracks row versions writes the version of each row read (push staleness).
   * With `out` ([n × dim], not shared with another pull in flight) storage may write the rows
   * there and return it, so a caller that reuses its buffers allocates less per pull.
   */
  pull(table: string, ids: IdArray, dim: number, opts?: { readOnly?: boolean; versions?: Uint32Array; out?: Float32Array }): Promise<Float32Array>;
  /** Gradients [n × dim]; may return before they are applied (bounded staleness). */
  push(table: string, ids: IdArray, grads: Float32Array): Promise<void>;
  /**
   * One training step's pushes, counted as one entry against the in-flight bound. A table's
   * `readVersions` (its pull's `versions`) has the push's staleness measured.
   */
  pushStep(sparse: SparsePush[], dense?: DensePush[]): Promise<void>;
  /** True when this training step should measure push staleness; absent: never. */
  sampleStaleness?(): boolean;
  /**
   * All values of a dense table; with `out` (as long as the table, not shared with another pull
   * in flight) they are written there and `out` is returned.
   */
  pullDense(table: string, out?: Float32Array): Promise<Float32Array>;
  pushDense(table: string, grads: Float32Array): Promise<void>;
  /** Offers initial dense values; the first offer wins when onlyIfFresh. */
  assignDense(table: string, values: Float32Array, onlyIfFresh?: boolean): Promise<boolean>;
  /** Waits until every push has been applied. */
  flush(): Promise<void>;
}

/** A worker's connection to the PS of one shard map. */
export interface WorkerParams extends ParameterAccess {
  close(): void;
  /** Steps whose pushes are still in flight. */
  readonly inflightPushes?: number;
  /** Times a step waited for the push window. */
  readonly pushThrottles?: number;
}
