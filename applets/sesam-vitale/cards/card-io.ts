/**
 * One APDU at a time through a lease: T=0 / T=1 transport answers (61xx GET RESPONSE, 6Cxx) are
 * handled and bounded here, kernel errors become CardErrors, and strict TLV parsing turns a
 * malformed answer into a CardError instead of a crash further up.
 */
import { buildApdu, parseResponse } from '../../../platform/sdk/apdu.js';
import { concatBytes } from '../../../platform/sdk/hex.js';
import { parseTlv, TlvError, type TlvNode } from '../../../platform/sdk/tlv.js';
import { utf8Decode } from '../../../platform/sdk/text.js';
import type { Lease } from '../../../platform/sdk/api.js';
import { CardError, isRemovalCode, kernelCode, malformedError, statusError, type CardName } from './errors.js';

/** The policy allows 4096 bytes per answer; certificates are about 1 KB. */
const MAX_RESPONSE_BYTES = 4096;
const MAX_GET_RESPONSE = 20;

export interface CardAnswer {
  data: Uint8Array;
  sw: number;
}

export interface Command {
  cla?: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Uint8Array;
  /** Ne; 0 or absent: no Le field. */
  le?: number;
}

async function raw(card: CardName, lease: Lease, apdu: Uint8Array): Promise<{ data: Uint8Array; sw: number; sw1: number; sw2: number }> {
  let bytes: Uint8Array;
  try {
    bytes = await lease.transmit(apdu);
  } catch (err) {
    if (isRemovalCode(err)) throw new CardError(card, 'removed', `Carte ${card} retirée ou plus disponible`);
    throw new CardError(card, 'transport', `Carte ${card} : échange impossible (${kernelCode(err) ?? 'erreur'})`);
  }
  try {
    return parseResponse(bytes);
  } catch {
    throw malformedError(card, 'la commande', 'réponse sans mot d’état');
  }
}

/** Sends one command, follows 6Cxx once and 61xx a bounded number of times. */
export async function send(card: CardName, lease: Lease, c: Command): Promise<CardAnswer> {
  const build = (le: number | undefined) =>
    buildApdu({ cla: c.cla ?? 0x00, ins: c.ins, p1: c.p1, p2: c.p2, ...(c.data && c.data.length > 0 ? { data: c.data } : {}), ...(le ? { le } : {}) });
  let r = await raw(card, lease, build(c.le));
  if (r.sw1 === 0x6c) r = await raw(card, lease, build(r.sw2 === 0 ? 256 : r.sw2));
  let out = r.data;
  let rounds = 0;
  while (r.sw1 === 0x61) {
    if (++rounds > MAX_GET_RESPONSE) throw malformedError(card, 'GET RESPONSE', 'chaînage sans fin');
    r = await raw(card, lease, buildApdu({ cla: 0x00, ins: 0xc0, p1: 0, p2: 0, le: r.sw2 === 0 ? 256 : r.sw2 }));
    out = concatBytes(out, r.data);
    if (out.length > MAX_RESPONSE_BYTES) throw malformedError(card, 'GET RESPONSE', `plus de ${MAX_RESPONSE_BYTES} octets`);
  }
  return { data: out, sw: r.sw };
}

/** `send` that demands 9000. */
export async function sendOk(card: CardName, lease: Lease, step: string, c: Command): Promise<Uint8Array> {
  const r = await send(card, lease, c);
  if (r.sw !== 0x9000) throw statusError(card, step, r.sw);
  return r.data;
}

/**
 * A transparent EF read whole: the first chunk by SFI (offset 0), then by offset on the EF that
 * read made current, until a short chunk or 6B00 (end of file exactly on a chunk boundary).
 */
export async function readTransparent(card: CardName, lease: Lease, step: string, first: Command, maxBytes = MAX_RESPONSE_BYTES): Promise<Uint8Array> {
  let out = await sendOk(card, lease, step, { ...first, le: 256 });
  let last = out.length;
  while (last === 256) {
    if (out.length >= maxBytes) throw malformedError(card, step, `fichier de plus de ${maxBytes} octets`);
    const r = await send(card, lease, { ins: 0xb0, p1: (out.length >> 8) & 0x7f, p2: out.length & 0xff, le: 256 });
    if (r.sw === 0x6b00) break;
    if (r.sw !== 0x9000 && r.sw !== 0x6282) throw statusError(card, step, r.sw);
    out = concatBytes(out, r.data);
    last = r.data.length;
  }
  return out;
}

export function parseCardTlv(card: CardName, step: string, bytes: Uint8Array): TlvNode[] {
  try {
    return parseTlv(bytes);
  } catch (err) {
    if (err instanceof TlvError) throw malformedError(card, step, `TLV ${err.reason} à l’octet ${err.offset}`);
    throw err;
  }
}

/** The bytes must be exactly one `tag` template. */
export function oneTemplate(card: CardName, step: string, bytes: Uint8Array, tag: number): TlvNode {
  const nodes = parseCardTlv(card, step, bytes);
  const n = nodes[0];
  if (nodes.length !== 1 || !n || n.tag !== tag || !n.children) {
    throw malformedError(card, step, `modèle ${tag.toString(16).toUpperCase()} attendu`);
  }
  return n;
}

/** Readers of a template's children that fail as CardErrors, never as TypeErrors. */
export class Fields {
  constructor(
    private readonly card: CardName,
    private readonly step: string,
    private readonly node: TlvNode,
  ) {}

  private find(tag: number): TlvNode | undefined {
    const hits = (this.node.children ?? []).filter((c) => c.tag === tag);
    if (hits.length > 1) throw malformedError(this.card, this.step, `objet ${tag.toString(16).toUpperCase()} en double`);
    return hits[0];
  }

  private missing(tag: number): CardError {
    return malformedError(this.card, this.step, `objet ${tag.toString(16).toUpperCase()} absent`);
  }

  child(tag: number): TlvNode | undefined {
    return this.find(tag);
  }

  bytes(tag: number): Uint8Array {
    const n = this.find(tag);
    if (!n) throw this.missing(tag);
    return n.value;
  }

  optText(tag: number, pattern?: RegExp): string | undefined {
    const n = this.find(tag);
    if (!n) return undefined;
    let s: string;
    try {
      s = utf8Decode(n.value);
    } catch {
      throw malformedError(this.card, this.step, `objet ${tag.toString(16).toUpperCase()} illisible`);
    }
    if (pattern && !pattern.test(s)) throw malformedError(this.card, this.step, `objet ${tag.toString(16).toUpperCase()} mal formé`);
    return s;
  }

  text(tag: number, pattern?: RegExp): string {
    const s = this.optText(tag, pattern);
    if (s === undefined) throw this.missing(tag);
    return s;
  }

  byte(tag: number): number {
    const v = this.bytes(tag);
    if (v.length !== 1) throw malformedError(this.card, this.step, `objet ${tag.toString(16).toUpperCase()} : un octet attendu`);
    return v[0]!;
  }

  optByte(tag: number): number | undefined {
    return this.find(tag) ? this.byte(tag) : undefined;
  }
}

/** AAAAMMJJ (a calendar date) to ISO; a card date that is not one is malformed. */
export function cardDateToIso(card: CardName, step: string, s: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (!m) throw malformedError(card, step, 'date mal formée');
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) throw malformedError(card, step, 'date impossible');
  return `${m[1]}-${m[2]}-${m[3]}`;
}
