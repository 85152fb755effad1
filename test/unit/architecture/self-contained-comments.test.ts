/**
 * Issue #13: the sources explain themselves. A comment under src/ must not send the reader to a
 * document outside the repository (an external "STYLE" or "DESIGN" guide, or a sibling
 * `../shared` folder that future maintainers will not have); what a reader needs goes in the
 * comment itself or in docs/.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');

/** Every .ts file under `dir`, recursively. */
function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** References to documents that live outside the repository. */
const OUTSIDE = /\b(?:STYLE|DESIGN)(?:\.md)?\s*(?:§|\bsection\b|\bsays\b|\bdoc)|\b(?:STYLE|DESIGN)\.md\b|\.\.\/shared\b/;

describe('self-contained comments (issue #13)', () => {
  it('no source file under src/ cites a document outside the repository', () => {
    const hits = sources(path.join(ROOT, 'src')).flatMap((file) =>
      fs.readFileSync(file, 'utf8').split('\n').flatMap((line, i) => (OUTSIDE.test(line) ? [`${path.relative(ROOT, file)}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(hits, hits.join('\n')).to.deep.equal([]);
  });

  it('the pattern catches the forms such citations took', () => {
    for (const line of ['// see DESIGN §4', ' * (STYLE.md: small files)', "// from ../shared/DESIGN.md"]) expect(OUTSIDE.test(line), line).to.equal(true);
    for (const line of ['// the design of the shard map', 'const STYLE_KEYS = 1;']) expect(OUTSIDE.test(line), line).to.equal(false);
  });
});
