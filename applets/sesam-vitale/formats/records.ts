/**
 * The fixed-width record codec shared by every DI-SV 01 layout (docs/formats.md): ASCII records of exactly
 * 128 characters ended by CRLF, a 3-character record type first, then fields at fixed offsets, then spaces.
 * Writers refuse what the layout cannot carry (never truncate: a silently shortened name or amount would be
 * signed and paid); readers refuse any deviation, each error naming the record number, type and field.
 *
 * Pure ECMAScript: runs in the applet isolate (no TextEncoder, atob or Buffer there) and in Node.
 */
import type { IsoDate } from '../model.js';
import { FormatError, type FormatName } from './errors.js';

export const RECORD_LENGTH = 128;
const TYPE_WIDTH = 3;

/** Characters a text field may hold once transliterated (names, labels, reason texts). */
const TEXT_CHARS = /^[A-Z0-9 '\-./,:()+%&]*$/;
/** Identifiers and codes: no transliteration, no spaces. */
const CODE_CHARS = /^[A-Z0-9\-]*$/;

const LIGATURES: Record<string, string> = {
  Œ: 'OE', œ: 'OE', Æ: 'AE', æ: 'AE', ß: 'SS', Ø: 'O', ø: 'O', Ð: 'D', ð: 'D', Þ: 'TH', þ: 'TH', Ł: 'L', ł: 'L',
  '\u2019': "'", '\u2018': "'", '\u02bc': "'", '`': "'", '\u2013': '-', '\u2014': '-', '\u2010': '-', '\u00a0': ' ', '\u202f': ' ',
};

/**
 * What a text field carries for `s`: accents and ligatures removed, uppercase, trimmed. `undefined` when a
 * character has no transliteration in the layout's alphabet (the caller names the field in its error).
 */
export function transliterate(s: string): string | undefined {
  let out = '';
  for (const ch of s.normalize('NFD')) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0x300 && cp <= 0x36f) continue; // combining accents left by NFD
    out += LIGATURES[ch] ?? ch.toUpperCase();
  }
  out = out.trim();
  return TEXT_CHARS.test(out) ? out : undefined;
}

// ---- record framing ------------------------------------------------------------------------------

/** Splits a file into its records, checking the framing only: ASCII, CRLF after every record, 128 characters each. */
export function splitRecords(format: FormatName, b: Uint8Array): string[] {
  if (!(b instanceof Uint8Array)) throw new FormatError(format, 'record 1', 'input is not a byte array');
  if (b.length === 0) throw new FormatError(format, 'record 1', 'empty input');
  const lines: string[] = [];
  const stride = RECORD_LENGTH + 2;
  for (let start = 0; start < b.length; start += stride) {
    const n = lines.length + 1;
    if (b.length - start < stride) {
      throw new FormatError(format, `record ${n}`, `truncated record or trailing data: ${b.length - start} bytes left, a record is ${RECORD_LENGTH} characters + CRLF`);
    }
    let s = '';
    for (let i = 0; i < RECORD_LENGTH; i++) {
      const c = b[start + i] as number;
      if (c === 13 || c === 10) throw new FormatError(format, `record ${n}`, `line ends at column ${i + 1}, a record is ${RECORD_LENGTH} characters`);
      if (c < 0x20 || c > 0x7e) throw new FormatError(format, `record ${n}`, `byte 0x${c.toString(16).padStart(2, '0')} at column ${i + 1} is not printable ASCII`);
      s += String.fromCharCode(c);
    }
    if (b[start + RECORD_LENGTH] !== 13 || b[start + RECORD_LENGTH + 1] !== 10) {
      throw new FormatError(format, `record ${n}`, `not ended by CRLF after column ${RECORD_LENGTH}`);
    }
    lines.push(s);
  }
  return lines;
}

