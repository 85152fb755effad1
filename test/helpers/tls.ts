/**
 * Real certificates for TLS tests: a CA in a temp dir (src/common/cert-issuer.ts, the code
 * `tessera certs` runs) and certificates for the identities a test needs, removed in after().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureCa, issueCert, IssuedCert } from '../../src/common/cert-issuer';
import type { IdentityRole } from '../../src/common/spiffe-id';
import { checkTlsFiles, openTls, TlsContext } from '../../src/wire/tls';

/** A temp CA directory and what was issued in it. */
export interface TestCa {
  dir: string;
  ca: string;
  /** Issues `<role>-<id>` for `job` (default the CA's job); `notAfter` in the past gives an expired certificate. */
  issue(role: IdentityRole, id: string, opts?: { job?: string; notBefore?: Date; notAfter?: Date }): Promise<IssuedCert>;
  /** Opens a TLS context for an issued certificate (re-reading files every `refreshMs`). */
  open(cert: IssuedCert, refreshMs?: number): TlsContext;
  /** Opens one without the start-up checks (an expired certificate, a foreign CA's). */
  openUnchecked(cert: IssuedCert, ca?: string): TlsContext;
  remove(): void;
}

/** Creates a CA for `job` in a fresh temp dir. */
export async function createTestCa(job: string): Promise<TestCa> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-tls-'));
  const { cert: ca } = await ensureCa(dir, job);
  return {
    dir, ca,
    issue: (role, id, opts = {}) => issueCert(dir, {
      name: `${opts.job ?? job}-${role}-${id}`, identity: { job: opts.job ?? job, role, id }, notBefore: opts.notBefore, notAfter: opts.notAfter,
    }),
    open: (cert, refreshMs = 5_000) => {
      const files = { cert: cert.cert, key: cert.key, ca };
      return openTls({ ...files, refreshMs, identity: checkTlsFiles(files) });
    },
    openUnchecked: (cert, otherCa) => openTls({
      cert: cert.cert, key: cert.key, ca: otherCa ?? ca, refreshMs: 5_000, identity: { job, role: 'admin', id: 'unchecked' },
    }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
