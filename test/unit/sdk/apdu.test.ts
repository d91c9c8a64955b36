import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ApduError, buildApdu, parseCommandApdu, parseResponse, swText } from '../../../platform/sdk/apdu.js';

const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

describe('buildApdu', () => {
  it('encodes case 1', () => {
    expect(hex(buildApdu({ cla: 0, ins: 0xa4, p1: 4, p2: 0 }))).toBe('00A40400');
  });
  it('encodes case 2S, with Le 256 as 00', () => {
    expect(hex(buildApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 16 }))).toBe('00B0000010');
    expect(hex(buildApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 256 }))).toBe('00B0000000');
  });
  it('encodes case 3S and 4S', () => {
    expect(hex(buildApdu({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data: h('0102') }))).toBe('00D60000020102');
    expect(hex(buildApdu({ cla: 0, ins: 0xa4, p1: 4, p2: 0, data: h('A000000003'), le: 256 }))).toBe('00A4040005A00000000300');
  });
  it('switches to extended form when the lengths need it', () => {
    expect(hex(buildApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 257 }))).toBe('00B00000000101');
    expect(hex(buildApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 65536 }))).toBe('00B00000000000');
    const big = new Uint8Array(256).fill(0xaa);
    const e3 = buildApdu({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data: big });
    expect(hex(e3.subarray(0, 7))).toBe('00D60000000100');
    expect(e3.length).toBe(7 + 256);
    const e4 = buildApdu({ cla: 0, ins: 0x2a, p1: 0x9e, p2: 0x9a, data: h('01'), le: 512 });
    expect(hex(e4)).toBe('002A9E9A000001010200');
  });
  it('forces extended form on request', () => {
    expect(hex(buildApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 5, extended: true }))).toBe('00B00000000005');
  });
  it('treats le 0 as no Le field', () => {
    expect(hex(buildApdu({ cla: 0, ins: 0xa4, p1: 4, p2: 0, le: 0 }))).toBe('00A40400');
  });
  it('refuses out-of-range fields with ApduError', () => {
    expect(() => buildApdu({ cla: 256, ins: 0, p1: 0, p2: 0 })).toThrow(/CLA must be an integer 0\.\.255/);
    expect(() => buildApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 65537 })).toThrow(ApduError);
    expect(() => buildApdu({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data: new Uint8Array(65536) })).toThrow(/65535/);
    expect(() => buildApdu({ cla: 0xff, ins: 0xca, p1: 0, p2: 0 })).toThrow(/CLA FF is invalid/);
    expect(() => buildApdu({ cla: 0, ins: 0x61, p1: 0, p2: 0 })).toThrow(/INS 61 is invalid/);
  });
});

