/**
 * Card profiles as data: a JSON document describing the ATR, the file tree and the PINs, turned
 * into an IsoCardConfig. Every check names the JSON path of the faulty field, because profiles are
 * edited by hand and a bad one should say where it is wrong.
 */
import { fromHex } from '../../../platform/sdk/hex.js';
import type { AtrOptions } from './atr.js';
import type { AccessCondition, DfSpec, FileSpec } from './filesystem.js';
import type { IsoCardConfig, ProcessingTimes } from './iso-card.js';
import { PIN_FORMATS, type PinFormat, type PinSpec } from './pin.js';

/** JSON shape of a profile. Byte strings are hex (spaces allowed) unless the field says Ascii. */
export interface CardProfile {
  kind: string;
  description?: string;
  atr:
    | { hex: string }
    | { protocol: 'T=0' | 'T=1'; historicalHex?: string; historicalAscii?: string; ta1?: string; tc1?: string };
  fileSystem: { children: ProfileFile[] };
  pins?: Array<{ reference: number; value: string; format: PinFormat; maxTries: number; triesLeft?: number }>;
  processingMs?: { default?: number; byIns?: Record<string, number> };
}

export type ProfileAccess = 'always' | 'never' | { pin: number };

export type ProfileFile =
  | { type: 'df'; fid?: string; aid?: string; label?: string; fciProprietaryHex?: string; fciHex?: string; children?: ProfileFile[] }
  | { type: 'transparent'; fid: string; sfi?: number; label?: string; read?: ProfileAccess; dataHex?: string; dataAscii?: string }
  | { type: 'records'; fid: string; sfi?: number; label?: string; read?: ProfileAccess; recordsHex: string[] };

export class ProfileError extends Error {
  constructor(
    readonly source: string,
    readonly path: string,
    message: string,
  ) {
    super(`card profile ${source}: ${path}: ${message}`);
    this.name = 'ProfileError';
  }
}

type Obj = Record<string, unknown>;

class Reader {
  constructor(readonly source: string) {}

  fail(path: string, message: string): never {
    throw new ProfileError(this.source, path, message);
  }

