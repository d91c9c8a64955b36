import { afterEach, describe, expect, it } from 'vitest';
import { createSlotBroker } from '../../../platform/slot-broker/broker.js';
import { DriverError, type DriverEvent, type SlotDriver } from '../../../platform/slot-broker/driver.js';
import { DEFAULT_BROKER_OPTIONS, type BrokerEvent } from '../../../platform/slot-broker/types.js';
import { ATR_HEALTH, cardClass, expectBrokerError, FakeCard, h, hex, rig, sleep, type Rig } from './fakes.js';

let r: Rig | null = null;
afterEach(async () => {
  await r?.broker.stop();
  r = null;
});

const klass = (maxResponseBytes?: number) =>
  cardClass('vitale', hex(ATR_HEALTH), 'FF'.repeat(ATR_HEALTH.length), maxResponseBytes === undefined ? {} : { maxResponseBytes });

async function leased(opts = {}, maxResponseBytes?: number): Promise<{ r: Rig; card: FakeCard; token: string }> {
  r = await rig([{ domain: 'sesam-vitale', cardClass: klass(maxResponseBytes) }], opts);
  const card = new FakeCard(ATR_HEALTH);
  await r.insert(0, card);
  const { token } = await r.broker.acquire('sesam-vitale', 0, 0);
  return { r, card, token };
}

const bytes = (n: number, start = 0): number[] => Array.from({ length: n }, (_, i) => (start + i) & 0xff);

describe('T=0 transport below the applet', () => {
  it('assembles a 61xx chain with GET RESPONSE', async () => {
    const { r, card, token } = await leased();
    const body = bytes(300);
    card.script = (apdu) => {
      if (apdu[1] !== 0xb0) return undefined;
      // The card gives 10 bytes with the first answer, then the rest through GET RESPONSE in pieces.
      card.pending = Uint8Array.from(body.slice(10));
      return Uint8Array.from([...body.slice(0, 10), 0x61, 0x00]);
    };
    const resp = await r.broker.transmit('sesam-vitale', token, h('00B0000000'));
    expect(Array.from(resp)).toEqual([...body, 0x90, 0x00]);
    expect(card.received.slice(1).map(hex)).toEqual(['00C0000000', '00C0000022']);
  });

  it('refuses a status word that is not ISO 7816-4 (SW1 outside 6X/9X, or 60)', async () => {
    const { r, card, token } = await leased();
    for (const bad of ['0000', '6000', '1234', 'A000']) {
      card.script = (apdu) => (apdu[1] === 0xb0 ? h(`0102${bad}`) : undefined);
      await expectBrokerError(r.broker.transmit('sesam-vitale', token, h('00B0000000')), 'E_CARD', new RegExp(`status ${bad}, which is not an ISO 7816-4 status word`));
    }
    card.script = (apdu) => (apdu[1] === 0xb0 ? h('01026A82') : undefined);
    expect(hex(await r.broker.transmit('sesam-vitale', token, h('00B0000000')))).toBe('01026A82');
  });

  it('bounds an endless 61xx chain by maxTransportRounds', async () => {
    const { r, card, token } = await leased({ maxTransportRounds: 4 });
    card.script = (apdu) => (apdu[1] === 0xb0 || apdu[1] === 0xc0 ? h('AA6101') : undefined);
    await expectBrokerError(
      r.broker.transmit('sesam-vitale', token, h('00B0000001')),
      'E_CARD',
      /slot 0 .*card kept answering 61xx after 4 rounds/,
    );
    expect(card.received.filter((c) => c[1] === 0xc0)).toHaveLength(4);
  });

  it('bounds the assembled size by maxResponseBytes', async () => {
    const { r, card, token } = await leased({ maxResponseBytes: 100 }, 4096);
    card.script = (apdu) => (apdu[1] === 0xb0 || apdu[1] === 0xc0 ? Uint8Array.from([...bytes(40), 0x61, 40]) : undefined);
    await expectBrokerError(
      r.broker.transmit('sesam-vitale', token, h('00B0000000')),
      'E_CARD',
      /assembled response reached 122 bytes, over the broker limit of 100/,
    );
    expect(card.received).toHaveLength(3);
  });

  it('re-sends once with the Le the card asks for on 6Cxx', async () => {
    const { r, card, token } = await leased();
    card.script = (apdu) => {
      if (apdu[1] !== 0xb0) return undefined;
      return apdu[4] === 0x05 ? Uint8Array.from([...bytes(5, 1), 0x90, 0x00]) : h('6C05');
    };
    const resp = await r.broker.transmit('sesam-vitale', token, h('00B0000000'));
    expect(hex(resp)).toBe('01020304059000');
    expect(card.received.slice(-2).map(hex)).toEqual(['00B0000000', '00B0000005']);
  });

  it('gives up on a second 6Cxx', async () => {
    const { r, card, token } = await leased();
    card.script = (apdu) => (apdu[1] === 0xb0 ? h('6C05') : undefined);
    await expectBrokerError(r.broker.transmit('sesam-vitale', token, h('00B0000000')), 'E_CARD', /answered 6C05 again/);
    expect(card.received.filter((c) => c[1] === 0xb0)).toHaveLength(2);
  });

  it('handles 6Cxx on a case 1 command by adding Le', async () => {
    const { r, card, token } = await leased();
    card.script = (apdu) => {
      if (apdu[1] !== 0xb0) return undefined;
      return apdu.length === 5 ? h('AB9000') : h('6C01');
    };
    expect(hex(await r.broker.transmit('sesam-vitale', token, h('00B00000')))).toBe('AB9000');
    expect(card.received.slice(-1).map(hex)).toEqual(['00B0000001']);
  });

  it('refuses a response over the card class maxResponseBytes', async () => {
    const { r, card, token } = await leased({}, 16);
    card.script = (apdu) => (apdu[1] === 0xb0 ? Uint8Array.from([...bytes(17), 0x90, 0x00]) : undefined);
    await expectBrokerError(
      r.broker.transmit('sesam-vitale', token, h('00B0000000')),
      'E_CARD',
      /slot 0 \(class "vitale"\), CLA 00 INS B0: answered 17 data bytes, over the card class limit of 16/,
    );
    card.script = (apdu) => (apdu[1] === 0xb0 ? Uint8Array.from([...bytes(16), 0x90, 0x00]) : undefined);
    expect((await r.broker.transmit('sesam-vitale', token, h('00B0000000'))).length).toBe(18);
  });

  it('applies the default 4096-byte class limit', async () => {
    const { r, card, token } = await leased();
    card.script = (apdu) => (apdu[1] === 0xb0 ? new Uint8Array(4097 + 2).fill(0x90) : undefined);
    await expectBrokerError(r.broker.transmit('sesam-vitale', token, h('00B00000000000')), 'E_CARD', /limit of 4096/);
  });

  it('refuses a response shorter than SW1 SW2', async () => {
    const { r, card, token } = await leased();
    card.script = (apdu) => (apdu[1] === 0xb0 ? h('90') : undefined);
    await expectBrokerError(r.broker.transmit('sesam-vitale', token, h('00B0000000')), 'E_CARD', /answered 1 byte\(s\)/);
  });

  it('reports a mute card with the slot named, and resets it to recover', async () => {
    const { r, card, token } = await leased();
    card.script = (apdu) => (apdu[1] === 0xb0 && apdu[4] === 0x01 ? null : undefined);
    const resets = card.resets;
    await expectBrokerError(
      r.broker.transmit('sesam-vitale', token, h('00B0000001')),
      'E_CARD',
      /slot 0: command INS B0: card did not answer \(mute\); the card was reset/,
    );
    expect(card.resets).toBe(resets + 1);
    // The lease survives and the card answers again.
    expect(hex(await r.broker.transmit('sesam-vitale', token, h('00B0000002')))).toBe('01029000');
  });
});

