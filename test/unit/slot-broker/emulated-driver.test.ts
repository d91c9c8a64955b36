import { afterEach, describe, expect, it } from 'vitest';
import { buildApdu, parseResponse } from '../../../platform/sdk/apdu.js';
import { createSlotBroker } from '../../../platform/slot-broker/broker.js';
import { DriverError, type DriverEvent } from '../../../platform/slot-broker/driver.js';
import { EmulatedDriver } from '../../../platform/slot-broker/drivers/emulated.js';
import { DEFAULT_BROKER_OPTIONS, type BrokerEvent, type SlotBroker } from '../../../platform/slot-broker/types.js';
import { EmulatedReader } from '../../../emulator/reader/reader.js';
import { createTestCard, TEST_CARD_AID, TEST_CARD_PIN_REFERENCE } from '../../../emulator/cards/test-card.js';
import { ReaderError } from '../../../emulator/reader/types.js';
import { cardClass, expectBrokerError, FakeCard, FakeReader, h, hex, sleep } from './fakes.js';

describe('EmulatedDriver over a Reader', () => {
  it('announces cards already present at start, and passes later events through', async () => {
    const reader = new FakeReader(2);
    reader.insert(1, new FakeCard(h('3B020102')));
    const driver = new EmulatedDriver(reader);
    expect(driver.slotCount).toBe(2);
    const seen: DriverEvent[] = [];
    await driver.start((e) => seen.push(e));
    expect(seen).toEqual([{ type: 'insert', slot: 1, atr: h('3B020102') }]);
    reader.insert(0, new FakeCard(h('3B0201FF')));
    reader.remove(1);
    expect(seen.slice(1)).toEqual([
      { type: 'insert', slot: 0, atr: h('3B0201FF') },
      { type: 'remove', slot: 1 },
    ]);
    await driver.stop();
    reader.remove(0);
    expect(seen).toHaveLength(3);
  });

  it('maps ReaderError codes to DriverError codes', async () => {
    const reader = new FakeReader(1);
    const driver = new EmulatedDriver(reader);
    await driver.start(() => undefined);
    const code = async (p: Promise<unknown>): Promise<string> => {
      try {
        await p;
        return 'none';
      } catch (e) {
        expect(e).toBeInstanceOf(DriverError);
        return (e as DriverError).code;
      }
    };
    expect(await code(driver.transmit(0, h('00B0000000')))).toBe('E_NO_CARD');
    expect(await code(driver.reset(0))).toBe('E_NO_CARD');
    expect(await code(driver.transmit(3, h('00B0000000')))).toBe('E_SLOT');
    const card = new FakeCard(h('3B020102'));
    reader.insert(0, card);
    card.script = () => null;
    expect(await code(driver.transmit(0, h('00B0000000')))).toBe('E_MUTE');
    reader.transmit = async () => {
      throw new ReaderError('E_RESPONSE_TOO_LONG', 'too long');
    };
    expect(await code(driver.transmit(0, h('00B0000000')))).toBe('E_IO');
    reader.transmit = async () => {
      throw new ReaderError('E_CARD_REMOVED', 'gone');
    };
    expect(await code(driver.transmit(0, h('00B0000000')))).toBe('E_CARD_REMOVED');
    reader.transmit = async () => {
      throw new Error('anything else');
    };
    expect(await code(driver.transmit(0, h('00B0000000')))).toBe('E_IO');
  });
});

describe('broker over the real EmulatedReader and test card (T=0)', () => {
  let broker: SlotBroker | null = null;
  afterEach(async () => {
    await broker?.stop();
    broker = null;
  });

  async function setup(): Promise<{ reader: EmulatedReader; broker: SlotBroker; events: BrokerEvent[]; atr: string }> {
    const reader = new EmulatedReader({ slots: 2, muteTimeoutMs: 20 });
    const probe = createTestCard({ protocol: 'T=0' });
    const atr = hex(probe.reset());
    const klass = cardClass('test', atr, 'FF'.repeat(atr.length / 2), {
      aids: [hex(TEST_CARD_AID)],
      apdu: [
        { cla: '00', ins: 'A4' },
        { cla: '00', ins: 'B0' },
        { cla: '00', ins: 'B2' },
      ],
      pinReferences: [TEST_CARD_PIN_REFERENCE],
    });
    const b = createSlotBroker(new EmulatedDriver(reader), { ...DEFAULT_BROKER_OPTIONS, routes: [{ domain: 'tests', cardClass: klass }] });
    broker = b;
    const events: BrokerEvent[] = [];
    b.onEvent((e) => events.push(e));
    await b.start();
    reader.insert(0, createTestCard({ protocol: 'T=0' }));
    while (!events.some((e) => e.type === 'offered' || e.type === 'refused')) await sleep(1);
    return { reader, broker: b, events, atr };
  }

  const select = buildApdu({ cla: 0, ins: 0xa4, p1: 0x04, p2: 0x00, data: TEST_CARD_AID, le: 256 });
  const selectProtected = buildApdu({ cla: 0, ins: 0xa4, p1: 0x02, p2: 0x0c, data: h('0102') });
  const verify = Uint8Array.from([0x00, 0x20, 0x00, TEST_CARD_PIN_REFERENCE, 0x08, 0x31, 0x32, 0x33, 0x34, 0xff, 0xff, 0xff, 0xff]);

  it('routes, selects through 61xx, reads through 6Cxx, and resets the PIN state between holders', async () => {
    const { broker: b, events, atr } = await setup();
    expect(events[0]).toEqual({ type: 'offered', slot: 0, domain: 'tests', cardClass: 'test', atr });

    const first = await b.acquire('tests', 0, 0);
    // On T=0 a case 4 SELECT is answered 61xx; the broker fetches the FCI with GET RESPONSE.
    const fci = parseResponse(await b.transmit('tests', first.token, select));
    expect(fci.sw).toBe(0x9000);
    expect(fci.data[0]).toBe(0x6f);
    expect(parseResponse(await b.transmit('tests', first.token, selectProtected)).sw).toBe(0x9000);
    // Le 256 (00) on T=0 gets 6Cxx with the exact length; the broker re-sends.
    expect(parseResponse(await b.transmit('tests', first.token, h('00B0000000'))).sw).toBe(0x6982);
    expect(parseResponse(await b.transmitPinVerify('tests', first.token, verify)).sw).toBe(0x9000);
    const data = parseResponse(await b.transmit('tests', first.token, h('00B0000000')));
    expect(data.sw).toBe(0x9000);
    expect(Buffer.from(data.data).toString('ascii')).toBe('DITEST PROTECTED DATA');
    await b.release('tests', first.token);

    const second = await b.acquire('tests', 0, 0);
    await b.transmit('tests', second.token, select);
    await b.transmit('tests', second.token, selectProtected);
    expect(parseResponse(await b.transmit('tests', second.token, h('00B0000000'))).sw).toBe(0x6982);
  });

  it('fails a command with E_NO_CARD when the card is pulled, and reports the removal', async () => {
    const { reader, broker: b, events } = await setup();
    const l = await b.acquire('tests', 0, 0);
    const pending = b.transmit('tests', l.token, select);
    reader.remove(0);
    await expectBrokerError(pending, 'E_NO_CARD', /slot 0/);
    expect(events.slice(-2)).toEqual([
      { type: 'lease-revoked', slot: 0, domain: 'tests', reason: 'removal' },
      { type: 'removed', slot: 0, domain: 'tests' },
    ]);
  });
});
