/**
 * The emulated multi-slot reader: cards are CardModel objects inserted into numbered slots.
 * Exchanges on one slot are serialised as on a real reader; removal aborts the exchange in flight.
 * With the timing model enabled, real timers stand in for the time bytes take on the line and the
 * card takes to think, so demos and benchmarks can show card time beside platform time.
 */
import type { CardModel } from '../cards/card.js';
import { atrMs, exchangeTiming, isIsoBaudRate, ISO_BAUD_RATES, makeTimingModel, transferMs } from './timing.js';
import { ReaderError, type Reader, type ReaderEvent, type TimingModel } from './types.js';

/** Waits `ms` or rejects once `signal` aborts. Injectable so tests can observe the delays. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export interface EmulatedReaderOptions {
  /** Number of slots, default 2. */
  slots?: number;
  timing?: Partial<TimingModel>;
  /** How long a mute card is waited for before E_MUTE (ms, real time even with timing disabled). Default 1000. */
  muteTimeoutMs?: number;
  /** Responses longer than this are refused with E_RESPONSE_TOO_LONG. Default 65538 (65536 data + SW). */
  maxResponseBytes?: number;
  sleep?: Sleep;
}

const MAX_SLOTS = 16;

interface SlotState {
  card: CardModel | null;
  /** Bumped at each insert and removal, so an exchange can tell its card is gone even if another is in. */
  generation: number;
  removal: AbortController;
  baudRate: number;
  /** Tail of the exchange queue. */
  queue: Promise<unknown>;
}

