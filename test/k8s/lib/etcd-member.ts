/**
 * Runs the rendered `tessera-etcd` StatefulSet's container as one real local etcd member: its
 * exact args, with only these recorded stand-ins (a cluster would provide them):
 * - the member's addresses (`$(POD_NAME).tessera-etcd:2379/2380`, `0.0.0.0:2379/2380/2381`) →
 *   free ports on 127.0.0.1, and `--initial-cluster` → this one member;
 * - `$(POD_NAME)` → tessera-etcd-0, the data dir → a local directory;
 * - each Secret's mount path → the local directory its files were issued to (tls-secrets.ts).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../../helpers/ports';
import { findObject, K8sObject, Manifest } from './manifests';

/** One etcd member running locally. */
export interface EtcdMember {
  proc: ChildProcess;
  /** The client port on 127.0.0.1. */
  clientPort: number;
  /** The container's client port (2379): what the rendered endpoints and probes name. */
  containerClientPort: number;
  /** Mount path → local directory for the etcd pod's Secrets. */
  secretMounts: [string, string][];
  stop(): Promise<void>;
}

/** Mount path → local directory of the Secret behind it, for the first container of a pod template. */
export function secretMounts(workload: K8sObject, secretDirs: ReadonlyMap<string, string>): [string, string][] {
  const spec = workload.spec.template.spec;
  return ((spec.containers[0].volumeMounts ?? []) as K8sObject[]).flatMap((m) => {
    const secret = ((spec.volumes ?? []) as K8sObject[]).find((v) => v.name === m.name)?.secret?.secretName;
    return secret ? [[m.mountPath, secretDirs.get(secret)!] as [string, string]] : [];
  });
}

/** `args` with every `from` substring replaced by its `to`, in order. */
export function mapped(args: string[], subs: [string, string][]): string[] {
  return args.map((a) => subs.reduce((s, [from, to]) => s.split(from).join(to), a));
}

function readyOrExit(proc: ChildProcess): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let log = '';
    proc.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      if (/ready to serve client requests/.test(log)) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`etcd exited ${code}: ${log.slice(-2000)}`)));
  });
}

/** Starts the overlay's etcd as one local member with its data in `dataDir`; resolves once it serves clients. */
export async function startEtcdMember(ms: Manifest[], secretDirs: ReadonlyMap<string, string>, dataDir: string): Promise<EtcdMember> {
  const sts = findObject(ms, 'StatefulSet', 'tessera-etcd');
  const c = sts.spec.template.spec.containers[0];
  const containerClientPort = Number((c.ports as K8sObject[]).find((p) => p.name === 'client')!.containerPort);
  const [client, peer, metrics] = await Promise.all([freePort(), freePort(), freePort()]);
  const member = 'tessera-etcd-0';
  const addrs: [string, string][] = [
    ['$(POD_NAME).tessera-etcd:2379', `127.0.0.1:${client}`], ['$(POD_NAME).tessera-etcd:2380', `127.0.0.1:${peer}`],
    ['0.0.0.0:2379', `127.0.0.1:${client}`], ['0.0.0.0:2380', `127.0.0.1:${peer}`], ['0.0.0.0:2381', `127.0.0.1:${metrics}`],
    ['$(POD_NAME)', member], ['/var/lib/etcd/data', dataDir],
  ];
  const mounts = secretMounts(sts, secretDirs);
  const scheme = (c.args as string[]).some((a) => a.startsWith('--listen-peer-urls=https://')) ? 'https' : 'http';
  const args = mapped((c.args as string[]).map((a) => (a.startsWith('--initial-cluster=') ? `--initial-cluster=${member}=${scheme}://127.0.0.1:${peer}` : a)), [...addrs, ...mounts]);
  const proc = spawn('etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  await readyOrExit(proc);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc, clientPort: client, containerClientPort, secretMounts: mounts,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

