/**
 * The Python grpcio client of the interop tests (Debian's python3-grpcio and python3-grpc-tools):
 * where to find it, and how a test skips without it.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/** test/interop, where the Python scripts live (from dist/test/helpers). */
export const INTEROP_DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'interop');

const SKIP_MESSAGE = 'Python grpc not installed: apt-get install -y python3-grpcio python3-grpc-tools';

/** The first Python that has grpc and grpc_tools, or null. */
export function findPython(): string | null {
  for (const py of [process.env.TESSERA_PYTHON, 'python3', '/usr/bin/python3']) {
    if (py && spawnSync(py, ['-c', 'import grpc, grpc_tools'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

/**
 * For a `before` hook: the Python to use; skips the suite, saying why, when there is none, or
 * fails when TESSERA_REQUIRE_PYTHON_GRPC=1.
 */
export function pythonOrSkip(ctx: Mocha.Context): string {
  const python = findPython();
  if (python) return python;
  if (process.env.TESSERA_REQUIRE_PYTHON_GRPC === '1') throw new Error(`TESSERA_REQUIRE_PYTHON_GRPC=1 but ${SKIP_MESSAGE}`);
  // eslint-disable-next-line no-console
  console.warn(`  skipping: ${SKIP_MESSAGE}`);
  return ctx.skip() as never;
}
