import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { TesseraError } from '../../../src/common/errors';
import { isGzip } from '../../../src/data/line-reader';
import { RowReader, RowReaderOptions } from '../../../src/data/reader';
import { AVAZU_SCHEMA, CRITEO_SCHEMA, RawRow, RowSchema } from '../../../src/data/record';
import { AVAZU_SAMPLE, CRITEO_SAMPLE, collect, makeTmpDir, removeTmpDir, requireFile, writeTmp } from './fixtures';

/** A valid synthetic Criteo line, varied by i. */
function criteoLine(i: number): string {
  const ints = Array.from({ length: 13 }, (_, j) => ((i + j) % 7 === 0 ? '' : String((i * 31 + j) % 1000 - 3)));
  const cats = Array.from({ length: 26 }, (_, j) => ((i + j) % 11 === 0 ? '' : ((i * 2654435761 + j) >>> 0).toString(16)));
  return [String(i % 4 === 0 ? 1 : 0), ...ints, ...cats].join('\t');
}

async function readAll(file: string, schema: RowSchema, opts?: RowReaderOptions): Promise<{ rows: RawRow[]; reader: RowReader }> {
  const reader = new RowReader(file, schema, opts);
  const rows: RawRow[] = [];
  for await (const row of reader) rows.push(row);
  return { rows, reader };
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  return expect.fail('expected a rejection');
}

describe('data/reader: RowReader bad-line accounting', () => {
  let dir = '';
  let file = '';
  const badLines = new Map<number, string>([
    [10, 'x\tnot a criteo line'],
    [500, criteoLine(1).replace(/^0\t/, '7\t')],
    [1002, criteoLine(2).split('\t').map((f, i) => (i === 1 ? 'abc' : f)).join('\t')],
  ]);
  before(() => {
    dir = makeTmpDir();
    const lines: string[] = [];
    for (let good = 0; good < 1000; ) {
      const bad = badLines.get(lines.length + 1);
      lines.push(bad ?? criteoLine(good++));
    }
    file = writeTmp(dir, 'mixed.txt', `${lines.join('\n')}\n`);
  });
  after(() => removeTmpDir(dir));

  it('3 malformed lines among 1000 at maxErrorRate 0.01: 1000 rows, bad = 3, samples name file:line', async () => {
    const { rows, reader } = await readAll(file, CRITEO_SCHEMA);
    expect(rows).to.have.length(1000);
    expect(rows[0]).to.deep.include({ label: 1 });
    const stats = reader.stats();
    expect(stats).to.deep.include({ rows: 1000, bad: 3, blank: 0 });
    expect(stats.samples).to.deep.equal([
      `${file}:10: expected 40 fields, got 2`,
      `${file}:500: label: '7' is not 0 or 1`,
      `${file}:1002: I1: 'abc' is not an integer`,
    ]);
    expect(reader.summary()).to.contain('1000 rows, 3 bad (0.30%)').and.contain(`${file}:500:`);
  });

  it('at maxErrorRate 0.001 it throws a TesseraError naming the file, the rate, and the samples', async () => {
    const err = await caught(readAll(file, CRITEO_SCHEMA, { maxErrorRate: 0.001 }));
    expect(err).to.be.instanceOf(TesseraError);
    expect((err as TesseraError).code).to.equal('TESSERA_ERR_BAD_DATA');
    expect(err.message).to.contain(file).and.contain('maxErrorRate 0.10%').and.contain(`${file}:10: expected 40 fields`);
    expect(err.message).to.match(/2 of 1\d\d\d lines are malformed/);
  });

  it('short input: the rate is enforced at the end', async () => {
    const small = writeTmp(dir, 'small.txt', `${criteoLine(1)}\nbroken\n${criteoLine(2)}\n`);
    const err = await caught(readAll(small, CRITEO_SCHEMA));
    expect(err.message).to.contain('1 of 3 lines are malformed (33.33%)').and.contain(`${small}:2: expected 40 fields, got 1`);
    expect((await readAll(small, CRITEO_SCHEMA, { maxErrorRate: 0.5 })).rows).to.have.length(2);
  });

  it('a line over 1 MiB is counted as bad ("line exceeds 1 MiB"); blank lines are skipped', async () => {
    const huge = `1\t${'9'.repeat((1 << 20) + 10)}`;
    const f = writeTmp(dir, 'huge.txt', `${criteoLine(1)}\n${huge}\n\n${criteoLine(2)}\n`);
    const { rows, reader } = await readAll(f, CRITEO_SCHEMA, { maxErrorRate: 1 });
    expect(rows).to.have.length(2);
    expect(reader.stats()).to.deep.equal({ rows: 2, bad: 1, blank: 1, samples: [`${f}:2: line exceeds 1 MiB`] });
  });

  it('inside a range the line number is unknown: samples say @offset', async () => {
    const text = `${criteoLine(1)}\n${criteoLine(2)}\nbroken\n`;
    const f = writeTmp(dir, 'range.txt', text);
    const start = text.indexOf('\n') + 1;
    const { reader } = await readAll(f, CRITEO_SCHEMA, { range: { start, end: text.length }, maxErrorRate: 1 });
    expect(reader.stats().samples).to.deep.equal([`${f}@offset ${text.lastIndexOf('broken')}: expected 40 fields, got 1`]);
  });

  it('batches: sizes, fresh arrays by default, recycled arrays with reuse', async () => {
    const reader = new RowReader(file, CRITEO_SCHEMA);
    const sizes: number[] = [];
    const seen = new Set<RawRow[]>();
    for await (const batch of reader.batches(300)) { sizes.push(batch.length); seen.add(batch); }
    expect(sizes).to.deep.equal([300, 300, 300, 100]);
    expect(seen.size).to.equal(4);
    const recycled = new Set<RawRow[]>();
    const labels: number[] = [];
    for await (const batch of reader.batches(300, { reuse: true })) { recycled.add(batch); labels.push(...batch.map((r) => r.label)); }
    expect(recycled.size).to.equal(1);
    expect(labels).to.deep.equal((await readAll(file, CRITEO_SCHEMA)).rows.map((r) => r.label));
  });

  it('an unexpected Avazu header is fatal', async () => {
    const f = writeTmp(dir, 'hdr.csv', 'id,click,hour\n');
    expect((await caught(readAll(f, AVAZU_SCHEMA))).message).to.contain('unexpected Avazu header');
  });
});

