/**
 * Mutual TLS for every Tessera port, adopted with one call. A process loads its certificate, key
 * and CA once ({@link loadTlsConfig}: flags, then TESSERA_TLS_*), checks them (readable, not
 * expired, key matches, signed by the CA, one SPIFFE identity), and opens a {@link TlsContext}:
 * - `serverCredentials()`: gRPC servers require and verify a client certificate;
 * - `channelCredentials()`: gRPC clients present theirs and accept only a server of the same job;
 * - `watchHttps(server)`: an HTTPS server (metrics, REST) follows rotation too.
 * Rotation: grpc-js's FileWatcherCertificateProvider re-reads the three files every `refreshMs`;
 * servers swap their secure context in place and new connections use the new files, so
 * cert-manager or a Secret update rolls certificates without a restart (tested).
 *
 * ```ts
 * const tls = loadTlsConfig(process.env, { cert: o['tls-cert'], key: o['tls-key'], ca: o['tls-ca'] });
 * const ctx = tls && openTls(tls);
 * server.bindAsync(addr, ctx ? ctx.serverCredentials() : grpc.ServerCredentials.createInsecure(), cb);
 * ```
 */
import * as grpc from '@grpc/grpc-js';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import type { PeerCertificate } from 'node:tls';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { http2ServersOf } from './connection-guard';
import { identityFromSubjectAltName, SpiffeIdentity } from '../common/spiffe-id';

/** How often certificate files are re-read for rotation, by default. */
export const DEFAULT_TLS_REFRESH_MS = 5_000;

/** The files of one process's TLS identity. */
export interface TlsConfig {
  cert: string;
  key: string;
  ca: string;
  /** Re-read the files this often (ms). */
  refreshMs: number;
  /** The identity in `cert`. */
  identity: SpiffeIdentity;
}

/** Flag values of the three TLS options (`--tls-cert`, `--tls-key`, `--tls-ca`), undefined when absent. */
export interface TlsFlags {
  cert?: string;
  key?: string;
  ca?: string;
}

function readOrFail(what: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TesseraError(ERROR_CODES.CONFIG, `${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Checks a certificate, key and CA as a process would use them; returns the certificate's
 * identity or throws CONFIG with one line naming the file and the fix.
 */
export function checkTlsFiles(files: { cert: string; key: string; ca: string }, now = new Date()): SpiffeIdentity {
  const cert = new X509Certificate(readOrFail('--tls-cert', files.cert));
  const ca = new X509Certificate(readOrFail('--tls-ca', files.ca));
  const key = createPrivateKey(readOrFail('--tls-key', files.key));
  if (new Date(cert.validTo) <= now) {
    throw new TesseraError(ERROR_CODES.CONFIG, `TLS certificate ${files.cert} expired at ${new Date(cert.validTo).toISOString()}: issue a new one (tessera certs issue)`);
  }
  if (new Date(cert.validFrom) > now) {
    throw new TesseraError(ERROR_CODES.CONFIG, `TLS certificate ${files.cert} is not valid before ${new Date(cert.validFrom).toISOString()}: check the clock`);
  }
  if (!cert.checkPrivateKey(key)) throw new TesseraError(ERROR_CODES.CONFIG, `--tls-key ${files.key} is not the key of --tls-cert ${files.cert}`);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    throw new TesseraError(ERROR_CODES.CONFIG, `TLS certificate ${files.cert} is not signed by the CA in --tls-ca ${files.ca}`);
  }
  const identity = identityFromSubjectAltName(cert.subjectAltName);
  if (!identity) {
    throw new TesseraError(ERROR_CODES.CONFIG, `TLS certificate ${files.cert} has no URI SAN spiffe://tessera/<job>/<role>/<id>: issue one with tessera certs issue`);
  }
  return identity;
}

/**
 * TLS settings from flags, then TESSERA_TLS_CERT/KEY/CA (and TESSERA_TLS_REFRESH_MS); null when
 * none is given (plaintext, as before). Two of three is a CONFIG error naming the missing one.
 */
export function loadTlsConfig(env: NodeJS.ProcessEnv, flags: TlsFlags): TlsConfig | null {
  const files = { cert: flags.cert ?? env.TESSERA_TLS_CERT, key: flags.key ?? env.TESSERA_TLS_KEY, ca: flags.ca ?? env.TESSERA_TLS_CA };
  const given = Object.entries(files).filter(([, v]) => v);
  if (given.length === 0) return null;
  const missing = Object.entries(files).filter(([, v]) => !v).map(([k]) => `--tls-${k}`);
  if (missing.length > 0) throw new TesseraError(ERROR_CODES.CONFIG, `TLS needs --tls-cert, --tls-key and --tls-ca together; missing ${missing.join(', ')}`);
  const refresh = Number(env.TESSERA_TLS_REFRESH_MS ?? DEFAULT_TLS_REFRESH_MS);
  if (!Number.isInteger(refresh) || refresh < 10) throw new TesseraError(ERROR_CODES.CONFIG, `TESSERA_TLS_REFRESH_MS must be an integer ≥ 10, got "${env.TESSERA_TLS_REFRESH_MS}"`);
  const f = files as { cert: string; key: string; ca: string };
  return { ...f, refreshMs: refresh, identity: checkTlsFiles(f) };
}

