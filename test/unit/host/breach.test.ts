/**
 * Limits enforced by the host on a live isolate: CPU, wall clock, memory, breach recovery and the
 * breach budget. Each test runs a real host process and a hostile applet.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BreachMessage, FatalMessage, ReadyMessage } from '../../../platform/wire/messages.js';
import { FakeKernel, PROBE_APPLET, buildHost, valueOf } from '../../fixtures/host/harness.js';

let host: { file: string; cleanup(): void };
const kernels: FakeKernel[] = [];
beforeAll(async () => {
  host = await buildHost();
});
afterEach(async () => {
  for (const k of kernels.splice(0)) {
    expect(k.violations).toEqual([]);
    await k.close();
  }
});
afterAll(() => host?.cleanup());

function kernel(): FakeKernel {
  const k = new FakeKernel(host.file);
  kernels.push(k);
  return k;
}

const isBreach = (m: { t: string }): m is BreachMessage => m.t === 'breach';
const isReady = (m: { t: string }): m is ReadyMessage => m.t === 'ready';

/** Runs `src` in main() on a fresh host; expects a breach, a failed result, and a fresh ready. */
async function expectBreach(k: FakeKernel, src: string) {
  const before = k.messages.length;
  const started = Date.now();
  const result = await k.call('main', [src], 20_000);
  const breach = await k.waitFor(isBreach, 5000, before);
  await k.waitFor(isReady, 10_000, before);
  // The breach is reported before the killed call's result.
  expect(k.messages.indexOf(breach)).toBeLessThan(k.messages.indexOf(result));
  expect(result.ok).toBe(false);
  expect(result.error?.code).toBe('E_BREACH');
  expect(breach.callId).toBe(result.id);
  return { breach, result, ms: Date.now() - started };
}

describe('CPU and wall limits', () => {
  it('kills a synchronous infinite loop, rebuilds the isolate and serves the next call', async () => {
    const k = kernel();
    await k.init(`${PROBE_APPLET}\nvar counter = 0;`, { limits: { cpuMsPerCall: 200, wallMsPerCall: 3000 } });
    expect(valueOf(await k.call('main', ['counter = 41; return counter']))).toBe(41);
    const { breach, ms } = await expectBreach(k, 'for (;;) {}');
    expect(breach.kind).toBe('cpu');
    expect(ms).toBeLessThan(3000);
    // Fresh context: the old global state is gone, and the host serves calls again.
    expect(valueOf(await k.call('main', ['return counter']))).toBe(0);
    expect(k.readyCount()).toBe(2);
  });

  it('kills an endless microtask chain (never returns to the event loop)', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET, { limits: { cpuMsPerCall: 200, wallMsPerCall: 3000 } });
    const { breach } = await expectBreach(k, 'Promise.resolve().then(function f() { return Promise.resolve().then(f) }); await new Promise(() => {})');
    expect(breach.kind).toBe('cpu');
    expect(valueOf(await k.call('main', ['return "alive"']))).toBe('alive');
  });

  it('kills an endless loop of awaited platform calls', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET, { limits: { cpuMsPerCall: 100, wallMsPerCall: 1500 } });
    const { breach } = await expectBreach(k, 'for (;;) await platform.clock.now()');
    expect(breach.kind).toBe('cpu');
    expect(k.requests.filter((r) => r.op === 'clock.now').length).toBeGreaterThan(10);
  });

  it('charges CPU across awaits: many short slices separated by platform calls add up', async () => {
    const k = kernel();
    // Wall is generous, so only cumulative CPU can trip.
    await k.init(PROBE_APPLET, { limits: { cpuMsPerCall: 150, wallMsPerCall: 20_000 } });
    const { breach } = await expectBreach(k, 'for (;;) { const t = Date.now(); let x = 0; for (let i = 0; i < 2e5; i++) x += i; await platform.clock.now(); }');
    expect(breach.kind).toBe('cpu');
  });

  it('does not charge time spent waiting on the kernel to the wall budget', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET, { limits: { cpuMsPerCall: 200, wallMsPerCall: 200 } });
    const before = k.onRequest;
    // A slow kernel (think: a person typing a PIN) answers after 800 ms.
    k.onRequest = (req) => {
      setTimeout(() => k.send({ t: 'reply', id: req.id, ok: true, value: { ok: true, triesLeft: 3, blocked: false } }), 800);
      return 'ignore';
    };
    const r = await k.call('main', ['const l = { token: "tok-0" }; return (await platform.pin.verify(l, { reference: 1, format: "ascii-ff" })).ok']);
    k.onRequest = before;
    expect(valueOf(r)).toBe(true);
    expect(k.breaches()).toEqual([]);
  });

  it('catches CPU burnt in the background after the handler resolved', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET, { limits: { cpuMsPerCall: 100, wallMsPerCall: 3000 } });
    const before = k.messages.length;
    // The handler returns at once but leaves a chain of microtasks that yields to nothing.
    const r = await k.call('main', ['let n = 0; Promise.resolve().then(function f() { n++; return Promise.resolve().then(f) }); return "returned"']);
    const breach = await k.waitFor(isBreach, 5000, before);
    expect(breach.kind).toBe('cpu');
    await k.waitFor(isReady, 10_000, before);
    // Whether the result got out before the isolate was killed depends on isolated-vm's scheduling;
    // either way the call is answered exactly once.
    expect(k.messages.filter((m) => m.t === 'result' && m.id === r.id)).toHaveLength(1);
    expect(valueOf(await k.call('main', ['return 2']))).toBe(2);
  });

  it('refuses platform calls made outside a handler call (no background polling loop)', async () => {
    const k = kernel();
    await k.init(`${PROBE_APPLET}\nvar bg = [];`, { limits: { cpuMsPerCall: 300, wallMsPerCall: 3000 } });
    await k.call('main', ['(async () => { for (let i = 0; i < 3; i++) { try { await platform.clock.now(); bg.push("ok") } catch (e) { bg.push(e.code) } } })(); return 1']);
    const reqsAfter = k.requests.length;
    const out = valueOf(await k.call('main', ['return bg']));
    // The first call may complete while main was still running; the rest were refused in the isolate.
    expect(out).toContain('E_STATE');
    expect(k.requests.length - reqsAfter).toBeLessThanOrEqual(1);
  });
});

