/**
 * The host's side of the kernel protocol, against a real host process: start-up, calls, replies,
 * and the kill switch (exit 3) for anything malformed the kernel side might send.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../../platform/wire/frames.js';
import type { FatalMessage, ReadyMessage, RequestMessage } from '../../../platform/wire/messages.js';
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

async function expectProtocolExit(k: FakeKernel, stderr: RegExp): Promise<void> {
  const exit = await k.exited;
  expect(exit).toEqual({ code: 3, signal: null });
  expect(k.stderr).toMatch(/protocol violation/);
  expect(k.stderr).toMatch(stderr);
}

describe('start-up and normal operation', () => {
  it('answers init with ready listing the handlers, serves calls and exits 0 when fd 3 closes', async () => {
    const k = kernel();
    const ready = await k.init(`${PROBE_APPLET}\nasync function onIntent(r) { return { echo: r.payload } }\nvar onStart = 5;`);
    expect(ready).toEqual({ t: 'ready', handlers: ['main', 'onIntent'] });
    const r = await k.call('onIntent', [{ from: 'x', action: 'a', payload: { b: new Uint8Array([1, 2]) } }]);
    expect(r.ok).toBe(true);
    const v = r.value as { echo: { b: Uint8Array } };
    expect(v.echo.b).toBeInstanceOf(Uint8Array);
    expect([...v.echo.b]).toEqual([1, 2]);
    expect(valueOf(await k.call('main', ['return 1 + 1']))).toBe(2);
    // A handler that returns nothing: ok with no value.
    expect(await k.call('main', ['return undefined'])).toEqual({ t: 'result', id: 3, ok: true });
    expect(await k.close()).toEqual({ code: 0, signal: null });
  });

  it('handlers defined as getters are not offered; a handler that is not defined answers E_NO_HANDLER', async () => {
    const k = kernel();
    const ready = await k.init(`${PROBE_APPLET}\nObject.defineProperty(globalThis, 'onStart', { get() { return async () => 1 } })`);
    expect(ready).toEqual({ t: 'ready', handlers: ['main'] });
    const r = await k.call('onStart');
    expect(r).toMatchObject({ ok: false, error: { code: 'E_NO_HANDLER' } });
  });

  it('the applet cannot shadow platform: var is ignored, let is a start-up error', async () => {
    const k = kernel();
    await k.init(`var platform = { evil: true };\n${PROBE_APPLET}`);
    expect(valueOf(await k.call('main', ['return Object.keys(platform).includes("slots") && !("evil" in platform)']))).toBe(true);
    const k2 = kernel();
    const res = await k2.init(`let platform = { evil: true };\n${PROBE_APPLET}`);
    expect(res.t).toBe('fatal');
    expect((res as FatalMessage).detail).toMatch(/platform/);
    expect((await k2.exited).code).toBe(4);
  });

  it('platform calls made by top-level code during start-up are served', async () => {
    const k = kernel();
    const ready = await k.init(`platform.log('info', 'starting').then(() => { globalThis.logged = true });\n${PROBE_APPLET}`);
    expect(ready.t).toBe('ready');
    expect(k.requests.map((r) => r.op)).toEqual(['log']);
    expect(valueOf(await k.call('main', ['return globalThis.logged']))).toBe(true);
  });

  it('a syntax error in the applet is fatal', async () => {
    const k = kernel();
    const res = await k.init('function (');
    expect(res.t).toBe('fatal');
    expect((res as FatalMessage).detail).toMatch(/^applet failed to start: SyntaxError: /);
    expect((await k.exited).code).toBe(4);
  });

  it('kernel errors and malformed kernel replies reach the applet as isolate errors', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET);
    k.onRequest = (req) => (req.op === 'slots.acquire' ? { value: { slot: 0 } } : { error: { code: 'E_POLICY', message: 'denied' } });
    const out = await k.call('main', [`
      const r = [];
      try { await platform.slots.acquire(0) } catch (e) { r.push(e.code) }
      try { await platform.net.fetch('amo') } catch (e) { r.push(e.code + ' ' + e.message) }
      return r`]);
    expect(valueOf(out)).toEqual(['E_PROTOCOL', 'E_POLICY denied']);
  });

  it('calls run concurrently and each gets its own result', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET);
    const held: RequestMessage[] = [];
    k.onRequest = (req) => {
      held.push(req);
      return 'ignore';
    };
    const a = k.call('main', ['return "a:" + await platform.clock.now()']);
    const b = k.call('main', ['return "b"']);
    expect(valueOf(await b)).toBe('b');
    await new Promise((r) => setTimeout(r, 50));
    expect(held).toHaveLength(1);
    k.send({ t: 'reply', id: held[0]?.id, ok: true, value: 5000 });
    expect(valueOf(await a)).toBe('a:5000');
  });

  it('replies to requests of a generation killed by a breach are ignored, not fatal', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET, { limits: { cpuMsPerCall: 100 } });
    k.onRequest = () => 'ignore';
    const waiting = k.call('main', ['await platform.clock.now(); return 1']);
    await new Promise((r) => setTimeout(r, 100));
    expect(k.requests).toHaveLength(1);
    // A second call burns the CPU budget: the whole generation dies, the waiting call with it.
    const looping = await k.call('main', ['for (;;) {}']);
    expect(looping.error?.code).toBe('E_BREACH');
    expect((await waiting).error?.code).toBe('E_BREACH');
    await k.waitFor((m): m is ReadyMessage => m.t === 'ready', 10_000, 1);
    const stale = k.requests[0] as RequestMessage;
    k.send({ t: 'reply', id: stale.id, ok: true, value: 1 });
    k.onRequest = (req) => ({ value: req.op === 'clock.now' ? 7000 : null });
    expect(valueOf(await k.call('main', ['return platform.clock.now()']))).toBe(7000);
    expect(k.exitStatus).toBeUndefined();
  });
});

describe('malformed input from the kernel: stderr + exit 3', () => {
  it('garbage bytes', async () => {
    const k = kernel();
    k.sendRaw(Buffer.from([0, 0, 0, 5, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1]));
    await expectProtocolExit(k, /undecodable/);
  });

  it('an oversize length prefix, without waiting for the body', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET);
    const started = Date.now();
    k.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]));
    await expectProtocolExit(k, /exceeds/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a message missing fields names the field', async () => {
    const k = kernel();
    k.send({ t: 'init', domain: 'x' });
    await expectProtocolExit(k, /init\.script: missing field/);
  });

  it('an unknown message type', async () => {
    const k = kernel();
    k.send({ t: 'eval', code: 'process.exit()' });
    await expectProtocolExit(k, /message\.t/);
  });

  it('a call before init', async () => {
    const k = kernel();
    k.send({ t: 'call', id: 1, handler: 'main', args: [] });
    await expectProtocolExit(k, /call before init/);
  });

  it('a second init', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET);
    k.send({ t: 'init', domain: 'd', script: '', filename: 'f', limits: { memoryMb: 16, cpuMsPerCall: 1, wallMsPerCall: 1 }, clockGranularityMs: 1 });
    await expectProtocolExit(k, /second init/);
  });

  it('a call to a name outside HANDLER_NAMES', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET);
    k.send({ t: 'call', id: 1, handler: 'constructor', args: [] });
    await expectProtocolExit(k, /call\.handler: expected one of/);
  });

  it('ids out of range, extra fields, forbidden keys, non-plain values', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ t: 'call', id: 0, handler: 'main', args: [] }, /call\.id/],
      [{ t: 'call', id: 2 ** 31, handler: 'main', args: [] }, /call\.id/],
      [{ t: 'call', id: 1.5, handler: 'main', args: [] }, /call\.id/],
      [{ t: 'call', id: 1, handler: 'main', args: [], extra: 1 }, /call\.extra: unexpected field/],
      [{ t: 'call', id: 1, handler: 'main', args: [{ constructor: 1 }] }, /call\.args\[0\]\.constructor: forbidden key/],
      [{ t: 'call', id: 1, handler: 'main', args: [new Date()] }, /call\.args\[0\]/],
      [{ t: 'reply', id: 1, ok: false }, /reply\.error: missing field/],
    ];
    for (const [msg, why] of cases) {
      const k = kernel();
      await k.init(PROBE_APPLET);
      k.send(msg);
      await expectProtocolExit(k, why);
    }
  });

  it('a reply to a request that was never sent', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET);
    k.send({ t: 'reply', id: 999, ok: true });
    await expectProtocolExit(k, /never sent/);
  });

  it('a duplicate id for a call still running', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET);
    k.send({ t: 'call', id: 7, handler: 'main', args: ['await new Promise(() => {})'] });
    k.send({ t: 'call', id: 7, handler: 'main', args: ['return 1'] });
    await expectProtocolExit(k, /already running/);
  });

  it('garbage in the middle of a valid stream, split across writes', async () => {
    const k = kernel();
    await k.init(PROBE_APPLET);
    const good = encodeFrame({ t: 'call', id: 1, handler: 'main', args: ['return 1'] });
    // A two-element array holding one element: the body ends early.
    const bad = Buffer.from([0, 0, 0, 2, 0x92, 0x01]);
    const stream = Buffer.concat([good, bad, encodeFrame({ t: 'call', id: 2, handler: 'main', args: ['return 2'] })]);
    for (let i = 0; i < stream.length; i += 3) k.sendRaw(stream.subarray(i, i + 3));
    await expectProtocolExit(k, /undecodable body/);
    // The host stops at the bad frame: the frame after it is never served (and the call before it
    // may or may not have been answered before the exit; the kernel restarts the host either way).
    expect(k.messages.filter((m) => m.t === 'result' && m.id === 2)).toEqual([]);
  });
});
