/**
 * The HTTP client of the admin commands (`tessera serve status|rollback|label --server URL`):
 * one JSON request to a running server over http://, or over https:// presenting the caller's
 * certificate (`--tls-cert/--tls-key/--tls-ca`) to a server that requires mutual TLS. node:https
 * rather than fetch: Node's built-in fetch cannot present a client certificate without the
 * undici package, which is not a runtime dependency.
 *
 * ```ts
 * const status = await requestJson('https://serve:8501/status', 'GET', { tls: httpsClientOptions(config) });
 * ```
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { HttpsClientOptions } from '../wire/tls';

/** How long one admin request may take: a rescan loads new versions before it answers. */
export const ADMIN_REQUEST_TIMEOUT_MS = 30_000;

/** Options of {@link requestJson}. */
export interface RequestJsonOptions {
  /** the caller's identity; required for an https:// URL */
  tls?: HttpsClientOptions;
  timeoutMs?: number;
}

function failed(url: string, why: string): TesseraError {
  return new TesseraError(ERROR_CODES.UNAVAILABLE, `${url}: ${why}`, { retryable: false });
}

/**
 * Sends `method` to `url` and resolves with the JSON body of a 2xx answer; anything else (no
 * answer, a refused handshake, a non-2xx status) rejects with one line naming the URL and why.
 */
export function requestJson(url: string, method: 'GET' | 'POST', opts: RequestJsonOptions = {}): Promise<unknown> {
  const secure = url.startsWith('https://');
  if (secure && !opts.tls) {
    return Promise.reject(new TesseraError(ERROR_CODES.CONFIG,
      `${url} is HTTPS: give --tls-cert, --tls-key and --tls-ca (a certificate of the server's job, e.g. tessera certs issue --role admin)`));
  }
  const timeout = opts.timeoutMs ?? ADMIN_REQUEST_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const onAnswer = (res: http.IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('error', (err) => reject(failed(url, err.message)));
      res.on('end', () => {
        let body: { error?: string } = {};
        try {
          body = JSON.parse(text) as { error?: string };
        } catch { /* a non-JSON answer: reported by its status below */ }
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(body);
        else reject(failed(url, `HTTP ${status} ${body.error ?? ''}`.trim()));
      });
    };
    const common = { method, agent: false as const, timeout };
    const req = secure ? https.request(url, { ...common, ...opts.tls }, onAnswer) : http.request(url, common, onAnswer);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(failed(url, refusal(err, secure))));
    req.end();
  });
}

/** A transport error as one line; a TLS server that drops the connection usually refused our certificate. */
function refusal(err: NodeJS.ErrnoException, secure: boolean): string {
  const reset = err.code === 'ECONNRESET' || /socket hang up|alert/i.test(err.message);
  return secure && reset ? `${err.message} (the server refused the TLS handshake: is --tls-cert issued by its CA?)` : err.message;
}