describe('memory limit', () => {
  it('a memory bomb ends in a memory breach (or a host exit), never a hang', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET, { limits: { memoryMb: 32, cpuMsPerCall: 5000, wallMsPerCall: 10_000 } });
    const before = k.messages.length;
    const id = k.nextId();
    k.send({ t: 'call', id, handler: 'main', args: ['const a = []; for (;;) a.push(new Array(1e6).fill(1))'] });
    const outcome = await Promise.race([
      k.waitFor(isBreach, 15_000, before).then((b) => ({ breach: b })),
      k.exited.then((e) => ({ exit: e })),
    ]);
    if ('breach' in outcome) {
      expect(outcome.breach.kind).toBe('memory');
      expect(outcome.breach.callId).toBe(id);
      await k.waitFor(isReady, 10_000, before);
      const failed = k.messages.find((m) => m.t === 'result' && m.id === id);
      expect(failed).toMatchObject({ ok: false, error: { code: 'E_BREACH' } });
      expect(valueOf(await k.call('main', ['return "after"']))).toBe('after');
    } else {
      // V8 aborted the whole process: the process boundary contained it.
      expect(outcome.exit.code).not.toBe(0);
    }
  });

  it('large ArrayBuffers are refused inside the isolate without killing it', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET, { limits: { memoryMb: 32 } });
    const r = await k.call('main', ['try { const a = []; for (;;) a.push(new ArrayBuffer(16 * 1024 * 1024)) } catch (e) { return e.constructor.name + ": " + e.message }']);
    const v = valueOf(r);
    expect(v).toMatch(/RangeError/);
    expect(k.breaches().length === 0 || k.breaches()[0]?.kind === 'memory').toBe(true);
  });
});

describe('breach budget', () => {
  it('after 5 breaches within 60 s the host sends fatal and exits 4', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET, { limits: { cpuMsPerCall: 50, wallMsPerCall: 2000 } });
    for (let i = 0; i < 4; i++) await expectBreach(k, 'for (;;) {}');
    const before = k.messages.length;
    k.send({ t: 'call', id: k.nextId(), handler: 'main', args: ['for (;;) {}'] });
    const fatal = await k.waitFor((m): m is FatalMessage => m.t === 'fatal', 10_000, before);
    expect(fatal.detail).toMatch(/5 breaches/);
    expect(await k.exited).toEqual({ code: 4, signal: null });
    expect(k.breaches()).toHaveLength(5);
  });

  it('an applet whose top level loops forever is fatal at start-up', async () => {
    const k = kernel();
    const res = await k.init('for (;;) {}', { limits: { cpuMsPerCall: 100, wallMsPerCall: 1000 } });
    expect(res.t).toBe('fatal');
    expect(k.breaches()[0]?.kind).toBe('cpu');
    expect(await k.exited).toEqual({ code: 4, signal: null });
  });

  it('an applet that throws at top level is fatal at start-up', async () => {
    const k = kernel();
    const res = await k.init('throw new Error("nope")');
    expect(res).toMatchObject({ t: 'fatal' });
    expect((res as FatalMessage).detail).toMatch(/nope/);
    expect(await k.exited).toEqual({ code: 4, signal: null });
  });
});
