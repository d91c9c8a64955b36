/**
 * The pcsc driver over a scripted stand-in for the smartcard binding: error mapping, events,
 * connection mode and the T=0 rule (raw exchanges), without pcscd. The real stack is exercised in
 * test/integration/pcsc.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { DriverError, type DriverEvent } from '../../../platform/slot-broker/driver.js';
import {
  loadPcscBinding,
  PcscDriver,
  PcscUnavailableError,
  type PcscBinding,
  type PcscCardHandle,
  type PcscContextHandle,
  type PcscMonitorEvent,
  type PcscMonitorHandle,
  type PcscReaderHandle,
} from '../../../platform/slot-broker/drivers/pcsc.js';

const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const PRESENT = 0x20;
const EMPTY = 0x10;
const MUTE = 0x200;

interface FakeReaderState {
  name: string;
  state: number;
  atr: Buffer | null;
}

/** A fake pcscd: readers, a monitor the test drives, and cards whose behaviour is scripted. */
class FakePcsc {
  readers: FakeReaderState[] = [];
  service = true;
  monitors: Array<{ cb: (e: PcscMonitorEvent) => void; running: boolean }> = [];
  connects: Array<{ reader: string; share: number; protocol: number }> = [];
  transmits: Array<{ command: Buffer; options: unknown }> = [];
  reconnects: number[] = [];
  disconnects: number[] = [];
  /** Answers transmit; throw to fail. */
  onTransmit: (command: Buffer) => Buffer | Promise<Buffer> = () => Buffer.from([0x90, 0x00]);
  onReconnect: (init: number) => void = () => undefined;

  binding(): PcscBinding {
    const fake = this;
    const card = (reader: FakeReaderState, protocol: number): PcscCardHandle => {
      let connected = true;
      return {
        protocol,
        get connected() {
          return connected;
        },
        async transmit(command, options) {
          fake.transmits.push({ command: Buffer.from(command), options });
          return fake.onTransmit(command);
        },
        getStatus: () => ({ state: reader.state, protocol, atr: reader.atr ?? Buffer.alloc(0) }),
        disconnect(d) {
          connected = false;
          fake.disconnects.push(d ?? -1);
        },
        async reconnect(_share, proto, init) {
          fake.reconnects.push(init ?? -1);
          fake.onReconnect(init ?? -1);
          return proto ?? 0;
        },
      };
    };
    class Context implements PcscContextHandle {
      isValid = true;
      constructor() {
        if (!fake.service) throw new Error('PC/SC service not running');
      }
      listReaders(): PcscReaderHandle[] {
        if (!fake.service) throw new Error('PC/SC service not running');
        return fake.readers.map((r) => ({
          name: r.name,
          state: r.state,
          atr: r.atr,
          async connect(share?: number, protocol?: number) {
            if ((r.state & PRESENT) === 0) throw new Error('No smart card present');
            fake.connects.push({ reader: r.name, share: share ?? -1, protocol: protocol ?? -1 });
            return card(r, 2);
          },
        }));
      }
      close(): void {
        this.isValid = false;
      }
    }
    class ReaderMonitor implements PcscMonitorHandle {
      private entry: { cb: (e: PcscMonitorEvent) => void; running: boolean } | null = null;
      get isRunning(): boolean {
        return this.entry?.running ?? false;
      }
      start(cb: (e: PcscMonitorEvent) => void): void {
        if (!fake.service) throw new Error('PC/SC service not running');
        this.entry = { cb, running: true };
        fake.monitors.push(this.entry);
        for (const r of fake.readers) cb({ type: 'reader-attached', reader: r.name, state: r.state, atr: r.atr });
      }
      stop(): void {
        if (this.entry) this.entry.running = false;
      }
    }
    return {
      Context,
      ReaderMonitor,
      SCARD_SHARE_EXCLUSIVE: 1,
      SCARD_SHARE_SHARED: 2,
      SCARD_PROTOCOL_T0: 1,
      SCARD_PROTOCOL_T1: 2,
      SCARD_LEAVE_CARD: 0,
      SCARD_RESET_CARD: 1,
      SCARD_STATE_PRESENT: PRESENT,
      SCARD_STATE_MUTE: MUTE,
    };
  }

  /** Deliver a monitor event to the running monitor. */
  emit(e: PcscMonitorEvent): void {
    const m = this.monitors.filter((x) => x.running).at(-1);
    m?.cb(e);
  }

