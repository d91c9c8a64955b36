/**
 * Policy timers: the kernel calls onTimer for each timer the policy grants, never for one it does not,
 * and never re-enters a timer whose previous call is still running.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applet, bootDev, devPolicy, until, type DevKernel } from '../support/dev-kernel.js';

const TICKER = `
let active = 0;
globalThis.onTimer = async (e) => {
  active++;
  const calls = ((await platform.store.get('calls')) ?? 0) + 1;
  const max = Math.max((await platform.store.get('maxActive')) ?? 0, active);
  await platform.store.transaction([
    { op: 'put', key: 'calls', value: calls },
    { op: 'put', key: 'maxActive', value: max },
    { op: 'put', key: 'last', value: e.name },
  ]);
  // Longer than the period: the next tick must be skipped, not queued beside this one.
  await platform.ui.ask({ text: 'attente', choices: ['ok'], timeoutMs: 2500 });
  active--;
};
globalThis.main = async () => ({ calls: (await platform.store.get('calls')) ?? 0, maxActive: (await platform.store.get('maxActive')) ?? 0, last: (await platform.store.get('last')) ?? null });
`;

describe('policy timers', () => {
  let dk: DevKernel;
  beforeAll(async () => {
    dk = await bootDev([
      applet(devPolicy('ticker', { timers: [{ name: 'retry', everyMs: 1000 }] }), TICKER),
      // Same handler, no timer granted.
      applet(devPolicy('quiet'), TICKER),
    ]);
    await until(() => dk.kernel.handlers.get('ticker') && dk.kernel.handlers.get('quiet'), 15_000, 'hosts ready');
  }, 60_000);
  afterAll(async () => {
    await dk?.close();
  });

  it('calls onTimer with the timer name, without overlapping a call still running; a domain without the grant is never called', async () => {
    const main = (d: string) => dk.kernel.call(d, 'main') as Promise<{ calls: number; maxActive: number; last: string | null }>;
    const t0 = Date.now();
    let r = await main('ticker');
    while (r.calls < 2 && Date.now() - t0 < 20_000) {
      await new Promise((res) => setTimeout(res, 200));
      r = await main('ticker');
    }
    expect(r.calls).toBeGreaterThanOrEqual(2);
    expect(r.last).toBe('retry');
    expect(r.maxActive).toBe(1);
    expect(await main('quiet')).toEqual({ calls: 0, maxActive: 0, last: null });
  });
});
