/** Issue 15: the flags of `tessera serve --follow` are checked before anything starts, each bad combination one CONFIG line. */
import { expect } from 'chai';
import { followFlags } from '../../../src/cli/serve-follow';
import { SERVE_SPEC } from '../../../src/cli/serve';
import { parseArgs } from '../../../src/runtime/args';

function flags(...argv: string[]): ReturnType<typeof followFlags> {
  return followFlags(parseArgs(['--model-root', '/m', ...argv], SERVE_SPEC));
}

describe('tessera serve --follow flags (issue 15)', () => {
  const saved = process.env.TESSERA_ETCD;
  before(() => { delete process.env.TESSERA_ETCD; });
  after(() => { if (saved !== undefined) process.env.TESSERA_ETCD = saved; });

  it('takes --follow alone, or with --etcd and --job', () => {
    expect(flags()).to.deep.equal({ follow: false, etcd: undefined });
    expect(flags('--follow')).to.include({ follow: true });
    expect(flags('--follow', '--etcd', 'http://127.0.0.1:2379', '--job', 'j')).to.deep.equal({ follow: true, etcd: { endpoints: 'http://127.0.0.1:2379', job: 'j' } });
  });

  it('refuses --etcd/--job without --follow, one without the other, and --follow with a memory budget', () => {
    expect(() => flags('--job', 'j')).to.throw(/--etcd and --job watch a delta stream: add --follow/);
    expect(() => flags('--follow', '--etcd', 'http://127.0.0.1:2379')).to.throw(/--etcd needs --job NAME/);
    expect(() => flags('--follow', '--job', 'j')).to.throw(/--job needs --etcd URL/);
    expect(() => flags('--follow', '--max-resident-bytes', '1MiB')).to.throw(/drop --max-resident-bytes/);
  });
});
