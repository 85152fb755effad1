/**
 * A job's certificate authority on disk, built with @peculiar/x509 on Node's WebCrypto (ECDSA
 * P-256: keys in milliseconds, small handshakes). `tessera certs init` creates the CA and the
 * certificates a local cluster needs; `tessera certs issue` adds or renews one. Files are
 * PEM: `ca.crt`/`ca.key`, and `<name>.crt`/`<name>.key` per holder. Each file is written to a
 * temporary name and renamed, the key before the certificate, so a process watching them for
 * rotation never reads half a file.
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs the Reflect polyfill
import * as x509 from '@peculiar/x509';
import { webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ERROR_CODES, TesseraError } from './errors';
import { formatSpiffeId, IdentityRole } from './spiffe-id';

x509.cryptoProvider.set(webcrypto as never);

type Key = webcrypto.CryptoKey;
type KeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Leaf certificates live 90 days by default (cert-manager's default); the CA ten years. */
export const DEFAULT_CERT_DAYS = 90;
const CA_DAYS = 3650;

/** One certificate to issue. */
export interface CertRequest {
  /** File stem: `<name>.crt` and `<name>.key`. Default `<role>-<id>`. */
  name?: string;
  /** The SPIFFE identity; absent for a plain server certificate (etcd's). */
  identity?: { job: string; role: IdentityRole; id: string };
  /** Extra DNS names or IP addresses (localhost and 127.0.0.1 are always in). */
  hosts?: readonly string[];
  /** Validity; default now .. now + DEFAULT_CERT_DAYS. */
  notBefore?: Date;
  notAfter?: Date;
}

/** Paths of one issued certificate. */
export interface IssuedCert {
  cert: string;
  key: string;
  /** The URI SAN, when the certificate has an identity. */
  uri?: string;
}

/** Writes `data` to `file` through a temporary name and a rename (atomic for readers). */
function writeAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}

async function keyPair(): Promise<KeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<KeyPair>;
}

async function pkcs8Pem(key: Key): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** Creates `dir/ca.crt` and `dir/ca.key` for job `job`, unless a CA is already there (a CA the user brought, or an earlier init). */
export async function ensureCa(dir: string, job: string): Promise<{ cert: string; key: string; created: boolean }> {
  const cert = path.join(dir, 'ca.crt');
  const key = path.join(dir, 'ca.key');
  if (existsSync(cert) && existsSync(key)) return { cert, key, created: false };
  mkdirSync(dir, { recursive: true });
  const keys = await keyPair();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=tessera ${job} CA, O=tessera`, keys: keys as never, signingAlgorithm: ALG,
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + CA_DAYS * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  writeAtomic(key, await pkcs8Pem(keys.privateKey), 0o600);
  writeAtomic(cert, ca.toString('pem'), 0o644);
  return { cert, key, created: true };
}

async function loadCa(dir: string): Promise<{ cert: x509.X509Certificate; key: Key }> {
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    throw new TesseraError(ERROR_CODES.CONFIG, `no CA in ${dir} (ca.crt and ca.key): run tessera certs init --dir ${dir} --job NAME first, or put your own CA there`);
  }
  const cert = new x509.X509Certificate(readFileSync(certFile, 'utf8'));
  const der = x509.PemConverter.decodeFirst(readFileSync(keyFile, 'utf8'));
  const key = await webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']) as Key;
  return { cert, key };
}

function altNames(req: CertRequest): x509.JsonGeneralNames {
  const hosts = new Set(['localhost', '127.0.0.1', ...(req.hosts ?? [])]);
  const names: x509.JsonGeneralNames = req.identity ? [{ type: 'url', value: formatSpiffeId(req.identity) }] : [];
  for (const h of hosts) names.push({ type: /^[\d.]+$|:/.test(h) ? 'ip' : 'dns', value: h });
  return names;
}

/** File stem of a holder's certificate: its id when the id starts with the role (ps-0), else `<role>-<id>`. */
export function certName(role: IdentityRole, id: string): string {
  return id === role || id.startsWith(`${role}-`) ? id : `${role}-${id}`;
}

/** Issues one certificate signed by the CA in `dir` and writes `<name>.crt`/`<name>.key` there. */
export async function issueCert(dir: string, req: CertRequest): Promise<IssuedCert> {
  const ca = await loadCa(dir);
  const name = req.name ?? (req.identity ? certName(req.identity.role, req.identity.id) : 'server');
  const keys = await keyPair();
  const notBefore = req.notBefore ?? new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${req.identity ? `${req.identity.role}/${req.identity.id}` : name}, O=tessera`, issuer: ca.cert.subject,
    publicKey: keys.publicKey as never, signingKey: ca.key as never, signingAlgorithm: ALG,
    notBefore, notAfter: req.notAfter ?? new Date(notBefore.getTime() + DEFAULT_CERT_DAYS * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      // Both: every Tessera process is a server to some peers and a client of others (and of etcd).
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(altNames(req)),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  const out = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  writeAtomic(out.key, await pkcs8Pem(keys.privateKey), 0o600);
  writeAtomic(out.cert, cert.toString('pem'), 0o644);
  return { ...out, ...(req.identity ? { uri: formatSpiffeId(req.identity) } : {}) };
}

/** When the certificate in `file` stops being valid (what `tessera certs` prints and rotation checks). */
export function certExpiry(file: string): Date {
  return new Date(new NodeX509(readFileSync(file)).validTo);
}

/** What a local cluster needs: how many of each role, and extra host names for the certificates. */
export interface CertDirPlan {
  ps: number;
  workers: number;
  chiefs: number;
  hosts?: readonly string[];
  days?: number;
}

/**
 * Creates (or keeps) the CA in `dir` and issues ps-<i>, worker-<i>, chief-<i>, an `admin`
 * certificate for people's tools, and `etcd-server` (no identity: etcd's server certificate).
 */
export async function initCertDir(dir: string, job: string, plan: CertDirPlan): Promise<{ ca: string; certs: IssuedCert[] }> {
  const { cert: ca } = await ensureCa(dir, job);
  const notAfter = plan.days ? new Date(Date.now() + plan.days * DAY_MS) : undefined;
  const holders: Array<{ role: IdentityRole; id: string }> = [
    ...Array.from({ length: plan.ps }, (_, i) => ({ role: 'ps' as const, id: `ps-${i}` })),
    ...Array.from({ length: plan.workers }, (_, i) => ({ role: 'worker' as const, id: `worker-${i}` })),
    ...Array.from({ length: plan.chiefs }, (_, i) => ({ role: 'chief' as const, id: `chief-${i}` })),
    { role: 'admin', id: 'admin' },
  ];
  const certs = [];
  for (const h of holders) certs.push(await issueCert(dir, { identity: { job, ...h }, hosts: plan.hosts, notAfter }));
  certs.push(await issueCert(dir, { name: 'etcd-server', hosts: plan.hosts, notAfter }));
  return { ca, certs };
}
