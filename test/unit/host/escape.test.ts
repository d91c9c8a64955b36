/**
 * Hostile applet code against a real host process: every attack is actually attempted inside the
 * isolate, and the test asserts both that it failed and how (the error it met, or what the kernel
 * side received).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestMessage } from '../../../platform/wire/messages.js';
import { FakeKernel, PROBE_APPLET, buildHost, valueOf } from '../../fixtures/host/harness.js';

let host: { file: string; cleanup(): void };
let k: FakeKernel;

/** Runs `src` as an async function body in the applet and returns its (copied) result. */
async function probe(src: string): Promise<unknown> {
  return valueOf(await k.call('main', [src]));
}

/** Requests the kernel received while running `src`. */
async function requestsDuring(src: string): Promise<{ value: unknown; reqs: RequestMessage[] }> {
  const from = k.requests.length;
  const value = await probe(src);
  return { value, reqs: k.requests.slice(from) };
}

beforeAll(async () => {
  host = await buildHost();
  k = new FakeKernel(host.file);
  const ready = await k.init(PROBE_APPLET, { clockGranularityMs: 1000, limits: { cpuMsPerCall: 2000, wallMsPerCall: 5000 } });
  expect(ready).toEqual({ t: 'ready', handlers: ['main'] });
});

afterAll(async () => {
  expect(k.violations).toEqual([]);
  expect(k.breaches()).toEqual([]);
  await k.close();
  host?.cleanup();
});

describe('ambient authority is absent', () => {
  it('has no Node, web or embedder globals', async () => {
    const names = [
      'require', 'process', 'Buffer', 'module', 'exports', '__dirname', '__filename', 'global',
      'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'fetch', 'XMLHttpRequest', 'WebSocket',
      'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'queueMicrotask', 'structuredClone',
      'performance', 'console', 'crypto', 'navigator', 'TextEncoder', 'FinalizationRegistry', 'WeakRef',
      'MessageChannel', 'Worker', 'importScripts', '$0', '$1', 'bridge', 'ctl', 'config', 'pending', 'settle',
    ];
    const types = (await probe(`return ${JSON.stringify(names)}.map((n) => { try { return eval('typeof ' + n) } catch (e) { return 'ERR ' + e.message } })`)) as string[];
    expect(Object.fromEntries(names.map((n, i) => [n, types[i]]))).toEqual(Object.fromEntries(names.map((n) => [n, 'undefined'])));
  });

  it('the global object holds exactly the ECMAScript built-ins, platform and the applet', async () => {
    const names = (await probe('return Object.getOwnPropertyNames(globalThis).sort()')) as string[];
    expect(names).toEqual(
      [
        'AggregateError', 'Array', 'ArrayBuffer', 'BigInt', 'BigInt64Array', 'BigUint64Array', 'Boolean',
        'DataView', 'Date', 'Error', 'EvalError', 'Float32Array', 'Float64Array', 'Function', 'Infinity',
        'Int16Array', 'Int32Array', 'Int8Array', 'Intl', 'JSON', 'Map', 'Math', 'NaN', 'Number', 'Object',
        'Promise', 'Proxy', 'RangeError', 'ReferenceError', 'Reflect', 'RegExp', 'Set', 'String', 'Symbol',
        'SyntaxError', 'TypeError', 'URIError', 'Uint16Array', 'Uint32Array', 'Uint8Array', 'Uint8ClampedArray',
        'WeakMap', 'WeakSet', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape',
        'eval', 'globalThis', 'isFinite', 'isNaN', 'main', 'parseFloat', 'parseInt', 'platform', 'undefined', 'unescape',
      ].sort(),
    );
    expect(await probe('return Object.getOwnPropertySymbols(globalThis).length')).toBe(0);
  });

  it('dynamic import() rejects', async () => {
    const out = (await probe(`
      const r = [];
      for (const spec of ['fs', 'node:fs', 'data:text/javascript,export default 1', './x.js']) {
        try { await import(spec); r.push('imported ' + spec) } catch (e) { r.push(e instanceof Error ? e.message : String(e)) }
      }
      return r`)) as string[];
    expect(out).toEqual(['Not supported', 'Not supported', 'Not supported', 'Not supported']);
  });

  it('eval and the Function constructor work but reach nothing more than the applet has', async () => {
    expect(await probe(`try { eval('process'); return 'reached' } catch (e) { return e.name + ': ' + e.message }`)).toBe(
      'ReferenceError: process is not defined',
    );
    expect(await probe(`return (0, eval)('typeof require') + ' ' + Function('return typeof Buffer')()`)).toBe('undefined undefined');
  });
});