/** Who called: the verified identity of a TLS peer, or null (plaintext, or no Tessera identity). */
export function peerIdentity(cert: PeerCertificate | undefined): SpiffeIdentity | null {
  return cert ? identityFromSubjectAltName(cert.subjectaltname) : null;
}

/** A process's open TLS identity: credentials for its servers and clients, following rotation. */
export interface TlsContext {
  readonly config: TlsConfig;
  /** gRPC server credentials: a client certificate from the CA is required. */
  serverCredentials(): grpc.ServerCredentials;
  /** gRPC client credentials: presents this certificate; the server must be of the same job. */
  channelCredentials(): grpc.ChannelCredentials;
  /** Options for https.createServer (client certificates required), and rotation on `server`. */
  httpsOptions(): { cert: Buffer; key: Buffer; ca: Buffer; requestCert: true; rejectUnauthorized: true };
  watchHttps(server: HttpsServer): void;
  /**
   * What a long-lived HTTPS or HTTP/2 client presents now: the files as last read by the watcher,
   * so a connection opened after a rotation uses the new certificate and CA (as gRPC channels do).
   */
  httpsClient(): HttpsClientOptions;
  /** Stops watching the files for HTTPS servers (gRPC's watchers stop with their servers and channels). */
  close(): void;
}

/** The server's identity must name this job; any role may serve (a PS, a chief, serving). */
function sameJob(job: string) {
  return (host: string, cert: PeerCertificate): Error | undefined => {
    const who = peerIdentity(cert);
    if (!who) return new Error(`${host}: the server's certificate has no spiffe://tessera/<job>/<role>/<id> URI SAN`);
    if (who.job !== job) return new Error(`${host}: the server belongs to job "${who.job}", not "${job}"`);
    return undefined;
  };
}

/** What an HTTPS client (node:https request options) needs to present `config` to a server of its job. */
export interface HttpsClientOptions {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  checkServerIdentity(host: string, cert: PeerCertificate): Error | undefined;
}

/**
 * Request options for a short-lived HTTPS client (an admin command): the files read once, and the
 * server accepted when its certificate names this job, as gRPC channels check it, rather than by
 * host name (a Service's DNS name need not be in a Tessera certificate).
 */
export function httpsClientOptions(config: TlsConfig): HttpsClientOptions {
  return {
    cert: readFileSync(config.cert), key: readFileSync(config.key), ca: readFileSync(config.ca), checkServerIdentity: sameJob(config.identity.job),
  };
}

/** Opens `config`: one file watcher shared by every server and client of this process. */
export function openTls(config: TlsConfig): TlsContext {
  const provider = new grpc.experimental.FileWatcherCertificateProvider({
    certificateFile: config.cert, privateKeyFile: config.key, caCertificateFile: config.ca, refreshIntervalMs: config.refreshMs,
  });
  const listeners: Array<() => void> = [];
  const read = () => ({ cert: readFileSync(config.cert), key: readFileSync(config.key), ca: readFileSync(config.ca) });
  let client: HttpsClientOptions | null = null;
  return {
    config,
    serverCredentials: () => grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true),
    channelCredentials: () => grpc.experimental.createCertificateProviderChannelCredentials(provider, provider, { checkServerIdentity: sameJob(config.identity.job) }),
    httpsOptions: () => ({ ...read(), requestCert: true, rejectUnauthorized: true }),
    watchHttps(server) {
      const onIdentity = (u: grpc.experimental.IdentityCertificateUpdate | null) => {
        if (u) server.setSecureContext({ ...read(), cert: u.certificate, key: u.privateKey });
      };
      provider.addIdentityCertificateListener(onIdentity);
      listeners.push(() => provider.removeIdentityCertificateListener(onIdentity));
      server.once('close', () => listeners.splice(0).forEach((f) => f()));
    },
    httpsClient() {
      if (!client) {
        const latest = { ...httpsClientOptions(config) };
        const onIdentity = (u: grpc.experimental.IdentityCertificateUpdate | null) => {
          if (u) Object.assign(latest, { cert: u.certificate, key: u.privateKey });
        };
        const onCa = (u: grpc.experimental.CaCertificateUpdate | null) => { if (u) latest.ca = u.caCertificate; };
        provider.addIdentityCertificateListener(onIdentity);
        provider.addCaCertificateListener(onCa);
        listeners.push(() => {
          provider.removeIdentityCertificateListener(onIdentity);
          provider.removeCaCertificateListener(onCa);
        });
        client = latest;
      }
      return { ...client };
    },
    close: () => listeners.splice(0).forEach((f) => f()),
  };
}

/**
 * Logs the TLS handshakes `server` cannot complete (a plaintext client: ERR_SSL_WRONG_VERSION_NUMBER),
 * with the peer and OpenSSL's code. A client certificate that fails verification (none, another
 * CA, expired) is dropped by Node after the handshake without an event; the client's own start-up
 * check names an expired certificate, and a client refusing a server says why (e.g.
 * "certificate has expired").
 */
export function logRefusedHandshakes(server: grpc.Server, logger: Logger): void {
  for (const h2 of http2ServersOf(server) ?? []) {
    h2.on('tlsClientError', (err: NodeJS.ErrnoException, socket: { remoteAddress?: string; remotePort?: number }) => {
      logger.warn({ peer: `${socket.remoteAddress}:${socket.remotePort}`, code: err.code, reason: err.message.trim() }, 'TLS handshake refused');
    });
  }
}
