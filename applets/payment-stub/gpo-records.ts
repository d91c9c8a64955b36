/**
 * Initiate application processing (EMV Book 3 §10.1): GET PROCESSING OPTIONS with the PDOL filled
 * from terminal data, then read application data (§10.2) as the AFL lists it. Every record goes
 * through the strict TLV parser; an AFL that makes no sense, a tag given twice, an oversized record
 * or missing mandatory data ends the transaction with a reason.
 */
import { encodeTlv } from '../../platform/sdk/tlv.js';
import { childMap, expectTemplate, parseCardTlv, swHex } from './card.js';
import { terminalValue, type Tx } from './context.js';
import { buildDolData, parseDol } from './dol.js';
import { cardError, TxError } from './errors.js';
import { bcdDigits, cnDigits, validYymmdd } from './util.js';

export interface AflEntry {
  sfi: number;
  first: number;
  last: number;
  oda: number;
}

/** EMV records are at most 254 bytes of data (Book 1 §11.3, READ RECORD Le = 00). */
export const MAX_RECORD_BYTES = 254;
/** Tags without which no transaction can be built (Book 3 §7.2). */
export const MANDATORY = [
  [0x5a, 'PAN (5A)'],
  [0x5f24, 'date d\'expiration (5F24)'],
  [0x8c, 'CDOL1 (8C)'],
  [0x8d, 'CDOL2 (8D)'],
] as const;

export function parseAfl(afl: Uint8Array): AflEntry[] {
  if (afl.length === 0 || afl.length % 4 !== 0 || afl.length > 252) throw cardError(`AFL of ${afl.length} bytes is not a non-empty multiple of 4`, 'AFL incohérent');
  const out: AflEntry[] = [];
  for (let i = 0; i < afl.length; i += 4) {
    const sfi = afl[i]! >> 3;
    const e = { sfi, first: afl[i + 1]!, last: afl[i + 2]!, oda: afl[i + 3]! };
    if ((afl[i]! & 0x07) !== 0 || sfi < 1 || sfi > 30 || e.first < 1 || e.last < e.first || e.oda > e.last - e.first + 1) {
      throw cardError(`AFL entry ${i / 4 + 1} is inconsistent (SFI ${sfi}, records ${e.first}..${e.last}, ${e.oda} for ODA)`, 'AFL incohérent');
    }
    if (out.some((o) => o.sfi === sfi && !(e.last < o.first || e.first > o.last))) throw cardError(`AFL lists records of SFI ${sfi} twice`, 'AFL incohérent');
    out.push(e);
  }
  return out;
}

/** GPO; null when the card answers 6985 (conditions not satisfied: try the next candidate). */
export async function getProcessingOptions(tx: Tx): Promise<{ aip: Uint8Array; afl: Uint8Array } | null> {
  const pdolBytes = tx.app!.fci.get(0x9f38);
  const pdolData = pdolBytes ? buildDolData(parseDol(pdolBytes, 'PDOL'), (t) => terminalValue(tx, t)) : new Uint8Array(0);
  const r = await tx.channel.send(0x80, 0xa8, 0x00, 0x00, encodeTlv(0x83, pdolData));
  if (r.sw === 0x6985) return null;
  if (r.sw !== 0x9000) throw cardError(`GET PROCESSING OPTIONS: status ${swHex(r.sw)}`, 'Carte refusée par le terminal');
  const nodes = parseCardTlv(r.data, 'GPO response');
  const top = nodes[0];
  if (nodes.length !== 1 || !top) throw cardError('GPO response is not one template');
  if (top.tag === 0x80) {
    if (top.value.length < 6) throw cardError(`GPO format 1 of ${top.value.length} bytes`);
    return { aip: top.value.slice(0, 2), afl: top.value.slice(2) };
  }
  if (top.tag === 0x77) {
    const m = childMap(top, 'GPO response');
    const aip = m.get(0x82)?.value;
    const afl = m.get(0x94)?.value;
    if (!aip || aip.length !== 2 || !afl) throw cardError('GPO format 2 without a 2-byte AIP (82) or an AFL (94)', 'Donnée obligatoire absente');
    return { aip, afl };
  }
  throw cardError(`GPO response template ${top.tagHex}`);
}

