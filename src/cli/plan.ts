/**
 * `tessera plan`: how many PS pods a table needs, from the table's own memory arithmetic
 * (src/ps/store/table-budget.ts: index at its capacity, whole slabs, eviction metadata) and the
 * bucket map's imbalance (4,096 buckets over N PS: the fullest PS holds ceil(4096/N) buckets).
 * docs/capacity-planning.md walks through the same numbers for 10^9 rows of dim 16 with Adagrad.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { OPTIMIZER_KINDS, optimizerDescriptor } from '../ps/optimizers/registry';
import { DEFAULT_SLAB_ROWS } from '../ps/store/embedding-table';
import { EVICTION_META_BYTES_PER_ROW } from '../ps/store/row-eviction';
import { SLOT_META_BYTES_PER_ROW } from '../ps/store/slot-meta';
import { bytesForRows, indexSlotBytesFor, RowCost } from '../ps/store/table-budget';
import { checkWeightFormat } from '../ps/store/table-options';
import type { WeightFormat } from '../ps/store/row-storage';
import { DEFAULT_NUM_BUCKETS } from '../sharding/buckets';
import { textOut } from './output';
import { helpText, OptionSpec, noPositional, parseArgs, ParsedArgs } from '../runtime/args';

const GIB = 2 ** 30;

const SPEC: Record<string, OptionSpec> = {
  rows: { type: 'string', describe: 'rows of the table across all PS (e.g. 1e9)', default: '1e9' },
  dim: { type: 'string', describe: 'embedding dim', default: '16' },
  optimizer: { type: 'string', describe: `${OPTIMIZER_KINDS.join(' | ')} (sets the state per row)`, default: 'adagrad' },
  'weight-format': { type: 'string', describe: 'f32 | f16', default: 'f32' },
  eviction: { type: 'boolean', describe: 'count eviction metadata (5 bytes/row)' },
  'pod-gib': { type: 'string', describe: 'memory limit of one PS pod, GiB', default: '64' },
  'runtime-gib': { type: 'string', describe: 'what the Node runtime, gRPC buffers and scratch take per pod, GiB', default: '2' },
  json: { type: 'boolean', describe: 'also print the plan as one JSON line' },
};

/** Help text of `tessera plan`. */
export const PLAN_HELP = helpText(
  'tessera plan [--rows N] [--dim D] [--optimizer K] [--weight-format f32|f16] [--eviction] [--pod-gib G] [--runtime-gib R] [--json]',
  'Plans PS pods for one embedding table: bytes per row, bytes per PS, and the fewest pods whose\n' +
    'fullest shard (by the 4,096-bucket map) fits the pod limit after the runtime\'s share.',
  SPEC,
);

/** What `plan` computes. */
export interface CapacityPlan {
  rows: number;
  payloadBytesPerRow: number;
  bytesPerRow: number;
  psCount: number;
  rowsPerPs: number;
  bytesPerPs: number;
  podBytes: number;
  runtimeBytes: number;
}

function positive(args: ParsedArgs, name: string): number {
  const raw = String(args.options[name]);
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new TesseraError(ERROR_CODES.CONFIG, `--${name} must be a positive number, got "${raw}"`);
  }
  return n;
}

/**
 * The fewest PS whose fullest shard fits `podBytes - runtimeBytes`.
 *
 * ```ts
 * planCapacity(1e9, { rowBytes: 128, indexSlotBytes: 12, metaBytes: 0, slabRows: 65536, fixedBytes: 0, extraSlots: 0 }, 64 * 2 ** 30, 2 * 2 ** 30);
 * ```
 */
export function planCapacity(rows: number, cost: RowCost, podBytes: number, runtimeBytes: number): CapacityPlan {
  const room = podBytes - runtimeBytes;
  if (room <= 0) throw new TesseraError(ERROR_CODES.CONFIG, '--runtime-gib must be less than --pod-gib');
  for (let ps = 1; ps <= DEFAULT_NUM_BUCKETS; ps++) {
    const rowsPerPs = Math.ceil((rows * Math.ceil(DEFAULT_NUM_BUCKETS / ps)) / DEFAULT_NUM_BUCKETS);
    const bytesPerPs = bytesForRows(rowsPerPs, cost);
    if (bytesPerPs <= room) {
      return {
        rows, payloadBytesPerRow: cost.rowBytes + 8, bytesPerRow: bytesPerPs / rowsPerPs, psCount: ps, rowsPerPs,
        bytesPerPs, podBytes, runtimeBytes,
      };
    }
  }
  throw new TesseraError(ERROR_CODES.CONFIG, `--rows ${rows} does not fit ${DEFAULT_NUM_BUCKETS} pods of this size`);
}

/** Runs `tessera plan`; resolves with the exit code. */
export async function runPlan(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  noPositional(args);
  const rows = Math.ceil(positive(args, 'rows'));
  const dim = positive(args, 'dim');
  const kind = String(args.options.optimizer);
  if (!(OPTIMIZER_KINDS as readonly string[]).includes(kind)) {
    throw new TesseraError(ERROR_CODES.CONFIG, `--optimizer must be one of ${OPTIMIZER_KINDS.join(', ')}, got "${kind}"`);
  }
  const stateWidth = optimizerDescriptor(kind).stateWidth(dim);
  let format: WeightFormat;
  try {
    format = checkWeightFormat(args.options['weight-format'], '--weight-format');
  } catch (e) {
    throw new TesseraError(ERROR_CODES.CONFIG, (e as Error).message);
  }
  const rowBytes = dim * (format === 'f16' ? 2 : 4) + stateWidth * 4;
  const cost: RowCost = {
    rowBytes, indexSlotBytes: indexSlotBytesFor(format), metaBytes: SLOT_META_BYTES_PER_ROW + (args.options.eviction === true ? EVICTION_META_BYTES_PER_ROW + 1 : 0),
    slabRows: DEFAULT_SLAB_ROWS, fixedBytes: 0, extraSlots: 0,
  };
  const p = planCapacity(rows, cost, positive(args, 'pod-gib') * GIB, positive(args, 'runtime-gib') * GIB);
  const gib = (x: number): string => `${(x / GIB).toFixed(1)} GiB`;
  textOut(args.options.json === true).write([
    `table: ${rows} rows × dim ${dim}, ${kind} (${stateWidth} state floats), ${format} weights${cost.metaBytes > SLOT_META_BYTES_PER_ROW ? ', eviction metadata' : ''}`,
    `payload: ${p.payloadBytesPerRow} bytes/row (weights + state + 8-byte id); resident: ${p.bytesPerRow.toFixed(1)} bytes/row ` +
      `(${(p.bytesPerRow / p.payloadBytesPerRow).toFixed(3)}×: index at its capacity, whole slabs)`,
    `pods: ${p.psCount} PS of ${gib(p.podBytes)} (${gib(p.runtimeBytes)} runtime each); fullest PS holds ${p.rowsPerPs} rows = ${gib(p.bytesPerPs)}`,
    `total resident: ${gib(p.bytesPerRow * rows)} across the cluster`,
  ].join('\n') + '\n');
  if (args.options.json === true) {
    process.stdout.write(`${JSON.stringify({
      rows, dim, optimizer: kind, weight_format: format, payload_bytes_per_row: p.payloadBytesPerRow,
      bytes_per_row: Number(p.bytesPerRow.toFixed(2)), ps_count: p.psCount, rows_per_ps: p.rowsPerPs,
      bytes_per_ps: p.bytesPerPs, pod_bytes: p.podBytes, runtime_bytes: p.runtimeBytes,
    })}\n`);
  }
  return 0;
}
