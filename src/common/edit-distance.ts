/** Levenshtein distance between short strings (keys, field names): O(|a|·|b|) time. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The candidate closest to `word` (a likely typo of it: case aside, at most `maxDistance` edits),
 * or undefined. What every "did you mean" of Tessera uses: flags, commands, model kinds.
 */
export function closest(word: string, candidates: Iterable<string>, maxDistance = 2): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(c, word);
    if (d <= maxDistance && (best === undefined || d < best.d)) best = { c, d };
  }
  return best?.c;
}
