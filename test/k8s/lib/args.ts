/**
 * Checks the command lines of Tessera containers: the args parse with the real `tessera` option
 * parser (src/runtime/args.ts parseArgs) and each role's option spec, pass the flags the deployment
 * relies on, and agree with the rest of the manifest: --port is the probed gRPC port,
 * --metrics-port the scraped port, the PS advertises its own headless-Service name, the chief's
 * --ps is the PS replica count, and its --spec is a mounted ConfigMap key holding a valid job spec;
 * `tessera serve` answers REST on --port (the probed http port, readiness /v2/health/ready) and
 * gRPC on --grpc-port, and its --model-root is a read-only mount of the claim and path the chief
 * publishes into (--export-dir).
 */
import * as path from 'path';
import { parseArgs, ParsedArgs } from '../../../src/runtime/args';
import { loadPsConfig } from '../../../src/ps/config';
import { parseJobSpec } from '../../../src/spec/job-spec';
import { INTEGER_FLAGS, REQUIRED_FLAGS, ROLE_OPTIONS } from '../role-options';
import { expandK8s, resourceField } from './expansion';
import { Finding, findingAt, pointer } from './finding';
import type { K8sObject, Manifest } from './manifests';
import { byKind, containerHasPort, PodTemplate, podTemplates } from './pods';
import { isTesseraContainer } from './policy';
import { probeTarget } from './probes';

const CHECK = 'args';
/** A bind address only this pod can reach. */
const LOOPBACK = /^(127\.|localhost$|::1$)/;

/** A Tessera container with its parsed command line. */
interface RoleContainer {
  pod: PodTemplate;
  container: K8sObject;
  /** JSON pointer of the container. */
  at: string;
  role: string;
  args: ParsedArgs;
  /** The container's environment as it would be in the first pod (downward API filled in). */
  env: Record<string, string>;
}

/** Every args problem in `manifests`. */
export function argsFindings(manifests: Manifest[]): Finding[] {
  const out: Finding[] = [];
  const roles: RoleContainer[] = [];
  for (const pod of podTemplates(manifests)) {
    (pod.spec.containers ?? []).forEach((c: K8sObject, i: number) => {
      if (!isTesseraContainer(c)) return;
      const at = `${pod.specPath}${pointer(['containers', i])}`;
      const parsed = parseContainer(pod, c, at, manifests, out);
      if (parsed) roles.push(parsed);
    });
  }
  for (const r of roles) out.push(...portFindings(r), ...roleFindings(r, roles, manifests));
  return out;
}

function parseContainer(pod: PodTemplate, c: K8sObject, at: string, manifests: Manifest[], out: Finding[]): RoleContainer | undefined {
  const argv: string[] = (c.args ?? []).map(String);
  const role = argv[0];
  const spec = ROLE_OPTIONS[role];
  if (!spec) {
    out.push(findingAt(pod.manifest, `${at}/args/0`, `"${role}" is not a tessera role command (${Object.keys(ROLE_OPTIONS).join(', ')})`, CHECK));
    return undefined;
  }
  let args: ParsedArgs;
  try {
    args = parseArgs(argv.slice(1), spec);
  } catch (err) {
    out.push(findingAt(pod.manifest, `${at}/args`, `tessera ${role}: ${(err as Error).message}`, CHECK));
    return undefined;
  }
  const fail = (message: string): void => void out.push(findingAt(pod.manifest, `${at}/args`, `tessera ${role}: ${message}`, CHECK));
  if (args.positional.length > 0) fail(`unexpected argument "${args.positional[0]}"`);
  for (const flag of REQUIRED_FLAGS[role]) if (args.options[flag] === undefined) fail(`--${flag} is required in a manifest`);
  const env = podEnv(pod, c, manifests);
  for (const flag of INTEGER_FLAGS) {
    const v = args.options[flag];
    if (typeof v === 'string' && !/^[1-9][0-9]*$/.test(expand(v, env))) fail(`--${flag} must be a positive integer, got "${v}"`);
  }
  return { pod, container: c, at, role, args, env };
}

