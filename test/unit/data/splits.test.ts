import { expect } from 'chai';
import * as fs from 'node:fs';
import { TesseraError } from '../../../src/common/errors';
import { RowReader } from '../../../src/data/reader';
import { AVAZU_HEADER, AVAZU_SCHEMA } from '../../../src/data/record';
import { ByteRange, splitByteRanges } from '../../../src/data/splits';
import {
  AVAZU_SAMPLE, CRITEO_SAMPLE, collect, collectRanges, collectSplits, makeTmpDir, oracleLines,
  removeTmpDir, requireFile, rng, writeTmp,
} from './fixtures';

/** Byte offset of each line start in `content`, the oracle for LineInfo.offset. */
function oracleOffsets(content: string): number[] {
  const offsets: number[] = [];
  for (let i = 0; i < content.length; i = content.indexOf('\n', i) + 1) {
    offsets.push(i);
    if (content.indexOf('\n', i) < 0) break;
  }
  return offsets;
}

describe('data/splits: splitByteRanges', () => {
  it('tiles [0, size) with n contiguous near-equal ranges', () => {
    for (const [size, n] of [[0, 1], [0, 3], [10, 1], [10, 3], [10, 20], [1938518, 7]]) {
      const ranges = splitByteRanges(size, n);
      expect(ranges).to.have.length(n);
      expect(ranges[0].start).to.equal(0);
      expect(ranges[n - 1].end).to.equal(size);
      for (let i = 1; i < n; i++) expect(ranges[i].start).to.equal(ranges[i - 1].end);
      for (const r of ranges) expect(r.end - r.start).to.be.within(Math.floor(size / n), Math.ceil(size / n));
    }
  });

  it('rejects a bad size or count', () => {
    expect(() => splitByteRanges(-1, 2)).to.throw(TesseraError, /fileSize/);
    expect(() => splitByteRanges(10, 0)).to.throw(TesseraError, /positive integer/);
    expect(() => splitByteRanges(10, 1.5)).to.throw(TesseraError, /positive integer/);
  });
});

describe('data/splits: every line exactly once on the real samples', function () {
  this.timeout(30000);

  it('Criteo sample, N = 1..7: same lines, in order, with the same offsets', async function () {
    requireFile(this, CRITEO_SAMPLE);
    const content = fs.readFileSync(CRITEO_SAMPLE, 'utf8');
    const expected = oracleLines(content);
    expect(expected).to.have.length(8000);
    const offsets = oracleOffsets(content);
    for (let n = 1; n <= 7; n++) {
      const got = await collectSplits(CRITEO_SAMPLE, n);
      expect(got.length, `N=${n}`).to.equal(expected.length);
      expect(got.map((l) => l.line), `N=${n}`).to.deep.equal(expected);
      expect(got.map((l) => l.offset), `N=${n}`).to.deep.equal(offsets);
    }
  });

  it('Avazu sample, N = 1..7: same lines, header seen once, 8,999 rows in total', async function () {
    requireFile(this, AVAZU_SAMPLE);
    const expected = oracleLines(fs.readFileSync(AVAZU_SAMPLE));
    expect(expected).to.have.length(9000);
    for (let n = 1; n <= 7; n++) {
      const got = (await collectSplits(AVAZU_SAMPLE, n)).map((l) => l.line);
      expect(got, `N=${n}`).to.deep.equal(expected);
      expect(got.filter((l) => l === AVAZU_HEADER), `N=${n}`).to.have.length(1);
      let rows = 0;
      for (const range of splitByteRanges(fs.statSync(AVAZU_SAMPLE).size, n)) {
        const reader = new RowReader(AVAZU_SAMPLE, AVAZU_SCHEMA, { range });
        for await (const batch of reader.batches(512)) rows += batch.length;
        expect(reader.stats().bad, `N=${n}`).to.equal(0);
      }
      expect(rows, `N=${n}`).to.equal(8999);
    }
  });
});

