/**
 * Small stand-ins for the emulator, so the broker can be tested on its own: a scriptable card with a
 * reset counter and a PIN-protected secret, and a Reader that holds such cards in slots.
 */
import type { CardModel } from '../../../emulator/cards/card.js';
import { ReaderError, type Reader, type ReaderEvent } from '../../../emulator/reader/types.js';
import { createSlotBroker } from '../../../platform/slot-broker/broker.js';
import { EmulatedDriver } from '../../../platform/slot-broker/drivers/emulated.js';
import {
  DEFAULT_BROKER_OPTIONS,
  type BrokerEvent,
  type BrokerOptions,
  type Route,
  type SlotBroker,
} from '../../../platform/slot-broker/types.js';
import type { CardClass } from '../../../platform/kernel/policy/types.js';

export const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const PIN = h('31323334FFFFFFFF');
export const SECRET = h('C0FFEE');

/**
 * A card that knows SELECT by AID, VERIFY (PIN reference 81 → PIN above), GET DATA 00 CA 01 00 for a
 * secret that needs the PIN, GET RESPONSE for pending data, and READ BINARY returning Le bytes.
 * `script` runs first and may answer anything (return undefined to fall through).
 */
export class FakeCard implements CardModel {
  readonly kind = 'fake';
  resets = 0;
  pinVerified = false;
  selected: string | null = null;
  pending: Uint8Array = new Uint8Array(0);
  received: Uint8Array[] = [];
  script: ((apdu: Uint8Array) => Uint8Array | null | undefined) | null = null;

  constructor(
    readonly atr: Uint8Array,
    readonly aids: string[] = [],
  ) {}

  reset(): Uint8Array {
    this.resets++;
    this.pinVerified = false;
    this.selected = null;
    this.pending = new Uint8Array(0);
    return this.atr.slice();
  }

  process(apdu: Uint8Array): Uint8Array | null {
    this.received.push(apdu.slice());
    const scripted = this.script?.(apdu);
    if (scripted !== undefined) return scripted;
    const [cla, ins, p1, p2] = apdu;
    if (cla === 0x00 && ins === 0xa4 && p1 === 0x04) {
      const aid = hex(apdu.subarray(5, 5 + (apdu[4] ?? 0)));
      if (!this.aids.includes(aid)) return h('6A82');
      this.selected = aid;
      return h('9000');
    }
    if (cla === 0x00 && ins === 0x20 && p1 === 0x00 && p2 === 0x81) {
      if (apdu.length === 4) return this.pinVerified ? h('9000') : h('63C3');
      const given = apdu.subarray(5, 5 + (apdu[4] ?? 0));
      this.pinVerified = hex(given) === hex(PIN);
      return this.pinVerified ? h('9000') : h('63C2');
    }
    if (cla === 0x00 && ins === 0xca && p1 === 0x01 && p2 === 0x00) {
      return this.pinVerified ? Uint8Array.from([...SECRET, 0x90, 0x00]) : h('6982');
    }
    if (cla === 0x00 && ins === 0xc0) {
      const want = apdu[4] === 0 ? 256 : (apdu[4] ?? 0);
      const part = this.pending.subarray(0, want);
      this.pending = this.pending.slice(part.length);
      const sw = this.pending.length > 0 ? [0x61, Math.min(this.pending.length, 255)] : [0x90, 0x00];
      return Uint8Array.from([...part, ...sw]);
    }
    if (ins === 0xb0) {
      const le = apdu.length === 5 ? (apdu[4] === 0 ? 256 : apdu[4]!) : 0;
      const out = new Uint8Array(le + 2);
      for (let i = 0; i < le; i++) out[i] = (i + 1) & 0xff;
      out[le] = 0x90;
      return out;
    }
    return h('6D00');
  }
}

/**
 * A Reader over FakeCards. `gate`, when set, holds every transmit until resolved, so a test can act
 * (remove the card, revoke the lease) while a command is with the card. `inFlight` tracks overlap.
 */
export class FakeReader implements Reader {
  readonly slots: Array<CardModel | null>;
  private readonly listeners = new Set<(e: ReaderEvent) => void>();
  gate: Promise<void> | null = null;
  inFlight = new Map<number, number>();
  maxInFlight = new Map<number, number>();
  /** Most exchanges in flight at once across all slots. */
  maxTotalInFlight = 0;
  private totalInFlight = 0;
  /** Every APDU buffer handed to transmit, as the very object the driver passed (not a copy). */
  handed: Uint8Array[] = [];
  delayMs = 0;
  readonly cardTimeMs = 0;

  constructor(readonly slotCount = 2) {
    this.slots = new Array<CardModel | null>(slotCount).fill(null);
  }

  insert(slot: number, card: CardModel): void {
    this.slots[slot] = card;
    const atr = card.reset();
    for (const l of this.listeners) l({ type: 'insert', slot, atr });
  }

  remove(slot: number): void {
    this.slots[slot] = null;
    for (const l of this.listeners) l({ type: 'remove', slot });
  }

