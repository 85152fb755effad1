/**
 * Turns a rendered pod's process (pod-process.ts) into a local one by substituting only what a
 * cluster provides (local-plan.ts), and records every substitution:
 *
 * - `entrypoint`: argv[0], the image's `tessera`, becomes bin/tessera.js (run by node);
 * - `endpoint`: a cluster `host:port` (alone, in a URL, or in a comma-separated list) becomes
 *   its local stand-in: `tessera-ps-1.tessera-ps:7000` → `127.0.0.1:<ps-1's port>`;
 * - `port`: a token equal to one of the container's ports becomes that pod's local port;
 * - `path`: a path under a volume mount moves to the volume's local directory;
 * - `tmpdir`: a container with a /tmp mount gets TMPDIR pointing at that mount's directory.
 *
 * Every other token and environment value is kept byte for byte, and `verifyLocal` checks that
 * independently of how `substitute` got there. A `host:port` with no stand-in throws: a local run
 * must not dial a cluster name.
 */
import * as path from 'path';
import type { LocalPlan } from './local-plan';
import type { Mount, PodProcess } from './pod-process';

export type SubstitutionKind = 'entrypoint' | 'endpoint' | 'port' | 'path' | 'tmpdir';

/** One change from the rendered process: where (`argv[3]`, `env.TESSERA_ETCD`), what kind, from → to. */
export interface Substitution {
  where: string;
  kind: SubstitutionKind;
  from: string;
  to: string;
}

/** The process to start locally. */
export interface LocalProcess {
  pod: string;
  /** argv[0] is the local program (a node script). */
  argv: string[];
  /** The complete environment of the child (runtime env, declared env, TMPDIR). */
  env: Record<string, string>;
  substitutions: Substitution[];
}

const URL_ITEM = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]+)(.*)$/i;
const HOST_PORT_ITEM = /^[A-Za-z0-9.-]+:\d+$/;

