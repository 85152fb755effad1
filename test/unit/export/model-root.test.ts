/**
 * Issue 14, section 1: model versions appear in a model root atomically (temporary directory,
 * fsync, rename), numbered monotonically even when publishers race, and a reader listing the
 * root never sees a partial version.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkModelName, listModels, listVersions, publishVersion, versionOfDir } from '../../../src/export/model-root';

function writeFiles(dir: string, text: string): Promise<void> {
  fs.writeFileSync(path.join(dir, 'model.json'), text);
  return Promise.resolve();
}

describe('model root: numbered, atomic model versions (issue 14)', () => {
  let root = '';
  beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-root-')); });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('publishes 1, 2, 3 … and lists them ascending, ignoring temporary and foreign entries', async () => {
    for (let i = 1; i <= 3; i++) {
      const v = await publishVersion(root, 'ctr', (dir) => writeFiles(dir, `v${i}`));
      expect(v.version).to.equal(i);
      expect(fs.readFileSync(path.join(v.dir, 'model.json'), 'utf8')).to.equal(`v${i}`);
    }
    fs.mkdirSync(path.join(root, 'ctr', '.tmp-123-abc'));
    fs.mkdirSync(path.join(root, 'ctr', '007'));
    fs.mkdirSync(path.join(root, 'ctr', 'notes'));
    fs.writeFileSync(path.join(root, 'ctr', '9'), 'a file, not a version');
    fs.mkdirSync(path.join(root, '.staging'));
    expect(listVersions(root, 'ctr')).to.deep.equal([1, 2, 3]);
    expect(listVersions(root, 'absent')).to.deep.equal([]);
    expect(listModels(root)).to.deep.equal(['ctr']);
    expect(fs.readdirSync(path.join(root, 'ctr')).filter((e) => e.startsWith('.tmp-') && e !== '.tmp-123-abc')).to.deep.equal([]);
  });

  it('continues after the largest version, and never reuses the number of a deleted newest version', async () => {
    fs.mkdirSync(path.join(root, 'ctr', '41'), { recursive: true });
    fs.writeFileSync(path.join(root, 'ctr', '41', 'x'), '');
    expect((await publishVersion(root, 'ctr', (dir) => writeFiles(dir, 'next'))).version).to.equal(42);
    fs.rmSync(path.join(root, 'ctr', '42'), { recursive: true });
    fs.rmSync(path.join(root, 'ctr', '41'), { recursive: true });
    expect((await publishVersion(root, 'ctr', (dir) => writeFiles(dir, 'after'))).version).to.equal(43);
    expect(listVersions(root, 'ctr')).to.deep.equal([43]);
  });

  it('gives racing publishers distinct, consecutive versions', async () => {
    const got = await Promise.all([1, 2, 3, 4, 5].map((i) => publishVersion(root, 'ctr', (dir) => writeFiles(dir, `p${i}`))));
    expect(got.map((g) => g.version).sort()).to.deep.equal([1, 2, 3, 4, 5]);
    const texts = got.map((g) => fs.readFileSync(path.join(g.dir, 'model.json'), 'utf8')).sort();
    expect(texts).to.deep.equal(['p1', 'p2', 'p3', 'p4', 'p5']);
  });

  it('shows no version while it is being written, and leaves nothing behind when writing fails', async () => {
    let seenDuringWrite: number[] = [1];
    await publishVersion(root, 'ctr', async (dir) => {
      await writeFiles(dir, 'half');
      seenDuringWrite = listVersions(root, 'ctr');
    });
    expect(seenDuringWrite).to.deep.equal([]);
    let failed: Error | undefined;
    await publishVersion(root, 'ctr', async (dir) => {
      await writeFiles(dir, 'broken');
      throw new Error('disk went away');
    }).catch((e: Error) => { failed = e; });
    expect(failed?.message).to.equal('disk went away');
    expect(listVersions(root, 'ctr')).to.deep.equal([1]);
    expect(fs.readdirSync(path.join(root, 'ctr')).sort()).to.deep.equal(['.last-version', '1']);
  });

  it('refuses a model name that is not one path component, naming it', async () => {
    for (const bad of ['..', '.hidden', 'a/b', '', '-x']) expect(() => checkModelName(bad), bad).to.throw(`model name "${bad}"`);
    let err: Error | undefined;
    await publishVersion(root, '../escape', () => Promise.resolve()).catch((e: Error) => { err = e; });
    expect(err?.message).to.match(/model name "\.\.\/escape"/);
    expect(versionOfDir('12')).to.equal(12);
    expect(versionOfDir('012')).to.equal(undefined);
    expect(versionOfDir('0')).to.equal(undefined);
  });
});
