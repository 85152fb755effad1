/**
 * Waiting in tests for something another party does (a PS applying a push, a buddy acknowledging
 * a batch): re-checks a condition until it holds, instead of sleeping a guessed time.
 */

/**
 * Resolves once `ok` (which may be async) holds, re-checking every few ms; rejects naming `what`
 * after `timeoutMs`.
 */
export async function until(ok: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