describe('constructor-chain and reflection escapes', () => {
  it('this.constructor.constructor("return process")() finds no process', async () => {
    expect(
      await probe(`try { return this.constructor.constructor('return process')() } catch (e) { return e.name + ': ' + e.message }`),
    ).toBe('ReferenceError: process is not defined');
  });

  it('platform methods are isolate functions: their constructor is the isolate Function', async () => {
    const out = await probe(`
      const F = platform.slots.acquire.constructor;
      const g = F('return this')();
      let viaProcess;
      try { viaProcess = F('return process')() } catch (e) { viaProcess = e.name }
      return [F === Function, g === globalThis, typeof g.process, viaProcess,
              Object.getPrototypeOf(platform.log) === Function.prototype,
              platform.crypto.digest.constructor.constructor === Function]`);
    expect(out).toEqual([true, true, 'undefined', 'ReferenceError', true, true]);
  });

  it('a lease and a kernel error lead back only to isolate intrinsics', async () => {
    const out = await probe(`
      const lease = await platform.slots.acquire(0);
      const fromLease = lease.transmit.constructor('return typeof process')();
      let err;
      try { await platform.pin.verify({ token: 'forged' }, { reference: 1, format: 'ascii-ff' }) } catch (e) { err = e }
      return [fromLease, err instanceof Error, Object.getPrototypeOf(err) === Error.prototype, err.constructor === Error,
              err.code, Reflect.ownKeys(err).sort(), err.constructor.constructor('return typeof process')()]`);
    expect(out).toEqual(['undefined', true, true, true, 'E_LEASE', ['code', 'message', 'stack'], 'undefined']);
  });

  it('Error.prepareStackTrace cannot be installed, and stacks show no host frames', async () => {
    const out = (await probe(`
      'use strict';
      const r = [];
      try { Error.prepareStackTrace = (e, sites) => sites.map((s) => s.getFunction()); r.push('assigned') } catch (e) { r.push(e.name) }
      try { Object.defineProperty(Error, 'prepareStackTrace', { value: () => 'x' }); r.push('defined') } catch (e) { r.push(e.name) }
      r.push(typeof Error.prepareStackTrace);
      let stack = '';
      try {
        const o = {};
        Object.defineProperty(o, 'x', { enumerable: true, get() { throw new Error('from getter') } });
        await platform.store.put('k', o);
      } catch (e) { stack = e.stack }
      let kernelStack = '';
      try { await platform.net.send('nowhere', 1) } catch (e) { kernelStack = e.stack }
      r.push(stack, kernelStack);
      return r`)) as string[];
    expect(out.slice(0, 3)).toEqual(['TypeError', 'TypeError', 'undefined']);
    const [stack, kernelStack] = out.slice(3);
    expect(stack).toMatch(/from getter/);
    expect(kernelStack).toMatch(/net.send not allowed/);
    for (const s of [stack, kernelStack]) {
      expect(s).not.toMatch(/node:|\/work\/|file:|dist\/|host\.js|internal\//);
    }
  });

  it('Error.captureStackTrace with a hostile receiver exposes nothing', async () => {
    const out = await probe(`
      const o = {};
      Error.captureStackTrace(o);
      return [typeof o.stack, /node:|file:/.test(o.stack)]`);
    expect(out).toEqual(['string', false]);
  });

  it('.caller / arguments.callee.caller from callbacks the shim invokes reveal no shim function', async () => {
    const out = await probe(`
      const seen = [];
      const o = {};
      Object.defineProperty(o, 'x', { enumerable: true, get: function g() { seen.push(g.caller, arguments.callee.caller); return 1 } });
      await platform.store.put('k', o);
      const p = new Proxy({ y: 2 }, { ownKeys: function trap(t) { seen.push(trap.caller); return Reflect.ownKeys(t) } });
      await platform.store.put('k2', p);
      await platform.clock.now().then(function f() { seen.push(f.caller) });
      let strictAccess;
      try { strictAccess = platform.store.put.caller } catch (e) { strictAccess = e.name }
      let argsAccess;
      try { argsAccess = platform.store.put.arguments } catch (e) { argsAccess = e.name }
      return [seen.map((x) => x === null ? 'null' : typeof x), strictAccess, argsAccess]`);
    expect(out).toEqual([['null', 'null', 'null', 'null'], 'TypeError', 'TypeError']);
  });

  it('shared prototypes cannot be poisoned to intercept the shim', async () => {
    const out = await probe(`
      'use strict';
      const r = [];
      try { Function.prototype.call = function () { return 'hijacked' }; r.push('assigned') } catch (e) { r.push(e.name) }
      try { Object.defineProperty(Function.prototype, 'apply', { value: () => 'x' }); r.push('defined') } catch (e) { r.push(e.name) }
      try { Object.defineProperty(Object.prototype, 'token', { get() { return 'stolen' } }); r.push('defined') } catch (e) { r.push(e.name) }
      try { Promise.prototype.then = function () {}; r.push('assigned') } catch (e) { r.push(e.name) }
      r.push(await platform.clock.now() > 0, typeof Function.prototype.call.call, typeof ({}).token);
      return r`);
    expect(out).toEqual(['TypeError', 'TypeError', 'TypeError', 'TypeError', true, 'function', 'undefined']);
  });
});

describe('values crossing into platform calls', () => {
  it('a Proxy around a Uint8Array is refused as an APDU, before the kernel sees anything', async () => {
    const { value, reqs } = await requestsDuring(`
      const lease = await platform.slots.acquire(0);
      try { await lease.transmit(new Proxy(new Uint8Array([0, 0xa4, 4, 0]), {})) } catch (e) { return [e.name, e.code, e.message] }
      return 'sent'`);
    expect(value).toEqual(['TypeError', 'E_ARGS', 'apdu: expected Uint8Array']);
    expect(reqs.map((r) => r.op)).toEqual(['slots.acquire']);
  });

  it('APDU bytes are copied: exact length, fresh buffer, later mutation does not leak', async () => {
    let seen: Uint8Array | undefined;
    const before = k.onRequest;
    k.onRequest = (req) => {
      if (req.op === 'lease.transmit') seen = req.args.apdu as Uint8Array;
      return before(req);
    };
    try {
      const value = await probe(`
        const lease = await platform.slots.acquire(0);
        const big = new Uint8Array(64).fill(0xee);
        big.set([0x00, 0xb0, 0x00, 0x00], 10);
        const view = new Uint8Array(big.buffer, 10, 4);
        const p = lease.transmit(view);
        view[0] = 0xff;
        const resp = await p;
        return [resp instanceof Uint8Array, Array.from(resp), resp.buffer.byteLength]`);
      expect(value).toEqual([true, [0x90, 0x00], 2]);
      expect(seen).toBeInstanceOf(Uint8Array);
      expect(Object.getPrototypeOf(seen)).toBe(Uint8Array.prototype);
      expect([...(seen as Uint8Array)]).toEqual([0x00, 0xb0, 0x00, 0x00]);
      expect((seen as Uint8Array).buffer.byteLength).toBe(4);
    } finally {
      k.onRequest = before;
    }
  });

  it('getters and proxies in arguments run in the isolate only; the kernel receives plain data', async () => {
    const { value, reqs } = await requestsDuring(`
      let calls = 0;
      const o = { a: 1 };
      Object.defineProperty(o, 'g', { enumerable: true, get() { calls++; return typeof process } });
      const p = new Proxy({}, {
        ownKeys() { calls++; return ['z'] },
        getOwnPropertyDescriptor() { return { value: 0, enumerable: true, configurable: true } },
        get(t, key) { calls++; return key === 'z' ? 'from-trap' : undefined },
      });
      await platform.store.put('k', { o, p, arr: [1, new Uint8Array([7])] });
      return calls`);
    expect(value).toBe(3);
    const put = reqs.find((r) => r.op === 'store.put');
    expect(put?.args).toEqual({ key: 'k', value: { o: { a: 1, g: 'undefined' }, p: { z: 'from-trap' }, arr: [1, new Uint8Array([7])] } });
  });

  it('functions, thenables, symbols, class instances, cycles and __proto__ keys are refused', async () => {
    const { value, reqs } = await requestsDuring(`
      const cyclic = {}; cyclic.self = cyclic;
      const tries = [
        { f() {} },
        { then(resolve) { resolve(1) } },
        { s: Symbol('x') },
        { d: new Date(0) },
        { m: new Map() },
        cyclic,
        JSON.parse('{"__proto__": {"polluted": true}}'),
        { big: 1n },
      ];
      const r = [];
      for (const v of tries) {
        try { await platform.store.put('k', v); r.push('sent') } catch (e) { r.push(e.code) }
      }
      r.push(({}).polluted === undefined);
      return r`);
    expect(value).toEqual(['E_ARGS', 'E_ARGS', 'E_ARGS', 'E_ARGS', 'E_ARGS', 'E_ARGS', 'E_ARGS', 'E_ARGS', true]);
    expect(reqs).toEqual([]);
  });

  it('a forged lease reaches the kernel (which refuses it); the token is read exactly once', async () => {
    const { value, reqs } = await requestsDuring(`
      let reads = 0;
      const forged = { get token() { reads++; return reads === 1 ? 'tok-0' : 'switched' } };
      const ok = await platform.pin.verify(forged, { reference: 1, format: 'ascii-ff' });
      let refused;
      try { await platform.pin.verify({ token: 'made-up' }, { reference: 1, format: 'ascii-ff' }) } catch (e) { refused = e.code }
      let notString;
      try { await platform.pin.verify({ token: { toString() { return 'tok-0' } } }, { reference: 1, format: 'ascii-ff' }) } catch (e) { notString = e.code }
      return [reads, ok, refused, notString]`);
    expect(value).toEqual([1, { ok: true, triesLeft: 3, blocked: false }, 'E_LEASE', 'E_ARGS']);
    expect(reqs.map((r) => [r.op, r.args.token])).toEqual([
      ['pin.verify', 'tok-0'],
      ['pin.verify', 'made-up'],
    ]);
  });

  it('lease methods always act for their own lease, whatever `this` is; leases are frozen', async () => {
    const { value, reqs } = await requestsDuring(`
      'use strict';
      const lease = await platform.slots.acquire(3);
      await lease.transmit.call({ token: 'evil' }, new Uint8Array([0, 0xa4, 0, 0]));
      await Reflect.apply(lease.release, { token: 'evil2' }, []);
      let assign;
      try { lease.token = 'x'; assign = 'assigned' } catch (e) { assign = e.name }
      return [Object.isFrozen(lease), Object.isFrozen(lease.transmit), assign, lease.token, Object.keys(lease).sort()]`);
    expect(value).toEqual([true, true, 'TypeError', 'tok-3', ['atr', 'cardClass', 'release', 'reset', 'slot', 'token', 'transmit']]);
    expect(reqs.map((r) => [r.op, r.args.token ?? null])).toEqual([
      ['slots.acquire', null],
      ['lease.transmit', 'tok-3'],
      ['lease.release', 'tok-3'],
    ]);
  });

  it('bad argument shapes are refused with E_ARGS naming the field', async () => {
    const out = (await probe(`
      const r = [];
      const attempts = [
        () => platform.pin.verify({ token: 'tok-0' }, { reference: 1, format: 'plain-text' }),
        () => platform.slots.acquire(-1),
        () => platform.crypto.digest('MD5', new Uint8Array(1)),
        () => platform.ui.show({ lines: [1, 2] }),
        () => platform.log('loud', 'x'),
        () => platform.store.get(42),
      ];
      for (const a of attempts) { try { await a(); r.push('ok') } catch (e) { r.push(e.code + ' ' + e.message) } }
      return r`)) as string[];
    expect(out[0]).toMatch(/^E_ARGS req\.args\.format: expected one of/);
    expect(out[1]).toMatch(/^E_ARGS req\.args\.slot: expected an integer/);
    expect(out[2]).toMatch(/^E_ARGS req\.args\.alg: expected one of/);
    expect(out[3]).toMatch(/^E_ARGS req\.args\.screen\.lines\[0\]: expected string/);
    expect(out[4]).toMatch(/^E_ARGS req\.args\.level: expected one of/);
    expect(out[5]).toBe('E_ARGS key: expected string');
  });

  it('caps platform calls in flight (no request flood reaches the kernel)', async () => {
    const before = k.onRequest;
    const held: RequestMessage[] = [];
    k.onRequest = (req) => {
      if (req.op === 'log') {
        held.push(req);
        return 'ignore';
      }
      return before(req);
    };
    try {
      const id = k.nextId();
      const from = k.requests.length;
      k.send({ t: 'call', id, handler: 'main', args: [`
        const ps = [];
        for (let i = 0; i < 500; i++) ps.push(platform.log('info', 'spam ' + i).then(() => 'ok', (e) => e.code));
        const out = await Promise.all(ps);
        return [out.filter((x) => x === 'ok').length, out.filter((x) => x === 'E_QUOTA').length]`] });
      await new Promise((r) => setTimeout(r, 300));
      expect(k.requests.length - from).toBe(64);
      for (const req of held) k.send({ t: 'reply', id: req.id, ok: true });
      const res = await k.waitFor((m): m is Extract<typeof m, { t: 'result' }> => m.t === 'result' && m.id === id);
      expect(valueOf(res)).toEqual([64, 436]);
    } finally {
      k.onRequest = before;
    }
  });
});

describe('values returned from handlers', () => {
  it('a thenable returned by a handler is resolved inside the isolate, never by host code', async () => {
    expect(await probe(`return { then(resolve) { resolve(['resolved in isolate', typeof process]) } }`)).toEqual([
      'resolved in isolate',
      'undefined',
    ]);
  });

  it('results that cannot cross become E_APPLET errors and the host stays healthy', async () => {
    const cases = [
      'return () => 1',
      'return Symbol("s")',
      'return new Date()',
      'const a = []; let c = a; for (let i = 0; i < 40; i++) { c[0] = []; c = c[0] } return a',
      'return Array.from({ length: 20000 }, (_, i) => i)',
      'return "x".repeat(5 * 1024 * 1024)',
    ];
    for (const src of cases) {
      const r = await k.call('main', [src]);
      expect(r.ok, src).toBe(false);
      expect(r.error?.code, src).toBe('E_APPLET');
    }
    expect(await probe('return "still fine"')).toBe('still fine');
  });

  it('a thrown error becomes E_APPLET with the message cut to 1 KB; odd throwables are handled', async () => {
    const long = await k.call('main', ['throw new Error("é".repeat(5000))']);
    expect(long.ok).toBe(false);
    expect(long.error?.code).toBe('E_APPLET');
    expect(Buffer.byteLength(long.error?.message ?? '')).toBeLessThanOrEqual(1024);
    const odd = await k.call('main', ['throw new Proxy({}, { get() { throw new Error("trap") } })']);
    expect(odd.error).toEqual({ code: 'E_APPLET', message: 'unreadable thrown value' });
    const sym = await k.call('main', ['throw Symbol("s")']);
    expect(sym.error).toEqual({ code: 'E_APPLET', message: 'symbol thrown' });
  });

  it('handlers are fixed at ready: replacing the global later does not redirect calls', async () => {
    expect(await probe('main = async () => "hijacked"; return "replaced"')).toBe('replaced');
    expect(await probe('return "original"')).toBe('original');
  });
});

describe('platform and primordials are frozen', () => {
  it('platform has exactly the API of platform/sdk/api.ts and cannot be replaced or changed', async () => {
    const out = await probe(`
      'use strict';
      const r = {};
      r.keys = Object.keys(platform).sort();
      r.sub = Object.fromEntries(['slots', 'pin', 'ui', 'store', 'net', 'intents', 'crypto', 'clock'].map((k) => [k, Object.keys(platform[k]).sort()]));
      r.domain = platform.domain;
      const attempt = (f) => { try { f(); return 'changed' } catch (e) { return e.name } };
      r.assignGlobal = attempt(() => { globalThis.platform = {} });
      r.deleteGlobal = attempt(() => { delete globalThis.platform });
      r.redefine = attempt(() => Object.defineProperty(globalThis, 'platform', { value: {} }));
      r.assignMethod = attempt(() => { platform.slots.acquire = () => 1 });
      r.addProp = attempt(() => { platform.extra = 1 });
      r.methodProp = attempt(() => { platform.log.x = 1 });
      r.desc = Object.getOwnPropertyDescriptor(globalThis, 'platform');
      r.desc = [r.desc.writable, r.desc.configurable];
      const all = [platform, ...Object.values(platform)];
      for (const v of Object.values(platform)) if (typeof v === 'object') all.push(...Object.values(v));
      r.allFrozen = all.every((v) => typeof v !== 'object' && typeof v !== 'function' || Object.isFrozen(v));
      return r`);
    expect(out).toEqual({
      keys: ['clock', 'crypto', 'domain', 'intents', 'log', 'net', 'pin', 'slots', 'store', 'ui'],
      sub: {
        slots: ['acquire', 'list'],
        pin: ['verify'],
        ui: ['ask', 'show'],
        store: ['delete', 'get', 'list', 'put', 'transaction'],
        net: ['fetch', 'send'],
        intents: ['request'],
        crypto: ['digest', 'random'],
        clock: ['now'],
      },
      domain: 'test-domain',
      assignGlobal: 'TypeError',
      deleteGlobal: 'TypeError',
      redefine: 'TypeError',
      assignMethod: 'TypeError',
      addProp: 'TypeError',
      methodProp: 'TypeError',
      desc: [false, false],
      allFrozen: true,
    });
  });

  it('every object reachable from the intrinsics is frozen, hidden ones included', async () => {
    const out = await probe(`
      const roots = [
        Object.getPrototypeOf(async function () {}), Object.getPrototypeOf(function* () {}),
        Object.getPrototypeOf(async function* () {}), Object.getPrototypeOf([][Symbol.iterator]()),
        Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())),
        Object.getPrototypeOf(new Map().entries()), Object.getPrototypeOf(new Set().values()),
        Object.getPrototypeOf(''[Symbol.iterator]()), Object.getPrototypeOf(/a/[Symbol.matchAll]('a')),
        Object.getPrototypeOf(Uint8Array), Object.getOwnPropertyDescriptor(Function.prototype, 'caller').get,
        Object.getPrototypeOf(new Intl.Segmenter().segment('a')),
      ];
      const seen = new Set();
      const stack = [...roots, ...Object.getOwnPropertyNames(globalThis).filter((n) => n !== 'main' && n !== 'globalThis').map((n) => globalThis[n])];
      const notFrozen = [];
      while (stack.length) {
        const o = stack.pop();
        if (o === null || (typeof o !== 'object' && typeof o !== 'function') || o === globalThis || seen.has(o)) continue;
        seen.add(o);
        if (!Object.isFrozen(o)) notFrozen.push(String(o.name || o.constructor?.name || typeof o));
        stack.push(Object.getPrototypeOf(o));
        for (const key of Reflect.ownKeys(o)) {
          const d = Object.getOwnPropertyDescriptor(o, key);
          stack.push(d.value, d.get, d.set);
        }
      }
      return [seen.size, notFrozen]`);
    const [count, notFrozen] = out as [number, string[]];
    expect(notFrozen).toEqual([]);
    expect(count).toBeGreaterThan(500);
  });

  it('override mistake: common names stay assignable on instances; others throw in strict code', async () => {
    const out = await probe(`
      'use strict';
      const o = {}; o.toString = () => 'custom'; o.constructor = 'c';
      class MyError extends Error { constructor(m) { super(m); this.name = 'MyError' } }
      const e = new MyError('boom');
      const a = [];
      let push;
      try { a.push = 1; push = 'assigned' } catch (err) { push = err.name }
      let proto;
      try { Object.prototype.toString = () => 'x'; proto = 'assigned' } catch (err) { proto = err.name }
      return [String(o), o.constructor, String(e), e instanceof Error, push, proto, ({}).toString()]`);
    expect(out).toEqual(['custom', 'c', 'MyError: boom', true, 'TypeError', 'TypeError', '[object Object]']);
  });
});

describe('coarse time', () => {
  it('Date.now(), new Date() and Intl formatting are rounded to the clock granularity', async () => {
    const out = await probe(`
      const samples = [];
      for (let i = 0; i < 20; i++) samples.push(Date.now() % 1000, new Date().getTime() % 1000, new Date.prototype.constructor().getTime() % 1000,
        Reflect.construct(Date, []).getTime() % 1000);
      class D extends Date {}
      samples.push(new D().getTime() % 1000);
      const parts = new Intl.DateTimeFormat('en', { second: 'numeric', fractionalSecondDigits: 3 }).formatToParts();
      const frac = parts.find((p) => p.type === 'fractionalSecond').value;
      const formatted = new Intl.DateTimeFormat('en', { second: 'numeric', fractionalSecondDigits: 3 }).format();
      return [samples.every((x) => x === 0), frac, formatted.slice(-3), Date.prototype.constructor === Date,
              new Date(1234).getTime(), new Date(2020, 0, 2).getDate(), Date.UTC(2020, 0, 1), typeof Date(),
              Date.parse('2020-01-01T00:00:00.123Z'), new D(5) instanceof Date, Date.length, Date.name]`);
    expect(out).toEqual([true, '000', '000', true, 1234, 2, 1577836800000, 'string', 1577836800123, true, 7, 'Date']);
  });

  it('platform.clock.now() is coarse even if the kernel answers precisely', async () => {
    const before = k.onRequest;
    k.onRequest = (req) => (req.op === 'clock.now' ? { value: 1_700_000_000_123 } : before(req));
    try {
      expect(await probe('return platform.clock.now()')).toBe(1_700_000_000_000);
    } finally {
      k.onRequest = before;
    }
  });
});
