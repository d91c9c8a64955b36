/**
 * Sandbox confinement, attacked through the evaluators' own harness (`di eval`): ambient authority
 * must be absent and the classic escapes from an isolate must fail, for the right reason.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEval } from '../../cli/eval-harness.js';

function script(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'di-sec-'));
  const f = join(dir, 'applet.js');
  writeFileSync(f, body);
  return f;
}

describe('ambient authority is absent', () => {
  it('[AMB-01] no require, process, Buffer, module, fetch, timers, console, SharedArrayBuffer, Atomics, WebAssembly, performance', async () => {
    const names = ['require', 'process', 'Buffer', 'module', 'exports', 'global', 'fetch', 'XMLHttpRequest', 'setTimeout', 'setInterval', 'setImmediate',
      'queueMicrotask', 'console', 'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'performance', 'navigator', 'crypto', 'ivm', '_ivm', 'isolatedVm'];
    const r = await runEval({
      applet: script(`globalThis.main = async () => ({ present: ${JSON.stringify(names)}.filter((n) => typeof globalThis[n] !== 'undefined'),
        globals: Object.getOwnPropertyNames(globalThis).sort() });`),
    });
    expect(r.outcome).toBe('completed');
    const res = r.result as { present: string[]; globals: string[] };
    expect(res.present).toEqual([]);
    // Only ECMAScript built-ins, the handlers and `platform`.
    const allowed = new Set(Object.getOwnPropertyNames(globalThis).filter((n) => !['process', 'Buffer', 'global', 'console', 'fetch', 'performance',
      'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate', 'queueMicrotask', 'structuredClone',
      'navigator', 'crypto', 'SharedArrayBuffer', 'Atomics', 'WebAssembly'].includes(n)));
    const extra = res.globals.filter((n) => !allowed.has(n) && !['platform', 'main'].includes(n));
    expect(extra).toEqual([]);
    expect(r.kernelHealthy).toBe(true);
  });

  it('[ESC-06] import() of a Node module rejects', async () => {
    const r = await runEval({ applet: script(`globalThis.main = async () => { try { await import('fs'); return 'imported'; } catch (e) { return 'refused: ' + e.message; } };`) });
    expect(r.result).toMatch(/^refused: /);
  });
});

describe('escapes from the isolate fail', () => {
  const attempt = (expr: string) => `(async () => { try { const v = await (${expr}); return typeof v === 'object' && v !== null ? 'object:' + Object.keys(v).slice(0, 5).join(',') : String(v); } catch (e) { return 'threw:' + (e && e.message); } })()`;

  it('[ESC-01] constructor chains reach only the isolate\'s own realm', async () => {
    const attempts = {
      thisCtor: attempt(`(function () { return this.constructor.constructor('return typeof process')(); })()`),
      platformCtor: attempt(`platform.slots.acquire.constructor('return typeof process')()`),
      asyncCtor: attempt(`(async function () {}).constructor('return typeof require')()`),
      errorCtor: attempt(`new Error().constructor.constructor('return typeof Buffer')()`),
      protoOfPlatform: attempt(`Object.getPrototypeOf(platform) === Object.prototype ? 'plain' : 'exotic'`),
    };
    const body = `globalThis.main = async () => { const out = {}; ${Object.entries(attempts).map(([k, v]) => `out.${k} = await ${v};`).join(' ')} return out; };`;
    const r = await runEval({ applet: script(body) });
    expect(r.outcome).toBe('completed');
    expect(r.result).toEqual({ thisCtor: 'undefined', platformCtor: 'undefined', asyncCtor: 'undefined', errorCtor: 'undefined', protoOfPlatform: 'plain' });
  });

  it('[ESC-02] platform is frozen and cannot be replaced, and primordials are frozen', async () => {
    const body = `'use strict';
    globalThis.main = async () => {
      const r = {};
      try { platform.slots = null; } catch (e) { r.assign = e.constructor.name; }
      try { globalThis.platform = {}; } catch (e) { r.replace = e.constructor.name; }
      try { delete globalThis.platform; } catch (e) { r.del = e.constructor.name; }
      r.frozen = Object.isFrozen(platform) && Object.isFrozen(platform.slots) && Object.isFrozen(platform.slots.acquire);
      r.protoFrozen = Object.isFrozen(Object.prototype) && Object.isFrozen(Array.prototype) && Object.isFrozen(Function.prototype) && Object.isFrozen(Promise.prototype);
      try { Array.prototype.push = () => 0; } catch (e) { r.poison = e.constructor.name; }
      r.still = typeof platform.slots.acquire + ':' + [].push.name;
      return r;
    };`;
    const r = await runEval({ applet: script(body) });
    expect(r.result).toEqual({ assign: 'TypeError', replace: 'TypeError', del: 'TypeError', frozen: true, protoFrozen: true, poison: 'TypeError', still: 'function:push' });
  });

  it('[ESC-03] stack traces and Error.prepareStackTrace expose no host frames or objects', async () => {
    const body = `globalThis.main = async () => {
      const r = {};
      try { Error.prepareStackTrace = (e, frames) => frames; } catch (e) { r.prep = e.constructor.name; }
      let err;
      try { await platform.slots.acquire(99); } catch (e) { err = e; }
      r.code = err && err.code;
      r.isError = err instanceof Error;
      r.stack = String(err && err.stack);
      return r;
    };`;
    const r = await runEval({ applet: script(body) });
    const res = r.result as { code: string; isError: boolean; stack: string; prep?: string };
    expect(res.isError).toBe(true);
    expect(res.code).toBe('E_ARGS');
    expect(res.stack).not.toMatch(/node:|\/platform\/|dist\/host|internal\//);
  });

  it('[ESC-04] getters, proxies and thenables passed to platform calls are copied inside the isolate, never crossed', async () => {
    const body = `globalThis.main = async () => {
      const r = {};
      let touched = 0;
      const evil = { get slot() { touched++; return 0; } };
      try { await platform.slots.acquire(new Proxy({}, { get() { touched++; return 0; } })); } catch (e) { r.proxy = e.code + ' ' + e.message; }
      try { await platform.store.put('k', { then(res) { touched++; res(1); } }); } catch (e) { r.thenable = e.code + ' ' + e.message; }
      try { await platform.log('info', evil); } catch (e) { r.getter = e.code + ' ' + e.message; }
      try { await platform.crypto.digest('SHA-256', new Proxy(new Uint8Array(4), {})); } catch (e) { r.proxyBytes = e.code + ' ' + e.message; }
      r.touched = touched;
      return r;
    };`;
    const r = await runEval({ applet: script(body) });
    expect(r.outcome).toBe('completed');
    expect(r.result).toEqual({
      proxy: expect.stringMatching(/^E_ARGS slot: expected a number/),
      thenable: expect.stringMatching(/^E_ARGS value\.then: cannot send a value of type function/),
      getter: expect.stringMatching(/^E_ARGS message: expected string/),
      proxyBytes: expect.stringMatching(/^E_ARGS /),
      touched: 0,
    });
    expect(r.kernelHealthy).toBe(true);
  });

  it('[ESC-05] a thenable returned from main does not run host code', async () => {
    const r = await runEval({ applet: script(`globalThis.main = async () => ({ then: 1, x: 2 });`) });
    expect(r.outcome).toBe('completed');
    expect(r.result).toEqual({ then: 1, x: 2 });
  });

  it('[SIDE-02] Date is coarse (no fine timer)', async () => {
    const r = await runEval({ applet: script(`globalThis.main = async () => { const a = []; for (let i = 0; i < 50; i++) a.push(Date.now() % 100, new Date().getTime() % 100); return a.every((x) => x === 0); };`) });
    expect(r.result).toBe(true);
  });
});
