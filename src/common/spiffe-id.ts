/**
 * Process identities as SPIFFE IDs: every process of a job holds a certificate whose URI SAN is
 * `spiffe://tessera/<job>/<role>/<id>`. Parsing and formatting live here, free of TLS and
 * transport, so the authorization table, the certificate tools and the tests share one spelling.
 */
import { ERROR_CODES, TesseraError } from './errors';

/** The SPIFFE trust domain of every Tessera identity. */
export const SPIFFE_TRUST_DOMAIN = 'tessera';

/** Roles a certificate may name: the three process roles, the prediction server, and people's tools. */
export const IDENTITY_ROLES = ['chief', 'ps', 'worker', 'serve', 'admin'] as const;

/** A role a certificate may name. */
export type IdentityRole = (typeof IDENTITY_ROLES)[number];

/** Who a verified certificate says its holder is. */
export interface SpiffeIdentity {
  readonly job: string;
  readonly role: IdentityRole;
  readonly id: string;
}

/** Job names and ids in an identity: the characters etcd keys and file names take safely. */
const PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** `spiffe://tessera/<job>/<role>/<id>` for `identity`; throws CONFIG when a part is not allowed. */
export function formatSpiffeId(identity: SpiffeIdentity): string {
  for (const [name, value] of [['job', identity.job], ['id', identity.id]] as const) {
    if (!PART.test(value)) throw new TesseraError(ERROR_CODES.CONFIG, `${name} "${value}" cannot go in a certificate: use letters, digits, ".", "_" or "-" (at most 63)`);
  }
  if (!IDENTITY_ROLES.includes(identity.role)) {
    throw new TesseraError(ERROR_CODES.CONFIG, `role "${identity.role}" is not one of ${IDENTITY_ROLES.join(', ')}`);
  }
  return `spiffe://${SPIFFE_TRUST_DOMAIN}/${identity.job}/${identity.role}/${identity.id}`;
}

/** Parses one SPIFFE ID; null when it is not a Tessera identity. */
export function parseSpiffeId(uri: string): SpiffeIdentity | null {
  const prefix = `spiffe://${SPIFFE_TRUST_DOMAIN}/`;
  if (!uri.startsWith(prefix)) return null;
  const parts = uri.slice(prefix.length).split('/');
  if (parts.length !== 3) return null;
  const [job, role, id] = parts;
  if (!PART.test(job) || !PART.test(id) || !(IDENTITY_ROLES as readonly string[]).includes(role)) return null;
  return { job, role: role as IdentityRole, id };
}

/**
 * The Tessera identity in a certificate's subjectAltName string as Node prints it
 * (`DNS:localhost, URI:spiffe://tessera/ctr/worker/w-0, IP Address:127.0.0.1`); null when there
 * is none, or more than one (an ambiguous certificate names nobody).
 */
export function identityFromSubjectAltName(san: string | undefined): SpiffeIdentity | null {
  if (!san) return null;
  const found = san.split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => parseSpiffeId(entry.slice(4)))
    .filter((x): x is SpiffeIdentity => x !== null);
  return found.length === 1 ? found[0] : null;
}
