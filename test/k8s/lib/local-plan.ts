/**
 * The local stand-ins for what a cluster provides, used to run rendered pods as processes on
 * 127.0.0.1 (test/k8s/manifest-run.test.ts): a free local port per container port of each pod,
 * `127.0.0.1:<port>` for each stable pod DNS name (`tessera-ps-1.tessera-ps:7000`), given
 * stand-ins for pods not run here (the etcd members → one local etcd), and a local directory per
 * volume (PVCs and ConfigMaps shared by the pods that mount them, emptyDirs per pod).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { K8sObject, Manifest } from './manifests';
import type { PodProcess } from './pod-process';
import { byKind } from './pods';

/** Everything a local run substitutes, and nothing else. */
export interface LocalPlan {
  /** The image entrypoint's program (`tessera`) and the local file run in its place. */
  entrypoint: { from: string; to: string };
  /** Cluster `host:port` → local `host:port`. */
  endpoints: ReadonlyMap<string, string>;
  /** Pod name → container port → local port. */
  ports: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** Mount volume key (`pvc/…`, `configMap/…`, `secret/…`, `emptyDir/<pod>/…`) → local directory (a Secret's files are written by whoever issues them: lib/tls-secrets.ts). */
  volumes: ReadonlyMap<string, string>;
}

/** A pod not run locally, served by a local process: its workload, a container port, the local address. */
export interface StandIn {
  workload: string;
  containerPort: number;
  to: string;
}

/** A stable DNS name `<pod>.<headless service>:<service port>` and the pod port it reaches. */
export interface PodEndpoint {
  hostPort: string;
  workload: string;
  pod: string;
  containerPort: number;
}

function containerPortOf(podSpec: K8sObject, target: number | string): number | undefined {
  for (const c of (podSpec.containers ?? []) as K8sObject[]) {
    for (const p of (c.ports ?? []) as K8sObject[]) if (p.name === target || p.containerPort === target) return Number(p.containerPort);
  }
  return undefined;
}

/** Every per-pod DNS name the StatefulSets' headless Services publish, with the port each reaches. */
export function podEndpoints(manifests: Manifest[]): PodEndpoint[] {
  const services = byKind(manifests, 'Service');
  const out: PodEndpoint[] = [];
  for (const sts of manifests.filter((m) => m.obj.kind === 'StatefulSet').map((m) => m.obj)) {
    const svc = services.get(String(sts.spec?.serviceName))?.obj;
    if (!svc || svc.spec?.clusterIP !== 'None') continue;
    for (let i = 0; i < (sts.spec.replicas ?? 1); i++) {
      for (const p of (svc.spec.ports ?? []) as K8sObject[]) {
        const containerPort = containerPortOf(sts.spec.template?.spec ?? {}, p.targetPort ?? p.port);
        if (containerPort === undefined) continue;
        const pod = `${String(sts.metadata.name)}-${i}`;
        out.push({ hostPort: `${pod}.${String(svc.metadata.name)}:${String(p.port)}`, workload: String(sts.metadata.name), pod, containerPort });
      }
    }
  }
  return out;
}

export interface PlanOptions {
  /** Directory under which every volume gets its own directory. */
  root: string;
  /** The local program standing for the image entrypoint (bin/tessera.js). */
  entrypoint: { from: string; to: string };
  standIns: StandIn[];
  /**
   * The first of `count` consecutive free local ports (test/helpers/ports.ts freePortBlock): a
   * pod's consecutive container ports get consecutive local ports, because a process binds a
   * block from one flag (a PS with `--shards K` binds --port … --port+K-1).
   */
  freePort: (count: number) => Promise<number>;
  /** Local host the pods' ports live on. */
  host?: string;
}

/** Unique ports sorted, split into runs of consecutive numbers ([7000, 7001], [9090]). */
function consecutiveRuns(ports: number[]): number[][] {
  const runs: number[][] = [];
  for (const p of [...new Set(ports)].sort((a, b) => a - b)) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1] === p - 1) last.push(p);
    else runs.push([p]);
  }
  return runs;
}

/** Allocates the local ports, addresses and directories for running `processes` here. */
export async function planLocal(manifests: Manifest[], processes: PodProcess[], opts: PlanOptions): Promise<LocalPlan> {
  const host = opts.host ?? '127.0.0.1';
  const ports = new Map<string, Map<number, number>>();
  for (const p of processes) {
    const mine = ports.get(p.pod.name) ?? new Map<number, number>();
    for (const run of consecutiveRuns(Object.values(p.ports).filter((cp) => !mine.has(cp)))) {
      const base = await opts.freePort(run.length);
      run.forEach((cp, k) => mine.set(cp, base + k));
    }
    ports.set(p.pod.name, mine);
  }
  const endpoints = new Map<string, string>();
  for (const e of podEndpoints(manifests)) {
    const local = ports.get(e.pod)?.get(e.containerPort);
    const standIn = opts.standIns.find((s) => s.workload === e.workload && s.containerPort === e.containerPort);
    if (local !== undefined) endpoints.set(e.hostPort, `${host}:${local}`);
    else if (standIn) endpoints.set(e.hostPort, standIn.to);
  }
  const volumes = new Map<string, string>();
  for (const m of processes.flatMap((p) => p.mounts)) volumes.set(m.volume, path.join(opts.root, ...m.volume.split('/')));
  return { entrypoint: opts.entrypoint, endpoints, ports, volumes };
}

/** Creates every volume directory and writes each mounted ConfigMap's files into its own. */
export function materializeVolumes(plan: LocalPlan, processes: PodProcess[], manifests: Manifest[]): void {
  const configMaps = byKind(manifests, 'ConfigMap');
  for (const dir of plan.volumes.values()) fs.mkdirSync(dir, { recursive: true });
  for (const m of processes.flatMap((p) => p.mounts)) {
    if (!m.volume.startsWith('configMap/')) continue;
    const data: Record<string, string> = configMaps.get(m.volume.slice('configMap/'.length))?.obj.data ?? {};
    const files = m.files ?? Object.fromEntries(Object.keys(data).map((k) => [k, k]));
    for (const [file, key] of Object.entries(files)) {
      if (data[key] === undefined) throw new Error(`${m.volume}: no key ${key}`);
      const target = path.join(plan.volumes.get(m.volume)!, file);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, data[key]);
    }
  }
}