/** The container's env as in the workload's first pod: literals, ConfigMap keys, pod name. */
function podEnv(pod: PodTemplate, c: K8sObject, manifests: Manifest[]): Record<string, string> {
  const env: Record<string, string> = {};
  const podName = `${String(pod.manifest.obj.metadata?.name)}-0`;
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.configMapKeyRef;
    const field = e.valueFrom?.fieldRef?.fieldPath;
    const resource = e.valueFrom?.resourceFieldRef;
    env[e.name] = e.value !== undefined ? expand(String(e.value), env)
      : ref ? String(byKind(manifests, 'ConfigMap').get(ref.name)?.obj.data?.[ref.key] ?? '')
        : field === 'metadata.name' ? podName
          : resource ? resourceFieldOr(c, resource, 'sample')
            : field?.includes('job-completion-index') ? '0' : 'sample';
  }
  return env;
}

/** resourceField, or `fallback` where the container gives the kubelet nothing to read. */
function resourceFieldOr(c: K8sObject, ref: K8sObject, fallback: string): string {
  try {
    return resourceField(c, ref);
  } catch {
    return fallback;
  }
}

function expand(s: string, env: Record<string, string>): string {
  return expandK8s(s, env);
}

function str(r: RoleContainer, flag: string): string | undefined {
  const v = r.args.options[flag];
  return typeof v === 'string' ? expand(v, r.env) : undefined;
}

function portFindings(r: RoleContainer): Finding[] {
  const out: Finding[] = [];
  const fail = (where: string, message: string): void => void out.push(findingAt(r.pod.manifest, where, message, CHECK));
  // tessera serve answers REST on --port (named http, probed there) and gRPC on --grpc-port.
  const grpcFlag = r.role === 'serve' ? 'grpc-port' : 'port';
  const port = Number(str(r, grpcFlag));
  const named = (name: string): K8sObject | undefined => (r.container.ports ?? []).find((p: K8sObject) => p.name === name);
  if (named('grpc')?.containerPort !== port) fail(`${r.at}/ports`, `--${grpcFlag} ${port} must be the container port named "grpc"`);
  const http = r.role === 'serve' ? Number(str(r, 'port')) : undefined;
  if (http !== undefined && named('http')?.containerPort !== http) fail(`${r.at}/ports`, `--port ${http} must be the container port named "http"`);
  const tls = ['tls-cert', 'tls-key', 'tls-ca'].map((f) => str(r, f));
  for (const probe of ['readinessProbe', 'livenessProbe']) {
    const t = probeTarget(r.container[probe]);
    if (!t) continue;
    const where = `${r.at}/${probe}`;
    if (t.path === undefined && t.port !== port && t.port !== 'grpc') fail(where, `probes port ${t.port}, but tessera ${r.role} serves gRPC health on --${grpcFlag} ${port}`);
    if (t.path !== undefined && t.port !== http && t.port !== 'http') fail(where, `probes port ${t.port}, but tessera ${r.role} serves HTTP health on --port ${http ?? '(none)'}`);
    // With --tls-*, the port requires a client certificate: the kubelet has none.
    if (tls[0] !== undefined && t.via !== 'exec') fail(where, `tessera ${r.role} runs with --tls-*: the kubelet's ${t.via} probe presents no client certificate; probe with exec tessera health and the same --tls-* files`);
    if (t.via === 'exec' && JSON.stringify([t.tls?.cert, t.tls?.key, t.tls?.ca]) !== JSON.stringify(tls)) fail(where, `tessera health must present the container's own --tls-cert/--tls-key/--tls-ca (${tls.join(', ')})`);
    if (t.via === 'exec' && t.path !== undefined && t.https !== (tls[0] !== undefined)) fail(where, `the REST port is ${tls[0] ? 'HTTPS (--tls-*)' : 'plain HTTP'}: probe it with ${tls[0] ? 'https' : 'http'}://`);
  }
  if (r.role === 'serve' && probeTarget(r.container.readinessProbe)?.path !== '/v2/health/ready') {
    fail(`${r.at}/readinessProbe`, 'must ask /v2/health/ready on the http port (ready once every model has a version loaded)');
  }
  const metrics = Number(str(r, 'metrics-port'));
  if (!containerHasPort(r.container, metrics)) fail(`${r.at}/ports`, `--metrics-port ${metrics} is not a container port`);
  const scraped = r.pod.annotations['prometheus.io/port'];
  if (scraped !== undefined && Number(scraped) !== metrics) {
    fail('/spec/template/metadata/annotations/prometheus.io~1port', `scrapes port ${scraped}, but tessera ${r.role} serves /metrics on --metrics-port ${metrics}`);
  }
  return out;
}

