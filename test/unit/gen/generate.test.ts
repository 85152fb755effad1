import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ERROR_CODES, TesseraError } from '../../../src/common/errors';
import { parseCriteoLine } from '../../../src/data/parsers';
import { GenerateOptions, generate } from '../../../src/gen/generate';
import { CHUNK_BYTES } from '../../../src/gen/tsv-writer';

const INT_FIELD = /^(|-?\d+)$/;

/** The lines of a generated file (it ends with a newline). */
function lines(path: string): string[] {
  const text = readFileSync(path, 'latin1');
  expect(text.endsWith('\n')).to.equal(true);
  return text.slice(0, -1).split('\n');
}

/** A Writable that keeps every chunk and acknowledges each after a macrotask (real backpressure). */
class SlowSink extends Writable {
  readonly chunks: Buffer[] = [];
  constructor() {
    super({ highWaterMark: 64 * 1024 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error) => void): void {
    this.chunks.push(chunk);
    setImmediate(done);
  }
}

describe('gen/generate', function () {
  this.timeout(60_000);
  let dir: string;
  const file = (name: string): string => join(dir, name);
  const run = (o: Partial<GenerateOptions> & { out: GenerateOptions['out'] }) => generate({ rows: 3000, seed: 7, ...o });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-gen-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes byte-identical files for the same seed, and different ones for another seed', async () => {
    const a = await run({ out: file('a.tsv') });
    const b = await run({ out: file('b.tsv') });
    await run({ out: file('c.tsv'), seed: 8 });
    expect(readFileSync(file('a.tsv')).equals(readFileSync(file('b.tsv')))).to.equal(true);
    expect(readFileSync(file('a.tsv')).equals(readFileSync(file('c.tsv')))).to.equal(false);
    expect({ ...a, seconds: 0 }).to.deep.equal({ ...b, seconds: 0 });
  });

  it('writes 40 Criteo DAC fields per line: 0/1 label, integers or empty, hex or empty', async () => {
    const rows = 5000;
    const r = await run({ rows, out: file('fmt.tsv') });
    const all = lines(file('fmt.tsv'));
    expect(all).to.have.length(rows);
    let positives = 0;
    let emptyInts = 0;
    let emptyC3 = 0;
    for (const [n, line] of all.entries()) {
      const f = line.split('\t');
      if (f.length !== 40) expect.fail(`line ${n + 1} has ${f.length} fields`);
      if (f[0] !== '0' && f[0] !== '1') expect.fail(`line ${n + 1}: label "${f[0]}"`);
      positives += Number(f[0]);
      for (let i = 1; i <= 13; i++) if (!INT_FIELD.test(f[i])) expect.fail(`line ${n + 1}: I${i} = "${f[i]}"`);
      for (let j = 14; j < 40; j++) if (!/^(|[0-9a-f]{8})$/.test(f[j])) expect.fail(`line ${n + 1}: C${j - 13} = "${f[j]}"`);
      emptyInts += f.slice(1, 14).filter((x) => x === '').length;
      if (f[16] === '') emptyC3++;
      parseCriteoLine(line); // Tessera's own reader accepts it
    }
    expect(positives).to.equal(r.positives);
    expect(emptyInts / (13 * rows)).to.be.within(0.05, 0.15); // ~10% missing integers
    expect(emptyC3 / rows).to.be.within(0.03, 0.07); // C3 is one of the 5%-missing fields
  });

  for (const seed of [1, 2]) {
    it(`has a sane oracle AUC and positive rate on 20k rows (seed ${seed})`, async () => {
      const r = await generate({ rows: 20_000, seed, out: file(`auc${seed}.tsv`) });
      expect(r.oracleAuc).to.be.within(0.7, 0.9);
      expect(r.positives / r.rows).to.be.within(0.15, 0.35);
      expect(r.oracleLogloss).to.be.within(0.3, 0.6);
    });
  }

  it('follows --ctr', async () => {
    const r = await generate({ rows: 10_000, seed: 3, ctr: 0.1, out: file('ctr.tsv') });
    expect(r.positives / r.rows).to.be.within(0.07, 0.13);
  });

  it('handles a 2^40 vocabulary with 10-hex-digit categoricals', async () => {
    const r = await run({ rows: 2000, vocab: 2 ** 40, out: file('huge.tsv') });
    expect(r.oracleAuc).to.be.within(0.65, 0.95);
    const cats = lines(file('huge.tsv')).flatMap((l) => l.split('\t').slice(14));
    for (const c of cats) if (!/^(|[0-9a-f]{10})$/.test(c)) expect.fail(`categorical "${c}"`);
    expect(new Set(cats).size).to.be.above(cats.length / 4); // a long tail, mostly distinct ids
  });

  it('streams to a Writable in large chunks with backpressure, without ending it', async () => {
    const sink = new SlowSink();
    const r = await run({ rows: 20_000, out: sink });
    await run({ rows: 20_000, out: file('same.tsv') });
    expect(Buffer.concat(sink.chunks).equals(readFileSync(file('same.tsv')))).to.equal(true);
    expect(sink.writableEnded).to.equal(false);
    expect(sink.chunks.length).to.be.within(2, Math.ceil((20_000 * 431) / (CHUNK_BYTES / 2)));
    for (const c of sink.chunks.slice(0, -1)) expect(c.length).to.be.above(CHUNK_BYTES - 1024);
    expect(r.rows).to.equal(20_000);
  });

  it('writes an eval split from its own stream without changing the training rows', async () => {
    const r = await run({ out: file('t.tsv'), evalRows: 1000, evalOut: file('e.tsv') });
    await run({ out: file('t-only.tsv') });
    expect(readFileSync(file('t.tsv')).equals(readFileSync(file('t-only.tsv')))).to.equal(true);
    const ev = lines(file('e.tsv'));
    expect(ev).to.have.length(1000);
    expect(ev[0]).to.not.equal(lines(file('t.tsv'))[0]);
    expect(r.eval?.rows).to.equal(1000);
    expect(r.eval?.oracleAuc).to.be.within(0.65, 0.95);
  });

  it('rejects bad options with a CONFIG error naming the option', async () => {
    const cases: [Partial<GenerateOptions>, RegExp][] = [
      [{ rows: 0 }, /^rows /],
      [{ seed: -1 }, /^seed /],
      [{ vocab: 2 ** 40 + 1 }, /^vocab /],
      [{ zipf: 0 }, /^zipf /],
      [{ ctr: 1 }, /^ctr /],
      [{ evalRows: 10 }, /evalRows and evalOut/],
      [{ out: join(dir, 'no', 'such', 'dir.tsv') }, /cannot write output file/],
    ];
    for (const [o, re] of cases) {
      const err = await generate({ rows: 10, seed: 1, out: file('x.tsv'), ...o }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, JSON.stringify(o)).to.be.instanceOf(TesseraError);
      expect((err as TesseraError).code).to.equal(ERROR_CODES.CONFIG);
      expect((err as TesseraError).message).to.match(re);
    }
  });
});
