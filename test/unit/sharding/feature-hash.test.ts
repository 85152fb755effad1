import { expect } from 'chai';
import { ERROR_CODES } from '../../../src/common/errors';
import { FIELD_SALT_SEED, FeatureHasher, fieldSalt, hashFeature } from '../../../src/sharding/feature-hash';
import { Rng } from './rng';
import { refXxh64 } from './xxh64-reference';

const hex = (v: bigint): string => v.toString(16).padStart(16, '0');

/** The definition, spelled with the BigInt reference: XXH64(utf8(raw), XXH64(utf8(field), seed)). */
function refFeature(field: string, raw: string): bigint {
  const salt = refXxh64(Buffer.from(field, 'utf8'), BigInt(FIELD_SALT_SEED));
  return refXxh64(Buffer.from(raw, 'utf8'), salt);
}

/**
 * Published feature-hash vectors (also in docs/hash-vectors.md). These values must never change:
 * every stored embedding row is keyed by them. Cross-checked against libxxhash 0.8.1 XXH64().
 */
const VECTORS: [string, string, string][] = [
  ['C1', '68fd1e64', '34268e6166de5fe4'],
  ['C1', '', 'a806dfaba8259b18'],
  ['C2', '68fd1e64', 'e6ec83da4c771f58'],
  ['user_id', '12345', '481d23894db89038'],
  ['user_id', '12346', '2817b5e1c2de6cfa'],
  ['C14', '1005', '9e9d8cb5ee9c5e1d'],
  ['city', 'Zürich', '432f705d558be9a8'],
  ['query', '東京タワー', 'cb60b1fd84952879'],
  ['emoji', '😀', '19bf5624d5dd56fd'],
  ['url', 'https://example.com/a/long/path?utm_source=tessera&x=1', '3823c467cee5fbda'],
  ['C1', '\ud800', 'f6276837eaaeeef2'], // lone surrogate encodes as U+FFFD
];

describe('sharding/feature-hash', () => {
  it('keeps the field salt seed and salts fixed', () => {
    expect(FIELD_SALT_SEED).to.equal(0x7e55e7a);
    expect(fieldSalt('C1')).to.deep.equal({ lo: 0x8d7198fb, hi: 0x41b7b08b });
    expect(fieldSalt('user_id')).to.deep.equal({ lo: 0x03dc10b7, hi: 0x143e5cf3 });
  });

  it('reproduces the published vectors with hashFeature, FeatureHasher and the reference', () => {
    const out = new Uint32Array(2);
    for (const [field, raw, want] of VECTORS) {
      const label = JSON.stringify([field, raw]);
      expect(hex(hashFeature(field, raw)), label).to.equal(want);
      expect(hex(refFeature(field, raw)), `ref ${label}`).to.equal(want);
      new FeatureHasher(field).hash(raw, out, 0);
      expect(hex((BigInt(out[1]) << 32n) | BigInt(out[0])), `hasher ${label}`).to.equal(want);
    }
  });

  it('FeatureHasher equals hashFeature on random ASCII, unicode, surrogate and long (> 1 KiB) values', () => {
    const rng = new Rng(11);
    const alphabet = ['a', 'Z', '0', '-', 'é', 'ß', '東', '😀', '\ud800', '\udc00', '\u0000', '\u07ff', '\uffff'];
    const hasher = new FeatureHasher('C7');
    const out = new Uint32Array(2 * 300);
    const raws: string[] = [];
    for (let i = 0; i < 300; i++) {
      const len = i < 290 ? rng.int(40) : 1000 + rng.int(2000); // the last ones take the fallback path
      let s = '';
      for (let k = 0; k < len; k++) s += alphabet[rng.int(i % 2 === 0 ? 4 : alphabet.length)];
      raws.push(s);
      hasher.hash(s, out, i);
    }
    for (let i = 0; i < raws.length; i++) {
      const want = hashFeature('C7', raws[i]);
      expect((BigInt(out[2 * i + 1]) << 32n) | BigInt(out[2 * i]), `raw #${i}`).to.equal(want);
      if (i % 10 === 0 || i >= 290) expect(want, `ref raw #${i}`).to.equal(refFeature('C7', raws[i]));
    }
  });

  it('handles the scratch-buffer boundary (1024 code units of 3-byte UTF-8) and the fallback past it', () => {
    const hasher = new FeatureHasher('q');
    const out = new Uint32Array(2);
    for (const s of ['東'.repeat(1024), '東'.repeat(1025), '😀'.repeat(512), 'x'.repeat(1024) + '東']) {
      hasher.hash(s, out, 0);
      expect((BigInt(out[1]) << 32n) | BigInt(out[0]), `length ${s.length}`).to.equal(refFeature('q', s));
    }
  });

  it('gives different ids to the same raw value in different fields', () => {
    const seen = new Set<bigint>();
    for (let i = 0; i < 2000; i++) {
      const raw = String(i);
      const a = hashFeature('C1', raw), b = hashFeature('C2', raw);
      expect(a, raw).to.not.equal(b);
      seen.add(a).add(b);
    }
    expect(seen.size).to.equal(4000);
  });

  it('hash writes only out[2·index] and out[2·index + 1]', () => {
    const out = new Uint32Array(6).fill(9);
    new FeatureHasher('C1').hash('68fd1e64', out, 1);
    expect(hex((BigInt(out[3]) << 32n) | BigInt(out[2]))).to.equal('34268e6166de5fe4');
    expect([out[0], out[1], out[4], out[5]]).to.deep.equal([9, 9, 9, 9]);
  });

  it('rejects an empty or non-string field and a non-string raw', () => {
    expect(() => new FeatureHasher('')).to.throw(/field must be a non-empty string/)
      .with.property('code', ERROR_CODES.INVALID_ARGUMENT);
    expect(() => fieldSalt(7 as unknown as string)).to.throw(/field must be a string/);
    expect(() => hashFeature('C1', null as unknown as string)).to.throw(/raw must be a string/);
  });
});