export function joinRecords(lines: string[]): Uint8Array {
  const out = new Uint8Array(lines.length * (RECORD_LENGTH + 2));
  let p = 0;
  for (const l of lines) {
    for (let i = 0; i < l.length; i++) out[p++] = l.charCodeAt(i);
    out[p++] = 13;
    out[p++] = 10;
  }
  return out;
}

// ---- dates ---------------------------------------------------------------------------------------

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

export function isCalendarDate(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month);
}

function isoParts(iso: string): [number, number, number] | undefined {
  const m = ISO_DATE.exec(iso);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  return isCalendarDate(y, mo, d) ? [y, mo, d] : undefined;
}

// ---- writer --------------------------------------------------------------------------------------

/** Builds one record, field after field; every refusal names the record and field. */
export class RecordWriter {
  private s: string;
  constructor(
    private readonly format: FormatName,
    private readonly recordNo: number,
    private readonly type: string,
  ) {
    this.s = type;
  }

  private fail(field: string, reason: string): never {
    throw new FormatError(this.format, `record ${this.recordNo} (${this.type}) ${field}`, reason);
  }

  private put(field: string, width: number, value: string): this {
    if (value.length > width) this.fail(field, `${value.length} characters do not fit in ${width}`);
    this.s += value.padEnd(width, ' ');
    return this;
  }

  blank(width: number): this {
    this.s += ' '.repeat(width);
    return this;
  }

  num(field: string, width: number, value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) this.fail(field, `must be a non-negative integer, got ${String(value)}`);
    const t = String(value);
    if (t.length > width) this.fail(field, `${t} has more than ${width} digits`);
    return this.put(field, width, t.padStart(width, '0'));
  }

  optNum(field: string, width: number, value: number | undefined): this {
    return value === undefined ? this.blank(width) : this.num(field, width, value);
  }

  /** A decimal with `decimals` fixed places, stored as an integer (coefficients such as 7.5). */
  fixed(field: string, width: number, decimals: number, value: number): this {
    const scale = 10 ** decimals;
    const scaled = Math.round(value * scale);
    if (!Number.isFinite(value) || Math.abs(value * scale - scaled) > 1e-6 || scaled / scale !== value) {
      this.fail(field, `${String(value)} has more than ${decimals} decimal places`);
    }
    return this.num(field, width, scaled);
  }

  text(field: string, width: number, value: string): this {
    if (typeof value !== 'string') this.fail(field, 'must be a string');
    const t = transliterate(value);
    if (t === undefined) this.fail(field, `${JSON.stringify(value)} holds characters the layout cannot carry (letters, digits, space and ' - . / , : ( ) + % & only)`);
    return this.put(field, width, t);
  }

  /** Absent and empty are the same on the wire: the reader returns `undefined` for both. */
  optText(field: string, width: number, value: string | undefined): this {
    if (value === undefined) return this.blank(width);
    const t = transliterate(value);
    return t === '' ? this.blank(width) : this.text(field, width, value);
  }

  code(field: string, width: number, value: string, pattern: RegExp = CODE_CHARS): this {
    if (typeof value !== 'string' || value === '') this.fail(field, 'is required');
    if (!CODE_CHARS.test(value) || !pattern.test(value)) this.fail(field, `${JSON.stringify(value)} is not a valid code`);
    return this.put(field, width, value);
  }

  optCode(field: string, width: number, value: string | undefined, pattern: RegExp = CODE_CHARS): this {
    return value === undefined ? this.blank(width) : this.code(field, width, value, pattern);
  }

  /** Lowercase allowed: file names (`….p7m`). */
  fileName(field: string, width: number, value: string): this {
    if (!/^[A-Za-z0-9][A-Za-z0-9._\-]*$/.test(value)) this.fail(field, `${JSON.stringify(value)} is not a valid file name`);
    return this.put(field, width, value);
  }

  flag(field: string, value: boolean): this {
    if (typeof value !== 'boolean') this.fail(field, 'must be true or false');
    return this.put(field, 1, value ? '1' : '0');
  }

  choice<T extends string>(field: string, width: number, value: T, codes: Record<T, string>): this {
    const c = Object.prototype.hasOwnProperty.call(codes, value) ? codes[value] : undefined;
    if (c === undefined) this.fail(field, `${JSON.stringify(value)} is not one of ${Object.keys(codes).join(', ')}`);
    return this.put(field, width, c);
  }

  /** AAMMJJ: dates of events (care, creation, payment), 2000-01-01..2099-12-31. */
  date6(field: string, iso: IsoDate): this {
    const p = typeof iso === 'string' ? isoParts(iso) : undefined;
    if (!p) this.fail(field, `${JSON.stringify(iso)} is not a calendar date YYYY-MM-DD`);
    if (p[0] < 2000 || p[0] > 2099) this.fail(field, `${iso} is outside 2000..2099, which AAMMJJ cannot carry`);
    return this.put(field, 6, iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10));
  }

  optDate6(field: string, iso: IsoDate | undefined): this {
    return iso === undefined ? this.blank(6) : this.date6(field, iso);
  }

  /** AAAAMMJJ calendar dates (rights and AMC periods, as the card gives them). */
  date8(field: string, iso: IsoDate): this {
    const p = typeof iso === 'string' ? isoParts(iso) : undefined;
    if (!p) this.fail(field, `${JSON.stringify(iso)} is not a calendar date YYYY-MM-DD`);
    return this.put(field, 8, iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10));
  }

  optDate8(field: string, iso: IsoDate | undefined): this {
    return iso === undefined ? this.blank(8) : this.date8(field, iso);
  }

  /** A digit string of exactly `width` digits (birth dates AAAAMMJJ, possibly lunar). */
  digits(field: string, width: number, value: string): this {
    if (typeof value !== 'string' || value.length !== width || !/^\d+$/.test(value)) this.fail(field, `must be ${width} digits, got ${JSON.stringify(value)}`);
    return this.put(field, width, value);
  }

  /** Raw characters already checked by the caller (base64 chunks). */
  raw(field: string, width: number, value: string): this {
    return this.put(field, width, value);
  }

  done(): string {
    if (this.s.length > RECORD_LENGTH) this.fail('', `layout error: ${this.s.length} characters`);
    return this.s.padEnd(RECORD_LENGTH, ' ');
  }
}

