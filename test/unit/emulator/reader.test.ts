import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../platform/sdk/hex.js';
import type { CardModel } from '../../../emulator/cards/card.js';
import { createTestCard } from '../../../emulator/cards/test-card.js';
import { EmulatedReader, type Sleep } from '../../../emulator/reader/reader.js';
import { ReaderError, type ReaderEvent } from '../../../emulator/reader/types.js';

const ECHO = fromHex('80EE000003 010203 00');

async function rejection(p: Promise<unknown>): Promise<ReaderError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ReaderError);
    return e as ReaderError;
  }
  throw new Error('expected a rejection');
}

/** A card that counts what it is asked and can be made mute. */
function spyCard(options: { mute?: boolean; processingMs?: number; answer?: Uint8Array } = {}): CardModel & { calls: number; resets: number } {
  return {
    kind: 'spy',
    calls: 0,
    resets: 0,
    reset() {
      this.resets++;
      return fromHex('3B00');
    },
    process() {
      this.calls++;
      return options.mute ? null : (options.answer ?? fromHex('9000'));
    },
    processingMs: () => options.processingMs ?? 0,
  };
}

/** Records each requested delay and resolves at once (or never, to hold an exchange open). */
function recordingSleep(hold = false): { sleep: Sleep; delays: number[] } {
  const delays: number[] = [];
  const sleep: Sleep = (ms, signal) => {
    delays.push(ms);
    if (!hold) return Promise.resolve();
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  };
  return { sleep, delays };
}

describe('EmulatedReader slots and events', () => {
  it('has 2 slots by default and checks slot numbers', async () => {
    const reader = new EmulatedReader();
    expect(reader.slotCount).toBe(2);
    expect(new EmulatedReader({ slots: 4 }).slotCount).toBe(4);
    expect(() => new EmulatedReader({ slots: 0 })).toThrow(/slots must be/);
    expect(() => reader.present(2)).toThrow(ReaderError);
    expect(() => reader.insert(-1, createTestCard())).toThrow(/slot -1 does not exist/);
    expect((await rejection(reader.transmit(7, ECHO))).code).toBe('E_SLOT');
    expect((await rejection(reader.reset(1.5))).code).toBe('E_SLOT');
  });

  it('emits insert with the ATR and remove, and stops after off()', () => {
    const reader = new EmulatedReader();
    const events: ReaderEvent[] = [];
    const listener = (e: ReaderEvent): void => void events.push(e);
    reader.on('event', listener);
    const card = createTestCard();
    reader.insert(1, card);
    expect(reader.present(1)).toBe(true);
    expect(reader.present(0)).toBe(false);
    reader.remove(1);
    expect(reader.present(1)).toBe(false);
    reader.off('event', listener);
    reader.insert(1, card);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ type: 'insert', slot: 1 });
    expect(toHex((events[0] as { atr: Uint8Array }).atr)).toBe(toHex(card.reset()));
    expect(events[1]).toEqual({ type: 'remove', slot: 1 });
  });

  it('refuses a second card in a slot and removing from an empty slot', () => {
    const reader = new EmulatedReader();
    reader.insert(0, createTestCard());
    try {
      reader.insert(0, createTestCard());
      expect.unreachable();
    } catch (e) {
      expect((e as ReaderError).code).toBe('E_SLOT');
    }
    try {
      reader.remove(1);
      expect.unreachable();
    } catch (e) {
      expect((e as ReaderError).code).toBe('E_NO_CARD');
    }
  });

  it('still notifies every listener when one throws, then reports the error', () => {
    const reader = new EmulatedReader();
    const seen: string[] = [];
    reader.on('event', () => {
      throw new Error('listener bug');
    });
    reader.on('event', (e) => void seen.push(e.type));
    expect(() => reader.insert(0, createTestCard())).toThrow('listener bug');
    expect(seen).toEqual(['insert']);
  });
});

