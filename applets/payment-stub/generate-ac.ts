/**
 * Terminal action analysis (EMV Book 3 §10.7) and GENERATE AC (§9.2, Book 3 §6.5.5): the decision
 * from TVR × (TAC | IAC), the first GENERATE AC with CDOL1, the second with CDOL2, and the card's
 * answer in format 1 or 2 read strictly, CID checked against what was asked.
 */
import { concatBytes, fromHex } from '../../platform/sdk/hex.js';
import { childMap, parseCardTlv, swHex } from './card.js';
import { terminalValue, type Tx } from './context.js';
import { buildDolData, parseDol } from './dol.js';
import { cardError } from './errors.js';
import { intersects } from './tvr.js';

export type AcType = 'AAC' | 'TC' | 'ARQC';
export const P1: Record<AcType, number> = { AAC: 0x00, TC: 0x40, ARQC: 0x80 };
const RANK: Record<AcType, number> = { AAC: 0, ARQC: 1, TC: 2 };

export interface AcResponse {
  type: AcType;
  cid: number;
  atc: Uint8Array;
  cryptogram: Uint8Array;
  iad: Uint8Array;
  /** CID bits 3–1 (Book 3 annex C7.1): 1 service not allowed, 2 PIN try limit exceeded, 3 issuer authentication failed. */
  reason: number;
  /** Exactly the CDOL data sent with this command. */
  dolData: Uint8Array;
}

function iac(tx: Tx, tag: number, absent: string): Uint8Array {
  const v = tx.card.get(tag);
  return v && v.length === 5 ? v : fromHex(absent);
}

/** Book 3 §10.7: denial first, then online (the terminal is online capable), else offline approval. */
export function terminalActionAnalysis(tx: Tx): AcType {
  const t = tx.app!.terminal;
  const tvr = tx.tvr.bytes;
  if (intersects(tvr, fromHex(t.tacDenial)) || intersects(tvr, iac(tx, 0x9f0e, '0000000000'))) return 'AAC';
  if (intersects(tvr, fromHex(t.tacOnline)) || intersects(tvr, iac(tx, 0x9f0f, 'FFFFFFFFFF'))) return 'ARQC';
  return 'TC';
}

/** Book 3 §10.7, unable to go online: the default codes decide between TC and AAC. */
export function defaultActionAnalysis(tx: Tx): 'TC' | 'AAC' {
  const t = tx.app!.terminal;
  const tvr = tx.tvr.bytes;
  return intersects(tvr, fromHex(t.tacDefault)) || intersects(tvr, iac(tx, 0x9f0d, 'FFFFFFFFFF')) ? 'AAC' : 'TC';
}

function parseAcResponse(data: Uint8Array, dolData: Uint8Array): Omit<AcResponse, 'type'> & { cid: number } {
  const nodes = parseCardTlv(data, 'GENERATE AC response');
  const top = nodes[0];
  if (nodes.length !== 1 || !top) throw cardError('GENERATE AC response is not one template');
  let cid: Uint8Array | undefined;
  let atc: Uint8Array | undefined;
  let ac: Uint8Array | undefined;
  let iad: Uint8Array = new Uint8Array(0);
  if (top.tag === 0x80) {
    if (top.value.length < 11 || top.value.length > 11 + 32) throw cardError(`GENERATE AC format 1 of ${top.value.length} bytes`);
    cid = top.value.slice(0, 1);
    atc = top.value.slice(1, 3);
    ac = top.value.slice(3, 11);
    iad = top.value.slice(11);
  } else if (top.tag === 0x77) {
    const m = childMap(top, 'GENERATE AC response');
    cid = m.get(0x9f27)?.value;
    atc = m.get(0x9f36)?.value;
    ac = m.get(0x9f26)?.value;
    iad = m.get(0x9f10)?.value ?? iad;
  } else {
    throw cardError(`GENERATE AC response template ${top.tagHex}`);
  }
  if (!cid || cid.length !== 1 || !atc || atc.length !== 2 || !ac || ac.length !== 8 || iad.length > 32) {
    throw cardError('GENERATE AC response lacks CID, ATC or cryptogram (or has them at the wrong length)', 'Donnée obligatoire absente');
  }
  return { cid: cid[0]!, atc, cryptogram: ac, iad, reason: cid[0]! & 0x07, dolData };
}

function acType(cid: number): AcType {
  switch (cid & 0xc0) {
    case 0x00:
      return 'AAC';
    case 0x40:
      return 'TC';
    case 0x80:
      return 'ARQC';
    default:
      throw cardError('GENERATE AC: cryptogram type 11 (RFU) in CID');
  }
}

async function generateAc(tx: Tx, requested: AcType, cdolTag: 0x8c | 0x8d): Promise<AcResponse> {
  const dol = parseDol(tx.card.get(cdolTag)!, cdolTag === 0x8c ? 'CDOL1' : 'CDOL2');
  const dolData = buildDolData(dol, (t) => terminalValue(tx, t));
  const r = await tx.channel.send(0x80, 0xae, P1[requested], 0x00, dolData);
  if (r.sw !== 0x9000) throw cardError(`GENERATE AC: status ${swHex(r.sw)}`, 'Carte refusée');
  tx.tsi.set('cardRiskPerformed');
  const parsed = parseAcResponse(r.data, dolData);
  const type = acType(parsed.cid);
  // Book 3 §9.2: the card may answer with less than asked (AAC < ARQC < TC), never with more.
  if (RANK[type] > RANK[requested]) throw cardError(`GENERATE AC: card answered ${type} to a request for ${requested}`);
  return { ...parsed, type };
}

export function firstGenerateAc(tx: Tx, requested: AcType): Promise<AcResponse> {
  return generateAc(tx, requested, 0x8c);
}

/** Second GENERATE AC: only TC or AAC may be asked for (Book 3 §6.5.5.2). */
export async function secondGenerateAc(tx: Tx, requested: 'TC' | 'AAC'): Promise<AcResponse> {
  const r = await generateAc(tx, requested, 0x8d);
  if (r.type === 'ARQC') throw cardError('second GENERATE AC answered with an ARQC');
  return r;
}

/**
 * What the card MACed (docs/cards/emv.md "The cryptogram"): CDOL data ‖ AIP ‖ ATC ‖ IAD bytes 4–7
 * (the CVR). The issuer recomputes the ARQC over exactly these bytes.
 */
export function acMacInput(first: AcResponse, aip: Uint8Array): Uint8Array {
  const cvr = first.iad.length >= 7 ? first.iad.subarray(3, 7) : new Uint8Array(0);
  return concatBytes(first.dolData, aip, first.atc, cvr);
}