// ---- reader --------------------------------------------------------------------------------------

export class RecordReader {
  private pos = TYPE_WIDTH;
  readonly type: string;
  constructor(
    private readonly format: FormatName,
    private readonly recordNo: number,
    private readonly line: string,
  ) {
    this.type = line.slice(0, TYPE_WIDTH);
  }

  fail(field: string, reason: string): never {
    throw new FormatError(this.format, `record ${this.recordNo} (${this.type})${field ? ` ${field}` : ''}`, reason);
  }

  private take(width: number): string {
    const v = this.line.slice(this.pos, this.pos + width);
    this.pos += width;
    return v;
  }

  private isBlank(v: string): boolean {
    return v.trim() === '';
  }

  blank(field: string, width: number): void {
    const v = this.take(width);
    if (!this.isBlank(v)) this.fail(field, `must be blank, got ${JSON.stringify(v)}`);
  }

  num(field: string, width: number): number {
    const v = this.take(width);
    if (!/^\d+$/.test(v)) this.fail(field, `must be ${width} digits, got ${JSON.stringify(v)}`);
    return Number(v);
  }

  optNum(field: string, width: number): number | undefined {
    const v = this.line.slice(this.pos, this.pos + width);
    if (this.isBlank(v)) {
      this.pos += width;
      return undefined;
    }
    return this.num(field, width);
  }

  fixed(field: string, width: number, decimals: number): number {
    return this.num(field, width) / 10 ** decimals;
  }

