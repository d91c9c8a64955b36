import { describe, expect, it } from 'vitest';
import {
  atrMs,
  DEFAULT_TIMING,
  ETU_PER_BYTE,
  exchangeTiming,
  isIsoBaudRate,
  makeTimingModel,
  transferMs,
} from '../../../emulator/reader/timing.js';

describe('timing arithmetic', () => {
  it('costs 12 etu per byte: 1.25 ms per byte at 9600 bps', () => {
    expect(ETU_PER_BYTE).toBe(12);
    expect(transferMs(1, 9600)).toBeCloseTo(1.25, 10);
    expect(transferMs(261, 9600)).toBeCloseTo(326.25, 10);
    expect(transferMs(10, 19200)).toBeCloseTo(6.25, 10);
    expect(transferMs(96, 115200)).toBeCloseTo(10, 10);
  });

  it('adds scaled card processing between command and response', () => {
    const t = exchangeTiming(13, 10, 20, 9600, 0.5);
    expect(t.commandMs).toBeCloseTo(16.25, 10);
    expect(t.processingMs).toBe(10);
    expect(t.responseMs).toBeCloseTo(12.5, 10);
    expect(t.totalMs).toBeCloseTo(38.75, 10);
    expect(exchangeTiming(4, 2, 50, 9600, 0).processingMs).toBe(0);
  });

  it('sends the ATR at the default rate', () => {
    expect(atrMs(16)).toBeCloseTo(20, 10);
  });

  it('is disabled by default and validates its fields', () => {
    expect(DEFAULT_TIMING).toEqual({ baudRate: 9600, processingScale: 1, enabled: false });
    expect(makeTimingModel({ baudRate: 38400 })).toEqual({ baudRate: 38400, processingScale: 1, enabled: false });
    expect(() => makeTimingModel({ baudRate: 10000 })).toThrow(/timing\.baudRate 10000/);
    expect(() => makeTimingModel({ processingScale: -1 })).toThrow(/timing\.processingScale/);
    expect(isIsoBaudRate(57600)).toBe(true);
    expect(isIsoBaudRate(9601)).toBe(false);
  });
});