  present(slot: number): boolean {
    return this.slots[slot] != null;
  }

  async reset(slot: number): Promise<Uint8Array> {
    const card = this.card(slot);
    return card.reset();
  }

  async transmit(slot: number, apdu: Uint8Array): Promise<Uint8Array> {
    this.card(slot);
    this.handed.push(apdu);
    const n = (this.inFlight.get(slot) ?? 0) + 1;
    this.inFlight.set(slot, n);
    this.maxInFlight.set(slot, Math.max(n, this.maxInFlight.get(slot) ?? 0));
    this.maxTotalInFlight = Math.max(this.maxTotalInFlight, ++this.totalInFlight);
    try {
      if (this.delayMs > 0) await sleep(this.delayMs);
      if (this.gate !== null) await this.gate;
      const card = this.slots[slot];
      if (card == null) throw new ReaderError('E_CARD_REMOVED', `card removed from slot ${slot} during the exchange`);
      const r = card.process(apdu);
      if (r === null) throw new ReaderError('E_MUTE', `card in slot ${slot} did not answer`);
      return r;
    } finally {
      this.inFlight.set(slot, (this.inFlight.get(slot) ?? 1) - 1);
      this.totalInFlight--;
    }
  }

  on(_event: 'event', listener: (e: ReaderEvent) => void): void {
    this.listeners.add(listener);
  }

  off(_event: 'event', listener: (e: ReaderEvent) => void): void {
    this.listeners.delete(listener);
  }

  private card(slot: number): CardModel {
    if (slot < 0 || slot >= this.slotCount) throw new ReaderError('E_SLOT', `no slot ${slot}`);
    const c = this.slots[slot];
    if (c == null) throw new ReaderError('E_NO_CARD', `slot ${slot} is empty`);
    return c;
  }
}

export const ATR_HEALTH = h('3B8F8001804F0CA000000306030001000000006A');
export const ATR_PAY = h('3B6800000073C84013009000');

export function cardClass(name: string, atr: string, mask: string, extra: Partial<CardClass> = {}): CardClass {
  return {
    name,
    atr: { value: atr, mask },
    aids: [],
    apdu: [
      { cla: '00', ins: 'A4', name: 'SELECT' },
      { cla: '00', ins: 'B0', name: 'READ BINARY' },
      { cla: '00', ins: 'CA', p1: '01', p2: '00', name: 'GET DATA secret' },
    ],
    pinReferences: [0x81],
    ...extra,
  };
}

export const healthClass = cardClass('vitale', hex(ATR_HEALTH), 'FF'.repeat(ATR_HEALTH.length));
export const payClass = cardClass('emv', hex(ATR_PAY), 'FFFF0000FFFFFFFFFFFFFFFF');

export interface Rig {
  reader: FakeReader;
  broker: SlotBroker;
  events: BrokerEvent[];
  /** Resolves with the next event matching `pred` (or one already seen since the last call). */
  next(pred: (e: BrokerEvent) => boolean, timeoutMs?: number): Promise<BrokerEvent>;
  insert(slot: number, card: FakeCard): Promise<BrokerEvent>;
}

export async function rig(routes: Route[], opts: Partial<Omit<BrokerOptions, 'routes'>> = {}, slotCount = 2): Promise<Rig> {
  const reader = new FakeReader(slotCount);
  const broker = createSlotBroker(new EmulatedDriver(reader), { ...DEFAULT_BROKER_OPTIONS, ...opts, routes });
  const events: BrokerEvent[] = [];
  let seen = 0;
  const waiters: Array<() => void> = [];
  broker.onEvent((e) => {
    events.push(e);
    for (const w of waiters.splice(0)) w();
  });
  await broker.start();
  const next = async (pred: (e: BrokerEvent) => boolean, timeoutMs = 2000): Promise<BrokerEvent> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (; seen < events.length; seen++) {
        const e = events[seen]!;
        if (pred(e)) {
          seen++;
          return e;
        }
      }
      if (Date.now() > deadline) throw new Error(`no matching broker event within ${timeoutMs} ms`);
      await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(20)]);
    }
  };
  const insert = (slot: number, card: FakeCard): Promise<BrokerEvent> => {
    reader.insert(slot, card);
    return next((e) => (e.type === 'offered' || e.type === 'refused') && e.slot === slot);
  };
  return { reader, broker, events, next, insert };
}

export async function expectBrokerError(p: Promise<unknown> | (() => unknown), code: string, message?: RegExp): Promise<Error> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  if (!(err instanceof Error)) throw new Error(`expected BrokerError ${code}, but nothing was thrown`);
  const got = (err as Error & { code?: string }).code;
  if (got !== code) throw new Error(`expected BrokerError ${code}, got ${String(got)}: ${err.message}`);
  if (message !== undefined && !message.test(err.message)) {
    throw new Error(`error message "${err.message}" does not match ${String(message)}`);
  }
  return err;
}