  private leftAligned(field: string, width: number): string {
    const v = this.take(width);
    const t = v.trimEnd();
    if (t !== '' && t[0] === ' ') this.fail(field, `must be left-aligned, got ${JSON.stringify(v)}`);
    return t;
  }

  text(field: string, width: number): string {
    const t = this.leftAligned(field, width);
    if (!TEXT_CHARS.test(t)) this.fail(field, `${JSON.stringify(t)} holds characters outside the layout's alphabet`);
    return t;
  }

  optText(field: string, width: number): string | undefined {
    const t = this.text(field, width);
    return t === '' ? undefined : t;
  }

  code(field: string, width: number, pattern: RegExp = CODE_CHARS): string {
    const t = this.leftAligned(field, width);
    if (t === '') this.fail(field, 'is required');
    if (!CODE_CHARS.test(t) || !pattern.test(t)) this.fail(field, `${JSON.stringify(t)} is not a valid code`);
    return t;
  }

  optCode(field: string, width: number, pattern: RegExp = CODE_CHARS): string | undefined {
    const v = this.line.slice(this.pos, this.pos + width);
    if (this.isBlank(v)) {
      this.pos += width;
      return undefined;
    }
    return this.code(field, width, pattern);
  }

  fileName(field: string, width: number): string {
    const t = this.leftAligned(field, width);
    if (!/^[A-Za-z0-9][A-Za-z0-9._\-]*$/.test(t)) this.fail(field, `${JSON.stringify(t)} is not a valid file name`);
    return t;
  }

  flag(field: string): boolean {
    const v = this.take(1);
    if (v !== '0' && v !== '1') this.fail(field, `must be 0 or 1, got ${JSON.stringify(v)}`);
    return v === '1';
  }

  choice<T extends string>(field: string, width: number, codes: Record<T, string>): T {
    const v = this.take(width);
    for (const k of Object.keys(codes) as T[]) if (codes[k].padEnd(width, ' ') === v) return k;
    return this.fail(field, `${JSON.stringify(v)} is not one of ${Object.values(codes).join(', ')}`);
  }

  date6(field: string): IsoDate {
    const v = this.take(6);
    if (!/^\d{6}$/.test(v)) this.fail(field, `must be a date AAMMJJ, got ${JSON.stringify(v)}`);
    const iso = `20${v.slice(0, 2)}-${v.slice(2, 4)}-${v.slice(4, 6)}`;
    if (!isoParts(iso)) this.fail(field, `${v} is not a calendar date`);
    return iso;
  }

  optDate6(field: string): IsoDate | undefined {
    const v = this.line.slice(this.pos, this.pos + 6);
    if (this.isBlank(v)) {
      this.pos += 6;
      return undefined;
    }
    return this.date6(field);
  }

  date8(field: string): IsoDate {
    const v = this.take(8);
    if (!/^\d{8}$/.test(v)) this.fail(field, `must be a date AAAAMMJJ, got ${JSON.stringify(v)}`);
    const iso = `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}`;
    if (!isoParts(iso)) this.fail(field, `${v} is not a calendar date`);
    return iso;
  }

  optDate8(field: string): IsoDate | undefined {
    const v = this.line.slice(this.pos, this.pos + 8);
    if (this.isBlank(v)) {
      this.pos += 8;
      return undefined;
    }
    return this.date8(field);
  }

  digits(field: string, width: number): string {
    const v = this.take(width);
    if (!/^\d+$/.test(v)) this.fail(field, `must be ${width} digits, got ${JSON.stringify(v)}`);
    return v;
  }

  raw(width: number): string {
    return this.take(width);
  }

  /** The filler after the last field must be spaces: anything else is data this version does not know. */
  done(): void {
    const rest = this.line.slice(this.pos);
    if (!this.isBlank(rest)) this.fail('filler', `columns ${this.pos + 1}..${RECORD_LENGTH} must be blank`);
  }
}