  obj(v: unknown, path: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'must be an object');
    return v as Obj;
  }

  str(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, `must be a string, got ${typeof v}`);
    return v;
  }

  int(v: unknown, path: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(path, `must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  hex(v: unknown, path: string): Uint8Array {
    const s = this.str(v, path);
    try {
      return fromHex(s);
    } catch (e) {
      return this.fail(path, (e as Error).message);
    }
  }

  ascii(v: unknown, path: string): Uint8Array {
    const s = this.str(v, path);
    if (!/^[\x20-\x7e]*$/.test(s)) this.fail(path, 'must be printable ASCII');
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  }

  fid(v: unknown, path: string): number {
    const b = this.hex(v, path);
    if (b.length !== 2) this.fail(path, `FID must be 2 bytes of hex, got ${b.length}`);
    return (b[0]! << 8) | b[1]!;
  }

  byteHex(v: unknown, path: string): number {
    const b = this.hex(v, path);
    if (b.length !== 1) this.fail(path, `must be 1 byte of hex, got ${b.length}`);
    return b[0]!;
  }

  access(v: unknown, path: string): AccessCondition {
    if (v === 'always' || v === 'never') return v;
    const o = this.obj(v, path);
    return { pin: this.int(o.pin, `${path}.pin`, 0, 255) };
  }
}

function convertFile(r: Reader, v: unknown, path: string): FileSpec {
  const o = r.obj(v, path);
  const label = o.label === undefined ? undefined : r.str(o.label, `${path}.label`);
  switch (o.type) {
    case 'df': {
      const df: DfSpec = { type: 'df' };
      if (o.fid !== undefined) df.fid = r.fid(o.fid, `${path}.fid`);
      if (o.aid !== undefined) df.aid = r.hex(o.aid, `${path}.aid`);
      if (label !== undefined) df.label = label;
      if (o.fciHex !== undefined) df.fci = r.hex(o.fciHex, `${path}.fciHex`);
      if (o.fciProprietaryHex !== undefined) df.fciProprietary = r.hex(o.fciProprietaryHex, `${path}.fciProprietaryHex`);
      df.children = convertChildren(r, o.children ?? [], `${path}.children`);
      return df;
    }
    case 'transparent': {
      if ((o.dataHex === undefined) === (o.dataAscii === undefined)) r.fail(path, 'needs exactly one of dataHex, dataAscii');
      const data = o.dataHex !== undefined ? r.hex(o.dataHex, `${path}.dataHex`) : r.ascii(o.dataAscii, `${path}.dataAscii`);
      const ef: FileSpec = { type: 'transparent', fid: r.fid(o.fid, `${path}.fid`), data };
      if (o.sfi !== undefined) ef.sfi = r.int(o.sfi, `${path}.sfi`, 1, 30);
      if (o.read !== undefined) ef.read = r.access(o.read, `${path}.read`);
      if (label !== undefined) ef.label = label;
      return ef;
    }
    case 'records': {
      if (!Array.isArray(o.recordsHex)) r.fail(`${path}.recordsHex`, 'must be an array of hex strings');
      const records = o.recordsHex.map((rec: unknown, i: number) => r.hex(rec, `${path}.recordsHex[${i}]`));
      const ef: FileSpec = { type: 'records', fid: r.fid(o.fid, `${path}.fid`), records };
      if (o.sfi !== undefined) ef.sfi = r.int(o.sfi, `${path}.sfi`, 1, 30);
      if (o.read !== undefined) ef.read = r.access(o.read, `${path}.read`);
      if (label !== undefined) ef.label = label;
      return ef;
    }
    default:
      return r.fail(`${path}.type`, `must be "df", "transparent" or "records", got ${JSON.stringify(o.type)}`);
  }
}

function convertChildren(r: Reader, v: unknown, path: string): FileSpec[] {
  if (!Array.isArray(v)) r.fail(path, 'must be an array');
  return v.map((c: unknown, i: number) => convertFile(r, c, `${path}[${i}]`));
}

function convertAtr(r: Reader, v: unknown): Uint8Array | AtrOptions {
  const o = r.obj(v, 'atr');
  if (o.hex !== undefined) return r.hex(o.hex, 'atr.hex');
  if (o.protocol !== 'T=0' && o.protocol !== 'T=1') r.fail('atr.protocol', `must be "T=0" or "T=1", got ${JSON.stringify(o.protocol)}`);
  if (o.historicalHex !== undefined && o.historicalAscii !== undefined) {
    r.fail('atr', 'give historicalHex or historicalAscii, not both');
  }
  const historical =
    o.historicalHex !== undefined
      ? r.hex(o.historicalHex, 'atr.historicalHex')
      : o.historicalAscii !== undefined
        ? r.ascii(o.historicalAscii, 'atr.historicalAscii')
        : new Uint8Array(0);
  if (historical.length > 15) r.fail('atr', `at most 15 historical bytes, got ${historical.length}`);
  const atr: AtrOptions = { protocol: o.protocol, historical };
  if (o.ta1 !== undefined) atr.ta1 = r.byteHex(o.ta1, 'atr.ta1');
  if (o.tc1 !== undefined) atr.tc1 = r.byteHex(o.tc1, 'atr.tc1');
  return atr;
}

function convertPins(r: Reader, v: unknown): PinSpec[] {
  if (!Array.isArray(v)) r.fail('pins', 'must be an array');
  return v.map((p: unknown, i: number): PinSpec => {
    const path = `pins[${i}]`;
    const o = r.obj(p, path);
    const value = r.str(o.value, `${path}.value`);
    // The value is not echoed back: even test PINs stay out of messages.
    if (!/^[0-9]{4,12}$/.test(value)) r.fail(`${path}.value`, 'must be 4 to 12 decimal digits');
    if (!PIN_FORMATS.includes(o.format as PinFormat)) {
      r.fail(`${path}.format`, `must be one of ${PIN_FORMATS.join(', ')}, got ${JSON.stringify(o.format)}`);
    }
    const format = o.format as PinFormat;
    if (format === 'ascii-ff' && value.length > 8) r.fail(`${path}.value`, 'ascii-ff holds at most 8 digits');
    const maxTries = r.int(o.maxTries, `${path}.maxTries`, 1, 15);
    const spec: PinSpec = { reference: r.int(o.reference, `${path}.reference`, 0, 255), value, format, maxTries };
    if (o.triesLeft !== undefined) spec.triesLeft = r.int(o.triesLeft, `${path}.triesLeft`, 0, maxTries);
    return spec;
  });
}

function convertProcessing(r: Reader, v: unknown): ProcessingTimes {
  const o = r.obj(v, 'processingMs');
  const out: ProcessingTimes = {};
  if (o.default !== undefined) out.defaultMs = r.int(o.default, 'processingMs.default', 0, 60_000);
  if (o.byIns !== undefined) {
    const byIns: Record<number, number> = {};
    for (const [k, ms] of Object.entries(r.obj(o.byIns, 'processingMs.byIns'))) {
      const ins = r.byteHex(k, `processingMs.byIns key ${JSON.stringify(k)}`);
      byIns[ins] = r.int(ms, `processingMs.byIns.${k}`, 0, 60_000);
    }
    out.byIns = byIns;
  }
  return out;
}

/** Validate a parsed JSON profile and turn it into the card configuration it describes. */
export function cardConfigFromProfile(profile: unknown, source = 'profile'): IsoCardConfig {
  const r = new Reader(source);
  const o = r.obj(profile, '$');
  const kind = r.str(o.kind, 'kind');
  const fsObj = r.obj(o.fileSystem, 'fileSystem');
  const config: IsoCardConfig = {
    kind,
    atr: convertAtr(r, o.atr),
    fileSystem: { type: 'df', children: convertChildren(r, fsObj.children ?? [], 'fileSystem.children') },
  };
  if (o.pins !== undefined) config.pins = convertPins(r, o.pins);
  if (o.processingMs !== undefined) config.processing = convertProcessing(r, o.processingMs);
  return config;
}
