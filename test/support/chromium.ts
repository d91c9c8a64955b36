/**
 * Chromium for the browser tests (Debian's `chromium` package, driven by playwright-core; no browser
 * is downloaded). Like test/support/pcscd.ts: what is missing is reported by `chromiumDeps()`;
 * `gateOnDeps()` (system-deps.ts) turns it into a loud skip locally, or into a failure when
 * DI_REQUIRE_SYSTEM_DEPS=1 (CI installs everything).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = process.env.DI_CHROMIUM ?? '/usr/bin/chromium';

/**
 * No sandbox (the tests run as root in a container), and none of Chromium's own traffic: no
 * background networking, component updates, default apps or first-run pages.
 */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-default-apps', '--no-first-run'];

let depsPromise: Promise<{ missing: string[] }> | null = null;

/** What the browser tests need, checked once per process. */
export function chromiumDeps(): Promise<{ missing: string[] }> {
  depsPromise ??= (async () => {
    const missing: string[] = [];
    let runs = false;
    try {
      accessSync(CHROMIUM, constants.X_OK);
      const r = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 20_000 });
      runs = r.error === undefined && r.status === 0 && /chrom/i.test(r.stdout);
    } catch {
      runs = false;
    }
    if (!runs) missing.push(`a working Chromium at ${CHROMIUM} (apt-get install chromium)`);
    try {
      await import('playwright-core');
    } catch (e) {
      missing.push(`playwright-core (npm ci): ${(e as Error).message}`);
    }
    return { missing };
  })();
  return depsPromise;
}


/** Headless Chromium with the arguments above. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
