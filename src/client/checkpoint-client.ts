/**
 * Checkpoints from the caller's side: cut every PS, poll the background writes, restore. It
 * sends requests only; the files are the PS's to write and read, and the manifest is the
 * caller's (take-checkpoint.ts, restore-checkpoint.ts).
 *
 * ```ts
 * const ps = new PsClient({ shardMap, logger });
 * await ps.checkpoints.snapshot(id, '/ckpt', 'full');
 * const statuses = await ps.checkpoints.awaitSnapshot(id, 600_000);
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { bucketsOwnedBy } from '../sharding/shard-map';
import { asBytes } from '../wire/key-block';
import type { TableSpec } from '../ps/store/table-spec';
import { tableSpecFromWire } from '../ps/table-spec-wire';
import { workerStepWire } from '../ps/checkpoint/cut-handlers';
import type { CutAtResponse, SnapshotRequest, SnapshotResponse, SnapshotStatusResponse } from './admin-messages';
import { adminCall } from './admin-client';
import type { PsFleet } from './ps-fleet';
import type { StepCutParty } from './step-cut';

/** How often awaitSnapshot polls SnapshotStatus. */
const SNAPSHOT_POLL_MS = 25;
/** Deadline of one Restore call: it reads and loads this PS's share of the checkpoint. */
const RESTORE_TIMEOUT_MS = 30 * 60_000;

/** One PS's answer to Snapshot. */
export interface PsSnapshotResult { psId: number; addr: string; cutRows: number; cutMicros: number }

/** One PS's SnapshotStatus, with the PS it came from and its tables as table specs. */
export interface PsSnapshotStatus extends Omit<SnapshotStatusResponse, 'tables'> {
  psId: number;
  addr: string;
  tables: TableSpec[];
}

/** What to restore, and onto which PS of the fleet. */
export interface RestoreTarget {
  /** checkpoint root directory */
  root: string;
  /** checkpoint id; restored with its whole incremental chain */
  id: string;
  /** the dense tables in the checkpoint (from its manifest); each PS loads the ones it holds */
  denseTables: readonly string[];
  /** only these PS (stable ids); default: every PS of the shard map */
  onlyPsIds?: readonly number[];
}

/** Snapshot, SnapshotStatus and Restore over the PS of one shard map. */
export class PsCheckpointClient {
  constructor(private readonly fleet: PsFleet) {}

  /**
   * Takes checkpoint `id`'s cut on every PS in parallel; each returns as soon as its cut is taken
   * and writes `dir/<id>/ps-<psId>/` in the background (see awaitSnapshot).
   */
  async snapshot(id: string, dir: string, kind: 'full' | 'incremental', baseId?: string): Promise<PsSnapshotResult[]> {
    return Promise.all(this.fleet.conns.map(async (c, i) => {
      const psId = this.fleet.map.ps[i].id;
      const req: SnapshotRequest = { checkpointId: id, dir, kind, baseId: baseId ?? '', psId };
      // Not retried: a cut is not idempotent (a retry after a lost answer is refused as a conflict).
      const res = await c.adminCall<SnapshotResponse>('Snapshot', req, this.fleet.callTimeoutMs);
      return { psId, addr: c.addr, cutRows: res.cutRows, cutMicros: res.cutMicros };
    }));
  }

  /**
   * Every PS as a party to a cut at per-worker steps (ADR 0040, `cutAtSteps`), whose CutAt takes
   * checkpoint `snapshotId`'s snapshot as `snapshot` does. PrepareCut and ReleaseCut are retried
   * (repeating them is harmless); CutAt is not, like Snapshot.
   */
  stepCutParties(snapshotId: string, dir: string, kind: 'full' | 'incremental', baseId?: string): StepCutParty[] {
    return this.fleet.conns.map((c, i) => {
      const psId = this.fleet.map.ps[i].id;
      const snapshot: SnapshotRequest = { checkpointId: snapshotId, dir, kind, baseId: baseId ?? '', psId };
      return {
        prepare: async (cutId, holdMs) => {
          const res = await adminCall(this.fleet, c, 'PrepareCut', { cutId, holdMs });
          return new Map(res.steps.map((s) => [workerStepWire.clientOf(s, 0), { step: s.step, positions: new Uint8Array(s.positions ?? []) }]));
        },
        cutAt: async (cutId, steps, waitMs, acknowledged) => {
          const wire = [...steps].map(([client, step]) => ({ stepClient: workerStepWire.clientBytes(client), step, acknowledged: acknowledged?.has(client) === true }));
          await c.adminCall<CutAtResponse>('CutAt', { cutId, steps: wire, waitMs, snapshot }, this.fleet.callTimeoutMs + waitMs);
        },
        release: (cutId, reason) => adminCall(this.fleet, c, 'ReleaseCut', { cutId, reason }),
      };
    });
  }

  /** SnapshotStatus of checkpoint `id` on every PS, in shard-map order. */
  async snapshotStatus(id: string): Promise<PsSnapshotStatus[]> {
    return Promise.all(this.fleet.conns.map(async (c, i) => {
      const res = await adminCall(this.fleet, c, 'SnapshotStatus', { checkpointId: id });
      return { ...res, tables: res.tables.map(tableSpecFromWire), psId: this.fleet.map.ps[i].id, addr: c.addr };
    }));
  }

  /** Polls until every PS has written snapshot `id`; throws naming a PS that failed, or at the timeout. */
  async awaitSnapshot(id: string, timeoutMs: number): Promise<PsSnapshotStatus[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = await this.snapshotStatus(id);
      const failed = all.find((s) => s.state === 'FAILED');
      if (failed) throw new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `snapshot "${id}" failed on ps ${failed.psId} (${failed.addr}): ${failed.error}`);
      if (all.every((s) => s.state === 'DONE')) return all;
      if (Date.now() > deadline) {
        const slow = all.filter((s) => s.state !== 'DONE').map((s) => `ps ${s.psId} (${s.addr})`).join(', ');
        throw new TesseraError(ERROR_CODES.DEADLINE, `snapshot "${id}": still writing after ${timeoutMs} ms on ${slow}`);
      }
      // Polling (not sleeping to order events): the status only moves towards DONE or FAILED.
      await new Promise((r) => setTimeout(r, SNAPSHOT_POLL_MS));
    }
  }

  /**
   * Restores a checkpoint onto the PS of this fleet's shard map, in parallel: each PS loads the
   * buckets it owns now and the dense tables placed on it, so the checkpoint may come from any
   * number of PS. Tables must exist (createTable) first.
   */
  async restore(target: RestoreTarget): Promise<{ psId: number; tables: { table: string; rows: number }[] }[]> {
    const m = this.fleet.map;
    const only = target.onlyPsIds;
    const targets = this.fleet.conns.map((c, i) => ({ c, i })).filter(({ i }) => !only || only.includes(m.ps[i].id));
    return Promise.all(targets.map(async ({ c, i }) => {
      const res = await adminCall(this.fleet, c, 'Restore', {
        root: target.root, checkpointId: target.id, numBuckets: m.numBuckets,
        buckets: asBytes(Uint16Array.from(bucketsOwnedBy(m, i))),
        denseTables: target.denseTables.filter((t) => this.fleet.ownerOfDense(t) === i),
      }, RESTORE_TIMEOUT_MS);
      return { psId: m.ps[i].id, tables: res.tables };
    }));
  }
}
