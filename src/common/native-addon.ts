/**
 * Where Tessera's N-API addons live and how they are loaded: `scripts/build-native.sh` compiles
 * `native/*.c` into `native/build/*.node` with the system C compiler (ADR 0014, ADR 0041). A
 * missing or broken addon is not an error here: the caller gets the reason and runs its
 * JavaScript (or wasm) fallback.
 *
 * ```ts
 * const loaded = loadAddon<MyAddon>(path.join('native', 'build', 'my.node'), 'gcc');
 * if (loaded.ok) loaded.addon.run();
 * ```
 */
import * as path from 'node:path';

/** The package root from this file, whether it runs from `src/` (ts-node) or `dist/src/`. */
export function packageRoot(): string {
  return path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');
}

/**
 * Loads the addon at `file` (absolute, or relative to the package root), or says why it cannot:
 * not built (`needs` names what the build requires), or built for another platform or library.
 */
export function loadAddon<T>(file: string, needs: string): { ok: true; addon: T } | { ok: false; reason: string } {
  const at = path.isAbsolute(file) ? file : path.join(packageRoot(), file);
  try {
    return { ok: true, addon: require(at) as T };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const why = e.code === 'MODULE_NOT_FOUND'
      ? `${at} is not built (scripts/build-native.sh; needs ${needs})`
      : `${at}: ${String(e.message ?? err).split('\n')[0]}`;
    return { ok: false, reason: why };
  }
}
