/**
 * Issue 13: a table's settings reach a PS over gRPC exactly as `tessera train` builds them in
 * process. Before the fix, the wire read a proto3 zero as "unset" and had no FTRL
 * `initial_accumulator`, so adam `beta1: 0` arrived as 0.9, adagrad `initial_accumulator: 0` as
 * 0.1 and ftrl `initial_accumulator: 0.5` as 0.1.
 *
 * For every optimizer key (from the descriptors, so a new optimizer or key is covered without
 * touching this file), zero where its bounds allow zero and one other value, and for initializer,
 * weight-format, admission and eviction settings, one YAML job spec per case is built into
 * table specs; the same specs are created on an in-process PsNode and, through PsClient over
 * real gRPC, on a PS server on port 0; each table's effective config must be the same on both.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { silentLogger } from '../../src/common/logger';
import type { NumberBounds } from '../../src/ps/optimizers/config-check';
import type { OptimizerParam } from '../../src/ps/optimizers/optimizer';
import { OPTIMIZERS } from '../../src/ps/optimizers/registry';
import { PsNode } from '../../src/ps/ps-node';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { LmdbRowTier } from '../../src/ps/tier/lmdb-row-tier';
import { planShardMap } from '../../src/sharding/shard-map';
import { embeddingTableSpecs, parseJobSpec } from '../../src/spec/job-spec';
import { PsClient } from '../../src/client/ps-client';

/** One case: a table entry of `features.tables`, spelled as in the YAML (snake_case). */
interface Case { label: string; table: Record<string, unknown> }

function allowsZero(b: NumberBounds): boolean {
  return (b.gt === undefined || 0 > b.gt) && (b.min === undefined || 0 >= b.min)
    && (b.lt === undefined || 0 < b.lt) && (b.max === undefined || 0 <= b.max);
}

/** Zero where the bounds allow it, and a value other than the default. */
function valuesFor(p: OptimizerParam): number[] {
  return [...(allowsZero(p.bounds) ? [0] : []), p.default === 0.5 ? 0.25 : 0.5];
}

function optimizerCases(): Case[] {
  const cases: Case[] = [];
  for (const d of Object.values(OPTIMIZERS)) {
    const required = Object.fromEntries(d.params.filter((p) => p.default === undefined && !p.optional).map((p) => [p.name, 0.01]));
    cases.push({ label: `${d.kind} defaults`, table: { optimizer: { kind: d.kind, ...required } } });
    for (const p of d.params) {
      for (const v of valuesFor(p)) {
        cases.push({ label: `${d.kind} ${p.name}: ${v}`, table: { optimizer: { kind: d.kind, ...required, [p.name]: v } } });
      }
    }
  }
  return cases;
}

const SGD = { kind: 'sgd', lr: 0.1 };
const BUDGET = { max_rows: 65536 };

/** Initializer, seed, weight format, admission and eviction settings (zeros where valid). */
const MEMORY_CASES: Case[] = [
  ...[{ kind: 'zeros' }, { kind: 'constant', value: 0 }, { kind: 'constant', value: -0.5 }, { kind: 'uniform', scale: 0 },
    { kind: 'uniform', scale: 0.3 }, { kind: 'normal', std: 0 }, { kind: 'normal', std: 0.2 }]
    .map((initializer) => ({ label: `initializer ${JSON.stringify(initializer)}`, table: { optimizer: SGD, initializer } })),
  { label: 'seed 0', table: { optimizer: SGD, seed: 0 } },
  { label: 'seed 7', table: { optimizer: SGD, seed: 7 } },
  { label: 'weight_format f32', table: { optimizer: SGD, weight_format: 'f32' } },
  { label: 'weight_format f16', table: { optimizer: SGD, weight_format: 'f16' } },
  ...[{ min_count: 1 }, { min_count: 3, sketch_width: 1024, sketch_depth: 1, unadmitted: 'unknown' },
    { min_count: 255, sketch_width: 2048, sketch_depth: 8, unadmitted: 'zeros' }]
    .map((admission) => ({ label: `admission ${JSON.stringify(admission)}`, table: { optimizer: SGD, admission } })),
  ...[{ ttl_steps: 1 }, { ttl_seconds: 30 }, BUDGET, { max_bytes: 1 << 24 }, { policy: 'lfu', ttl_steps: 5, ...BUDGET },
    { ...BUDGET, spill: false }, { ...BUDGET, spill: true }, { ttl_seconds: 2, max_bytes: 1 << 24, spill: true }]
    .map((eviction) => ({ label: `eviction ${JSON.stringify(eviction)}`, table: { optimizer: SGD, eviction } })),
];