describe('data/line-reader: synthetic files', () => {
  let dir = '';
  beforeEach(() => { dir = makeTmpDir(); });
  afterEach(() => removeTmpDir(dir));

  /** Checks N = 1..maxN even splits, at several chunk sizes, against the oracle. */
  async function checkSplits(content: string, maxN: number, chunks = [1, 2, 3, 7, 1 << 20]): Promise<void> {
    const file = writeTmp(dir, 'f.txt', content);
    const expected = oracleLines(content);
    for (const chunkBytes of chunks) {
      for (let n = 1; n <= maxN; n++) {
        const got = await collectSplits(file, n, { chunkBytes });
        expect(got.map((l) => l.line), `N=${n} chunk=${chunkBytes}`).to.deep.equal(expected);
      }
    }
  }

  it('empty file: no lines for any N', async () => {
    await checkSplits('', 4);
    expect(await collect(writeTmp(dir, 'e.txt', ''))).to.deep.equal([]);
  });

  it('no trailing newline: the last line is still read once', async () => {
    await checkSplits('alpha\nbeta\ngamma', 8);
    expect((await collect(writeTmp(dir, 'x.txt', 'a\nlast'))).map((l) => l.line)).to.deep.equal(['a', 'last']);
  });

  it('CRLF: terminators stripped, blank lines kept', async () => {
    await checkSplits('a\r\nbb\r\n\r\nccc\r\n', 8);
    expect((await collect(writeTmp(dir, 'c.txt', 'a\r\n\r\nb'))).map((l) => l.line)).to.deep.equal(['a', '', 'b']);
  });

  it('lines longer than a chunk, including a real > 1 MiB line at the default chunk size', async () => {
    await checkSplits(`${'x'.repeat(50)}\n\n${'y'.repeat(17)}\nz\n`, 9, [1, 4, 16, 64]);
    const big = 'b'.repeat(3 * (1 << 20) + 5);
    const file = writeTmp(dir, 'big.txt', `head\n${big}\ntail`);
    const got = await collect(file, undefined, { maxLineBytes: 4 << 20 });
    expect(got.map((l) => l.line.length)).to.deep.equal([4, big.length, 4]);
    expect(got[1].line === big).to.equal(true);
    expect(got.map((l) => l.offset)).to.deep.equal([0, 5, 6 + big.length]);
  });

  it('a range boundary exactly on a \\n and right after it: every 2-way cut position', async () => {
    const content = 'ab\n\ncde\nf\r\ng';
    const file = writeTmp(dir, 'cut.txt', content);
    const expected = oracleLines(content);
    for (let k = 0; k <= content.length; k++) {
      const ranges = [{ start: 0, end: k }, { start: k, end: content.length }];
      const got = await collectRanges(file, ranges, { chunkBytes: 2 });
      expect(got.map((l) => l.line), `cut at ${k}`).to.deep.equal(expected);
    }
    // Explicitly: range starting right after '\n' (offset 3) owns the empty line at 3.
    expect((await collect(file, { start: 3, end: 4 })).map((l) => [l.line, l.offset])).to.deep.equal([['', 3]]);
    // Range starting on the '\n' (offset 2) does not own the 'ab' line, and owns line 3.
    expect((await collect(file, { start: 2, end: 4 })).map((l) => [l.line, l.offset])).to.deep.equal([['', 3]]);
  });

  it('random multi-way cuts over random lines cover every line once', async () => {
    const next = rng(42);
    for (let trial = 0; trial < 40; trial++) {
      const lines = Array.from({ length: 1 + Math.floor(next() * 12) }, () => 'q'.repeat(Math.floor(next() * 6)));
      const content = lines.join(next() < 0.5 ? '\n' : '\r\n') + (next() < 0.5 ? '\n' : '');
      const file = writeTmp(dir, `r${trial}.txt`, content);
      const cuts = Array.from({ length: 3 }, () => Math.floor(next() * (content.length + 1))).sort((a, b) => a - b);
      const bounds = [0, ...cuts, content.length];
      const ranges: ByteRange[] = bounds.slice(1).map((end, i) => ({ start: bounds[i], end }));
      const got = await collectRanges(file, ranges, { chunkBytes: 1 + Math.floor(next() * 5) });
      expect(got.map((l) => l.line), JSON.stringify({ content, cuts })).to.deep.equal(oracleLines(content));
    }
  });

  it('N larger than the number of lines (and the byte count)', async () => {
    await checkSplits('a\nb\n', 10);
    await checkSplits('one line only', 20);
  });

  it('line numbers are known only from offset 0; offsets resume a shard', async () => {
    const file = writeTmp(dir, 'n.txt', 'l1\nl2\nl3\nl4\n');
    expect((await collect(file)).map((l) => l.lineNo)).to.deep.equal([1, 2, 3, 4]);
    const second = await collect(file, { start: 5, end: 12 });
    expect(second.map((l) => [l.line, l.lineNo])).to.deep.equal([['l3', undefined], ['l4', undefined]]);
    // Resuming from a reported offset yields that line first.
    const resumed = await collect(file, { start: second[1].offset, end: Infinity });
    expect(resumed.map((l) => l.line)).to.deep.equal(['l4']);
  });

  it('an over-long line is reported tooLong (not buffered) and the next line is intact', async () => {
    const file = writeTmp(dir, 'long.txt', `ok\n${'z'.repeat(100)}\nafter\r\n${'w'.repeat(10)}\r\n`);
    for (const chunkBytes of [1, 2, 3, 5, 1 << 20]) { // 1: the chunk boundary falls between \r and \n
      const got = await collect(file, undefined, { maxLineBytes: 10, chunkBytes });
      expect(got.map((l) => [l.line, l.tooLong, l.lineNo])).to.deep.equal(
        [['ok', false, 1], ['', true, 2], ['after', false, 3], ['w'.repeat(10), false, 4]]);
      expect(got[2].offset).to.equal(104);
    }
  });

  it('rejects a malformed range', async () => {
    const file = writeTmp(dir, 'r.txt', 'a\n');
    let caught: unknown;
    try { await collect(file, { start: 5, end: 2 }); } catch (err) { caught = err; }
    expect(caught).to.be.instanceOf(TesseraError);
    expect((caught as Error).message).to.match(/invalid byte range \[5, 2\)/);
  });
});
