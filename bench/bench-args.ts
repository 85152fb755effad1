/** Command-line numbers of the benchmarks: `--name N`, positive integers, with a default. */
export function argNum(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer, got ${process.argv[i + 1]}`);
  return v;
}

/** Command-line lists of the benchmarks: `--name a,b,c`, positive integers, with a default. */
export function argList(name: string, fallback: number[]): number[] {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = String(process.argv[i + 1]).split(',').map(Number);
  if (v.some((x) => !Number.isInteger(x) || x <= 0)) throw new Error(`--${name} needs comma-separated positive integers, got ${process.argv[i + 1]}`);
  return v;
}