/** A bare driver for failures the emulated reader cannot produce. */
class ScriptedDriver implements SlotDriver {
  readonly name = 'scripted';
  readonly slotCount = 1;
  resets = 0;
  emit: (e: DriverEvent) => void = () => undefined;
  transmitImpl: (apdu: Uint8Array) => Promise<Uint8Array> = async () => h('9000');
  async start(onEvent: (e: DriverEvent) => void): Promise<void> {
    this.emit = onEvent;
  }
  async reset(): Promise<Uint8Array> {
    this.resets++;
    return ATR_HEALTH.slice();
  }
  transmit(_slot: number, apdu: Uint8Array): Promise<Uint8Array> {
    return this.transmitImpl(apdu);
  }
  async stop(): Promise<void> {}
}

describe('driver failures', () => {
  async function scripted(): Promise<{ driver: ScriptedDriver; broker: ReturnType<typeof createSlotBroker>; token: string }> {
    const driver = new ScriptedDriver();
    const broker = createSlotBroker(driver, { ...DEFAULT_BROKER_OPTIONS, routes: [{ domain: 'd', cardClass: klass() }] });
    const events: BrokerEvent[] = [];
    broker.onEvent((e) => events.push(e));
    await broker.start();
    driver.emit({ type: 'insert', slot: 0, atr: ATR_HEALTH.slice() });
    while (!events.some((e) => e.type === 'offered')) await sleep(1);
    const { token } = await broker.acquire('d', 0, 0);
    return { driver, broker, token };
  }

  it('maps an I/O error to E_CARD and resets the slot', async () => {
    const { driver, broker, token } = await scripted();
    driver.transmitImpl = async () => {
      throw new DriverError('E_IO', 'USB transfer failed');
    };
    await expectBrokerError(broker.transmit('d', token, h('00B0000001')), 'E_CARD', /slot 0: .*driver error: USB transfer failed; the card was reset/);
    expect(driver.resets).toBe(1);
    await broker.stop();
  });

  it('maps a vanished card to E_NO_CARD', async () => {
    const { driver, broker, token } = await scripted();
    driver.transmitImpl = async () => {
      throw new DriverError('E_CARD_REMOVED', 'gone');
    };
    await expectBrokerError(broker.transmit('d', token, h('00B0000001')), 'E_NO_CARD', /slot 0: no card/);
    await broker.stop();
  });

  it('maps a non-DriverError throw and a non-bytes answer to E_CARD', async () => {
    const { driver, broker, token } = await scripted();
    driver.transmitImpl = async () => {
      throw new TypeError('boom');
    };
    await expectBrokerError(broker.transmit('d', token, h('00B0000001')), 'E_CARD', /boom/);
    driver.transmitImpl = async () => 'nope' as unknown as Uint8Array;
    await expectBrokerError(broker.transmit('d', token, h('00B0000001')), 'E_CARD', /returned no byte array/);
    await broker.stop();
  });

  it('withdraws the card if it cannot be reset after a lease, rather than hand over a dirty card', async () => {
    const { driver, broker, token } = await scripted();
    const events: BrokerEvent[] = [];
    broker.onEvent((e) => events.push(e));
    driver.reset = async () => {
      throw new DriverError('E_MUTE', 'no ATR');
    };
    const waiter = broker.acquire('d', 0, 5000);
    await broker.release('d', token);
    await expectBrokerError(waiter, 'E_NOT_ROUTED');
    expect(events).toContainEqual({ type: 'removed', slot: 0, domain: 'd' });
    expect(broker.cardsFor('d')).toEqual([]);
    await broker.stop();
  });
});
