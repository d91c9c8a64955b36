/**
 * The card conformance suite through a real PC/SC stack: one private pcscd for the file (vpcd as its
 * reader driver), each profile served in turn into vpcd slot 0 by the bridge, driven by the `pcsc`
 * slot driver under the real slot broker. Same cases as in-process.test.ts.
 *
 * Needs pcscd, vsmartcard-vpcd, the `smartcard` binding and root (test/support/pcscd.ts): skipped
 * loudly without them, failed under DI_REQUIRE_SYSTEM_DEPS=1.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { gateOnDeps, pcscDeps } from '../support/pcscd.js';
import { conformanceCases } from './cases.js';
import { pcscHarness, type PcscHarness } from './session.js';

const deps = await pcscDeps();
const runnable = gateOnDeps('card conformance over PC/SC (pcscd + vpcd)', deps.missing);
const cases = conformanceCases();

describe.runIf(runnable)('card conformance, through pcscd + vpcd (pcsc driver)', () => {
  let harness: PcscHarness;
  beforeAll(async () => {
    harness = await pcscHarness(deps.binding!);
  });
  afterAll(async () => {
    if (harness === undefined) return;
    const { apdus, ms } = harness.stats;
    if (apdus > 0) {
      // Reported, not asserted: it depends on the machine (and on loopback quick ACKs being available).
      console.log(`[conformance/pcsc] ${apdus} APDUs through the broker in ${ms.toFixed(0)} ms: ${(ms / apdus).toFixed(2)} ms per APDU (61xx/6Cxx rounds included)`);
    }
    await harness.dispose();
  });

  for (const c of cases) {
    it(`${c.model}: ${c.profile}`, async () => {
      try {
        await c.run(harness);
      } catch (e) {
        // pcscd's own view helps when something goes wrong on this path.
        const log = harness.pcscd.log().split('\n').slice(-25).join('\n');
        if (e instanceof Error) e.message += `\n--- last pcscd log lines ---\n${log}`;
        throw e;
      }
    });
  }
});
