import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RowReader } from '../../../src/data/reader';
import { schemaFor } from '../../../src/data/record';
import { gzipSync } from 'zlib';

function criteoLine(i: number): string {
  return [i % 2, ...Array.from({ length: 13 }, (_, k) => String(i + k)), ...Array.from({ length: 26 }, (_, k) => (k + i).toString(16).padStart(8, '0'))].join('\t');
}

describe('RowReader resume positions', () => {
  let dir: string;
  let file: string;
  const n = 103;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-pos-'));
    file = path.join(dir, 'rows.txt');
    // Mixed terminators and a blank and a bad line, to check positions count every byte.
    const lines = Array.from({ length: n }, (_, i) => criteoLine(i) + (i % 7 === 0 ? '\r' : ''));
    lines.splice(50, 0, '', 'garbage');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('resuming at any batch\'s `next` reads exactly the rows after that batch', async () => {
    const schema = schemaFor('criteo');
    const all: string[] = [];
    const positions: { next: number; seen: number }[] = [];
    for await (const b of new RowReader(file, schema, { maxErrorRate: 0.05 }).positionedBatches(10)) {
      for (const r of b.rows) all.push(JSON.stringify(r));
      positions.push({ next: b.next, seen: all.length });
    }
    expect(all.length).to.equal(n);
    expect(positions[positions.length - 1].next).to.equal(fs.statSync(file).size);
    for (const { next, seen } of positions) {
      const rest: string[] = [];
      const end = fs.statSync(file).size;
      for await (const b of new RowReader(file, schema, { range: { start: next, end }, maxErrorRate: 0.5 }).positionedBatches(7)) {
        for (const r of b.rows) rest.push(JSON.stringify(r));
      }
      expect(rest, `resume at ${next}`).to.deep.equal(all.slice(seen));
    }
  });

  it('skipBefore resumes a gzip file (no seeking) at the same rows', async () => {
    const gz = path.join(dir, 'rows.txt.gz');
    fs.writeFileSync(gz, gzipSync(fs.readFileSync(file)));
    const schema = schemaFor('criteo');
    const batches = [];
    for await (const b of new RowReader(gz, schema, { maxErrorRate: 0.05 }).positionedBatches(25)) batches.push(b);
    const second = batches[1];
    const rest: number[] = [];
    for await (const b of new RowReader(gz, schema, { skipBefore: second.next, maxErrorRate: 0.5 }).positionedBatches(25)) rest.push(b.rows.length);
    expect(rest.reduce((x, y) => x + y, 0)).to.equal(n - 50);
  });
});
