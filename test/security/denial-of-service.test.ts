/**
 * CPU and memory exhaustion are contained to the guilty domain: its call is terminated by the
 * watchdog (or its host dies and is restarted), while another domain keeps serving throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, applet, devPolicy, until, type DevKernel } from '../support/dev-kernel.js';

const HOSTILE = `
globalThis.onIntent = async (req) => {
  switch (req.payload.kind) {
    case 'sync': for (;;) {}
    case 'microtask': return new Promise(() => { const f = () => Promise.resolve().then(f); f(); });
    case 'awaited': for (;;) await platform.clock.now();
    case 'memory': { const a = []; for (;;) a.push(new Array(1e6).fill(1)); }
    case 'ok': return { alive: true };
  }
};
`;
const GOOD = `let n = 0; globalThis.onIntent = async () => ({ n: ++n });`;

describe('denial of service', () => {
  let dk: DevKernel;
  beforeAll(async () => {
    dk = await bootDev([
      // A rate limit high enough that the CPU watchdog, not E_RATE, is what stops the awaited loop.
      applet(devPolicy('hostile', { limits: { cpuMsPerCall: 200, wallMsPerCall: 400, memoryMb: 32, ratePerSecond: 1_000_000 } as never }), HOSTILE),
      applet(devPolicy('bystander'), GOOD),
    ]);
    // Both hosts must be up before the attacks: a start that failed at boot (and is being retried)
    // is not what these tests measure.
    await dk.kernel.supervisor.waitReady('hostile', 20_000);
    await dk.kernel.supervisor.waitReady('bystander', 20_000);
  });
  afterAll(async () => dk.close());

  const hostile = (kind: string) => dk.kernel.call('hostile', 'onIntent', [{ from: 't', action: 'x', payload: { kind } }], 15_000);

  /** Calls the bystander every 20 ms while `attack` runs; all its calls must succeed. */
  async function whileServing(attack: () => Promise<unknown>): Promise<{ err: unknown; served: number }> {
    let served = 0;
    let done = false;
    const loop = (async () => {
      while (!done) {
        await dk.kernel.call('bystander', 'onIntent', [{ from: 't', action: 'x', payload: {} }], 5_000);
        served++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const since = dk.kernel.audit.lastSeq;
    const err = await attack().then(() => null, (e: unknown) => e);
    done = true;
    await loop.catch((e: unknown) => {
      // What happened to the bystander meanwhile, for the failure report.
      const seen = dk.kernel.audit.entriesSince(since).filter((x) => x.domain === 'bystander').map((x) => `${x.event} ${JSON.stringify(x.fields)}`);
      throw new Error(`the bystander stopped serving after ${served} calls: ${(e as Error).message}; its audit meanwhile: ${seen.join(' | ') || 'nothing'}`);
    });
    return { err, served };
  }

  const ids: Record<string, string> = { sync: 'DOS-01', microtask: 'DOS-02', awaited: 'DOS-03' };
  for (const kind of ['sync', 'microtask', 'awaited']) {
    it(`[${ids[kind]}] an endless ${kind} loop is terminated by the watchdog while the other domain serves`, async () => {
      const before = dk.kernel.audit.lastSeq;
      const { err, served } = await whileServing(() => hostile(kind));
      expect((err as { code?: string }).code).toBe('E_TERMINATED');
      expect(served).toBeGreaterThan(0);
      const breach = dk.kernel.audit.entriesSince(before).find((e) => e.event === 'watchdog.breach' && e.domain === 'hostile');
      expect(breach?.fields).toMatchObject({ kind: expect.stringMatching(/cpu|wall/) });
      // The applet was restarted in a fresh isolate and serves again.
      await dk.kernel.supervisor.waitReady('hostile', 10_000);
      expect(await hostile('ok')).toEqual({ alive: true });
    });
  }

  it('[DOS-04] a memory bomb is contained to its host; the domain comes back', async () => {
    const before = dk.kernel.audit.lastSeq;
    const { err, served } = await whileServing(() => hostile('memory'));
    expect(['E_TERMINATED', 'E_UNAVAILABLE']).toContain((err as { code?: string }).code);
    expect(served).toBeGreaterThan(0);
    const events = dk.kernel.audit.entriesSince(before).filter((e) => e.domain === 'hostile').map((e) => e.event);
    expect(events.some((e) => e === 'watchdog.breach' || e === 'host.exit')).toBe(true);
    await until(() => dk.kernel.supervisor.state('hostile')?.state === 'ready', 15_000, 'hostile back');
    expect(await hostile('ok')).toEqual({ alive: true });
  });
});
