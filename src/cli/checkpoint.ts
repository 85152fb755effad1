/**
 * `tessera checkpoint ls|inspect|verify`: look at checkpoints on disk without a cluster.
 */
import * as path from 'path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { listCheckpoints, resolveCheckpointArg } from '../checkpoint/catalog';
import { readManifest } from '../checkpoint/manifest';
import { verifyCheckpoint } from '../checkpoint/verify';
import { helpText, OptionSpec, parseArgs } from '../runtime/args';
import { textOut } from './output';

const SPEC: Record<string, OptionSpec> = {
  json: { type: 'boolean', describe: 'print only one JSON object on stdout (the table goes to stderr); -o json is the same' },
};

export const CHECKPOINT_HELP = helpText('tessera checkpoint ls DIR | inspect DIR[/ID] | verify DIR[/ID] [--json]',
  'ls       lists the complete checkpoints under DIR: id, step, kind, size, time\n'
  + 'inspect  shows a checkpoint\'s manifest, tables, rows per table and job spec\n'
  + 'verify   reads every chunk of a checkpoint and its chain and checks every checksum;\n'
  + '         exits 1 naming each damaged file and chunk\n'
  + 'A DIR that is a checkpoint root (not one checkpoint) means its newest checkpoint.', SPEC);

/** Prints result lines: on stdout, or on stderr once --json owns stdout (see output.ts). */
function printer(asJson: boolean): (line: string) => void {
  return (line) => { textOut(asJson).write(`${line}\n`); };
}

function json(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

async function ls(dir: string, asJson: boolean): Promise<number> {
  const out = printer(asJson);
  const list = await listCheckpoints(path.resolve(dir));
  out(`${'id'.padEnd(34)} ${'step'.padStart(8)} ${'kind'.padEnd(11)} ${'size'.padStart(11)}  time`);
  for (const c of list) {
    out(`${c.id.padEnd(34)} ${String(c.step ?? '-').padStart(8)} ${c.kind.padEnd(11)} ${mib(c.bytes).padStart(11)}  ${c.createdAt}${c.base ? `  (base ${c.base})` : ''}`);
  }
  if (asJson) json({ checkpoints: list });
  return 0;
}

async function inspect(arg: string, asJson: boolean): Promise<number> {
  const out = printer(asJson);
  const { root, id } = await resolveCheckpointArg(arg);
  const m = await readManifest(path.join(root, id));
  const rows: Record<string, number> = {};
  for (const f of m.files) if ((f.kind ?? 'rows') === 'rows') rows[f.table] = (rows[f.table] ?? 0) + f.rows;
  const spec = specYaml(m.job);
  out(`checkpoint ${m.id} (${m.kind}${m.base ? `, base ${m.base}` : ''}) created ${m.createdAt}`);
  out(`buckets ${m.numBuckets}, shard map v${m.shardMapVersion}, ${m.files.length} files, ${mib(m.files.reduce((s, f) => s + f.bytes, 0))}`);
  for (const t of m.tables) {
    const shape = t.kind === 'dense' ? `dense size ${t.size}` : `dim ${t.dim} ${t.weightFormat}`;
    out(`  table ${t.name.padEnd(24)} ${shape.padEnd(18)} optimizer ${t.optimizer.kind}  rows ${rows[t.name] ?? (t.kind === 'dense' ? 1 : 0)}`);
  }
  if (spec !== null) out(`spec (YAML):\n${spec.trimEnd()}`);
  if (asJson) json({ root, id, manifest: m, rows });
  return 0;
}

/** The job spec a chief saved in the manifest, as the YAML it was written in; null when none. */
function specYaml(job: unknown): string | null {
  const spec = (job as { spec?: unknown } | null)?.spec;
  if (typeof spec === 'string') return spec;
  const yaml = (spec as { yaml?: unknown } | undefined)?.yaml;
  return typeof yaml === 'string' ? yaml : null;
}

async function verify(arg: string, asJson: boolean): Promise<number> {
  const out = printer(asJson);
  const { root, id } = await resolveCheckpointArg(arg);
  const r = await verifyCheckpoint(root, id);
  for (const f of r.faults) process.stderr.write(`FAULT ${f}\n`);
  out(`${r.faults.length === 0 ? 'OK' : 'DAMAGED'} ${id}: chain ${r.chain.join(' -> ') || '?'}, ${r.files} files, ${r.chunks} chunks, ${mib(r.bytes)} checked, ${r.faults.length} faults`);
  if (asJson) json({ ok: r.faults.length === 0, ...r });
  return r.faults.length === 0 ? 0 : 1;
}

/** Runs `tessera checkpoint <sub> ...`. */
export async function runCheckpoint(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  const [sub, target, extra] = args.positional;
  const asJson = args.options.json === true;
  if (!target || extra !== undefined) throw new TesseraError(ERROR_CODES.CONFIG, `usage: ${CHECKPOINT_HELP.split('\n')[0].slice(7)}`);
  switch (sub) {
    case 'ls': return ls(target, asJson);
    case 'inspect': return inspect(target, asJson);
    case 'verify': return verify(target, asJson);
    default: throw new TesseraError(ERROR_CODES.CONFIG, `unknown checkpoint subcommand "${sub ?? ''}" (ls, inspect, verify)`);
  }
}
