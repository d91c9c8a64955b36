import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { luhnValid, maskPan, redactError, redactFields, redactText, MAX_STRING_CHARS } from '../../../platform/kernel/redact.js';

/** Appends the Luhn check digit to `body`. */
function withCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return body + d;
  throw new Error(`no check digit for ${body}`);
}

/** Changes the last digit so that the number is not Luhn-valid. */
function breakLuhn(pan: string): string {
  const last = Number(pan.at(-1));
  return pan.slice(0, -1) + String((last + 1) % 10);
}

const PAN16 = withCheckDigit('497010123456789');
const PAN13 = withCheckDigit('422222222222');
const PAN19 = withCheckDigit('622222222222222222');

describe('luhn and maskPan', () => {
  it('recognises valid and invalid numbers', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('')).toBe(false);
    expect(luhnValid('12a4')).toBe(false);
  });

  it('keeps first 6 and last 4 and the length', () => {
    expect(maskPan('4970101234561234')).toBe('497010******1234');
    expect(maskPan(PAN19)).toHaveLength(19);
  });
});

describe('redactText: PANs', () => {
  it('masks a bare 16-digit PAN in text', () => {
    const out = redactText(`card ${PAN16} accepted`);
    expect(out).toBe(`card ${PAN16.slice(0, 6)}******${PAN16.slice(-4)} accepted`);
  });

  it('masks 13- and 19-digit PANs, keeping their length', () => {
    expect(redactText(PAN13)).toBe(`${PAN13.slice(0, 6)}***${PAN13.slice(-4)}`);
    expect(redactText(PAN19)).toBe(`${PAN19.slice(0, 6)}${'*'.repeat(9)}${PAN19.slice(-4)}`);
  });

  it('masks PANs grouped with spaces or dashes, keeping the separators', () => {
    const spaced = `${PAN16.slice(0, 4)} ${PAN16.slice(4, 8)} ${PAN16.slice(8, 12)} ${PAN16.slice(12)}`;
    expect(redactText(`PAN: ${spaced}.`)).toBe(`PAN: ${PAN16.slice(0, 4)} ${PAN16.slice(4, 6)}** **** ${PAN16.slice(12)}.`);
    const dashed = spaced.replace(/ /g, '-');
    expect(redactText(dashed)).toBe(`${PAN16.slice(0, 4)}-${PAN16.slice(4, 6)}**-****-${PAN16.slice(12)}`);
  });

  it('finds a grouped PAN next to other numbers', () => {
    const spaced = `${PAN16.slice(0, 4)} ${PAN16.slice(4, 8)} ${PAN16.slice(8, 12)} ${PAN16.slice(12)}`;
    const out = redactText(`qty 2 ${spaced} 7`);
    expect(out.replace(/[ -]/g, '')).not.toContain(PAN16);
    expect(out).toContain('qty 2 ');
  });

  it('leaves non-Luhn numbers and short numbers untouched', () => {
    const notPan = breakLuhn(PAN16);
    expect(luhnValid(notPan)).toBe(false);
    for (const s of [notPan, `order ${notPan} shipped`, '123456789012', 'tel 01 23 45 67 89', '2024-05-01T10:00:00.000Z']) {
      expect(redactText(s)).toBe(s);
    }
    const grouped = `${notPan.slice(0, 4)} ${notPan.slice(4, 8)} ${notPan.slice(8, 12)} ${notPan.slice(12)}`;
    expect(redactText(grouped)).toBe(grouped);
  });

  it('masks a PAN buried in a digit run longer than any PAN', () => {
    const out = redactText(`ref 000${PAN16}1234567`);
    expect(out).not.toContain(PAN16);
    expect(out.startsWith('ref 000')).toBe(true);
  });

  it('stays fast on megabyte inputs (log lines are attacker-controlled)', () => {
    let digits = '';
    for (let i = 0; i < 1_000_000; i++) digits += String((i * 7919) % 10);
    const t0 = performance.now();
    const out = redactText(`${digits} ${PAN16}`);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(out).toHaveLength(digits.length + 1 + PAN16.length);
    expect(out).not.toContain(PAN16);
  });

  it('leaves text without digits alone', () => {
    expect(redactText('no numbers here')).toBe('no numbers here');
  });
});

