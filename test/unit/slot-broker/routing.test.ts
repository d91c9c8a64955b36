import { afterEach, describe, expect, it } from 'vitest';
import { compileRoutes, RouteConfigError } from '../../../platform/slot-broker/routing.js';
import {
  ATR_HEALTH,
  ATR_PAY,
  cardClass,
  expectBrokerError,
  FakeCard,
  h,
  healthClass,
  hex,
  payClass,
  rig,
  type Rig,
} from './fakes.js';

let r: Rig | null = null;
afterEach(async () => {
  await r?.broker.stop();
  r = null;
});

describe('routing by ATR', () => {
  it('offers a card to the one domain whose class matches under the mask', async () => {
    r = await rig([
      { domain: 'sesam-vitale', cardClass: healthClass },
      { domain: 'payment', cardClass: payClass },
    ]);
    // Bytes 2 and 3 are masked out in the payment class: a different value there still matches.
    const atr = ATR_PAY.slice();
    atr[2] = 0x11;
    atr[3] = 0x22;
    const e = await r.insert(1, new FakeCard(atr));
    expect(e).toEqual({ type: 'offered', slot: 1, domain: 'payment', cardClass: 'emv', atr: hex(atr) });
    expect(r.broker.cardsFor('payment')).toEqual([{ slot: 1, cardClass: 'emv', atr: hex(atr) }]);
    expect(r.broker.cardsFor('sesam-vitale')).toEqual([]);
  });

  it('does not talk to (or reset) a card whose ATR alone decides', async () => {
    r = await rig([
      { domain: 'sesam-vitale', cardClass: healthClass },
      { domain: 'payment', cardClass: payClass },
    ]);
    const card = new FakeCard(ATR_HEALTH);
    expect(await r.insert(0, card)).toMatchObject({ type: 'offered', domain: 'sesam-vitale' });
    expect(card.received).toEqual([]);
    expect(card.resets).toBe(1); // the power-up only
  });

  it('does not match a byte outside the mask, nor an ATR shorter than the pattern', async () => {
    r = await rig([{ domain: 'payment', cardClass: payClass }]);
    const atr = ATR_PAY.slice();
    atr[4] = atr[4]! ^ 0x01;
    expect(await r.insert(0, new FakeCard(atr))).toMatchObject({ type: 'refused', slot: 0 });
    r.reader.remove(0);
    expect(await r.insert(0, new FakeCard(ATR_PAY.slice(0, ATR_PAY.length - 1)))).toMatchObject({ type: 'refused' });
  });

  it('a pattern shorter than the ATR matches its first bytes', async () => {
    r = await rig([{ domain: 'payment', cardClass: payClass }]);
    expect(await r.insert(0, new FakeCard(Uint8Array.from([...ATR_PAY, 0x00])))).toMatchObject({ type: 'offered', domain: 'payment' });
  });

  it('refuses a card no class claims, offers it to nobody, and lets nobody lease it', async () => {
    r = await rig([
      { domain: 'sesam-vitale', cardClass: healthClass },
      { domain: 'payment', cardClass: payClass },
    ]);
    const card = new FakeCard(h('3B020102'));
    const e = await r.insert(0, card);
    expect(e).toEqual({ type: 'refused', slot: 0, atr: '3B020102', reason: 'no card class of any policy matches this ATR' });
    expect(r.events.some((x) => x.type === 'offered')).toBe(false);
    expect(r.broker.cardsFor('sesam-vitale')).toEqual([]);
    expect(r.broker.cardsFor('payment')).toEqual([]);
    await expectBrokerError(r.broker.acquire('payment', 0, 0), 'E_NOT_ROUTED');
    await expectBrokerError(r.broker.acquire('sesam-vitale', 0, 0), 'E_NOT_ROUTED');
    // Nothing was sent to a card nobody claimed.
    expect(card.received).toEqual([]);
  });

  it('clears the decision on removal and decides afresh on the next insertion', async () => {
    r = await rig([
      { domain: 'sesam-vitale', cardClass: healthClass },
      { domain: 'payment', cardClass: payClass },
    ]);
    await r.insert(0, new FakeCard(ATR_HEALTH));
    expect(r.broker.cardsFor('sesam-vitale')).toHaveLength(1);
    r.reader.remove(0);
    expect(await r.next((e) => e.type === 'removed')).toEqual({ type: 'removed', slot: 0, domain: 'sesam-vitale' });
    expect(r.broker.cardsFor('sesam-vitale')).toEqual([]);
    expect(await r.insert(0, new FakeCard(ATR_PAY))).toMatchObject({ type: 'offered', domain: 'payment' });
    expect(r.broker.cardsFor('sesam-vitale')).toEqual([]);
  });
});