function roleFindings(r: RoleContainer, all: RoleContainer[], manifests: Manifest[]): Finding[] {
  if (r.role === 'ps') return psFindings(r, all);
  if (r.role === 'chief') return chiefFindings(r, all, manifests);
  if (r.role === 'serve') return serveFindings(r, all);
  return [];
}

/** The mount holding `file` in a container, with its volume. */
function volumeAt(r: RoleContainer, file: string): { mount: K8sObject; volume: K8sObject | undefined } | undefined {
  const mount = ((r.container.volumeMounts ?? []) as K8sObject[]).find((m) => file === m.mountPath || file.startsWith(`${m.mountPath}/`));
  return mount ? { mount, volume: ((r.pod.spec.volumes ?? []) as K8sObject[]).find((v) => v.name === mount.name) } : undefined;
}

/** Where a path lives across pods: the claim and the path inside it. */
function onClaim(r: RoleContainer, file: string): string | undefined {
  const m = volumeAt(r, file);
  const claim = m?.volume?.persistentVolumeClaim?.claimName;
  return claim === undefined ? undefined : `pvc/${String(claim)}/${path.posix.relative(m!.mount.mountPath, file)}`;
}

/** The model root: a read-only mount of a claim, the one the chief publishes into. */
function serveFindings(r: RoleContainer, all: RoleContainer[]): Finding[] {
  const out: Finding[] = [];
  const fail = (message: string): void => void out.push(findingAt(r.pod.manifest, `${r.at}/args`, `tessera serve: ${message}`, CHECK));
  const root = str(r, 'model-root') ?? '';
  // tessera serve binds 127.0.0.1 by default, as a PS does; behind a Service it must not.
  const host = str(r, 'host') ?? '127.0.0.1';
  if (LOOPBACK.test(host)) fail(`--host is ${host}: set --host 0.0.0.0 (or the pod IP), or the Service and kubelet probes cannot reach it`);
  const m = volumeAt(r, root);
  if (!m?.volume?.persistentVolumeClaim) fail(`--model-root ${root} is not on a mounted PersistentVolumeClaim`);
  else if (m.mount.readOnly !== true || m.volume.persistentVolumeClaim.readOnly !== true) fail(`--model-root ${root} must be mounted read-only (a server never writes the model root)`);
  const published = all.filter((x) => x.role === 'chief').map((c) => onClaim(c, str(c, 'export-dir') ?? '')).filter((x): x is string => x !== undefined);
  const mine = onClaim(r, root);
  if (published.length > 0 && mine !== undefined && !published.includes(mine)) fail(`--model-root ${root} (${mine}) is not where the chief publishes (${published.join(', ')})`);
  return out;
}

function psFindings(r: RoleContainer, all: RoleContainer[]): Finding[] {
  const out: Finding[] = [];
  const fail = (message: string): void => void out.push(findingAt(r.pod.manifest, `${r.at}/args`, `tessera ps: ${message}`, CHECK));
  try {
    // The real PS config loader, with the env of pod <statefulset>-0: validates the port and
    // fills --id's {ordinal} from TESSERA_POD_NAME.
    const config = loadPsConfig(r.env, {
      port: str(r, 'port'), host: str(r, 'host'), id: str(r, 'id'), maxRequestBytes: str(r, 'max-request-bytes'), logLevel: str(r, 'log-level'),
      checkpointRoot: str(r, 'checkpoint-root'), shutdownTimeoutMs: str(r, 'shutdown-timeout-ms'), shards: str(r, 'shards'),
    });
    // Unset, a PS runs one shard per core of whatever node it lands on, which the chief's --ps cannot know.
    if (psShards(r) === undefined) fail('set --shards (or TESSERA_PS_SHARDS, e.g. from the CPU limit through resourceFieldRef): the chief\'s --ps counts shards');
    // Shard k serves on port+k: each must be a declared container port (NetworkPolicy, Service, readers).
    for (let k = 1; k < config.shards; k++) {
      if (!containerHasPort(r.container, config.port + k)) fail(`shard ${k} of ${config.shards} serves on port ${config.port + k}, which the container does not declare`);
    }
    // A PS binds loopback unless told otherwise; in a pod the workers and the chief dial it from elsewhere.
    if (LOOPBACK.test(config.host)) fail(`--host is ${config.host}: set --host 0.0.0.0 (or the pod IP), or no other pod can reach this PS`);
    for (const chief of all.filter((x) => x.role === 'chief')) {
      const dir = str(chief, 'checkpoint-dir');
      if (dir && !config.checkpointRoots.some((root) => dir === root || dir.startsWith(`${root}/`))) {
        fail(`--checkpoint-root (${config.checkpointRoots.join(',') || 'none'}) does not hold the chief's --checkpoint-dir ${dir}: every Snapshot would be refused`);
      }
    }
  } catch (err) {
    fail((err as Error).message);
  }
  const sts = r.pod.manifest.obj;
  const advertise = str(r, 'advertise') ?? '';
  const want = `${String(sts.metadata?.name)}-0.${String(sts.spec?.serviceName)}:${str(r, 'port')}`;
  if (sts.kind === 'StatefulSet' && advertise !== want) fail(`--advertise must be the pod's name under the headless Service (pod 0: "${want}"), got "${advertise}"`);
  return out;
}