// ---- base64 (no atob/btoa/Buffer in the isolate) -------------------------------------------------

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX: Record<string, number> = {};
for (let i = 0; i < B64.length; i++) B64_INDEX[B64[i] as string] = i;

export function base64Encode(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = ((b[i] as number) << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]!;
    s += i + 1 < b.length ? B64[(n >> 6) & 63]! : '=';
    s += i + 2 < b.length ? B64[n & 63]! : '=';
  }
  return s;
}

/** Strict: canonical padding, no whitespace, unused bits zero. Returns undefined on any deviation. */
export function base64Decode(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0) return undefined;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let p = 0;
  for (let i = 0; i < s.length; i += 4) {
    const last = i + 4 === s.length;
    const v: number[] = [];
    for (let k = 0; k < 4; k++) {
      const ch = s[i + k] as string;
      if (ch === '=' && last && k >= 4 - pad) {
        v.push(0);
        continue;
      }
      const x = B64_INDEX[ch];
      if (x === undefined) return undefined;
      v.push(x);
    }
    const n = ((v[0] as number) << 18) | ((v[1] as number) << 12) | ((v[2] as number) << 6) | (v[3] as number);
    if (last && pad === 2 && (n & 0xffff) !== 0) return undefined;
    if (last && pad === 1 && (n & 0xff) !== 0) return undefined;
    out[p++] = (n >> 16) & 255;
    if (p < out.length) out[p++] = (n >> 8) & 255;
    if (p < out.length) out[p++] = n & 255;
  }
  return out;
}

/** Base64 continuation records: `type` + up to 124 characters each, all but the last full. */
export const B64_CHUNK = 124;

export function base64Records(format: FormatName, firstRecordNo: number, type: string, bytes: Uint8Array): string[] {
  const s = base64Encode(bytes);
  const out: string[] = [];
  const n = base64RecordCount(bytes.length);
  for (let k = 0; k < n; k++) {
    out.push(new RecordWriter(format, firstRecordNo + k, type).raw('data', B64_CHUNK, s.slice(k * B64_CHUNK, (k + 1) * B64_CHUNK)).done());
  }
  return out;
}

/** Reads `count` continuation records of `type` from `lines` at `index` (0-based) and checks the decoded length. */
export function readBase64Records(format: FormatName, lines: string[], index: number, type: string, byteLength: number, field: string): Uint8Array {
  const n = base64RecordCount(byteLength);
  const expectedChars = Math.ceil(byteLength / 3) * 4;
  let s = '';
  for (let k = 0; k < n; k++) {
    const line = lines[index + k];
    const r = new RecordReader(format, index + k + 1, line ?? '');
    if (line === undefined) r.fail(field, `missing: ${n} continuation records expected`);
    if (r.type !== type) r.fail(field, `record type ${JSON.stringify(r.type)} where continuation ${type} ${k + 1} of ${n} is expected`);
    const want = Math.min(B64_CHUNK, expectedChars - k * B64_CHUNK);
    const chunk = r.raw(B64_CHUNK);
    const data = chunk.slice(0, want);
    if (!/^[A-Za-z0-9+/=]*$/.test(data)) r.fail(field, 'not base64');
    if (chunk.slice(want).trim() !== '') r.fail(field, `base64 continues past the declared length (${byteLength} bytes)`);
    r.done();
    s += data;
  }
  const bytes = base64Decode(s);
  if (bytes === undefined || bytes.length !== byteLength) {
    throw new FormatError(format, `record ${index + n} (${type}) ${field}`, `invalid base64 or length differs from the declared ${byteLength} bytes`);
  }
  return bytes;
}

/** Number of continuation records `byteLength` bytes take (at least one, even when empty). */
export function base64RecordCount(byteLength: number): number {
  const chars = Math.ceil(byteLength / 3) * 4;
  return Math.max(1, Math.ceil(chars / B64_CHUNK));
}
