/**
 * Issue #16 §3: the role table and SPIFFE parsing that every PS call goes through.
 */
import { expect } from 'chai';
import type { PeerCertificate } from 'node:tls';
import { formatSpiffeId, identityFromSubjectAltName, parseSpiffeId } from '../../../src/common/spiffe-id';
import { authorize, PS_ROLE_METHODS } from '../../../src/wire/authorization';
import { psAdminService } from '../../../src/wire/services';

const cert = (san: string) => ({ subjectaltname: san }) as PeerCertificate;
const as = (role: string, job = 'ctr') => cert(`DNS:localhost, URI:spiffe://tessera/${job}/${role}/x-1, IP Address:127.0.0.1`);

describe('SPIFFE identities and PS authorization (issue #16)', () => {
  it('formats and parses spiffe://tessera/<job>/<role>/<id>, refusing other shapes', () => {
    const id = { job: 'ctr', role: 'worker' as const, id: 'worker-3' };
    expect(parseSpiffeId(formatSpiffeId(id))).to.deep.equal(id);
    for (const bad of ['spiffe://other/ctr/worker/w', 'spiffe://tessera/ctr/root/w', 'spiffe://tessera/ctr/worker', 'spiffe://tessera/ctr/worker/w/x', 'spiffe://tessera/../worker/w']) {
      expect(parseSpiffeId(bad), bad).to.equal(null);
    }
    expect(() => formatSpiffeId({ ...id, job: 'a/b' })).to.throw(/job "a\/b" cannot go in a certificate/);
  });

  it('takes exactly one Tessera URI SAN from a certificate; two name nobody', () => {
    expect(identityFromSubjectAltName('URI:spiffe://tessera/ctr/ps/ps-0')).to.deep.equal({ job: 'ctr', role: 'ps', id: 'ps-0' });
    expect(identityFromSubjectAltName('URI:spiffe://tessera/ctr/ps/ps-0, URI:spiffe://tessera/ctr/chief/c')).to.equal(null);
    expect(identityFromSubjectAltName('DNS:localhost')).to.equal(null);
    expect(identityFromSubjectAltName(undefined)).to.equal(null);
  });

  const cases: [string, string, boolean][] = [
    ['chief', '/tessera.v1.PsAdmin/DropTable', true],
    ['admin', '/tessera.v1.PsAdmin/Restore', true],
    ['chief', '/tessera.v1.ParameterServer/PullStream', true],
    ['chief', '/tessera.v1.ParameterServer/Push', false],
    ['worker', '/tessera.v1.ParameterServer/PushStream', true],
    ['worker', '/tessera.v1.PsAdmin/DropTable', false],
    ['worker', '/tessera.v1.PsAdmin/Snapshot', false],
    ['serve', '/tessera.v1.ParameterServer/Pull', true],
    ['serve', '/tessera.v1.ParameterServer/PushStream', false],
    ['ps', '/tessera.v1.ParameterServer/Pull', false],
    ['ps', '/grpc.health.v1.Health/Check', true],
    ['worker', '/tessera.v1.PsAdmin/SomethingNew', false],
    ['chief', '/tessera.v1.PsMigration/BeginMigration', true],
    ['ps', '/tessera.v1.PsMigration/BeginMigration', false],
    ['chief', '/tessera.v1.PsMigration/ReceiveBuckets', false],
    ['worker', '/tessera.v1.PsMigration/SendTail', false],
    ['serve', '/tessera.v1.PsMigration/EndMigration', false],
  ];
  for (const [role, path, ok] of cases) {
    it(`${role} ${ok ? 'may' : 'may not'} call ${path}`, () => {
      const refused = authorize('ctr', path, as(role));
      if (ok) expect(refused).to.equal(null);
      else {
        expect(refused?.code).to.equal('TESSERA_ERR_PERMISSION_DENIED');
        expect(refused?.message).to.contain(`role "${role}" may not call ${path.slice(path.lastIndexOf('/') + 1)}`);
      }
    });
  }

  it('refuses another job whatever the role, and a certificate without an identity', () => {
    expect(authorize('ctr', '/grpc.health.v1.Health/Check', as('chief', 'other'))?.message).to.match(/job "other", this server to job "ctr"/);
    expect(authorize('ctr', '/tessera.v1.ParameterServer/Pull', cert('DNS:localhost'))?.code).to.equal('TESSERA_ERR_UNAUTHENTICATED');
    expect(authorize('ctr', '/tessera.v1.ParameterServer/Pull', undefined)?.code).to.equal('TESSERA_ERR_UNAUTHENTICATED');
  });

  it('lists every admin method for chief and admin; a PS may only stream migrating rows or replica batches to another', () => {
    // From the proto, so a method added to PsAdmin cannot be left out (the cut's PrepareCut, CutAt
    // and ReleaseCut once were, and every checkpoint of a TLS job was refused; issue 15).
    const proto = Object.values(psAdminService().service).map((m) => m.path).sort();
    expect(proto).to.include('/tessera.v1.PsAdmin/PrepareCut');
    expect(PS_ROLE_METHODS.chief.filter((m) => m.includes('PsAdmin')).sort()).to.deep.equal(proto);
    expect(PS_ROLE_METHODS.admin).to.deep.equal(PS_ROLE_METHODS.chief);
    expect(PS_ROLE_METHODS.ps).to.deep.equal(['/tessera.v1.PsMigration/ReceiveBuckets', '/tessera.v1.PsReplication/Replicate']);
    // Issue 17 §2: only the chief (or an admin) configures buddies and promotes a replica.
    expect(PS_ROLE_METHODS.chief).to.include('/tessera.v1.PsReplication/PromoteReplica');
    expect(PS_ROLE_METHODS.worker.some((m) => m.includes('PsReplication'))).to.equal(false);
  });
});
