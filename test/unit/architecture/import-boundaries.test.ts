/**
 * Issue #13: the layering of src/ goes one way. Every import between top-level folders must be
 * an edge allowed below, no set of folders may import each other in a circle, and no set of
 * files may either. docs/ARCHITECTURE.md ("Layers") explains the order; change both together.
 */
import { expect } from 'chai';
import * as path from 'node:path';
import { cycles, folderOf, readImports } from '../../helpers/import-graph';

/** The repository's src/, from dist/test/unit/architecture/ (compiled) or test/unit/architecture/. */
const SRC = path.resolve(__dirname, '..', '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '', 'src');

/**
 * Which folders each folder may import, bottom layer first. A folder may always import itself.
 * `cli` is the only top: it may import every folder. `(root)` is src/index.ts, the library's
 * entry point (package.json `exports`).
 */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  common: [],
  wire: ['common'],
  sharding: ['common', 'wire'],
  data: ['common'],
  stream: ['common', 'data'],
  eval: ['common'],
  model: ['common'],
  metrics: ['common'],
  checkpoint: ['common', 'sharding'],
  ps: ['common', 'wire', 'sharding', 'metrics', 'checkpoint'],
  client: ['common', 'wire', 'sharding', 'checkpoint', 'ps'],
  membership: ['common', 'sharding'],
  control: ['common', 'membership'],
  spec: ['common', 'wire', 'sharding', 'data', 'eval', 'ps', 'membership'],
  runtime: ['common', 'wire', 'metrics', 'membership'],
  export: ['common', 'wire', 'checkpoint', 'ps', 'spec'],
  infer: ['common', 'wire', 'data', 'model', 'ps', 'spec'],
  serve: ['common', 'wire', 'sharding', 'data', 'eval', 'model', 'metrics', 'ps', 'spec', 'export', 'infer'],
  worker: ['common', 'wire', 'sharding', 'data', 'stream', 'eval', 'model', 'checkpoint', 'ps', 'client', 'control', 'spec', 'metrics', 'export', 'infer'],
  chief: ['common', 'sharding', 'data', 'stream', 'eval', 'checkpoint', 'client', 'membership', 'control', 'spec', 'worker', 'metrics', 'export'],
  gen: ['common', 'eval'],
  local: ['common', 'membership', 'control', 'runtime'],
  '(root)': ['common', 'wire', 'sharding', 'ps', 'client', 'spec'],
  cli: ['*'],
};

function allowed(from: string, to: string): boolean {
  const list = ALLOWED[from];
  return from === to || (list !== undefined && (list.includes('*') || list.includes(to)));
}

describe('import boundaries of src/ (issue #13)', () => {
  const { files, edges, unresolved } = readImports(SRC);

  it('reads the imports of every source file, and each resolves to a file under src/', () => {
    expect(files.length).to.be.greaterThan(100);
    expect(edges.length).to.be.greaterThan(files.length);
    expect(unresolved).to.deep.equal([]);
  });

  it('places every folder of src/ in the allowed list, and lists no folder that is gone', () => {
    const folders = new Set(files.map(folderOf));
    expect([...folders].filter((f) => !(f in ALLOWED)), 'folders missing from ALLOWED').to.deep.equal([]);
    expect(Object.keys(ALLOWED).filter((f) => !folders.has(f)), 'ALLOWED names folders that do not exist').to.deep.equal([]);
  });

  it('imports across folders only along allowed edges', () => {
    const bad = edges
      .filter((e) => !allowed(folderOf(e.from), folderOf(e.to)))
      .map((e) => `${folderOf(e.from)} -> ${folderOf(e.to)}: src/${e.from}:${e.line} imports src/${e.to}`);
    expect(bad, 'imports that break the layering').to.deep.equal([]);
  });

  it('has no cycle between folders', () => {
    const next = new Map<string, Set<string>>();
    for (const e of edges) {
      const [a, b] = [folderOf(e.from), folderOf(e.to)];
      if (a !== b) (next.get(a) ?? next.set(a, new Set()).get(a)!).add(b);
    }
    expect(cycles(new Set(files.map(folderOf)), (n) => next.get(n) ?? []), 'folders importing each other').to.deep.equal([]);
  });

  it('has no cycle between files', () => {
    const next = new Map<string, Set<string>>();
    for (const e of edges) if (e.from !== e.to) (next.get(e.from) ?? next.set(e.from, new Set()).get(e.from)!).add(e.to);
    expect(cycles(files, (n) => next.get(n) ?? []), 'files importing each other').to.deep.equal([]);
  });
});