describe('routing by AID probe when the ATR is ambiguous', () => {
  const shared = hex(ATR_HEALTH);
  const mask = 'FF'.repeat(ATR_HEALTH.length);
  const vitaleAid = 'D250000002564954414C45';
  const cpsAid = 'E828BD080F8025000001FF0010';
  const routes = () => [
    { domain: 'sesam-vitale', cardClass: cardClass('vitale', shared, mask, { aids: [vitaleAid] }) },
    { domain: 'cps-domain', cardClass: cardClass('cps', shared, mask, { aids: [cpsAid] }) },
  ];

  it('probes with SELECT by AID, picks the class that answers, then resets the card', async () => {
    r = await rig(routes());
    const card = new FakeCard(ATR_HEALTH, [cpsAid]);
    const e = await r.insert(0, card);
    expect(e).toMatchObject({ type: 'offered', slot: 0, domain: 'cps-domain', cardClass: 'cps' });
    expect(card.received.map(hex)).toEqual([
      `00A404000B${vitaleAid}00`,
      `00A404000D${cpsAid}00`,
    ]);
    // Probe state is gone: the card was reset after probing, nothing stays selected.
    expect(card.resets).toBe(2); // power-up on insertion, then the reset after probing
    expect(card.selected).toBeNull();
    expect(r.broker.cardsFor('sesam-vitale')).toEqual([]);
  });

  it('counts 61xx as an answer and takes the first class in order', async () => {
    r = await rig(routes());
    const card = new FakeCard(ATR_HEALTH, [vitaleAid, cpsAid]);
    card.script = (apdu) => (apdu[1] === 0xa4 ? h('6112') : undefined);
    expect(await r.insert(0, card)).toMatchObject({ type: 'offered', domain: 'sesam-vitale', cardClass: 'vitale' });
    expect(card.received).toHaveLength(1);
  });

  it('refuses the card when no candidate AID answers, and resets it', async () => {
    r = await rig(routes());
    const card = new FakeCard(ATR_HEALTH, ['A0000000031010']);
    const e = await r.insert(0, card);
    expect(e).toMatchObject({ type: 'refused', slot: 0 });
    expect((e as { reason: string }).reason).toMatch(/"vitale", "cps".*none of their AIDs/);
    expect(card.resets).toBe(2);
    expect(r.events.some((x) => x.type === 'offered')).toBe(false);
  });

  it('treats a mute answer to a probe as absence and goes on probing', async () => {
    r = await rig(routes());
    const card = new FakeCard(ATR_HEALTH, [cpsAid]);
    card.script = (apdu) => (hex(apdu).includes(vitaleAid) ? null : undefined);
    expect(await r.insert(0, card)).toMatchObject({ type: 'offered', domain: 'cps-domain' });
  });
});

describe('route compilation', () => {
  it('names the route and field that is wrong', () => {
    expect(() => compileRoutes([{ domain: 'd', cardClass: cardClass('x', '3B0', 'FF') }])).toThrow(
      /route 0 \(domain "d", card class "x"\): atr.value: "3B0" is not an even-length hex string/,
    );
    expect(() => compileRoutes([{ domain: 'd', cardClass: cardClass('x', '3B00', 'FF') }])).toThrow(
      /atr.mask is 1 bytes but atr.value is 2/,
    );
    expect(() =>
      compileRoutes([
        { domain: 'a', cardClass: cardClass('x', '3B00', 'FFFF') },
        { domain: 'b', cardClass: cardClass('x', '3B01', 'FFFF') },
      ]),
    ).toThrow(/already used by domain "a"/);
    expect(() =>
      compileRoutes([{ domain: 'd', cardClass: cardClass('x', '3B00', 'FFFF', { apdu: [{ cla: '0', ins: 'B0' }] }) }]),
    ).toThrow(RouteConfigError);
  });
});
