/**
 * Debian's headless Chromium for tests of web pages, driven by playwright-core (no browser
 * download). Tests skip with a message when it is absent, and fail instead with
 * TESSERA_REQUIRE_CHROMIUM=1 (CI).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_SKIP_MESSAGE = `chromium not found at ${CHROMIUM}: apt-get install -y chromium`;

/** Skips the suite when Chromium is absent; throws instead with TESSERA_REQUIRE_CHROMIUM=1. */
export function requireChromium(ctx: Mocha.Context): void {
  if (fs.existsSync(CHROMIUM)) return;
  if (process.env.TESSERA_REQUIRE_CHROMIUM === '1') throw new Error(`TESSERA_REQUIRE_CHROMIUM=1 but ${CHROMIUM_SKIP_MESSAGE}`);
  // eslint-disable-next-line no-console
  console.warn(`  skipping: ${CHROMIUM_SKIP_MESSAGE}`);
  ctx.skip();
}

/** Headless Chromium with a new, empty profile in `dir`, reaching nothing but what the test serves. */
export function launchChromium(dir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 1100 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--allow-file-access-from-files'],
  });
}

/** Where screenshots are kept: $TESSERA_TEST_ARTIFACTS, or tessera-test-artifacts in the temp dir. */
export function artifactDir(): string {
  const dir = process.env.TESSERA_TEST_ARTIFACTS ?? path.join(require('node:os').tmpdir(), 'tessera-test-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