describe('redactText: track data', () => {
  it('masks ASCII track 2 to the masked PAN and "=****"', () => {
    const t2 = `;${PAN16}=25122011234567890123?`;
    expect(redactText(t2)).toBe(`;${maskPan(PAN16)}=****?`);
  });

  it('masks the hex-nibble form with D separator and F pad', () => {
    const t2 = `${PAN16}D25122011234567890F`;
    expect(redactText(t2)).toBe(`${maskPan(PAN16)}=****`);
    expect(redactText(`track2=${PAN16}d2512201123`)).toBe(`track2=${maskPan(PAN16)}=****`);
  });

  it('masks track 2 inside an EMV record dump where tag and length glue onto the PAN', () => {
    const record = `7081..5713${PAN16}D25122011234567890F9F1F0430303030`;
    const out = redactText(record);
    expect(out).not.toContain(PAN16);
    expect(out).not.toContain('25122011234567890');
    expect(out).toContain(`${maskPan(PAN16)}=****`);
  });

  it('masks track 1', () => {
    const out = redactText(`%B${PAN16}^DUPONT/JEAN^2512201000000?`);
    expect(out).not.toContain(PAN16);
    expect(out).not.toContain('DUPONT');
    expect(out).toContain(maskPan(PAN16));
  });
});

describe('redactText: hex dumps', () => {
  it('masks a BCD PAN inside a long hex string', () => {
    const hex = `6F1A840E315041592E5359532E4444463031A5085A08${PAN16}9000`;
    const out = redactText(hex);
    expect(out).not.toContain(PAN16);
    expect(out).toContain('6F1A840E315041592E5359532E444446');
  });

  it('masks a PAN glued to its tag and length in a short hex string', () => {
    const out = redactText(`5A08${PAN16}`);
    expect(out).not.toContain(PAN16);
  });

  it('masks a PAN carried as ASCII bytes in hex', () => {
    const asciiHex = Buffer.from(PAN16, 'ascii').toString('hex');
    const out = redactText(`00A4040000${asciiHex}9000`);
    expect(out).not.toContain(asciiHex);
  });

  it('leaves a hex string without a Luhn-valid PAN alone', () => {
    const hex = 'A0000000031010A0000000041010ABCDEF0123456789';
    expect(redactText(hex)).toBe(hex);
  });
});

