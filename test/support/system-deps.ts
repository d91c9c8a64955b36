/**
 * Tests that need system packages (pcscd + vpcd, chromium) run when those are there. Otherwise they
 * are skipped loudly, or fail when DI_REQUIRE_SYSTEM_DEPS=1 (CI installs everything).
 */

/** True when the tests can run; else throws under DI_REQUIRE_SYSTEM_DEPS=1, or warns loudly and returns false. */
export function gateOnDeps(what: string, missing: string[]): boolean {
  if (missing.length === 0) return true;
  const text = `${what} need: ${missing.join('; ')}`;
  if (process.env.DI_REQUIRE_SYSTEM_DEPS === '1') throw new Error(`DI_REQUIRE_SYSTEM_DEPS=1 and ${text}`);
  const bar = '!'.repeat(78);
  console.warn(`\n${bar}\nSKIPPED: ${text}\n${bar}\n`);
  return false;
}
