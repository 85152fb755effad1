/**
 * The one way an HTTP port of Tessera is made: plain node:http, or, given a process's mutual TLS
 * identity, node:https that requires a client certificate from the job's CA (Node verifies it in
 * the handshake), answers 403 to a certificate naming another job or no Tessera identity, and
 * follows certificate rotation without a restart. /metrics and serving's REST port use it.
 *
 * ```ts
 * const server = createWebServer(tls ?? undefined, {}, (req, res) => res.end('ok'));
 * server.listen(0, '127.0.0.1');
 * ```
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { identityFromSubjectAltName } from '../common/spiffe-id';

/** What an HTTPS port needs of a process's TLS identity (src/wire/tls.ts's TlsContext has it). */
export interface WebTls {
  readonly config: { readonly identity: { readonly job: string } };
  /** Certificate, key and CA, with client certificates required. */
  httpsOptions(): https.ServerOptions;
  /** Re-reads the files into `server` when they change. */
  watchHttps(server: https.Server): void;
}

/** An HTTP or HTTPS server; both have the same listen, close and connection limits. */
export type WebServer = http.Server | https.Server;

/** The scheme URLs of a server made with `tls` use. */
export function webScheme(tls: WebTls | undefined): 'http' | 'https' {
  return tls ? 'https' : 'http';
}

/** A server answering with `handler`: plain without `tls`, mutual TLS for the job's identities with it. */
export function createWebServer(tls: WebTls | undefined, opts: http.ServerOptions, handler: http.RequestListener): WebServer {
  if (!tls) return http.createServer(opts, handler);
  const job = tls.config.identity.job;
  const server = https.createServer({ ...opts, ...tls.httpsOptions() }, (req, res) => {
    const who = identityFromSubjectAltName((req.socket as TLSSocket).getPeerCertificate().subjectaltname);
    if (who && who.job === job) {
      handler(req, res);
      return;
    }
    req.resume();
    const why = who ? `the client ${who.role}/${who.id} belongs to job "${who.job}", this server to job "${job}"`
      : 'the client certificate has no spiffe://tessera/<job>/<role>/<id> URI SAN';
    res.writeHead(403, { 'content-type': 'application/json' }).end(`${JSON.stringify({ error: why })}\n`);
  });
  tls.watchHttps(server);
  return server;
}
