/**
 * A minimal EMV terminal for tests, driving a card model with raw APDUs (docs/cards/emv.md): SELECT
 * the first AID, GPO with the PDOL filled, READ RECORD along the AFL, first GENERATE AC asking for
 * an ARQC, and the second GENERATE AC with the issuer's answer. It builds the `authorize` message
 * exactly as the acquirer protocol says (docs/acquirer.md).
 */
import { join } from 'node:path';
import type { CardModel } from '../../../emulator/cards/card.js';
import { loadCard } from '../../../emulator/cards/profiles.js';
import { concatBytes, fromHex, toHex } from '../../../platform/sdk/hex.js';
import { findTag, parseTlv } from '../../../platform/sdk/tlv.js';
import { repoRoot } from '../../../platform/kernel/paths.js';
import type { WireValue } from '../../../platform/wire/messages.js';

export const KEY_DIR = process.env.DI_EMULATOR_KEYS ?? join(repoRoot(), '.di-data', 'emulator-keys');

export async function emvCard(profile: string): Promise<CardModel> {
  const c = await loadCard(profile, KEY_DIR);
  c.reset();
  return c;
}

function tx(card: CardModel, apdu: Uint8Array): { data: Uint8Array; sw: number } {
  let r = card.process(apdu)!;
  let sw = (r[r.length - 2]! << 8) | r[r.length - 1]!;
  if (sw >> 8 === 0x6c) {
    r = card.process(concatBytes(apdu.subarray(0, 4), Uint8Array.of(sw & 0xff)))!;
    sw = (r[r.length - 2]! << 8) | r[r.length - 1]!;
  }
  let data = r.subarray(0, r.length - 2);
  while (sw >> 8 === 0x61) {
    r = card.process(Uint8Array.of(0x00, 0xc0, 0x00, 0x00, sw & 0xff))!;
    sw = (r[r.length - 2]! << 8) | r[r.length - 1]!;
    data = concatBytes(data, r.subarray(0, r.length - 2));
  }
  return { data, sw };
}

function ok(card: CardModel, apdu: Uint8Array, what: string): Uint8Array {
  const r = tx(card, apdu);
  if (r.sw !== 0x9000) throw new Error(`${what}: SW ${r.sw.toString(16)}`);
  return r.data;
}

function cmd(header: string, data: Uint8Array): Uint8Array {
  return concatBytes(fromHex(header), Uint8Array.of(data.length), data, Uint8Array.of(0));
}

/** (tag, length) pairs of a DOL. */
function dolEntries(dol: Uint8Array): Array<{ tag: number; len: number }> {
  const out: Array<{ tag: number; len: number }> = [];
  for (let i = 0; i < dol.length; ) {
    let tag = dol[i++]!;
    if ((tag & 0x1f) === 0x1f) tag = (tag << 8) | dol[i++]!;
    out.push({ tag, len: dol[i++]! });
  }
  return out;
}

function fillDol(dol: Uint8Array, values: Map<number, Uint8Array>): Uint8Array {
  return concatBytes(...dolEntries(dol).map(({ tag, len }) => {
    const v = values.get(tag) ?? new Uint8Array(len);
    if (v.length !== len) throw new Error(`DOL tag ${tag.toString(16)}: ${v.length} bytes for ${len}`);
    return v;
  }));
}

export interface Txn {
  amount: number;
  date?: string;
  un?: string;
  tvr?: string;
}

export interface ArqcSession {
  card: CardModel;
  pan: string;
  psn: number;
  expiry: string;
  aip: Uint8Array;
  atc: Uint8Array;
  cid: number;
  arqc: Uint8Array;
  iad: Uint8Array;
  cdol1Data: Uint8Array;
  acInput: Uint8Array;
  cdol2: Uint8Array;
  tvr: Uint8Array;
  un: Uint8Array;
  date: string;
  amount: number;
}

function parseAc(data: Uint8Array): { cid: number; atc: Uint8Array; ac: Uint8Array; iad: Uint8Array } {
  const nodes = parseTlv(data);
  if (nodes[0]!.tag === 0x80) {
    const v = nodes[0]!.value;
    return { cid: v[0]!, atc: v.slice(1, 3), ac: v.slice(3, 11), iad: v.slice(11) };
  }
  const need = (t: number) => findTag(nodes, t)?.value ?? new Uint8Array(0);
  return { cid: need(0x9f27)[0]!, atc: need(0x9f36), ac: need(0x9f26), iad: need(0x9f10) };
}