function mountOf(mounts: Mount[], p: string): Mount | undefined {
  return mounts.filter((m) => p === m.mountPath || p.startsWith(`${m.mountPath.replace(/\/$/, '')}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

function endpoint(hostPort: string, plan: LocalPlan, where: string): string {
  const to = plan.endpoints.get(hostPort);
  if (to === undefined) throw new Error(`${where}: no local stand-in for ${hostPort}`);
  return to;
}

/** One comma-separated item of a token, substituted; the kind when it changed. */
function substituteItem(item: string, proc: PodProcess, plan: LocalPlan, where: string, single: boolean): [string, SubstitutionKind?] {
  const url = URL_ITEM.exec(item);
  if (url && /:\d+$/.test(url[2])) return [`${url[1]}${endpoint(url[2], plan, where)}${url[3]}`, 'endpoint'];
  if (HOST_PORT_ITEM.test(item)) return [endpoint(item, plan, where), 'endpoint'];
  if (item.startsWith('/')) {
    const m = mountOf(proc.mounts, item);
    if (m) return [path.join(plan.volumes.get(m.volume)!, path.posix.relative(m.mountPath, item)), 'path'];
  }
  if (single && /^\d+$/.test(item) && Object.values(proc.ports).includes(Number(item))) {
    return [String(plan.ports.get(proc.pod.name)!.get(Number(item))!), 'port'];
  }
  return [item];
}

function substituteToken(token: string, proc: PodProcess, plan: LocalPlan, where: string, out: Substitution[]): string {
  const items = token.split(',');
  const mapped = items.map((item) => substituteItem(item, proc, plan, where, items.length === 1));
  const to = mapped.map(([v]) => v).join(',');
  const kinds = [...new Set(mapped.map(([, k]) => k).filter((k): k is SubstitutionKind => k !== undefined))];
  if (kinds.length > 1) throw new Error(`${where}: "${token}" mixes ${kinds.join(' and ')} substitutions`);
  if (to !== token) out.push({ where, kind: kinds[0], from: token, to });
  return to;
}

/** The local process for `proc` under `plan`, with a record of every change. */
export function substitute(proc: PodProcess, plan: LocalPlan): LocalProcess {
  const subs: Substitution[] = [];
  const [program, ...rest] = proc.argv;
  if (program !== plan.entrypoint.from) throw new Error(`${proc.pod.name}: argv[0] is "${program}", not the entrypoint ${plan.entrypoint.from}`);
  subs.push({ where: 'argv[0]', kind: 'entrypoint', from: program, to: plan.entrypoint.to });
  const argv = [plan.entrypoint.to, ...rest.map((a, i) => substituteToken(a, proc, plan, `argv[${i + 1}]`, subs))];
  const env: Record<string, string> = { ...proc.runtimeEnv };
  for (const [k, v] of Object.entries(proc.env)) env[k] = substituteToken(v, proc, plan, `env.${k}`, subs);
  const tmp = proc.mounts.find((m) => m.mountPath === '/tmp');
  if (tmp) {
    env.TMPDIR = plan.volumes.get(tmp.volume)!;
    subs.push({ where: 'env.TMPDIR', kind: 'tmpdir', from: '/tmp', to: env.TMPDIR });
  }
  return { pod: proc.pod.name, argv, env, substitutions: subs };
}

/** The (from, to) item pairs `plan` allows for `proc`, by kind. */
function allowedItem(kind: SubstitutionKind, from: string, to: string, proc: PodProcess, plan: LocalPlan): boolean {
  if (from === to) return true;
  if (kind === 'endpoint') {
    const url = URL_ITEM.exec(from);
    const [prefix, hostPort, suffix] = url ? [url[1], url[2], url[3]] : ['', from, ''];
    return plan.endpoints.has(hostPort) && to === `${prefix}${plan.endpoints.get(hostPort)}${suffix}`;
  }
  if (kind === 'port') {
    const local = plan.ports.get(proc.pod.name);
    return Object.values(proc.ports).some((cp) => from === String(cp) && to === String(local?.get(cp)));
  }
  if (kind === 'path') {
    return proc.mounts.some((m) => {
      const dir = plan.volumes.get(m.volume);
      return dir !== undefined && (from === m.mountPath ? to === dir : from.startsWith(`${m.mountPath}/`) && to === path.join(dir, from.slice(m.mountPath.length + 1)));
    });
  }
  return false;
}

function allowed(s: Substitution, proc: PodProcess, plan: LocalPlan): boolean {
  if (s.kind === 'entrypoint') return s.where === 'argv[0]' && s.from === plan.entrypoint.from && s.to === plan.entrypoint.to;
  if (s.kind === 'tmpdir') {
    const tmp = proc.mounts.find((m) => m.mountPath === '/tmp');
    return s.where === 'env.TMPDIR' && s.from === '/tmp' && tmp !== undefined && s.to === plan.volumes.get(tmp.volume);
  }
  const from = s.from.split(',');
  const to = s.to.split(',');
  return from.length === to.length && from.every((f, i) => allowedItem(s.kind, f, to[i], proc, plan));
}

/**
 * Every way `local` differs from `proc` other than through an allowed, recorded substitution:
 * a changed token or env value without a record, a record that does not match the change, a
 * substitution the plan does not allow, a different argv length or env key set. [] when clean.
 */
export function verifyLocal(proc: PodProcess, local: LocalProcess, plan: LocalPlan): string[] {
  const problems: string[] = [];
  const tmp = proc.mounts.some((m) => m.mountPath === '/tmp');
  const rendered: Array<[string, string | undefined, string | undefined]> = [];
  const n = Math.max(proc.argv.length, local.argv.length);
  for (let i = 0; i < n; i++) rendered.push([`argv[${i}]`, proc.argv[i], local.argv[i]]);
  const renderedEnv: Record<string, string> = { ...proc.runtimeEnv, ...proc.env, ...(tmp ? { TMPDIR: '/tmp' } : {}) };
  for (const k of new Set([...Object.keys(renderedEnv), ...Object.keys(local.env)])) rendered.push([`env.${k}`, renderedEnv[k], local.env[k]]);
  const seen = new Set<string>();
  for (const [where, from, to] of rendered) {
    const recs = local.substitutions.filter((s) => s.where === where);
    seen.add(where);
    if (from === undefined || to === undefined) {
      problems.push(`${where}: ${from === undefined ? 'added' : 'removed'} (${JSON.stringify(from ?? to)})`);
    } else if (recs.length > 1) {
      problems.push(`${where}: ${recs.length} substitutions recorded`);
    } else if (recs.length === 0) {
      if (from !== to) problems.push(`${where}: changed without a record: ${JSON.stringify(from)} → ${JSON.stringify(to)}`);
    } else if (recs[0].from !== from || recs[0].to !== to) {
      problems.push(`${where}: record ${JSON.stringify(recs[0].from)} → ${JSON.stringify(recs[0].to)} does not match ${JSON.stringify(from)} → ${JSON.stringify(to)}`);
    } else if (from === to) {
      problems.push(`${where}: substitution recorded but nothing changed`);
    } else if (!allowed(recs[0], proc, plan)) {
      problems.push(`${where}: ${recs[0].kind} substitution ${JSON.stringify(from)} → ${JSON.stringify(to)} is not one the plan allows`);
    }
  }
  for (const s of local.substitutions) if (!seen.has(s.where)) problems.push(`${s.where}: recorded, but no such token`);
  return problems;
}
