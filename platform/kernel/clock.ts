/**
 * The device's clock: the system clock plus an offset the practitioner (or the practice computer,
 * over the host link's date.set) sets, persisted in <dataDir>/clock.json so it survives restarts.
 * Applets read it through platform.clock.now (at the configured granularity).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './hostlink/identity.js';

/** What date.set accepts: 2020-01-01T00:00:00Z .. 2099-12-31T23:59:59.999Z. */
export const CLOCK_MIN_MS = Date.UTC(2020, 0, 1);
export const CLOCK_MAX_MS = Date.UTC(2100, 0, 1) - 1;

/** An integer ms time within CLOCK_MIN_MS..CLOCK_MAX_MS: what the device clock may be set to. */
export function isDeviceTime(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isInteger(ms) && ms >= CLOCK_MIN_MS && ms <= CLOCK_MAX_MS;
}

export type ClockAudit = (event: 'clock.set' | 'clock.reset', fields: Record<string, unknown>) => void;

export class DeviceClock {
  private offset = 0;
  private readonly file: string | null;

  /**
   * `dataDir` null: an in-memory clock (tests). `systemNow` is the clock it runs on (tests pass
   * their own to stay off the wall clock).
   */
  constructor(
    dataDir: string | null,
    private readonly audit?: ClockAudit,
    private readonly systemNow: () => number = Date.now,
  ) {
    this.file = dataDir === null ? null : join(dataDir, 'clock.json');
    if (this.file) this.load(this.file);
  }

  /** Device time, ms since epoch. */
  now(): number {
    return this.systemNow() + this.offset;
  }

  /** Device clock minus the system clock, ms. */
  get offsetMs(): number {
    return this.offset;
  }

  /** Sets the device time to `ms` (within CLOCK_MIN_MS..CLOCK_MAX_MS); persisted before it returns. */
  set(ms: number): void {
    if (!isDeviceTime(ms)) {
      throw new RangeError(`device clock: the time must be an integer number of ms between ${new Date(CLOCK_MIN_MS).toISOString()} and ${new Date(CLOCK_MAX_MS).toISOString()}`);
    }
    const previous = this.now();
    const offset = ms - this.systemNow();
    if (this.file) writeFileAtomic(this.file, `${JSON.stringify({ offsetMs: offset })}\n`, 0o644);
    this.offset = offset;
    this.audit?.('clock.set', { previous, new: ms, offsetMs: offset });
  }

  private load(file: string): void {
    try {
      const off = (JSON.parse(readFileSync(file, 'utf8')) as { offsetMs?: unknown } | null)?.offsetMs;
      if (typeof off !== 'number' || !Number.isSafeInteger(off)) throw new Error('offsetMs is not an integer');
      // set() never writes more than the accepted range's span: a larger offset is damage (and one
      // near Number.MAX_SAFE_INTEGER would make every date an applet builds from now() invalid).
      if (Math.abs(off) > CLOCK_MAX_MS - CLOCK_MIN_MS) throw new Error('offsetMs is larger than the 2020..2099 span');
      this.offset = off;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      // A damaged (or unreadable) file must not stop the device: run on the system clock and say so.
      this.offset = 0;
      this.audit?.('clock.reset', { reason: `${file} unreadable (${(e as Error).message.slice(0, 120)}); device clock = system clock until the date is set again (date.set), which rewrites the file` });
    }
  }
}