  insert(name: string, atr: string): void {
    const r = this.readers.find((x) => x.name === name)!;
    r.state = PRESENT;
    r.atr = Buffer.from(h(atr));
    this.emit({ type: 'card-inserted', reader: name, state: r.state, atr: r.atr });
  }

  remove(name: string): void {
    const r = this.readers.find((x) => x.name === name)!;
    r.state = EMPTY;
    r.atr = null;
    this.emit({ type: 'card-removed', reader: name, state: r.state, atr: null });
  }
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'none';
  } catch (e) {
    expect(e).toBeInstanceOf(DriverError);
    return (e as DriverError).code;
  }
}

function setup(readers = ['Reader B 00 00', 'Reader A 00 00']): { fake: FakePcsc; events: DriverEvent[] } {
  const fake = new FakePcsc();
  fake.readers = readers.map((name) => ({ name, state: EMPTY, atr: null }));
  return { fake, events: [] };
}

describe('pcsc driver (fake binding)', () => {
  it('maps all readers, sorted, to slots when none are named; names can be prefixes', async () => {
    const { fake } = setup();
    const d = new PcscDriver(fake.binding());
    expect(d.slotCount).toBe(2);
    await d.start(() => undefined);
    expect(d.readerNames()).toEqual(['Reader A 00 00', 'Reader B 00 00']);
    await d.stop();
    const named = new PcscDriver(fake.binding(), { readers: ['Reader B', 'Nowhere'] });
    await named.start(() => undefined);
    expect(named.readerNames()).toEqual(['Reader B 00 00', null]);
    await named.stop();
  });

  it('says to start pcscd when it is not running', () => {
    const { fake } = setup();
    fake.service = false;
    expect(() => new PcscDriver(fake.binding())).toThrow(/start it/);
    try {
      new PcscDriver(fake.binding());
    } catch (e) {
      expect((e as DriverError).code).toBe('E_IO');
    }
  });

  it('announces present cards at start and follows the monitor; muted cards are not announced', async () => {
    const { fake, events } = setup(['R0', 'R1']);
    fake.readers[1] = { name: 'R1', state: PRESENT, atr: Buffer.from(h('3B0101')) };
    const d = new PcscDriver(fake.binding(), { readers: ['R0', 'R1'] });
    await d.start((e) => events.push(e));
    expect(events).toEqual([{ type: 'insert', slot: 1, atr: h('3B0101') }]);
    fake.insert('R0', '3B0202');
    fake.remove('R1');
    fake.emit({ type: 'card-inserted', reader: 'R1', state: PRESENT | MUTE, atr: Buffer.from(h('3B')) });
    expect(events.slice(1)).toEqual([
      { type: 'insert', slot: 0, atr: h('3B0202') },
      { type: 'remove', slot: 1 },
    ]);
    fake.emit({ type: 'reader-detached', reader: 'R0', state: 0, atr: null });
    expect(events.at(-1)).toEqual({ type: 'remove', slot: 0 });
    await d.stop();
  });

  it('connects EXCLUSIVE with T=0|T=1 and exchanges raw: no auto GET RESPONSE, our copy zeroed', async () => {
    const { fake } = setup(['R0']);
    const d = new PcscDriver(fake.binding(), { readers: ['R0'] });
    await d.start(() => undefined);
    fake.insert('R0', '3B0101');
    fake.onTransmit = () => Buffer.from([0x61, 0x10]);
    const apdu = h('00A4040002AABB00');
    expect(await d.transmit(0, apdu)).toEqual(h('6110'));
    expect(fake.connects).toEqual([{ reader: 'R0', share: 1, protocol: 3 }]);
    expect(fake.transmits).toHaveLength(1);
    expect(fake.transmits[0]!.options).toEqual({ maxRecvLength: 65538, autoGetResponse: false });
    expect(apdu).toEqual(h('00A4040002AABB00'));
    // The connection is kept for the next exchange.
    await d.transmit(0, apdu);
    expect(fake.connects).toHaveLength(1);
    await d.stop();
  });

  it('reset reconnects with SCARD_RESET_CARD and returns the ATR; stop resets without a blocking disconnect', async () => {
    const { fake } = setup(['R0']);
    const d = new PcscDriver(fake.binding(), { readers: ['R0'] });
    await d.start(() => undefined);
    fake.insert('R0', '3B0101');
    expect(await d.reset(0)).toEqual(h('3B0101'));
    expect(fake.reconnects).toEqual([1]);
    await d.stop();
    expect(fake.reconnects).toEqual([1, 1]);
    expect(fake.disconnects).toEqual([0]);
  });

  it('error codes: no card, bad slot, removed, sharing violation, mute', async () => {
    const { fake } = setup(['R0']);
    const d = new PcscDriver(fake.binding(), { readers: ['R0'], removalGraceMs: 50 });
    await d.start(() => undefined);
    expect(await code(d.transmit(0, h('00B0000000')))).toBe('E_NO_CARD');
    expect(await code(d.transmit(5, h('00B0000000')))).toBe('E_SLOT');
    fake.insert('R0', '3B0101');
    fake.onTransmit = () => {
      throw new Error('Card was removed');
    };
    expect(await code(d.transmit(0, h('00B0000000')))).toBe('E_CARD_REMOVED');
    fake.onTransmit = () => {
      throw new Error('Sharing violation');
    };
    expect(await code(d.transmit(0, h('00B0000000')))).toBe('E_IO');
    fake.onTransmit = () => {
      throw new Error('Card is unresponsive');
    };
    expect(await code(d.transmit(0, h('00B0000000')))).toBe('E_MUTE');
    await d.stop();
  });

  it('an empty answer is a removal when the card goes, an I/O error when it stays', async () => {
    const { fake } = setup(['R0']);
    const d = new PcscDriver(fake.binding(), { readers: ['R0'], removalGraceMs: 300 });
    await d.start(() => undefined);
    fake.insert('R0', '3B0101');
    fake.onTransmit = () => Buffer.alloc(0);
    expect(await code(d.transmit(0, h('00B0000000')))).toBe('E_IO');
    const r = fake.readers[0]!;
    fake.onTransmit = () => {
      // Pulled while processing; pcscd notices a little later.
      setTimeout(() => {
        r.state = EMPTY;
        r.atr = null;
      }, 50);
      return Buffer.alloc(0);
    };
    expect(await code(d.transmit(0, h('00B0000000')))).toBe('E_CARD_REMOVED');
    await d.stop();
  });

  it('SCARD_W_RESET_CARD: acknowledged by reconnect, re-announced as remove + insert, reported as E_CARD_REMOVED', async () => {
    const { fake, events } = setup(['R0']);
    const d = new PcscDriver(fake.binding(), { readers: ['R0'] });
    await d.start((e) => events.push(e));
    fake.insert('R0', '3B0101');
    await d.transmit(0, h('00B0000000'));
    fake.onTransmit = () => {
      throw new Error('Card was reset');
    };
    const err = await d.transmit(0, h('00B0000000')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).code).toBe('E_CARD_REMOVED');
    expect(fake.reconnects).toEqual([0]);
    expect(events.slice(-2)).toEqual([
      { type: 'remove', slot: 0 },
      { type: 'insert', slot: 0, atr: h('3B0101') },
    ]);
    fake.onTransmit = () => Buffer.from([0x90, 0x00]);
    expect(await d.transmit(0, h('00B0000000'))).toEqual(h('9000'));
    await d.stop();
  });

  it('pcscd going away: cards are reported removed and the monitor is restarted until pcscd is back', async () => {
    const { fake, events } = setup(['R0']);
    const d = new PcscDriver(fake.binding(), { readers: ['R0'], monitorRetryMs: 20 });
    await d.start((e) => events.push(e));
    fake.insert('R0', '3B0101');
    fake.service = false;
    fake.emit({ type: 'error', reader: 'PC/SC service not running', state: 0, atr: null });
    expect(events.at(-1)).toEqual({ type: 'remove', slot: 0 });
    expect(await code(d.transmit(0, h('00B0000000')))).toBe('E_NO_CARD');
    await sleep(60);
    fake.service = true;
    for (let i = 0; i < 50 && events.at(-1)?.type !== 'insert'; i++) await sleep(10);
    expect(events.at(-1)).toEqual({ type: 'insert', slot: 0, atr: h('3B0101') });
    expect(await d.transmit(0, h('00B0000000'))).toEqual(h('9000'));
    await d.stop();
  });
});

describe('loading the binding', () => {
  it('loads smartcard when installed, or explains what is missing', async () => {
    try {
      const b = await loadPcscBinding();
      expect(typeof b.Context).toBe('function');
      expect(typeof b.SCARD_SHARE_EXCLUSIVE).toBe('number');
    } catch (e) {
      expect(e).toBeInstanceOf(PcscUnavailableError);
      expect((e as Error).message).toMatch(/optional dependency/);
    }
  });
});