describe('redactFields', () => {
  it('replaces secret-named fields at any depth and in any casing', () => {
    const out = redactFields({
      pin: '1234',
      PIN: 1234,
      pinBlock: new Uint8Array([0x24, 0x12, 0x34]),
      pin_block: 'x',
      newPin: '0000',
      oldPIN: '9999',
      puk: '12345678',
      track2: 'x',
      Track_2: 'x',
      cvv: '123',
      CVC: '123',
      cryptogram: 'AB12',
      password: 'p',
      secret: 's',
      privateKey: 'k',
      private_key: 'k',
      nested: { deeper: [{ Pins: ['1', '2'], ok: 'visible' }] },
    });
    expect(out).toEqual({
      pin: '[redacted]',
      PIN: '[redacted]',
      pinBlock: '[redacted]',
      pin_block: '[redacted]',
      newPin: '[redacted]',
      oldPIN: '[redacted]',
      puk: '[redacted]',
      track2: '[redacted]',
      Track_2: '[redacted]',
      cvv: '[redacted]',
      CVC: '[redacted]',
      cryptogram: '[redacted]',
      password: '[redacted]',
      secret: '[redacted]',
      privateKey: '[redacted]',
      private_key: '[redacted]',
      nested: { deeper: [{ Pins: '[redacted]', ok: 'visible' }] },
    });
    expect(JSON.stringify(out)).not.toMatch(/1234|0000|9999|12345678/);
  });

  it('does not redact fields that merely contain a secret word', () => {
    expect(redactFields({ pinTriesLeft: 2, spinner: 'on', pinned: true })).toEqual({ pinTriesLeft: 2, spinner: 'on', pinned: true });
  });

  it('masks PANs in strings, keys and large integers', () => {
    const out = redactFields({ message: `paid with ${PAN16}`, [`card:${PAN16}`]: 1, asNumber: Number(PAN16) });
    const json = JSON.stringify(out);
    expect(json).not.toContain(PAN16);
    expect(out).toEqual({
      message: `paid with ${maskPan(PAN16)}`,
      [`card:${maskPan(PAN16)}`]: 1,
      asNumber: maskPan(PAN16),
    });
  });

  it('turns bytes into a length only', () => {
    const out = redactFields({ apdu: new Uint8Array([0, 0xa4, 4, 0]), buf: Buffer.from('secret'), ab: new ArrayBuffer(3) });
    expect(out).toEqual({ apdu: '<4 bytes>', buf: '<6 bytes>', ab: '<3 bytes>' });
  });

  it('bounds depth', () => {
    const deep = { a: { b: { c: { d: { e: 'bottom' } } } } };
    expect(redactFields(deep, 3)).toEqual({ a: { b: { c: '[truncated]' } } });
    expect(redactFields(deep)).toEqual(deep);
    let chain: Record<string, unknown> = { end: true };
    for (let i = 0; i < 100; i++) chain = { next: chain };
    expect(JSON.stringify(redactFields(chain))).toContain('[truncated]');
  });

  it('bounds size: long strings, big arrays, many keys', () => {
    const long = 'x'.repeat(MAX_STRING_CHARS + 500);
    const s = redactFields(long) as string;
    expect(s.startsWith('x'.repeat(MAX_STRING_CHARS))).toBe(true);
    expect(s).toContain('[truncated 500 chars]');
    expect(s.length).toBeLessThan(MAX_STRING_CHARS + 40);
    const arr = redactFields(new Array(1000).fill(1)) as unknown[];
    expect(arr.length).toBeLessThanOrEqual(201);
    expect(arr.at(-1)).toBe('[800 more items]');
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(redactFields(many) as object).length).toBeLessThanOrEqual(201);
  });

  it('masks a PAN straddling the truncation point of a long string', () => {
    const s = `${'y'.repeat(MAX_STRING_CHARS - 8)} ${PAN16} ${'z'.repeat(100)}`;
    const out = redactFields(s) as string;
    expect(out).not.toContain(PAN16.slice(0, 8));
  });

  it('produces JSON-safe output for awkward inputs', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const out = redactFields({
      cyclic,
      nan: NaN,
      inf: -Infinity,
      undef: undefined,
      fn: () => 1,
      sym: Symbol('s'),
      big: 10n,
      date: new Date('2025-01-02T03:04:05.000Z'),
      err: Object.assign(new Error(`declined ${PAN16}`), { code: 'E_X' }),
      map: new Map<string, unknown>([['pin', '1234'], ['slot', 1]]),
      set: new Set([1, 2]),
      throwing: Object.defineProperty({}, 'boom', {
        enumerable: true,
        get() {
          throw new Error('no');
        },
      }),
    });
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
    expect(out).toEqual({
      cyclic: { name: 'loop', self: '[circular]' },
      nan: 'NaN',
      inf: '-Infinity',
      undef: null,
      fn: '[function]',
      sym: '[symbol]',
      big: '10',
      date: '2025-01-02T03:04:05.000Z',
      err: { name: 'Error', message: `declined ${maskPan(PAN16)}`, code: 'E_X' },
      map: { pin: '[redacted]', slot: 1 },
      set: [1, 2],
      throwing: '[unreadable: Error]',
    });
  });

  it('keeps a field named __proto__ as a plain field', () => {
    const out = redactFields(JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('redactError masks the stack', () => {
    const e = new Error(`bad card ${PAN16}`);
    expect(redactError(e)).not.toContain(PAN16);
    expect(redactError(`thrown ${PAN16}`)).not.toContain(PAN16);
  });
});

describe('property: a Luhn-valid PAN never survives', () => {
  const panArb = fc
    .integer({ min: 13, max: 19 })
    .chain((len) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: len - 1, maxLength: len - 1 }))
    .map((digits) => withCheckDigit(digits.join('')));
  // Surrounding text that mixes the characters the detectors care about.
  const textArb = fc.string({
    unit: fc.constantFrom(...'0123456789 -=DdFfAaBbxyz:;,.^*?\n'.split('')),
    maxLength: 60,
  });
  // Anything but a digit: a PAN is only recognisable when it is not glued to other digits.
  const delimiterArb = fc.constantFrom(' ', '-', ':', 'x', 'A', 'D', '=', '\n', '^', '"');
  const groupedArb = (pan: string) =>
    fc.constantFrom(' ', '-').map((sep) => pan.replace(/(\d{4})(?=\d)/g, `$1${sep}`));

  it('bare PANs in random text', () => {
    fc.assert(
      fc.property(panArb, textArb, textArb, delimiterArb, delimiterArb, (pan, before, after, d1, d2) => {
        const out = redactText(`${before}${d1}${pan}${d2}${after}`);
        expect(out).not.toContain(pan);
        expect(out.replace(/[ -]/g, '')).not.toContain(pan);
      }),
      { numRuns: 2000 },
    );
  });

  it('grouped PANs in random text', () => {
    fc.assert(
      fc.property(
        panArb.chain((pan) => fc.tuple(fc.constant(pan), groupedArb(pan))),
        textArb,
        textArb,
        delimiterArb,
        delimiterArb,
        ([pan, grouped], before, after, d1, d2) => {
          const out = redactText(`${before}${d1}${grouped}${d2}${after}`);
          expect(out.replace(/[ -]/g, '')).not.toContain(pan);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('PANs inside random hex dumps and structured fields', () => {
    const hexArb = fc.string({ unit: fc.constantFrom(...'0123456789ABCDEF'.split('')), minLength: 0, maxLength: 40 });
    fc.assert(
      fc.property(panArb, hexArb, hexArb, (pan, before, after) => {
        const dump = `${before}${pan}${after}`;
        fc.pre(dump.length >= 32);
        const out = JSON.stringify(redactFields({ dump, nested: [{ note: `pan ${pan}` }] }));
        expect(out).not.toContain(pan);
      }),
      { numRuns: 2000 },
    );
  });
});
