/**
 * The elements of a list-valued cell (`features.lists`): a categorical column whose value is a
 * variable-length list of ids joined by a separator, e.g. a user's click history
 * `"a9f1|03bc|77e0"`. The readers keep such a cell as its raw string, like any categorical value;
 * this is the one place it is split, for training, evaluation and serving alike.
 *
 * Rules: elements are the pieces between separators; empty pieces (`"a||b"`, a leading or
 * trailing separator) are skipped; when more than `maxLen` remain, the LAST `maxLen` are kept (a
 * history written oldest first keeps its most recent entries). Order is kept. An empty or missing
 * cell is an empty list.
 */

/**
 * Writes the elements of `cell` into `out` (cleared first) and returns their count.
 *
 * ```ts
 * const els: string[] = [];
 * splitListCell('a|b||c', '|', 2, els); // 2, els = ['b', 'c']
 * ```
 * @param separator a non-empty string (the spec validator guarantees it)
 * @param maxLen elements kept, >= 1
 */
export function splitListCell(cell: string | null | undefined, separator: string, maxLen: number, out: string[]): number {
  out.length = 0;
  if (cell === null || cell === undefined || cell.length === 0) return 0;
  let pos = 0;
  for (;;) {
    const stop = cell.indexOf(separator, pos);
    const end = stop < 0 ? cell.length : stop;
    if (end > pos) out.push(cell.substring(pos, end));
    if (stop < 0) break;
    pos = stop + separator.length;
  }
  if (out.length > maxLen) out.splice(0, out.length - maxLen);
  return out.length;
}
