import { afterEach, describe, expect, it } from 'vitest';
import { inspectSlotBuffers } from '../../../platform/slot-broker/broker.js';
import {
  ATR_HEALTH,
  ATR_PAY,
  expectBrokerError,
  FakeCard,
  h,
  healthClass,
  hex,
  payClass,
  PIN,
  rig,
  SECRET,
  sleep,
  type Rig,
} from './fakes.js';

const routes = [
  { domain: 'sesam-vitale', cardClass: healthClass },
  { domain: 'payment', cardClass: payClass },
];

let r: Rig | null = null;
afterEach(async () => {
  await r?.broker.stop();
  r = null;
});

async function withHealthCard(opts = {}): Promise<{ r: Rig; card: FakeCard }> {
  r = await rig(routes, opts);
  const card = new FakeCard(ATR_HEALTH);
  await r.insert(0, card);
  return { r, card };
}

describe('leases', () => {
  it('issues a 32-byte random hex token with the card class and ATR', async () => {
    const { r } = await withHealthCard();
    const a = await r.broker.acquire('sesam-vitale', 0, 0);
    expect(a).toEqual({ token: expect.stringMatching(/^[0-9a-f]{64}$/), slot: 0, cardClass: 'vitale', atr: hex(ATR_HEALTH) });
    expect(r.broker.checkLease('sesam-vitale', a.token)).toEqual(a);
    await r.broker.release('sesam-vitale', a.token);
    const b = await r.broker.acquire('sesam-vitale', 0, 0);
    expect(b.token).not.toBe(a.token);
  });

  it('is exclusive, and waiters get the slot in FIFO order', async () => {
    const { r } = await withHealthCard();
    const first = await r.broker.acquire('sesam-vitale', 0, 0);
    const order: string[] = [];
    const second = r.broker.acquire('sesam-vitale', 0, 2000).then((l) => (order.push('second'), l));
    const third = r.broker.acquire('sesam-vitale', 0, 2000).then((l) => (order.push('third'), l));
    await sleep(20);
    expect(order).toEqual([]);
    await r.broker.release('sesam-vitale', first.token);
    const l2 = await second;
    await sleep(20);
    expect(order).toEqual(['second']);
    // The released token is dead; the new holder's works.
    await expectBrokerError(r.broker.transmit('sesam-vitale', first.token, h('00B0000004')), 'E_LEASE');
    expect(hex(await r.broker.transmit('sesam-vitale', l2.token, h('00B0000002')))).toBe('01029000');
    await r.broker.release('sesam-vitale', l2.token);
    const l3 = await third;
    expect(order).toEqual(['second', 'third']);
    expect(l3.token).not.toBe(l2.token);
  });

  it('gives up with E_BUSY after the timeout, naming the slot', async () => {
    const { r } = await withHealthCard();
    await r.broker.acquire('sesam-vitale', 0, 0);
    const t0 = Date.now();
    await expectBrokerError(r.broker.acquire('sesam-vitale', 0, 60), 'E_BUSY', /slot 0 is leased.*60 ms/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(50);
    await expectBrokerError(r.broker.acquire('sesam-vitale', 0, 0), 'E_BUSY');
  });

  it('answers E_NOT_ROUTED for another domain’s card or an empty slot, revealing neither domain nor class', async () => {
    const { r } = await withHealthCard();
    const foreign = await expectBrokerError(r.broker.acquire('payment', 0, 0), 'E_NOT_ROUTED');
    const empty = await expectBrokerError(r.broker.acquire('payment', 1, 0), 'E_NOT_ROUTED');
    for (const e of [foreign, empty]) {
      expect(e.message).not.toMatch(/sesam-vitale|vitale/);
      expect(e.message).not.toContain(hex(ATR_HEALTH));
    }
    expect(foreign.message.replace('slot 0', 'slot N')).toBe(empty.message.replace('slot 1', 'slot N'));
    await expectBrokerError(r.broker.acquire('payment', 7, 0), 'E_SLOT', /slot 7 does not exist/);
  });

  it('refuses forged, foreign and replayed tokens with E_LEASE', async () => {
    r = await rig(routes);
    await r.insert(0, new FakeCard(ATR_HEALTH));
    await r.insert(1, new FakeCard(ATR_PAY));
    const health = await r.broker.acquire('sesam-vitale', 0, 0);
    const pay = await r.broker.acquire('payment', 1, 0);
    const read = h('00B0000001');

    // Forged: right shape, wrong value; wrong shape; a near miss of a real token.
    await expectBrokerError(r.broker.transmit('sesam-vitale', 'ab'.repeat(32), read), 'E_LEASE');
    await expectBrokerError(r.broker.transmit('sesam-vitale', 'not a token', read), 'E_LEASE');
    const nearMiss = health.token.slice(0, 63) + (health.token[63] === '0' ? '1' : '0');
    await expectBrokerError(r.broker.transmit('sesam-vitale', nearMiss, read), 'E_LEASE');
    await expectBrokerError(r.broker.transmit('sesam-vitale', health.token.toUpperCase(), read), 'E_LEASE');

    // Another domain's token, even a live one, is worthless here, and the error does not say whose it is.
    const foreign = await expectBrokerError(r.broker.transmit('sesam-vitale', pay.token, read), 'E_LEASE');
    expect(foreign.message).not.toMatch(/payment|emv/);
    await expectBrokerError(r.broker.release('payment', health.token), 'E_LEASE');
    await expectBrokerError(r.broker.reset('payment', health.token), 'E_LEASE');
    expect(() => r!.broker.checkLease('payment', health.token)).toThrow(/not valid for domain "payment"/);

    // Replay after release.
    await r.broker.release('sesam-vitale', health.token);
    await expectBrokerError(r.broker.transmit('sesam-vitale', health.token, read), 'E_LEASE');
    await expectBrokerError(r.broker.release('sesam-vitale', health.token), 'E_LEASE');
    // The payment lease was untouched by all this.
    expect(hex(await r.broker.transmit('payment', pay.token, read))).toBe('019000');
  });

  it('revokeDomain ends the domain’s leases, resets its cards and turns away its waiters', async () => {
    r = await rig(routes);
    const healthCard = new FakeCard(ATR_HEALTH);
    const payCard = new FakeCard(ATR_PAY);
    await r.insert(0, healthCard);
    await r.insert(1, payCard);
    const health = await r.broker.acquire('sesam-vitale', 0, 0);
    const pay = await r.broker.acquire('payment', 1, 0);
    const waiting = r.broker.acquire('sesam-vitale', 0, 5000);
    const healthResets = healthCard.resets;
    const payResets = payCard.resets;

    await r.broker.revokeDomain('sesam-vitale', 'host-death');
    expect(r.events).toContainEqual({ type: 'lease-revoked', slot: 0, domain: 'sesam-vitale', reason: 'host-death' });
    await expectBrokerError(waiting, 'E_LEASE', /lost its leases \(host-death\)/);
    await expectBrokerError(r.broker.transmit('sesam-vitale', health.token, h('00B0000001')), 'E_LEASE');
    expect(healthCard.resets).toBe(healthResets + 1);
    expect(payCard.resets).toBe(payResets);
    expect(hex(await r.broker.transmit('payment', pay.token, h('00B0000001')))).toBe('019000');
    // The restarted host can lease the card again.
    await r.broker.acquire('sesam-vitale', 0, 0);
  });

  it('revokes an idle lease, but not one in use', async () => {
    const { r, card } = await withHealthCard({ leaseIdleTimeoutMs: 150 });
    const busy = await r.broker.acquire('sesam-vitale', 0, 0);
    for (let i = 0; i < 8; i++) {
      await sleep(25);
      await r.broker.transmit('sesam-vitale', busy.token, h('00B0000001'));
    }
    expect(r.events.filter((e) => e.type === 'lease-revoked')).toEqual([]);
    const resets = card.resets;
    await sleep(320);
    expect(r.events).toContainEqual({ type: 'lease-revoked', slot: 0, domain: 'sesam-vitale', reason: 'timeout' });
    await expectBrokerError(r.broker.transmit('sesam-vitale', busy.token, h('00B0000001')), 'E_LEASE');
    expect(card.resets).toBe(resets + 1);
    // The slot is free for the next holder.
    await r.broker.acquire('sesam-vitale', 0, 0);
  });

  it('keeps a lease on a class whose policy gives it a longer idle time (a CPS held for the session)', async () => {
    r = await rig([{ domain: 'sesam-vitale', cardClass: { ...healthClass, lease: { idleMs: 60_000, maxMs: 120_000 } } }, { domain: 'payment', cardClass: payClass }], { leaseIdleTimeoutMs: 60 });
    const card = new FakeCard(ATR_HEALTH);
    await r.insert(0, card);
    await r.insert(1, new FakeCard(ATR_PAY));
    const held = await r.broker.acquire('sesam-vitale', 0, 0);
    const other = await r.broker.acquire('payment', 1, 0);
    await sleep(250);
    // The class's own idle time applies; the other class keeps the broker's default.
    expect(hex(await r.broker.transmit('sesam-vitale', held.token, h('00B0000001')))).toBe('019000');
    await expectBrokerError(r.broker.transmit('payment', other.token, h('00B0000001')), 'E_LEASE');
    expect(r.events.filter((e) => e.type === 'lease-revoked')).toEqual([{ type: 'lease-revoked', slot: 1, domain: 'payment', reason: 'timeout' }]);
  });

  it('does not count a slow command as idleness', async () => {
    const { r } = await withHealthCard({ leaseIdleTimeoutMs: 50 });
    const l = await r.broker.acquire('sesam-vitale', 0, 0);
    r.reader.delayMs = 120;
    expect(hex(await r.broker.transmit('sesam-vitale', l.token, h('00B0000001')))).toBe('019000');
    r.reader.delayMs = 0;
    expect(r.events.filter((e) => e.type === 'lease-revoked')).toEqual([]);
  });

  it('revokes a lease at leaseMaxMs however busy it is', async () => {
    const { r } = await withHealthCard({ leaseMaxMs: 100 });
    const l = await r.broker.acquire('sesam-vitale', 0, 0);
    const deadline = Date.now() + 300;
    let err: unknown = null;
    while (Date.now() < deadline && err === null) {
      await r.broker.transmit('sesam-vitale', l.token, h('00B0000001')).catch((e: unknown) => (err = e));
      await sleep(10);
    }
    expect((err as { code?: string } | null)?.code).toBe('E_LEASE');
    expect(r.events).toContainEqual({ type: 'lease-revoked', slot: 0, domain: 'sesam-vitale', reason: 'timeout' });
  });

  it('on removal mid-lease: revokes, reports the domain, fails the pending command with E_NO_CARD', async () => {
    const { r } = await withHealthCard();
    const l = await r.broker.acquire('sesam-vitale', 0, 0);
    let open!: () => void;
    r.reader.gate = new Promise<void>((res) => (open = res));
    const inFlight = r.broker.transmit('sesam-vitale', l.token, h('00B0000001'));
    const queued = r.broker.transmit('sesam-vitale', l.token, h('00B0000002'));
    const waiter = r.broker.acquire('sesam-vitale', 0, 5000);
    await sleep(10);
    r.reader.remove(0);
    open();
    await expectBrokerError(inFlight, 'E_NO_CARD', /slot 0/);
    await expectBrokerError(queued, 'E_NO_CARD', /slot 0/);
    await expectBrokerError(waiter, 'E_NOT_ROUTED', /slot 0 was removed/);
    const kinds = r.events.filter((e) => e.type === 'lease-revoked' || e.type === 'removed');
    expect(kinds).toEqual([
      { type: 'lease-revoked', slot: 0, domain: 'sesam-vitale', reason: 'removal' },
      { type: 'removed', slot: 0, domain: 'sesam-vitale' },
    ]);
    await expectBrokerError(r.broker.transmit('sesam-vitale', l.token, h('00B0000001')), 'E_LEASE');
    await expectBrokerError(r.broker.acquire('sesam-vitale', 0, 0), 'E_NOT_ROUTED');
  });

  it('resets the card when a lease ends, so a verified PIN does not carry over', async () => {
    const { r, card } = await withHealthCard();
    const first = await r.broker.acquire('sesam-vitale', 0, 0);
    expect(hex(await r.broker.transmitPinVerify('sesam-vitale', first.token, Uint8Array.from([0x00, 0x20, 0x00, 0x81, 0x08, ...PIN])))).toBe('9000');
    expect(card.pinVerified).toBe(true);
    expect(hex(await r.broker.transmit('sesam-vitale', first.token, h('00CA010000')))).toBe(hex(SECRET) + '9000');
    const resets = card.resets;
    await r.broker.release('sesam-vitale', first.token);
    expect(card.resets).toBe(resets + 1);
    expect(card.pinVerified).toBe(false);
    expect(r.events).toContainEqual({ type: 'lease-revoked', slot: 0, domain: 'sesam-vitale', reason: 'release' });

    const second = await r.broker.acquire('sesam-vitale', 0, 0);
    expect(hex(await r.broker.transmit('sesam-vitale', second.token, h('00CA010000')))).toBe('6982');
  });

  it('does not hand the slot to the next waiter before the card is reset', async () => {
    const { r, card } = await withHealthCard();
    const first = await r.broker.acquire('sesam-vitale', 0, 0);
    await r.broker.transmitPinVerify('sesam-vitale', first.token, Uint8Array.from([0x00, 0x20, 0x00, 0x81, 0x08, ...PIN]));
    const next = r.broker.acquire('sesam-vitale', 0, 5000).then((l) => ({ l, verified: card.pinVerified }));
    await r.broker.release('sesam-vitale', first.token);
    const { verified } = await next;
    expect(verified).toBe(false);
  });

  it('zeroes every buffer it kept for the slot when the lease ends', async () => {
    const { r } = await withHealthCard();
    const l = await r.broker.acquire('sesam-vitale', 0, 0);
    // A 61xx chain, so that the broker holds command, card answers, GET RESPONSE and assembled response.
    const card = r.reader.slots[0] as FakeCard;
    card.script = (apdu) => {
      if (apdu[1] === 0xb0) {
        card.pending = h('A1A2A3A4A5A6');
        return h('6106');
      }
      return undefined;
    };
    await r.broker.transmit('sesam-vitale', l.token, h('00B0000000'));
    const held = inspectSlotBuffers(r.broker, 0);
    expect(held.length).toBeGreaterThanOrEqual(3); // command copy, card answers, assembled response
    expect(held.some((b) => b.some((x) => x !== 0))).toBe(true);
    await r.broker.release('sesam-vitale', l.token);
    for (const b of held) expect(b.every((x) => x === 0)).toBe(true);
    expect(inspectSlotBuffers(r.broker, 0)).toEqual([]);
  });

  it('zeroes the slot buffers on removal and on host death too', async () => {
    const { r } = await withHealthCard();
    let l = await r.broker.acquire('sesam-vitale', 0, 0);
    await r.broker.transmit('sesam-vitale', l.token, h('00B0000008'));
    let held = inspectSlotBuffers(r.broker, 0);
    expect(held.some((b) => b.some((x) => x !== 0))).toBe(true);
    await r.broker.revokeDomain('sesam-vitale', 'host-death');
    for (const b of held) expect(b.every((x) => x === 0)).toBe(true);

    l = await r.broker.acquire('sesam-vitale', 0, 0);
    await r.broker.transmit('sesam-vitale', l.token, h('00B0000008'));
    held = inspectSlotBuffers(r.broker, 0);
    expect(held.some((b) => b.some((x) => x !== 0))).toBe(true);
    r.reader.remove(0);
    for (const b of held) expect(b.every((x) => x === 0)).toBe(true);
  });

  it('runs one command at a time per slot, and slots in parallel', async () => {
    r = await rig(routes);
    await r.insert(0, new FakeCard(ATR_HEALTH));
    await r.insert(1, new FakeCard(ATR_PAY));
    const a = await r.broker.acquire('sesam-vitale', 0, 0);
    const b = await r.broker.acquire('payment', 1, 0);
    r.reader.delayMs = 15;
    const results = await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => r!.broker.transmit('sesam-vitale', a.token, h(`00B000000${i + 1}`))),
      ...Array.from({ length: 4 }, () => r!.broker.transmit('payment', b.token, h('00B0000001'))),
    ]);
    expect(results.map(hex).slice(0, 4)).toEqual(['019000', '01029000', '0102039000', '010203049000']);
    expect(r.reader.maxInFlight.get(0)).toBe(1);
    expect(r.reader.maxInFlight.get(1)).toBe(1);
    // The two slots did overlap: one slot's card time does not hold up the other.
    expect(r.reader.maxTotalInFlight).toBe(2);
  });

  it('stop() revokes every lease with reason shutdown', async () => {
    const { r } = await withHealthCard();
    await r.broker.acquire('sesam-vitale', 0, 0);
    await r.broker.stop();
    expect(r.events).toContainEqual({ type: 'lease-revoked', slot: 0, domain: 'sesam-vitale', reason: 'shutdown' });
    await expectBrokerError(() => r!.broker.acquire('sesam-vitale', 0, 0), 'E_SLOT', /stopped/);
  });
});