/** SELECT … first GENERATE AC (P1 80, ARQC asked). */
export function runToArqc(card: CardModel, t: Txn): ArqcSession {
  const aidNode = (() => {
    // The PSE directory names the applications; the first one is taken.
    const fci = parseTlv(ok(card, cmd('00A40400', new TextEncoder().encode('1PAY.SYS.DDF01')), 'SELECT PSE'));
    const sfi = findTag(fci, 0x88)!.value[0]!;
    const rec = parseTlv(ok(card, Uint8Array.of(0x00, 0xb2, 1, (sfi << 3) | 4, 0), 'READ PSE'));
    return findTag(rec, 0x4f)!.value;
  })();
  const fci = parseTlv(ok(card, cmd('00A40400', aidNode), 'SELECT AID'));
  const date = t.date ?? '260115';
  const un = fromHex(t.un ?? '1A2B3C4D');
  const tvr = fromHex(t.tvr ?? '0000000000');
  const values = new Map<number, Uint8Array>([
    [0x9f02, fromHex(String(t.amount).padStart(12, '0'))],
    [0x9f03, new Uint8Array(6)],
    [0x9f1a, fromHex('0250')],
    [0x95, tvr],
    [0x5f2a, fromHex('0978')],
    [0x9a, fromHex(date)],
    [0x9c, Uint8Array.of(0)],
    [0x9f37, un],
  ]);
  const pdol = findTag(fci, 0x9f38)?.value ?? new Uint8Array(0);
  const pdolData = fillDol(pdol, values);
  const gpo = parseTlv(ok(card, cmd('80A80000', concatBytes(Uint8Array.of(0x83, pdolData.length), pdolData)), 'GPO'));
  let aip: Uint8Array;
  let afl: Uint8Array;
  if (gpo[0]!.tag === 0x80) {
    aip = gpo[0]!.value.slice(0, 2);
    afl = gpo[0]!.value.slice(2);
  } else {
    aip = findTag(gpo, 0x82)!.value;
    afl = findTag(gpo, 0x94)!.value;
  }
  const data = new Map<number, Uint8Array>();
  for (let i = 0; i < afl.length; i += 4) {
    const sfi = afl[i]! >> 3;
    for (let n = afl[i + 1]!; n <= afl[i + 2]!; n++) {
      const rec = parseTlv(ok(card, Uint8Array.of(0x00, 0xb2, n, (sfi << 3) | 4, 0), 'READ RECORD'));
      for (const c of rec[0]!.children ?? []) data.set(c.tag, c.value);
    }
  }
  const pan = toHex(data.get(0x5a)!).replace(/F+$/, '');
  const psn = Number(toHex(data.get(0x5f34)!));
  const cdol1Data = fillDol(data.get(0x8c)!, values);
  const ac = parseAc(ok(card, cmd('80AE8000', cdol1Data), 'GENERATE AC 1'));
  // Exactly what the card MACed (docs/cards/emv.md): CDOL1 data ‖ AIP ‖ ATC ‖ IAD bytes 4–7.
  const acInput = concatBytes(cdol1Data, aip, ac.atc, ac.iad.subarray(3, 7));
  return {
    card, pan, psn, expiry: toHex(data.get(0x5f24)!), aip, atc: ac.atc, cid: ac.cid, arqc: ac.ac, iad: ac.iad,
    cdol1Data, acInput, cdol2: data.get(0x8d)!, tvr, un, date, amount: t.amount,
  };
}

export function authorizeMessage(s: ArqcSession, ref: string, extra: { [k: string]: WireValue } = {}): { [k: string]: WireValue } {
  return {
    type: 'authorize', ref, terminalId: 'T0000001', amount: s.amount, currency: 978, date: s.date, pan: s.pan, psn: s.psn,
    atc: s.atc, arqc: s.arqc, acInput: s.acInput, cvmResults: fromHex('410302'), tvr: s.tvr, ...extra,
  };
}

/** Second GENERATE AC (P1 40, TC asked) with tag 91 and 8A from the issuer; returns the CID. */
export function secondGenerateAc(s: ArqcSession, issuerAuthData: Uint8Array, arc: Uint8Array): number {
  const values = new Map<number, Uint8Array>([
    [0x91, issuerAuthData],
    [0x8a, arc],
    [0x95, s.tvr],
    [0x9f37, s.un],
  ]);
  const r = parseAc(ok(s.card, cmd('80AE4000', fillDol(s.cdol2, values)), 'GENERATE AC 2'));
  return r.cid;
}
