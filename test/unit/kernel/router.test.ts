import { describe, expect, it } from 'vitest';
import { Router, ProtocolViolation, type OpTable, type OpHandler } from '../../../platform/kernel/router.js';
import { REQUEST_OPS, type WireError, type WireValue } from '../../../platform/wire/messages.js';
import { DEFAULT_LIMITS, type Policy } from '../../../platform/kernel/policy/types.js';
import { KernelError } from '../../../platform/kernel/errors.js';

function policy(limits: Partial<Policy['limits']> = {}): Policy {
  return {
    schemaVersion: 1,
    domain: 'd',
    applet: { id: 'd' },
    limits: { ...DEFAULT_LIMITS, ...limits },
    cardClasses: [],
    store: { quotaBytes: 0 },
    network: { endpoints: [] },
    intents: { request: [], handle: [] },
    ui: { foreground: false, pinEntry: false },
  };
}

function table(h: OpHandler): OpTable {
  return Object.fromEntries(REQUEST_OPS.map((op) => [op, h])) as OpTable;
}

type Result = { ok: true; value: WireValue | undefined } | { ok: false; error: WireError };

function collect() {
  const replies = new Map<number, Result>();
  const waiters = new Map<number, (r: Result) => void>();
  return {
    reply: (id: number, r: Result) => {
      replies.set(id, r);
      waiters.get(id)?.(r);
    },
    wait: (id: number) => new Promise<Result>((res) => (replies.has(id) ? res(replies.get(id) as Result) : waiters.set(id, res))),
  };
}

describe('router', () => {
  it('answers a call with the handler value under the same id', async () => {
    const r = new Router({ ops: table(async (ctx, args) => ({ domain: ctx.domain, echo: args.x ?? null })), deadlineMs: () => 1000, redact: (s) => s });
    r.attach('d', policy());
    const c = collect();
    r.dispatch('d', { t: 'req', id: 7, op: 'clock.now', args: { x: 1 } }, c.reply);
    expect(await c.wait(7)).toEqual({ ok: true, value: { domain: 'd', echo: 1 } });
  });

  it('refuses calls beyond the in-flight bound with E_QUEUE (back-pressure)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const r = new Router({ ops: table(async () => (await gate, null)), deadlineMs: () => 5000, redact: (s) => s });
    r.attach('d', policy({ queueLength: 2 }));
    const c = collect();
    for (const id of [1, 2, 3]) r.dispatch('d', { t: 'req', id, op: 'clock.now', args: {} }, c.reply);
    const third = await c.wait(3);
    expect(third.ok).toBe(false);
    expect(!third.ok && third.error.code).toBe('E_QUEUE');
    release();
    expect((await c.wait(1)).ok).toBe(true);
    expect((await c.wait(2)).ok).toBe(true);
  });

  it('rate-limits with a token bucket and refills over time', async () => {
    let now = 0;
    const r = new Router({ ops: table(async () => null), deadlineMs: () => 1000, redact: (s) => s, now: () => now });
    r.attach('d', policy({ ratePerSecond: 3 }));
    const c = collect();
    for (const id of [1, 2, 3, 4]) r.dispatch('d', { t: 'req', id, op: 'clock.now', args: {} }, c.reply);
    const fourth = await c.wait(4);
    expect(!fourth.ok && fourth.error.code).toBe('E_RATE');
    now += 1000;
    r.dispatch('d', { t: 'req', id: 5, op: 'clock.now', args: {} }, c.reply);
    expect((await c.wait(5)).ok).toBe(true);
  });

  it('answers E_DEADLINE when a call outlives its deadline, and aborts its signal', async () => {
    let aborted = false;
    const r = new Router({
      ops: table((ctx) => new Promise(() => ctx.signal.addEventListener('abort', () => (aborted = true)))),
      deadlineMs: () => 30,
      redact: (s) => s,
    });
    r.attach('d', policy());
    const c = collect();
    r.dispatch('d', { t: 'req', id: 1, op: 'ui.ask', args: {} }, c.reply);
    const res = await c.wait(1);
    expect(!res.ok && res.error.code).toBe('E_DEADLINE');
    expect(aborted).toBe(true);
  });

  it('treats a request id reused while in flight as a protocol violation', () => {
    const r = new Router({ ops: table(() => new Promise(() => undefined)), deadlineMs: () => 1000, redact: (s) => s });
    r.attach('d', policy());
    const c = collect();
    r.dispatch('d', { t: 'req', id: 1, op: 'clock.now', args: {} }, c.reply);
    expect(() => r.dispatch('d', { t: 'req', id: 1, op: 'clock.now', args: {} }, c.reply)).toThrow(ProtocolViolation);
  });

  it('passes kernel error codes through, but hides unexpected internal errors', async () => {
    const r = new Router({
      ops: {
        ...table(async () => {
          throw new Error('/secret/host/path exploded');
        }),
        'store.get': async () => {
          throw new KernelError('E_QUOTA', 'quota of 10 bytes exceeded');
        },
      },
      deadlineMs: () => 1000,
      redact: (s) => s,
    });
    r.attach('d', policy());
    const c = collect();
    r.dispatch('d', { t: 'req', id: 1, op: 'clock.now', args: {} }, c.reply);
    r.dispatch('d', { t: 'req', id: 2, op: 'store.get', args: {} }, c.reply);
    const a = await c.wait(1);
    const b = await c.wait(2);
    expect(!a.ok && a.error).toEqual({ code: 'E_INTERNAL', message: expect.not.stringContaining('/secret') });
    expect(!b.ok && b.error).toEqual({ code: 'E_QUOTA', message: 'quota of 10 bytes exceeded' });
  });

  it('cancelAll drops in-flight calls without replying (their isolate is gone)', async () => {
    const r = new Router({ ops: table(() => new Promise((res) => setTimeout(() => res(1), 20))), deadlineMs: () => 1000, redact: (s) => s });
    r.attach('d', policy());
    const replies: number[] = [];
    r.dispatch('d', { t: 'req', id: 1, op: 'clock.now', args: {} }, (id) => replies.push(id));
    expect(r.inFlight('d')).toBe(1);
    r.cancelAll('d');
    await new Promise((res) => setTimeout(res, 50));
    expect(replies).toEqual([]);
    expect(r.inFlight('d')).toBe(0);
  });
});