/** A PS container's shard count from --shards or TESSERA_PS_SHARDS (as its pods would see them); undefined when neither is set. */
function psShards(r: RoleContainer): number | undefined {
  const raw = str(r, 'shards') ?? r.env.TESSERA_PS_SHARDS;
  return raw === undefined ? undefined : Number(raw);
}

function chiefFindings(r: RoleContainer, all: RoleContainer[], manifests: Manifest[]): Finding[] {
  const out: Finding[] = [];
  const fail = (message: string): void => void out.push(findingAt(r.pod.manifest, `${r.at}/args`, `tessera chief: ${message}`, CHECK));
  const psSets = [...new Set(all.filter((x) => x.role === 'ps').map((x) => x.pod.manifest.obj))];
  const ps = all.filter((x) => x.role === 'ps');
  const shardsOf = (set: K8sObject) => psShards(ps.find((x) => x.pod.manifest.obj === set)!) ?? 1;
  const replicas = psSets.map((s) => s.spec?.replicas ?? 1).reduce((a, b) => a + b, 0);
  const count = psSets.map((s) => (s.spec?.replicas ?? 1) * shardsOf(s)).reduce((a, b) => a + b, 0);
  if (psSets.length > 0 && Number(str(r, 'ps')) !== count) {
    fail(`--ps ${str(r, 'ps')} but the PS workloads run ${count} PS (${replicas} replicas${count !== replicas ? ' × their shards' : ''})`);
  }
  const volumes = new Map<string, K8sObject>((r.pod.spec.volumes ?? []).map((v: K8sObject) => [v.name, v]));
  const mountOf = (file: string): K8sObject | undefined => volumeAt(r, file)?.mount;
  for (const flag of ['data', 'eval', 'checkpoint-dir', 'export-dir', 'spec']) {
    const v = str(r, flag);
    if (v !== undefined && !mountOf(v)) fail(`--${flag} ${v} is not on a mounted volume (the root filesystem is read-only)`);
  }
  const ckpt = mountOf(str(r, 'checkpoint-dir') ?? '');
  if (ckpt && (ckpt.readOnly || !volumes.get(ckpt.name)?.persistentVolumeClaim)) fail('--checkpoint-dir must be on a writable PersistentVolumeClaim mount');
  const exp = mountOf(str(r, 'export-dir') ?? '');
  if (exp && (exp.readOnly || !volumes.get(exp.name)?.persistentVolumeClaim)) fail('--export-dir must be on a writable PersistentVolumeClaim mount');
  const specFile = str(r, 'spec');
  const specMount = specFile ? mountOf(specFile) : undefined;
  const cmName = specMount ? volumes.get(specMount.name)?.configMap?.name : undefined;
  if (specFile && specMount && cmName) {
    const rel = path.posix.relative(specMount.mountPath, specFile);
    const items = volumes.get(specMount.name)?.configMap?.items as K8sObject[] | undefined;
    const key = items ? items.find((i) => i.path === rel)?.key : rel;
    const text = key === undefined ? undefined : byKind(manifests, 'ConfigMap').get(cmName)?.obj.data?.[key];
    if (text === undefined) fail(`--spec ${specFile}: ConfigMap "${cmName}" provides no such file`);
    else {
      try {
        parseJobSpec(String(text), `ConfigMap ${cmName} key ${key}`);
      } catch (err) {
        fail(`--spec ${specFile}: ${(err as Error).message}`);
      }
    }
  }
  return out;
}
