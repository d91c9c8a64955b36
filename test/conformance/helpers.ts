/**
 * Small tools for the conformance cases: APDU building, status words, strict TLV access, and an
 * EMV cryptogram computation written here from EMV Book 2 / ISO 9797-1 with node:crypto only, so
 * that the card's ARQC is checked by code that shares nothing with the emulator's.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { expect } from 'vitest';
import { parseTlv, findTag, type TlvNode } from '../../platform/sdk/tlv.js';
import type { CardSession } from './session.js';

export const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
export const ascii = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
export const utf8 = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
export const sw = (r: Uint8Array): string => hex(r.subarray(-2));
export const body = (r: Uint8Array): Uint8Array => r.subarray(0, r.length - 2);

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

/** Short APDU: header, optional data, optional Le (0 = 256, "00"). */
export function apdu(header: string, data?: Uint8Array, le?: number): Uint8Array {
  const parts: number[] = [...h(header)];
  if (data !== undefined && data.length > 0) parts.push(data.length, ...data);
  if (le !== undefined) parts.push(le & 0xff);
  return Uint8Array.from(parts);
}

/** Send and check the status word; returns the data. Names the command when it fails. */
export async function expectOk(s: CardSession, command: Uint8Array, what: string, expected = '9000'): Promise<Uint8Array> {
  const r = await s.transmit(command);
  expect(sw(r), `${what} (${hex(command.subarray(0, 4))}) on ${s.path}`).toBe(expected);
  return body(r).slice();
}

export async function expectSw(s: CardSession, command: Uint8Array, expected: string, what: string): Promise<Uint8Array> {
  return expectOk(s, command, what, expected);
}

/** Strict parse (no padding, no indefinite lengths) of a whole buffer. */
export function strictTlv(bytes: Uint8Array): TlvNode[] {
  return parseTlv(bytes);
}

/** The one object with `tag` directly under `nodes`' single top-level template `template`. */
export function template(bytes: Uint8Array, tag: number): TlvNode {
  const nodes = strictTlv(bytes);
  expect(nodes.map((n) => n.tagHex), `top-level objects of ${hex(bytes).slice(0, 40)}…`).toEqual([tag.toString(16).toUpperCase().padStart(2, '0')]);
  return nodes[0]!;
}

export function child(node: TlvNode | TlvNode[], tag: number): Uint8Array | undefined {
  const list = Array.isArray(node) ? node : (node.children ?? []);
  return list.find((n) => n.tag === tag)?.value;
}

export function need(node: TlvNode | TlvNode[], tag: number, what: string): Uint8Array {
  const v = child(node, tag);
  if (v === undefined) throw new Error(`${what}: tag ${tag.toString(16).toUpperCase()} missing`);
  return v;
}

export function deep(nodes: TlvNode[], tag: number, what: string): Uint8Array {
  const n = findTag(nodes, tag);
  if (n === undefined) throw new Error(`${what}: tag ${tag.toString(16).toUpperCase()} missing`);
  return n.value;
}

/** Total length of a DER object from its first bytes (30 82 LL LL …). */
export function derLength(head: Uint8Array): number {
  if (head.length < 2 || head[0] !== 0x30) throw new Error(`not a DER SEQUENCE: ${hex(head.subarray(0, 4))}`);
  const l = head[1]!;
  if (l < 0x80) return 2 + l;
  const n = l & 0x7f;
  if (n < 1 || n > 3 || head.length < 2 + n) throw new Error(`DER length form ${l.toString(16)} not handled`);
  let len = 0;
  for (let i = 0; i < n; i++) len = (len << 8) | head[2 + i]!;
  return 2 + n + len;
}

/**
 * Reads a transparent EF holding one DER object: the first chunk by SFI (P1 = 80 | SFI), the rest
 * by offset (the EF is then current), until the DER length is covered.
 */
export async function readDerBySfi(s: CardSession, sfi: number, what: string): Promise<Uint8Array> {
  const first = await expectOk(s, Uint8Array.of(0x00, 0xb0, 0x80 | sfi, 0x00, 0x00), `READ BINARY SFI ${sfi} (${what})`);
  const total = derLength(first);
  const parts = [first];
  let got = first.length;
  while (got < total) {
    const le = Math.min(0xe0, total - got);
    const chunk = await expectOk(s, Uint8Array.of(0x00, 0xb0, got >> 8, got & 0xff, le), `READ BINARY offset ${got} (${what})`);
    expect(chunk.length, `${what}: READ BINARY at ${got} returned nothing`).toBeGreaterThan(0);
    parts.push(chunk);
    got += chunk.length;
  }
  return concat(...parts).subarray(0, total);
}