/** Read every record of the AFL, keeping the data by tag and the records to authenticate. */
export async function readRecords(tx: Tx, afl: AflEntry[]): Promise<void> {
  for (const e of afl) {
    for (let rec = e.first; rec <= e.last; rec++) {
      const r = await tx.channel.send(0x00, 0xb2, rec, (e.sfi << 3) | 4);
      if (r.sw !== 0x9000) throw cardError(`READ RECORD SFI ${e.sfi} record ${rec}: status ${swHex(r.sw)}`, 'Lecture de la carte impossible');
      if (r.data.length > MAX_RECORD_BYTES) throw cardError(`record SFI ${e.sfi}/${rec} is ${r.data.length} bytes (max ${MAX_RECORD_BYTES})`, 'Enregistrement trop long');
      const forOda = rec - e.first < e.oda;
      if (e.sfi > 10) {
        // Book 3 §10.3: proprietary SFIs may hold anything, but count whole for ODA.
        if (forOda) tx.odaRecords.push(r.data);
        const nodes = parseCardTlv(r.data, `record SFI ${e.sfi}/${rec}`);
        if (nodes.length === 1 && nodes[0]!.tag === 0x70) keep(tx, childMap(nodes[0]!, `record SFI ${e.sfi}/${rec}`), `SFI ${e.sfi}/${rec}`);
        continue;
      }
      const t70 = expectTemplate(r.data, 0x70, `record SFI ${e.sfi}/${rec}`);
      if (forOda) tx.odaRecords.push(t70.value);
      keep(tx, childMap(t70, `record SFI ${e.sfi}/${rec}`), `SFI ${e.sfi}/${rec}`);
    }
  }
}

function keep(tx: Tx, m: Map<number, { value: Uint8Array; tagHex: string }>, where: string): void {
  for (const [tag, node] of m) {
    if (tx.card.has(tag)) throw cardError(`tag ${node.tagHex} appears twice in the application data (again in ${where})`, 'Données de la carte en double');
    tx.card.set(tag, node.value);
  }
}

/** Book 3 §7.2 and the formats of Book 3 annex A for the data the flow relies on. */
export function checkMandatory(tx: Tx): { pan: string; psn: number; expiry: string } {
  const missing = MANDATORY.filter(([t]) => !tx.card.has(t)).map(([, n]) => n);
  if (missing.length > 0) {
    tx.tvr.set('iccDataMissing');
    throw new TxError('card', 'Donnée obligatoire absente', `mandatory data missing: ${missing.join(', ')}`);
  }
  const pan = cnDigits(tx.card.get(0x5a)!);
  if (pan === null || pan.length < 12 || pan.length > 19) throw cardError('PAN (5A) is not 12 to 19 digits', 'Numéro de carte invalide');
  const expiry = bcdDigits(tx.card.get(0x5f24)!);
  if (expiry === null || !validYymmdd(expiry)) throw cardError('expiry date (5F24) is not a valid YYMMDD date', 'Date d\'expiration invalide');
  const eff = tx.card.get(0x5f25);
  if (eff && !validYymmdd(bcdDigits(eff) ?? '')) throw cardError('effective date (5F25) is not a valid YYMMDD date');
  const psnBytes = tx.card.get(0x5f34);
  let psn = 0;
  if (psnBytes) {
    const d = bcdDigits(psnBytes);
    if (psnBytes.length !== 1 || d === null) throw cardError('PAN sequence number (5F34) is not one BCD byte');
    psn = Number(d);
  }
  return { pan, psn, expiry };
}
