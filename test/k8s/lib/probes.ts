/**
 * What a container's probe asks, whichever way it asks: the kubelet's own gRPC or HTTP probe, or
 * `tessera health` run in the container (exec; what the tls component uses, since the kubelet
 * presents no client certificate to a mutual-TLS port). The exec command is parsed with the real
 * option spec of `tessera health`.
 */
import { HEALTH_SPEC } from '../../../src/cli/health';
import { parseArgs } from '../../../src/runtime/args';
import type { K8sObject } from './manifests';

/** A probe's target: the port (number or name), an HTTP path, and for exec the certificate files it presents. */
export interface ProbeTarget {
  via: 'grpc' | 'httpGet' | 'exec';
  port: number | string;
  path?: string;
  https?: boolean;
  tls?: { cert?: string; key?: string; ca?: string };
}

/** The target of `probe`, or undefined when it is none of the three (or an exec of something else). */
export function probeTarget(probe: K8sObject | undefined): ProbeTarget | undefined {
  if (probe?.grpc) return { via: 'grpc', port: probe.grpc.port };
  if (probe?.httpGet) return { via: 'httpGet', port: probe.httpGet.port, path: probe.httpGet.path, https: probe.httpGet.scheme === 'HTTPS' };
  const cmd = (probe?.exec?.command ?? []) as string[];
  if (cmd[0] !== 'tessera' || cmd[1] !== 'health') return undefined;
  let o: Record<string, string | boolean | undefined>;
  try {
    o = parseArgs(cmd.slice(2), HEALTH_SPEC).options;
  } catch {
    return undefined;
  }
  const tls = { cert: o['tls-cert'] as string | undefined, key: o['tls-key'] as string | undefined, ca: o['tls-ca'] as string | undefined };
  if (typeof o.url === 'string') {
    const u = new URL(o.url);
    return { via: 'exec', port: Number(u.port), path: u.pathname, https: u.protocol === 'https:', tls };
  }
  return typeof o.addr === 'string' ? { via: 'exec', port: Number(o.addr.split(':').pop()), tls } : undefined;
}