/** SHA-256 DigestInfo prefix (PKCS#1 v1.5, RFC 8017 §9.2 note 1). */
export const SHA256_DIGEST_INFO_PREFIX = h('3031300d060960864801650304020105000420');

// ---- independent EMV cryptogram (EMV Book 2 A1.3, A1.4.1 option A; ISO/IEC 9797-1 MAC alg. 3) ----

/** Single DES as 3DES with K1 = K2 = K3 (OpenSSL 3 ships plain DES only in its legacy provider). */
function desEncrypt(key8: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv('des-ede3-ecb', Buffer.concat([Buffer.from(key8), Buffer.from(key8), Buffer.from(key8)]), null);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
}

function desDecrypt(key8: Uint8Array, block: Uint8Array): Uint8Array {
  const d = createDecipheriv('des-ede3-ecb', Buffer.concat([Buffer.from(key8), Buffer.from(key8), Buffer.from(key8)]), null);
  d.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([d.update(block), d.final()]));
}

/** Two-key 3DES encryption of one block (K1 K2 K1). */
function tdesEncrypt(key16: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv('des-ede-ecb', Buffer.from(key16), null);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
}

function oddParity(key: Uint8Array): Uint8Array {
  return key.map((b) => {
    let ones = 0;
    for (let i = 1; i < 8; i++) ones += (b >> i) & 1;
    return (b & 0xfe) | (ones % 2 === 0 ? 1 : 0);
  });
}

function xor8(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((x, i) => x ^ b[i]!);
}

/** "1234" -> BCD bytes, two digits a byte. */
function bcd(digits: string): Uint8Array {
  return h(digits);
}

export function indepIccMasterKey(imk: Uint8Array, pan: string, psn: number): Uint8Array {
  const y = bcd((pan + String(psn).padStart(2, '0')).padStart(16, '0').slice(-16));
  const left = tdesEncrypt(imk, y);
  const right = tdesEncrypt(imk, y.map((b) => b ^ 0xff));
  return oddParity(concat(left, right));
}

export function indepSessionKey(mk: Uint8Array, atc: number): Uint8Array {
  const r = Uint8Array.of(atc >> 8, atc & 0xff, 0, 0, 0, 0, 0, 0);
  const a = r.slice();
  const b = r.slice();
  a[2] = 0xf0;
  b[2] = 0x0f;
  return oddParity(concat(tdesEncrypt(mk, a), tdesEncrypt(mk, b)));
}

/** ISO/IEC 9797-1 MAC algorithm 3 (retail MAC), padding method 2, 8-byte MAC. */
export function indepRetailMac(key16: Uint8Array, data: Uint8Array): Uint8Array {
  const padded = new Uint8Array(Math.floor(data.length / 8) * 8 + 8);
  padded.set(data);
  padded[data.length] = 0x80;
  const kl = key16.subarray(0, 8);
  const kr = key16.subarray(8, 16);
  let state: Uint8Array = new Uint8Array(8);
  for (let i = 0; i < padded.length; i += 8) state = desEncrypt(kl, xor8(state, padded.subarray(i, i + 8)));
  return desEncrypt(kl, desDecrypt(kr, state));
}

// ---- DOLs (EMV Book 3 §5.4), parsed here rather than with the emulator's dol.ts ----

export interface DolItem {
  tag: number;
  length: number;
}

export function parseDolList(bytes: Uint8Array): DolItem[] {
  const out: DolItem[] = [];
  let i = 0;
  while (i < bytes.length) {
    let tag = bytes[i++]!;
    if ((tag & 0x1f) === 0x1f) {
      do {
        tag = (tag << 8) | bytes[i]!;
      } while ((bytes[i++]! & 0x80) !== 0);
    }
    const length = bytes[i++];
    if (length === undefined) throw new Error(`DOL ${hex(bytes)} ends inside an entry`);
    out.push({ tag, length });
  }
  return out;
}

/** DOL data: each entry's value from `values` (left-truncated / zero-padded to its length), else zeros. */
export function buildDolData(dol: DolItem[], values: Map<number, Uint8Array>): Uint8Array {
  return concat(
    ...dol.map((d) => {
      const v = values.get(d.tag);
      const out = new Uint8Array(d.length);
      if (v !== undefined) out.set(v.subarray(0, d.length), Math.max(0, d.length - v.length));
      return out;
    }),
  );
}
