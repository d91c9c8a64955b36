import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bytesEqual, concatBytes, fromHex, HexError, toHex } from '../../../platform/sdk/hex.js';

describe('toHex', () => {
  it('encodes uppercase without separators', () => {
    expect(toHex(Uint8Array.of(0x00, 0x0a, 0xff, 0x3f))).toBe('000AFF3F');
    expect(toHex(new Uint8Array(0))).toBe('');
  });
});

describe('fromHex', () => {
  it('decodes upper and lower case, with or without spaces between bytes', () => {
    expect([...fromHex('3f00')]).toEqual([0x3f, 0x00]);
    expect([...fromHex('3F 00  a0\t01\n')]).toEqual([0x3f, 0x00, 0xa0, 0x01]);
    expect([...fromHex('  ')]).toEqual([]);
  });

  it('rejects an odd number of digits and names the input', () => {
    expect(() => fromHex('3F0')).toThrow(HexError);
    expect(() => fromHex('3F0')).toThrow(/odd number of hex digits.*offset 2.*"3F0"/);
  });

  it('rejects a space that splits a byte', () => {
    expect(() => fromHex('3 F00')).toThrow(/lone digit at offset 0/);
  });

  it('rejects non-hex characters with their offset', () => {
    try {
      fromHex('3F0G');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(HexError);
      expect((e as HexError).offset).toBe(3);
      expect((e as HexError).message).toContain('"G"');
      expect((e as HexError).message).toContain('"3F0G"');
    }
    expect(() => fromHex('0x3F')).toThrow(/"x" at offset 1/);
  });

  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(bytesEqual(fromHex(toHex(b)), b)).toBe(true);
      }),
    );
  });
});

describe('concatBytes / bytesEqual', () => {
  it('concatenates in order', () => {
    expect([...concatBytes(Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3))]).toEqual([1, 2, 3]);
    expect(concatBytes().length).toBe(0);
  });

  it('compares length and content', () => {
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false);
  });
});