export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class EmulatedReader implements Reader {
  readonly slotCount: number;
  #timing: TimingModel;
  readonly #muteTimeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #sleep: Sleep;
  readonly #slots: SlotState[];
  readonly #listeners = new Set<(e: ReaderEvent) => void>();
  #cardTimeMs = 0;

  constructor(options: EmulatedReaderOptions = {}) {
    const slots = options.slots ?? 2;
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) {
      throw new RangeError(`EmulatedReader: slots must be an integer in 1..${MAX_SLOTS}, got ${String(slots)}`);
    }
    this.slotCount = slots;
    this.#timing = makeTimingModel(options.timing);
    this.#muteTimeoutMs = options.muteTimeoutMs ?? 1000;
    if (!Number.isFinite(this.#muteTimeoutMs) || this.#muteTimeoutMs < 0) {
      throw new RangeError(`EmulatedReader: muteTimeoutMs must be >= 0, got ${String(options.muteTimeoutMs)}`);
    }
    this.#maxResponseBytes = options.maxResponseBytes ?? 65538;
    this.#sleep = options.sleep ?? realSleep;
    this.#slots = Array.from({ length: slots }, () => ({
      card: null,
      generation: 0,
      removal: new AbortController(),
      baudRate: this.#timing.baudRate,
      queue: Promise.resolve(),
    }));
  }

  get cardTimeMs(): number {
    return this.#cardTimeMs;
  }

  get timing(): TimingModel {
    return { ...this.#timing };
  }

  /** Change the timing model; slots keep their negotiated rate until their next reset. */
  setTiming(partial: Partial<TimingModel>): void {
    this.#timing = makeTimingModel({ ...this.#timing, ...partial });
  }

  #slot(slot: number): SlotState {
    const s = Number.isInteger(slot) ? this.#slots[slot] : undefined;
    if (!s) throw new ReaderError('E_SLOT', `slot ${String(slot)} does not exist (reader has slots 0..${this.slotCount - 1})`);
    return s;
  }

  #emit(event: ReaderEvent): void {
    let first: unknown = null;
    for (const l of [...this.#listeners]) {
      try {
        l(event);
      } catch (e) {
        // Every listener hears about the card; the first failure is still surfaced to the caller.
        first ??= e;
      }
    }
    if (first !== null) throw first;
  }

  insert(slot: number, card: CardModel): void {
    const s = this.#slot(slot);
    if (s.card) throw new ReaderError('E_SLOT', `slot ${slot} already holds a card (${s.card.kind}); remove it first`);
    // The reader powers the card to read its ATR, as a real one does on insertion.
    const atr = card.reset().slice();
    s.card = card;
    s.generation++;
    s.removal = new AbortController();
    s.baudRate = this.#timing.baudRate;
    this.#emit({ type: 'insert', slot, atr });
  }

  remove(slot: number): void {
    const s = this.#slot(slot);
    if (!s.card) throw new ReaderError('E_NO_CARD', `slot ${slot} has no card to remove`);
    s.card = null;
    s.generation++;
    s.removal.abort(new ReaderError('E_CARD_REMOVED', `slot ${slot}: card removed during the exchange`));
    this.#emit({ type: 'remove', slot });
  }

  present(slot: number): boolean {
    return this.#slot(slot).card !== null;
  }

  /** PPS: switch the slot's line to `bps` until the next reset or removal. */
  setBaudRate(slot: number, bps: number): void {
    const s = this.#slot(slot);
    if (!s.card) throw new ReaderError('E_NO_CARD', `slot ${slot}: PPS needs a card`);
    if (!isIsoBaudRate(bps)) {
      throw new RangeError(`slot ${slot}: ${String(bps)} bps is not a PPS rate (use one of ${ISO_BAUD_RATES.join(', ')})`);
    }
    s.baudRate = bps;
  }

  baudRate(slot: number): number {
    return this.#slot(slot).baudRate;
  }

  reset(slot: number): Promise<Uint8Array> {
    return this.#enqueue(slot, async (s, card, guard) => {
      let atr: Uint8Array;
      try {
        atr = card.reset().slice();
      } catch (e) {
        return this.#mute(slot, s, guard, `card model threw on reset: ${describe(e)}`);
      }
      s.baudRate = this.#timing.baudRate;
      if (atr.length === 0) return this.#mute(slot, s, guard, 'no ATR');
      await this.#lineWait(atrMs(atr.length), s, guard);
      return atr;
    });
  }

  transmit(slot: number, apdu: Uint8Array): Promise<Uint8Array> {
    const command = apdu.slice();
    return this.#enqueue(slot, async (s, card, guard) => {
      let processing = 0;
      if (this.#timing.enabled && card.processingMs) {
        try {
          processing = card.processingMs(command);
        } catch {
          processing = 0;
        }
      }
      const t = exchangeTiming(command.length, 0, processing, s.baudRate, this.#timing.processingScale);
      await this.#lineWait(t.commandMs + t.processingMs, s, guard);
      let response: Uint8Array | null;
      try {
        response = card.process(command);
      } catch (e) {
        return this.#mute(slot, s, guard, `card model threw: ${describe(e)}`);
      }
      if (response === null) return this.#mute(slot, s, guard, 'no answer');
      if (response.length > this.#maxResponseBytes) {
        throw new ReaderError(
          'E_RESPONSE_TOO_LONG',
          `slot ${slot}: response of ${response.length} bytes exceeds the ${this.#maxResponseBytes}-byte limit`,
        );
      }
      if (response.length < 2) return this.#mute(slot, s, guard, `answer of ${response.length} byte(s) has no status word`);
      const out = response.slice();
      await this.#lineWait(transferMs(out.length, s.baudRate), s, guard);
      return out;
    });
  }

  #enqueue<T>(slot: number, run: (s: SlotState, card: CardModel, guard: () => void) => Promise<T>): Promise<T> {
    let s: SlotState;
    try {
      s = this.#slot(slot);
    } catch (e) {
      return Promise.reject(e);
    }
    const card = s.card;
    if (!card) return Promise.reject(new ReaderError('E_NO_CARD', `slot ${slot} has no card`));
    const generation = s.generation;
    const guard = (): void => {
      if (s.generation !== generation) throw new ReaderError('E_CARD_REMOVED', `slot ${slot}: card removed during the exchange`);
    };
    const result = s.queue.then(() => {
      guard();
      return run(s, card, guard);
    });
    s.queue = result.catch(() => undefined);
    return result;
  }

  async #lineWait(ms: number, s: SlotState, guard: () => void): Promise<void> {
    if (this.#timing.enabled && ms > 0) {
      this.#cardTimeMs += ms;
      try {
        await this.#sleep(ms, s.removal.signal);
      } catch (e) {
        guard();
        throw e;
      }
    } else {
      // Still yield, so a removal issued right after transmit() is seen as mid-exchange.
      await Promise.resolve();
    }
    guard();
  }

  async #mute(slot: number, s: SlotState, guard: () => void, why: string): Promise<never> {
    try {
      await this.#sleep(this.#muteTimeoutMs, s.removal.signal);
    } catch (e) {
      guard();
      throw e;
    }
    guard();
    throw new ReaderError('E_MUTE', `slot ${slot}: card mute (${why}) after ${this.#muteTimeoutMs} ms`);
  }

  on(event: 'event', listener: (e: ReaderEvent) => void): void {
    if (event !== 'event') throw new TypeError(`EmulatedReader.on: unknown event ${String(event)}`);
    this.#listeners.add(listener);
  }

  off(event: 'event', listener: (e: ReaderEvent) => void): void {
    if (event !== 'event') throw new TypeError(`EmulatedReader.off: unknown event ${String(event)}`);
    this.#listeners.delete(listener);
  }
}
