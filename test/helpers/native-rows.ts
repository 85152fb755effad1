/**
 * The `before` hook of a suite that needs the native rows addon (src/common/native-rows.ts):
 * skips the suite when the addon is not built, unless TESSERA_REQUIRE_NATIVE=1 (CI), where it
 * fails naming why.
 */
import { loadNativeRows, useNativeRows } from '../../src/common/native-rows';

/** Call inside a `describe`: registers the hook. */
export function requireNativeRowsOrSkip(): void {
  before(function () {
    const loaded = loadNativeRows();
    if (loaded.ok) return;
    if (process.env.TESSERA_REQUIRE_NATIVE === '1') throw new Error(`native rows addon required: ${loaded.reason}`);
    this.skip();
  });
}

/** `f` with the JavaScript loops, then with the native kernels (the process-wide switch restored after). */
export function bothPaths<T>(f: () => T): { js: T; native: T } {
  const was = useNativeRows(false);
  try {
    const js = f();
    useNativeRows(true);
    return { js, native: f() };
  } finally {
    useNativeRows(was);
  }
}