const CASES = [...optimizerCases(), ...MEMORY_CASES].map((c, i) => ({ ...c, name: `t${i}` }));

/** The table specs `tessera train` and the chief build from a YAML job spec with this one table. */
function specFromYaml(name: string, table: Record<string, unknown>) {
  const yaml = stringify({
    name: 'roundtrip', data: { format: 'criteo' },
    features: { categorical: [{ name: 'C1', table: name }], tables: [{ name, dim: 4, ...table }] },
    model: { kind: 'deepfm', hidden: [8] },
  });
  return embeddingTableSpecs(parseJobSpec(yaml))[0];
}

/** What a PS node actually runs a table with. */
function effective(node: PsNode, name: string): Record<string, unknown> {
  const t = node.store.getEmbedding(name);
  return {
    spec: node.store.spec(name), optimizer: { ...t.optimizerConfig }, stateWidth: t.stateWidth, initializer: t.initializer,
    seed: t.seed, weightFormat: t.weightFormat, admission: t.admission, eviction: t.eviction,
  };
}

describe('table settings over gRPC equal the in-process ones (issue 13)', function () {
  this.timeout(30_000);
  let dir: string;
  let tiers: LmdbRowTier[];
  let local: PsNode;
  let server: PsServer;
  let client: PsClient;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-roundtrip-'));
    tiers = [new LmdbRowTier({ dir: path.join(dir, 'local') }), new LmdbRowTier({ dir: path.join(dir, 'remote') })];
    local = new PsNode({ config: { maxRequestBytes: 1 << 20 }, logger: silentLogger(), tier: tiers[0] });
    const remote = new PsNode({ config: { maxRequestBytes: 1 << 20 }, logger: silentLogger(), tier: tiers[1] });
    server = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), node: remote });
    client = new PsClient({ shardMap: planShardMap([{ id: 0, addr: server.addr }]), logger: silentLogger() });
    await client.admin.installShardMap();
    for (const c of CASES) {
      const spec = specFromYaml(c.name, c.table);
      local.createTable(spec);
      await client.admin.createTable(spec);
    }
  });

  after(async () => {
    client?.close();
    await server?.stop();
    await Promise.all((tiers ?? []).map((t) => t.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const c of CASES) {
    it(`${c.label}`, () => {
      expect(effective(server.node, c.name)).to.deep.equal(effective(local, c.name));
    });
  }

  it('carries l2_reg (issue 21) for every optimizer, zero included, beside clip_norm', () => {
    for (const kind of Object.keys(OPTIMIZERS)) {
      for (const v of [0, 0.5]) {
        const c = CASES.find((x) => x.label === `${kind} l2_reg: ${v}`);
        expect(c, `${kind} l2_reg: ${v}`).to.not.equal(undefined);
        expect(server.node.store.getEmbedding(c!.name).optimizerConfig, `${kind} after gRPC`).to.include({ l2Reg: v });
      }
    }
  });

  it('covers the three settings the issue found changed, with the values the spec gave', () => {
    const rows: [string, string, number][] = [
      ['adam beta1: 0', 'beta1', 0],
      ['adagrad initial_accumulator: 0', 'initialAccumulator', 0],
      ['ftrl initial_accumulator: 0.5', 'initialAccumulator', 0.5],
    ];
    for (const [label, key, value] of rows) {
      const c = CASES.find((x) => x.label === label);
      expect(c, label).to.not.equal(undefined);
      const opt = server.node.store.getEmbedding(c!.name).optimizerConfig as unknown as Record<string, number>;
      expect(opt[key], `${label} after gRPC`).to.equal(value);
    }
  });
});
