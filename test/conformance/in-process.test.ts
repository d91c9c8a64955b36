/**
 * The card conformance suite over the in-process emulated reader: every profile, through the slot
 * broker (lease, filter, T=0 transport) and the `emulated` driver. The same cases run over a real
 * pcscd + vpcd in pcsc.test.ts.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { conformanceCases } from './cases.js';
import { inProcessHarness, type Harness } from './session.js';

const cases = conformanceCases();

describe('card conformance, in process (emulated reader)', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await inProcessHarness();
  });
  afterAll(async () => {
    await harness?.dispose();
  });

  for (const c of cases) {
    it(`${c.model}: ${c.profile}`, async () => {
      await c.run(harness);
    });
  }
});
