/**
 * Helpers for cluster tests of buddy replication (issue 17): a job spec with
 * `ps.replication`, and what `tessera status` shows of it.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import type { LocalCluster } from '../../src/local/local-cluster';
import { SYNTHETIC_SPEC } from './cluster';
import { lastJson, runTessera } from './tessera';

/** The example spec with `ps.replication: mode`, written into `dir`; returns its path. */
export function specWith(dir: string, mode: 'buddy' | 'none'): string {
  const file = path.join(dir, `spec-${mode}.yaml`);
  fs.writeFileSync(file, `${fs.readFileSync(SYNTHETIC_SPEC, 'utf8')}\nps:\n  replication: ${mode}\n`);
  return file;
}

/** Asserts that `tessera status --json` shows `pairs` ([ps, buddy]) and a lag of 0-5 s for each PS. */
export async function expectStatusReplication(c: LocalCluster, pairs: [number, number][]): Promise<void> {
  const shown = await runTessera(['status', '--etcd', c.etcdUrl, '--job', c.opts.job, '--json']);
  expect(shown.code).to.equal(0);
  const rep = lastJson(shown.stdout).replication as { ps: number; buddy: number; lag_s: number | null }[];
  expect(rep.map((r) => [r.ps, r.buddy]), 'tessera status: each PS and its buddy').to.deep.equal(pairs);
  for (const r of rep) expect(r.lag_s, `ps ${r.ps} lag`).to.be.a('number').and.within(0, 5);
}
