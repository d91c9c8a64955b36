/** HostRuntime in-process (fake pipe), for what the spawned host does not let a test tune. */
import { describe, expect, it } from 'vitest';
import { HostRuntime } from '../../../platform/host/runtime.js';
import type { BreachMessage, HostToKernel, ReadyMessage, ResultMessage } from '../../../platform/wire/messages.js';
import { validateHostToKernel } from '../../../platform/wire/validate.js';
import { PROBE_APPLET } from '../../fixtures/host/harness.js';

function rig(callDeadlineMs: number) {
  const sent: HostToKernel[] = [];
  const exits: number[] = [];
  const waiters: Array<() => void> = [];
  const runtime = new HostRuntime(
    {
      send: (msg) => {
        sent.push(validateHostToKernel(msg));
        for (const w of waiters.splice(0)) w();
      },
      exit: (code) => exits.push(code),
      log: () => undefined,
    },
    { callDeadlineMs },
  );
  async function until<T extends HostToKernel>(match: (m: HostToKernel) => m is T, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = sent.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out; sent ${JSON.stringify(sent.map((m) => m.t))}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
  return { runtime, sent, exits, until };
}

describe('HostRuntime', () => {
  it('a handler that never settles is reclaimed at the call deadline (breach deadline), then the host serves again', async () => {
    const { runtime, sent, exits, until } = rig(400);
    runtime.receive({
      t: 'init', domain: 'd', script: PROBE_APPLET, filename: 'a.js',
      limits: { memoryMb: 32, cpuMsPerCall: 200, wallMsPerCall: 200 }, clockGranularityMs: 10,
    });
    await until((m): m is ReadyMessage => m.t === 'ready');
    const started = Date.now();
    runtime.receive({ t: 'call', id: 1, handler: 'main', args: ['await new Promise(() => {})'] });
    const breach = await until((m): m is BreachMessage => m.t === 'breach');
    expect(breach).toMatchObject({ kind: 'deadline', callId: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(sent.find((m) => m.t === 'result' && m.id === 1)).toMatchObject({ ok: false, error: { code: 'E_BREACH' } });
    await until((m): m is ReadyMessage => m.t === 'ready' && sent.indexOf(m) > sent.indexOf(breach));
    runtime.receive({ t: 'call', id: 2, handler: 'main', args: ['return "again"'] });
    expect(await until((m): m is ResultMessage => m.t === 'result' && m.id === 2)).toEqual({ t: 'result', id: 2, ok: true, value: 'again' });
    runtime.shutdown();
    await new Promise((r) => setTimeout(r, 300));
    expect(exits).toEqual([0]);
  });
});
