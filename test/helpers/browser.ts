// Debian's Chromium, headless, driven by playwright-core: the launch every page test uses, and an app served to it.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps trying hosts this machine cannot reach.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** A skip reason when Chromium is not installed, else false. */
export const chromiumMissing: string | false = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;

/** A new headless Chromium, closed after the test (for a page on a daemon the test started itself). */
export async function launchChromium(t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  return browser;
}

/**
 * Serves `app` on a free loopback port and opens a page in a new headless Chromium; both closed after the test.
 * `browser` is there for a second page or context (another site, a phone).
 */
export async function openInBrowser(
  app: FastifyInstance,
  t: TestContext,
  viewport?: { width: number; height: number },
): Promise<{ page: Page; base: string; browser: Browser }> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(async () => {
    await browser.close();
    await app.close();
  });
  return { page: await browser.newPage(viewport ? { viewport } : {}), base: `http://127.0.0.1:${address.port}`, browser };
}