describe('data/reader: gzip', function () {
  this.timeout(20000);
  let dir = '';
  before(() => { dir = makeTmpDir(); });
  after(() => removeTmpDir(dir));

  it('a gzipped Criteo sample reads whole, with the same rows as the plain file', async function () {
    requireFile(this, CRITEO_SAMPLE);
    const gz = writeTmp(dir, 'criteo.txt.gz', gzipSync(fs.readFileSync(CRITEO_SAMPLE)));
    expect(await isGzip(gz)).to.equal(true);
    expect(await isGzip(CRITEO_SAMPLE)).to.equal(false);
    const plain = await readAll(CRITEO_SAMPLE, CRITEO_SCHEMA);
    const zipped = await readAll(gz, CRITEO_SCHEMA, { chunkBytes: 64 << 10 });
    expect(zipped.rows).to.have.length(8000);
    expect(zipped.rows).to.deep.equal(plain.rows);
    const whole = await collect(gz, { start: 0, end: fs.statSync(gz).size });
    expect(whole.map((l) => l.offset)).to.deep.equal((await collect(CRITEO_SAMPLE)).map((l) => l.offset));
  });

  it('a partial range of a gzip file throws a clear error; corrupt data too', async () => {
    const gz = writeTmp(dir, 'small.gz', gzipSync(`${criteoLine(1)}\n`.repeat(100)));
    const err = await caught(collect(gz, { start: 10, end: 20 }));
    expect(err).to.be.instanceOf(TesseraError);
    expect(err.message).to.contain(`gzip file ${gz}`).and.contain('can only be read whole');
    const data = fs.readFileSync(gz);
    const cut = writeTmp(dir, 'cut.gz', data.subarray(0, data.length - 20));
    const bad = await caught(collect(cut));
    expect(bad).to.be.instanceOf(TesseraError);
    expect(bad.message).to.contain(`${cut}: corrupt gzip data`);
  });
});

describe('data/reader: real samples', function () {
  this.timeout(20000);

  it('Criteo DAC sample: 8,000 rows, 0 bad, label mean ~ 0.216', async function () {
    requireFile(this, CRITEO_SAMPLE);
    const { rows, reader } = await readAll(CRITEO_SAMPLE, CRITEO_SCHEMA);
    expect(reader.stats()).to.deep.include({ rows: 8000, bad: 0 });
    expect(rows.reduce((s, r) => s + r.label, 0) / rows.length).to.be.closeTo(0.216, 0.01);
    expect(reader.summary()).to.equal(`criteo ${CRITEO_SAMPLE}: 8000 rows, 0 bad (0.00%), 0 blank`);
  });

  it('Avazu sample: 8,999 rows (header skipped), 0 bad, click mean ~ 0.174', async function () {
    requireFile(this, AVAZU_SAMPLE);
    const { rows, reader } = await readAll(AVAZU_SAMPLE, AVAZU_SCHEMA, { name: path.basename(AVAZU_SAMPLE) });
    expect(reader.stats()).to.deep.include({ rows: 8999, bad: 0 });
    expect(rows.reduce((s, r) => s + r.label, 0) / rows.length).to.be.closeTo(0.174, 0.01);
    expect(rows.every((r) => r.categorical.length === 23 && /^\d\d$/.test(r.categorical[22] ?? ''))).to.equal(true);
  });
});