describe('EmulatedReader exchanges', () => {
  it('transmits to the card and resets it', async () => {
    const reader = new EmulatedReader();
    const card = createTestCard();
    reader.insert(0, card);
    expect(toHex(await reader.transmit(0, ECHO))).toBe('0102039000');
    expect(toHex(await reader.reset(0))).toBe(toHex(card.reset()));
    expect((await rejection(reader.transmit(1, ECHO))).code).toBe('E_NO_CARD');
    expect((await rejection(reader.reset(1))).code).toBe('E_NO_CARD');
  });

  it('copies buffers in and out', async () => {
    const reader = new EmulatedReader();
    const answer = fromHex('AA9000');
    reader.insert(0, spyCard({ answer }));
    const r = await reader.transmit(0, ECHO);
    r[0] = 0;
    expect(toHex(answer)).toBe('AA9000');
  });

  it('serialises exchanges on one slot', async () => {
    const reader = new EmulatedReader();
    reader.insert(0, createTestCard());
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) => reader.transmit(0, Uint8Array.of(0x80, 0xee, 0, 0, 1, i, 0))),
    );
    expect(results.map(toHex)).toEqual(['019000', '029000', '039000', '049000']);
  });

  it('rejects with E_CARD_REMOVED when the card goes during the exchange (timing off)', async () => {
    const reader = new EmulatedReader();
    const card = spyCard();
    reader.insert(0, card);
    const p = reader.transmit(0, ECHO);
    reader.remove(0);
    expect((await rejection(p)).code).toBe('E_CARD_REMOVED');
    expect(card.calls).toBe(0);
  });

  it('rejects with E_CARD_REMOVED while a modelled delay is running, without waiting it out', async () => {
    const reader = new EmulatedReader({ timing: { enabled: true, processingScale: 1 } });
    const card = spyCard({ processingMs: 10_000 });
    reader.insert(0, card);
    const started = Date.now();
    const p = reader.transmit(0, ECHO);
    setTimeout(() => reader.remove(0), 10);
    const e = await rejection(p);
    expect(e.code).toBe('E_CARD_REMOVED');
    expect(e.message).toMatch(/slot 0/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(card.calls).toBe(0);
  });

  it('does not let a new card answer for a removed one', async () => {
    const { sleep } = recordingSleep(true);
    const reader = new EmulatedReader({ timing: { enabled: true }, sleep });
    reader.insert(0, spyCard());
    const p = reader.transmit(0, ECHO);
    reader.remove(0);
    const second = spyCard();
    reader.insert(0, second);
    expect((await rejection(p)).code).toBe('E_CARD_REMOVED');
    expect(second.calls).toBe(0);
  });

  it('reports a mute card with E_MUTE after the configured timeout', async () => {
    const reader = new EmulatedReader({ muteTimeoutMs: 30 });
    reader.insert(0, spyCard({ mute: true }));
    const started = Date.now();
    const e = await rejection(reader.transmit(0, ECHO));
    expect(e.code).toBe('E_MUTE');
    expect(e.message).toMatch(/slot 0: card mute .* after 30 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('turns removal during the mute wait into E_CARD_REMOVED', async () => {
    const reader = new EmulatedReader({ muteTimeoutMs: 5_000 });
    reader.insert(0, spyCard({ mute: true }));
    const p = reader.transmit(0, ECHO);
    setTimeout(() => reader.remove(0), 10);
    expect((await rejection(p)).code).toBe('E_CARD_REMOVED');
  });

  it('refuses oversized responses', async () => {
    const reader = new EmulatedReader({ maxResponseBytes: 4 });
    reader.insert(0, spyCard({ answer: fromHex('0102039000') }));
    const e = await rejection(reader.transmit(0, ECHO));
    expect(e.code).toBe('E_RESPONSE_TOO_LONG');
    expect(e.message).toMatch(/5 bytes exceeds the 4-byte limit/);
  });
});

describe('EmulatedReader timing', () => {
  it('applies no delay and counts no card time when disabled', async () => {
    const { sleep, delays } = recordingSleep();
    const reader = new EmulatedReader({ sleep });
    reader.insert(0, createTestCard());
    await reader.reset(0);
    await reader.transmit(0, ECHO);
    expect(delays).toEqual([]);
    expect(reader.cardTimeMs).toBe(0);
  });

  it('waits for bytes on the line and scaled processing, and accumulates card time', async () => {
    const { sleep, delays } = recordingSleep();
    const reader = new EmulatedReader({ timing: { enabled: true, processingScale: 2 }, sleep });
    const card = createTestCard(); // ECHO processing: 1 ms
    reader.insert(0, card);
    const atrLength = card.reset().length;
    await reader.reset(0);
    expect(delays[0]).toBeCloseTo(atrLength * 1.25, 10);
    delays.length = 0;
    await reader.transmit(0, ECHO); // 9 bytes out, 5 bytes back
    expect(delays).toHaveLength(2);
    expect(delays[0]).toBeCloseTo(9 * 1.25 + 2, 10);
    expect(delays[1]).toBeCloseTo(5 * 1.25, 10);
    expect(reader.cardTimeMs).toBeCloseTo(atrLength * 1.25 + 9 * 1.25 + 2 + 5 * 1.25, 10);
  });

  it('switches rate with PPS until the next reset, and only to ISO rates', async () => {
    const { sleep, delays } = recordingSleep();
    const reader = new EmulatedReader({ timing: { enabled: true, processingScale: 0 }, sleep });
    reader.insert(0, createTestCard());
    expect(reader.baudRate(0)).toBe(9600);
    reader.setBaudRate(0, 115200);
    await reader.transmit(0, ECHO);
    expect(delays[0]).toBeCloseTo((9 * 12 * 1000) / 115200, 10);
    expect(() => reader.setBaudRate(0, 100000)).toThrow(/100000 bps is not a PPS rate/);
    try {
      reader.setBaudRate(1, 19200);
      expect.unreachable();
    } catch (e) {
      expect((e as ReaderError).code).toBe('E_NO_CARD');
    }
    await reader.reset(0);
    expect(reader.baudRate(0)).toBe(9600);
  });

  it('uses real timers when enabled', async () => {
    const reader = new EmulatedReader({ timing: { enabled: true, processingScale: 1 } });
    reader.insert(0, spyCard({ processingMs: 40 }));
    const started = Date.now();
    await reader.transmit(0, ECHO);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(reader.cardTimeMs).toBeCloseTo(9 * 1.25 + 40 + 2 * 1.25, 10);
  });

  it('lets the timing model be changed at run time', () => {
    const reader = new EmulatedReader();
    reader.setTiming({ enabled: true, baudRate: 19200 });
    expect(reader.timing).toEqual({ enabled: true, baudRate: 19200, processingScale: 1 });
    expect(() => reader.setTiming({ baudRate: 1234 })).toThrow(/1234/);
  });
});
