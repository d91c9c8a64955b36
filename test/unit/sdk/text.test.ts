import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { utf8Decode, utf8Encode, Utf8Error } from '../../../platform/sdk/text.js';

describe('utf8', () => {
  it('agrees with Node for any string without lone surrogates', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(Buffer.from(utf8Encode(s)).toString('hex')).toBe(Buffer.from(s, 'utf8').toString('hex'));
        expect(utf8Decode(utf8Encode(s))).toBe(s);
      }),
    );
  });
  it('encodes French text', () => {
    expect(Buffer.from(utf8Encode('Évry à 12 €')).toString('utf8')).toBe('Évry à 12 €');
  });
  it('rejects malformed input with the offset', () => {
    expect(() => utf8Decode(Uint8Array.from([0x41, 0xc0, 0x80]))).toThrow(new Utf8Error(1));
    expect(() => utf8Decode(Uint8Array.from([0xe2, 0x82]))).toThrow(/byte 0/);
    expect(() => utf8Decode(Uint8Array.from([0xed, 0xa0, 0x80]))).toThrow(Utf8Error); // surrogate
  });
});
