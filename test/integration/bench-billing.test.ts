/**
 * The billing figures of `di bench` (issue 4), in quick mode, on the real applet: every figure is
 * there, finite and positive, and the derived ones agree with what they are derived from (platform
 * time = wall − time in the card models, ratio = platform / card time, invoices/s = lot size / time,
 * ratios against the same-run verify baseline). No figure is compared with a wall-clock threshold.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runBillingBench, CardRecorder, FSE_PLATFORM_SHARE_TARGET, type BillingFigures } from '../../bench/billing.js';
import { exchangeTiming, atrMs } from '../../emulator/reader/timing.js';
import { createCard } from '../../emulator/cards/profiles.js';
import { MAX_INVOICES_PER_LOT } from '../../applets/sesam-vitale/formats/lot.js';

const close = (a: number, b: number, rel = 0.02, abs = 0.02) => Math.abs(a - b) <= Math.max(abs, rel * Math.abs(b));

describe('di bench: billing figures (quick)', () => {
  let f: BillingFigures;

  beforeAll(async () => {
    f = await runBillingBench({ quick: true });
  }, 120_000);

  it('reports every figure as a finite positive number', () => {
    const all: Array<[string, number]> = [
      ...Object.entries(f.fse),
      ...Object.entries(f.lot),
      ...Object.entries(f.amo),
      ...Object.entries(f.baseline),
    ];
    for (const [name, v] of all) {
      expect(Number.isFinite(v), name).toBe(true);
      expect(v, name).toBeGreaterThan(0);
    }
    expect(f.method.length).toBeGreaterThan(0);
  });

  it('platform time per FSE is wall time minus card-model time, beside the modelled card time at 9600 bps', () => {
    // Each FSE exchanges real APDUs with both cards: reads, VERIFY, Vitale authentication, CPS signature.
    expect(f.fse.apdus).toBeGreaterThanOrEqual(10);
    expect(f.fse.platformMs).toBeLessThan(f.fse.wallMs);
    // Medians of per-sample differences: close to the difference of medians, never above the wall time.
    expect(f.fse.platformMs + f.fse.cardModelMs).toBeLessThanOrEqual(f.fse.wallMs * 1.5);
    expect(close(f.fse.ratio, f.fse.platformMs / f.fse.cardMsAt9600, 0.01, 0.001)).toBe(true);
    // The CPS signature alone is modelled at 200 ms on the card; the line at 9600 bps adds far more.
    expect(f.fse.cardMsAt9600).toBeGreaterThan(100);
    expect(f.targets.fsePlatformShare).toBe(FSE_PLATFORM_SHARE_TARGET);
    expect(f.met.fsePlatformShare).toBe(f.fse.ratio <= FSE_PLATFORM_SHARE_TARGET);
    expect(f.fse.samples).toBeGreaterThan(1);
  });

  it('lot throughput and AMO rate are consistent with their times and the same-run verify baseline', () => {
    expect(f.lot.invoicesPerLot).toBe(MAX_INVOICES_PER_LOT);
    expect(close(f.lot.invoicesPerSecond, f.lot.invoicesPerLot / (f.lot.transmitMs / 1000))).toBe(true);
    expect(close(f.amo.invoicesPerSecond, f.amo.invoicesPerFile / (f.amo.processMs / 1000))).toBe(true);
    expect(close(f.baseline.verifyPerSecond, 1e6 / f.baseline.verifyUs)).toBe(true);
    expect(close(f.lot.ratio, f.lot.invoicesPerSecond / f.baseline.verifyPerSecond, 0.01, 0.001)).toBe(true);
    expect(close(f.amo.ratio, f.amo.invoicesPerSecond / f.baseline.verifyPerSecond, 0.01, 0.001)).toBe(true);
    // The baseline verifies the very lot that was sent (a full lot is far bigger than one invoice).
    expect(f.baseline.cmsBytes).toBe(f.lot.lotCmsBytes);
    expect(f.lot.lotCmsBytes).toBeGreaterThan(f.lot.invoicesPerLot * 128);
    expect(f.amo.verifiesPerInvoice).toBeCloseTo(2 + 1 / f.lot.invoicesPerLot, 4);
    // The lot signature is made by the card model inside the transmit.
    expect(f.lot.cardModelMs).toBeLessThan(f.lot.transmitMs);
  });
});

describe('CardRecorder', () => {
  it('charges the timing model for each exchange and ATR, only while recording, and passes the card through', () => {
    const inner = createCard('test-card');
    const rec = new CardRecorder(9600);
    const card = rec.wrap(inner);
    const atr = card.reset();
    expect(rec.modelMs).toBe(0);
    rec.recording = true;
    card.reset();
    const apdu = Uint8Array.from([0x80, 0xee, 0x00, 0x00, 0x04, 1, 2, 3, 4, 0x00]);
    const resp = card.process(apdu);
    expect(resp).not.toBeNull();
    expect(resp).toEqual(inner.process(apdu));
    const expected = atrMs(atr.length) + exchangeTiming(apdu.length, resp!.length, inner.processingMs?.(apdu) ?? 0, 9600, 1).totalMs;
    expect(rec.modelMs).toBeCloseTo(expected, 9);
    expect(rec.apdus).toBe(1);
    expect(rec.cardModelMs).toBeGreaterThan(0);
    rec.recording = false;
    card.process(apdu);
    expect(rec.apdus).toBe(1);
    rec.clear();
    expect(rec.modelMs).toBe(0);
    expect(rec.cardModelMs).toBe(0);
  });
});
