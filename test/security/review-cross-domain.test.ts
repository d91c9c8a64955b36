/**
 * Review (defences that hold): cross-domain confidentiality. A card routed to payment is invisible
 * to health in slots.list, acquire errors (same code and words as an empty slot, and settled at
 * once whatever the timeout: no wait that would tell "busy" from "empty"), card events, audit
 * entries under health's name; stores are separate files and keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, applet, devPolicy, testCardClass, until, type DevKernel } from '../support/dev-kernel.js';
import { createCard } from '../../emulator/cards/profiles.js';

const SCRIPT = `
globalThis.onCardInserted = async (e) => { globalThis.seen = (globalThis.seen || []).concat([e]); };
globalThis.onCardRemoved = async (e) => { globalThis.removed = (globalThis.removed || 0) + 1; };
globalThis.onIntent = async (req) => {
  const p = req.payload;
  try {
    switch (p.op) {
      case 'list': return { cards: await platform.slots.list() };
      case 'acquire': { const l = await platform.slots.acquire(p.slot, { timeoutMs: p.timeoutMs }); globalThis.lease = l; return { token: l.token, cardClass: l.cardClass }; }
      case 'release': await globalThis.lease.release(); return { ok: true };
      case 'seen': return { seen: globalThis.seen || [], removed: globalThis.removed || 0 };
      case 'put': await platform.store.put(p.key, p.value); return { ok: true };
      case 'get': { const v = await platform.store.get(p.key); return { v: v === undefined ? 'missing' : v }; }
      case 'keys': return { keys: await platform.store.list() };
      case 'foreign': { const r = await platform.pin.verify({ token: p.token }, { reference: 1, format: 'ascii-ff' }); return { r }; }
    }
  } catch (e) { return { code: e.code, message: e.message }; }
};
`;

describe('review: cross-domain confidentiality', () => {
  let dk: DevKernel;
  const call = (d: string, payload: Record<string, unknown>) =>
    dk.kernel.call(d, 'onIntent', [{ from: 't', action: 'x', payload: payload as never }], 15_000) as Promise<Record<string, unknown>>;
  let seq0 = 0;

  beforeAll(async () => {
    dk = await bootDev([
      applet(devPolicy('payment', { cardClasses: [testCardClass('pcard')] }), SCRIPT),
      // Health's own class does not match the test card's ATR.
      applet(devPolicy('health', { cardClasses: [testCardClass('hcard', { atr: { value: '3F', mask: 'FF' }, aids: ['A000000999000001'] })] }), SCRIPT),
    ]);
    seq0 = dk.kernel.audit.lastSeq;
    dk.kernel.insertCard(0, createCard('test-card'));
    await until(() => dk.kernel.broker.cardsFor('payment').length > 0);
    await until(async () => ((await call('payment', { op: 'seen' })).seen as unknown[]).length > 0);
  });
  afterAll(async () => dk.close());

  it('[XDOM-02] slots.list and card events show health nothing of the payment card', async () => {
    expect(await call('health', { op: 'list' })).toEqual({ cards: [] });
    expect(((await call('payment', { op: 'list' })).cards as unknown[]).length).toBe(1);
    expect(await call('health', { op: 'seen' })).toEqual({ seen: [], removed: 0 });
  });

  it('[XDOM-03] acquire on the payment card, on an empty slot and on the leased payment card fail the same way', async () => {
    const empty = await call('health', { op: 'acquire', slot: 1, timeoutMs: 10_000 });
    const foreign = await call('health', { op: 'acquire', slot: 0, timeoutMs: 10_000 });
    const held = await call('payment', { op: 'acquire', slot: 0, timeoutMs: 1000 });
    expect(typeof held.token).toBe('string');
    const foreignBusy = await call('health', { op: 'acquire', slot: 0, timeoutMs: 10_000 });
    // Another domain's token is refused like a forged one, with no word about its owner.
    const stolen = await call('health', { op: 'foreign', token: held.token });
    const forged = await call('health', { op: 'foreign', token: 'ab'.repeat(32) });
    await call('payment', { op: 'release' });
    const norm = (r: Record<string, unknown>) => ({ code: r.code, message: String(r.message).replace(/slot \d/g, 'slot N') });
    expect(empty.code).toBe('E_NOT_ROUTED');
    expect(norm(foreign)).toEqual(norm(empty));
    expect(norm(foreignBusy)).toEqual(norm(empty));
    expect(stolen).toEqual(forged);
    for (const r of [empty, foreign, foreignBusy, stolen]) expect(String(r.message)).not.toMatch(/payment|pcard|3B/);
  });

  it('[SIDE-05] acquire errors settle at once whatever the timeout (no timing difference empty / foreign / foreign-leased)', async () => {
    const b = dk.kernel.broker;
    const settledNow = async (p: Promise<unknown>) => {
      let done = false;
      p.then(() => (done = true), () => (done = true));
      await new Promise((r) => setImmediate(r));
      return done;
    };
    expect(await settledNow(b.acquire('health', 1, 60_000))).toBe(true);
    expect(await settledNow(b.acquire('health', 0, 60_000))).toBe(true);
    const lease = await b.acquire('payment', 0, 1000);
    expect(await settledNow(b.acquire('health', 0, 60_000))).toBe(true);
    await b.release('payment', lease.token);
  });

  it('[XDOM-04] health\'s audit entries and errors name nothing of the payment card', async () => {
    const mine = dk.kernel.audit.entriesSince(seq0).filter((e) => e.domain === 'health');
    expect(JSON.stringify(mine)).not.toMatch(/pcard|payment/);
    const token = String((await call('payment', { op: 'acquire', slot: 0, timeoutMs: 1000 })).token);
    await call('payment', { op: 'release' });
    // No lease token in the audit at all.
    expect(JSON.stringify(dk.kernel.audit.entriesSince(0))).not.toContain(token);
  });

  it('[XDOM-05] stores are isolated: one domain\'s keys are never readable or listable by the other', async () => {
    expect(await call('payment', { op: 'put', key: 'txn:1', value: { ref: 'T-1' } })).toEqual({ ok: true });
    expect(await call('health', { op: 'get', key: 'txn:1' })).toEqual({ v: 'missing' });
    expect(await call('health', { op: 'keys' })).toEqual({ keys: [] });
    expect(await call('health', { op: 'put', key: 'txn:1', value: 'health' })).toEqual({ ok: true });
    expect(await call('payment', { op: 'get', key: 'txn:1' })).toEqual({ v: { ref: 'T-1' } });
    // Path-like keys do not reach another domain's database.
    expect(await call('health', { op: 'get', key: '../payment.sqlite' })).toEqual({ v: 'missing' });
    expect(dk.kernel.store('health').path).not.toBe(dk.kernel.store('payment').path);
  });
});
