/**
 * The Secrets a rendered overlay's cert-manager `Certificate`s would hold, issued locally by the
 * code `tessera certs` runs (src/common/cert-issuer.ts): one job CA (the overlay's CA
 * Certificate, `isCA`), then for every other Certificate a key and certificate with the URI SAN
 * and host names of its spec, written as cert-manager writes a TLS Secret: `tls.crt`, `tls.key`,
 * `ca.crt` in one directory per `secretName`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureCa, issueCert } from '../../../src/common/cert-issuer';
import { parseSpiffeId } from '../../../src/common/spiffe-id';
import type { K8sObject, Manifest } from './manifests';

/** The job name the overlay's certificates carry (TESSERA_JOB of ConfigMap tessera-cluster). */
function jobOf(ms: Manifest[]): string {
  const job = ms.find((m) => m.obj.kind === 'ConfigMap' && m.obj.metadata?.name === 'tessera-cluster')?.obj.data?.TESSERA_JOB;
  if (typeof job !== 'string') throw new Error('ConfigMap tessera-cluster has no TESSERA_JOB');
  return job;
}

/**
 * Issues every non-CA Certificate of `ms` into `dirOf(secretName)` (created here), signed by a CA
 * kept in `caDir`. Returns secretName → directory.
 */
export async function issueCertificateSecrets(ms: Manifest[], caDir: string, dirOf: (secretName: string) => string): Promise<Map<string, string>> {
  const { cert: ca } = await ensureCa(caDir, jobOf(ms));
  const dirs = new Map<string, string>();
  for (const cert of ms.filter((m) => m.obj.kind === 'Certificate' && !m.obj.spec.isCA).map((m) => m.obj as K8sObject)) {
    const identity = cert.spec.uris ? parseSpiffeId(cert.spec.uris[0]) ?? undefined : undefined;
    const issued = await issueCert(caDir, { name: cert.metadata.name, identity, hosts: [...(cert.spec.dnsNames ?? []), ...(cert.spec.ipAddresses ?? [])] });
    const secret = dirOf(cert.spec.secretName);
    fs.mkdirSync(secret, { recursive: true });
    fs.copyFileSync(issued.cert, path.join(secret, 'tls.crt'));
    fs.copyFileSync(issued.key, path.join(secret, 'tls.key'));
    fs.copyFileSync(ca, path.join(secret, 'ca.crt'));
    dirs.set(cert.spec.secretName, secret);
  }
  return dirs;
}

/** `--tls-cert/--tls-key/--tls-ca` for the identity in a Secret directory. */
export function secretTlsFiles(dir: string): { cert: string; key: string; ca: string } {
  return { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key'), ca: path.join(dir, 'ca.crt') };
}
