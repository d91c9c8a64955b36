import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../platform/sdk/hex.js';
import { AtrError, atrProtocol, buildAtr, parseAtr } from '../../../emulator/cards/framework/atr.js';

const DITEST = Uint8Array.from('DITEST', (c) => c.charCodeAt(0));

describe('buildAtr', () => {
  it('builds a T=1 ATR with TD1/TD2, IFSC, BWI/CWI and a correct TCK', () => {
    const atr = buildAtr({ protocol: 'T=1', historical: DITEST });
    expect(toHex(atr).slice(0, 12)).toBe('3B8681 31FE45'.replace(/ /g, ''));
    let x = 0;
    for (const b of atr.subarray(1)) x ^= b;
    expect(x).toBe(0);
    const p = parseAtr(atr);
    expect(p.protocols).toEqual([1]);
    expect(p.ta[3]).toBe(0xfe);
    expect(p.tb[3]).toBe(0x45);
    expect(toHex(p.historical)).toBe(toHex(DITEST));
    expect(p.tck).toBe(atr[atr.length - 1]);
  });

  it('builds a T=0 ATR without TCK, with optional TA1', () => {
    const atr = buildAtr({ protocol: 'T=0', historical: DITEST, ta1: 0x96 });
    expect(toHex(atr)).toBe(`3B1696${toHex(DITEST)}`);
    const p = parseAtr(atr);
    expect(p.protocols).toEqual([0]);
    expect(p.ta[1]).toBe(0x96);
    expect(p.tck).toBeUndefined();
    expect(atrProtocol(atr)).toBe('T=0');
  });

  it('refuses more than 15 historical bytes and T=1 parameters on T=0', () => {
    expect(() => buildAtr({ protocol: 'T=1', historical: new Uint8Array(16) })).toThrow(/16 historical bytes/);
    expect(() => buildAtr({ protocol: 'T=0', historical: DITEST, ifsc: 0x20 })).toThrow(/T=1 parameters/);
  });
});

describe('parseAtr', () => {
  it('parses a real-world shaped ATR with T=0 and T=1', () => {
    // 3B E8 00 00 81 31 FE 45 + 8 historical + TCK: TB1, TC1, TD1 (T=1), TD2 (T=1) ...
    const atr = buildAtr({ protocol: 'T=1', historical: fromHex('0011223344556677') });
    expect(parseAtr(atr).historical.length).toBe(8);
    // TA1 96, TD1 80 (T=0, TD2 follows), TD2 1F (T=15, TA3), 15 historical bytes, then TCK.
    const body = fromHex('3B 9F 96 80 1F C7 80 31 E0 73 FE 21 1B 63 3A 20 4E 83 00 90 00');
    const tck = body.subarray(1).reduce((x, b) => x ^ b, 0);
    const p = parseAtr(Uint8Array.from([...body, tck]));
    expect(p.ta[1]).toBe(0x96);
    expect(p.ta[3]).toBe(0xc7);
    expect(p.protocols).toEqual([0, 15]);
    expect(p.historical.length).toBe(15);
  });

  it('detects a bad TCK, a truncated ATR, a missing TCK and extra bytes', () => {
    const atr = buildAtr({ protocol: 'T=1', historical: DITEST });
    const bad = atr.slice();
    bad[bad.length - 1]! ^= 0x01;
    expect(() => parseAtr(bad)).toThrow(/TCK .* is wrong/);
    expect(() => parseAtr(atr.subarray(0, 5))).toThrow(AtrError);
    expect(() => parseAtr(atr.subarray(0, atr.length - 1))).toThrow(/no TCK/);
    expect(() => parseAtr(fromHex('3B 00 00'))).toThrow(/unexpected bytes/);
    expect(() => parseAtr(fromHex('3C 00'))).toThrow(/TS 3C/);
  });
});