describe('parseCommandApdu (strict ISO 7816-4 §5.1)', () => {
  it('decodes every case', () => {
    expect(parseCommandApdu(h('00A40400'))).toMatchObject({ case: 1, le: null, extended: false });
    expect(parseCommandApdu(h('00B0000000'))).toMatchObject({ case: 2, le: 256, extended: false });
    const c3 = parseCommandApdu(h('00D60000020102'));
    expect(c3).toMatchObject({ case: 3, le: null, extended: false });
    expect(hex(c3.data)).toBe('0102');
    const c4 = parseCommandApdu(h('00A4040005A00000000300'));
    expect(c4).toMatchObject({ case: 4, le: 256, cla: 0, ins: 0xa4, p1: 4, p2: 0 });
    expect(hex(c4.data)).toBe('A000000003');
    expect(parseCommandApdu(h('00B00000000000'))).toMatchObject({ case: 2, le: 65536, extended: true });
    expect(parseCommandApdu(h('00D600000000020102'))).toMatchObject({ case: 3, le: null, extended: true });
    expect(parseCommandApdu(h('002A9E9A000001010200'))).toMatchObject({ case: 4, le: 512, extended: true });
    expect(parseCommandApdu(h('002A9E9A0000010100 00'))).toMatchObject({ case: 4, le: 65536, extended: true });
  });

  it('returns a copy of the data', () => {
    const raw = h('00D60000020102');
    const p = parseCommandApdu(raw);
    raw.fill(0);
    expect(hex(p.data)).toBe('0102');
  });

  const bad: Array<[string, string, RegExp]> = [
    ['empty', '', /0 bytes; the header CLA INS P1 P2 needs 4/],
    ['3 bytes', '00A404', /3 bytes/],
    ['short Lc 00 followed by one byte', '00A404000001', /short Lc 00 is invalid/],
    ['short Lc larger than the data', '00D6000005010203', /short Lc 05 announces 5 data bytes.*but it is 4/],
    ['trailing bytes after case 4S', '00A4040001A10000', /short Lc 01 .* but it is 4/],
    ['extended Lc 0000', '00D600000000000102', /extended Lc 0000 is invalid/],
    ['extended Lc inconsistent', '00D6000000000501', /extended Lc 5 announces 5 data bytes/],
    ['trailing byte after case 4E', '002A9E9A00000101020000', /extended Lc 1 .* but it is 7/],
    ['CLA FF', 'FFCA000000', /CLA FF is invalid/],
    ['INS 9X', '0090000000', /INS 90 is invalid/],
  ];
  for (const [name, bytes, reason] of bad) {
    it(`refuses ${name}`, () => {
      let err: unknown;
      try {
        parseCommandApdu(h(bytes));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ApduError);
      expect((err as ApduError).reason).toMatch(reason);
    });
  }

  it('round-trips build → parse for any valid command (property)', () => {
    const validIns = fc.integer({ min: 0, max: 255 }).filter((i) => (i & 0xf0) !== 0x60 && (i & 0xf0) !== 0x90);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 254 }),
        validIns,
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 0, maxLength: 4 })),
        fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 256 }), fc.integer({ min: 0, max: 65536 })),
        fc.boolean(),
        (cla, ins, p1, p2, data, le, extended) => {
          const bytes = buildApdu({ cla, ins, p1, p2, data, le, extended });
          const p = parseCommandApdu(bytes);
          expect([p.cla, p.ins, p.p1, p.p2]).toEqual([cla, ins, p1, p2]);
          expect(Array.from(p.data)).toEqual(Array.from(data));
          expect(p.le).toBe(le === 0 ? null : le);
          const expectedCase = data.length === 0 ? (le === 0 ? 1 : 2) : le === 0 ? 3 : 4;
          expect(p.case).toBe(expectedCase);
          const needsExtended = data.length > 255 || le > 256;
          if (expectedCase !== 1) expect(p.extended).toBe(extended || needsExtended);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('only ever throws ApduError on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          const p = parseCommandApdu(bytes);
          // Whatever parses must re-encode to exactly the same bytes: no two readings of one command.
          expect(hex(buildApdu({ ...p, le: p.le ?? 0 }))).toBe(hex(bytes));
        } catch (e) {
          if (!(e instanceof ApduError)) throw e;
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('only ever throws ApduError on structured near-valid bytes (property)', () => {
    const header = fc.uint8Array({ minLength: 4, maxLength: 4 });
    const body = fc.oneof(
      fc.tuple(fc.constant(0), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 40 })).map(([z, n, rest]) =>
        Uint8Array.from([z, n >> 8, n & 0xff, ...rest]),
      ),
      fc.tuple(fc.integer({ min: 1, max: 255 }), fc.uint8Array({ maxLength: 260 })).map(([lc, rest]) => Uint8Array.from([lc, ...rest])),
    );
    fc.assert(
      fc.property(header, body, (hd, bd) => {
        try {
          parseCommandApdu(Uint8Array.from([...hd, ...bd]));
        } catch (e) {
          if (!(e instanceof ApduError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseResponse and swText', () => {
  it('splits data and status word', () => {
    const r = parseResponse(h('0102039000'));
    expect(hex(r.data)).toBe('010203');
    expect(r).toMatchObject({ sw: 0x9000, sw1: 0x90, sw2: 0x00 });
    expect(parseResponse(h('6A82'))).toMatchObject({ sw: 0x6a82, data: new Uint8Array(0) });
  });
  it('throws ApduError on fewer than 2 bytes', () => {
    expect(() => parseResponse(h('90'))).toThrow(ApduError);
    expect(() => parseResponse(new Uint8Array(0))).toThrow(/0 bytes; it needs at least SW1 SW2/);
  });
  it('describes common status words', () => {
    expect(swText(0x9000)).toBe('success');
    expect(swText(0x6982)).toBe('security status not satisfied');
    expect(swText(0x6a82)).toBe('file or application not found');
    expect(swText(0x63c2)).toBe('verification failed, 2 tries left');
    expect(swText(0x6110)).toBe('16 more response bytes available');
    expect(swText(0x6c08)).toBe('wrong Le; the card has exactly 8 bytes');
    expect(swText(0x1234)).toBe('unknown status 1234');
  });
});
