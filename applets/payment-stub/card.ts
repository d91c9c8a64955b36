/**
 * The card channel: one APDU at a time through the lease, with the T=0 transport answers (61xx,
 * 6Cxx) handled here and bounded, and every kernel error turned into a TxError.
 */
import { buildApdu, parseResponse } from '../../platform/sdk/apdu.js';
import { parseTlv, TlvError, type TlvNode } from '../../platform/sdk/tlv.js';
import type { Lease } from '../../platform/sdk/api.js';
import { cardError, isRemoval, TxError } from './errors.js';

export interface CardAnswer {
  data: Uint8Array;
  sw: number;
}

/** EMV responses fit in 256 bytes; a card that keeps chaining more is not an EMV card. */
const MAX_RESPONSE_BYTES = 1024;
const MAX_GET_RESPONSE = 8;

export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

export class CardChannel {
  /** Set by onCardRemoved: the next command fails fast as a removal. */
  removed = false;

  constructor(readonly lease: Lease) {}

  async send(cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, le = 256): Promise<CardAnswer> {
    let r = await this.raw(buildApdu({ cla, ins, p1, p2, ...(data && data.length > 0 ? { data } : {}), ...(le > 0 ? { le } : {}) }));
    if (r.sw1 === 0x6c) r = await this.raw(buildApdu({ cla, ins, p1, p2, ...(data && data.length > 0 ? { data } : {}), le: r.sw2 === 0 ? 256 : r.sw2 }));
    let out = r.data;
    let rounds = 0;
    while (r.sw1 === 0x61) {
      if (++rounds > MAX_GET_RESPONSE) throw cardError(`endless GET RESPONSE chain (${MAX_GET_RESPONSE} rounds)`);
      r = await this.raw(buildApdu({ cla: 0x00, ins: 0xc0, p1: 0, p2: 0, le: r.sw2 === 0 ? 256 : r.sw2 }));
      const joined = new Uint8Array(out.length + r.data.length);
      joined.set(out);
      joined.set(r.data, out.length);
      out = joined;
      if (out.length > MAX_RESPONSE_BYTES) throw cardError(`response longer than ${MAX_RESPONSE_BYTES} bytes`);
    }
    if (out.length > MAX_RESPONSE_BYTES) throw cardError(`response longer than ${MAX_RESPONSE_BYTES} bytes`);
    return { data: out, sw: r.sw };
  }

  private async raw(apdu: Uint8Array): Promise<{ data: Uint8Array; sw: number; sw1: number; sw2: number }> {
    if (this.removed) throw new TxError('removed', 'Carte retirée', 'card removed during the transaction');
    let bytes: Uint8Array;
    try {
      bytes = await this.lease.transmit(apdu);
    } catch (err) {
      if (isRemoval(err) || this.removed) throw new TxError('removed', 'Carte retirée', 'card removed during the transaction');
      const code = (err as { code?: unknown }).code;
      throw cardError(`card exchange failed (${typeof code === 'string' ? code : 'error'})`, 'Carte muette ou défectueuse');
    }
    try {
      return parseResponse(bytes);
    } catch {
      throw cardError('response shorter than a status word');
    }
  }
}

/** Strict BER-TLV: any TlvError becomes a card error naming only the reason and offset. */
export function parseCardTlv(bytes: Uint8Array, what: string): TlvNode[] {
  try {
    return parseTlv(bytes);
  } catch (err) {
    if (err instanceof TlvError) throw cardError(`${what}: malformed BER-TLV (${err.reason} at offset ${err.offset})`, 'Réponse de la carte invalide');
    throw err;
  }
}

/** The single object `tag` that `bytes` must be, with nothing after it. */
export function expectTemplate(bytes: Uint8Array, tag: number, what: string): TlvNode {
  const nodes = parseCardTlv(bytes, what);
  if (nodes.length !== 1 || nodes[0]!.tag !== tag) {
    throw cardError(`${what}: expected one ${tag.toString(16).toUpperCase()} template, got ${nodes.map((n) => n.tagHex).join(',') || 'nothing'}`, 'Réponse de la carte invalide');
  }
  return nodes[0]!;
}

/** Children of a template by tag; a tag twice in one template is a card error (Book 3 §7.5). */
export function childMap(node: TlvNode, what: string): Map<number, TlvNode> {
  const m = new Map<number, TlvNode>();
  for (const c of node.children ?? []) {
    if (m.has(c.tag)) throw cardError(`${what}: tag ${c.tagHex} appears twice`, 'Données de la carte en double');
    m.set(c.tag, c);
  }
  return m;
}
