/**
 * Application selection (EMV Book 1 §12): the PSE directory first, the terminal's AID list when the
 * card has no PSE (or it yields nothing), candidates ordered by priority (87), cardholder choice
 * when the card asks for confirmation or the top priorities tie, and the final SELECT.
 */
import { bytesEqual, fromHex, toHex } from '../../platform/sdk/hex.js';
import type { CardChannel } from './card.js';
import { childMap, expectTemplate, swHex } from './card.js';
import { cardError, TxError } from './errors.js';
import { PSE_NAME, TERMINAL_AIDS, type TerminalAid } from './terminal.js';

export interface Candidate {
  adf: Uint8Array;
  label: string;
  preferredName?: string;
  /** 87 low nibble; 0 = no priority (sorted last). */
  priority: number;
  confirm: boolean;
  terminal: TerminalAid;
}

export interface Selected {
  candidate: Candidate;
  fci: Map<number, Uint8Array>;
}

const MAX_DIRECTORY_RECORDS = 16;

function ascii(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  return s;
}

function select(ch: CardChannel, name: Uint8Array, next: boolean) {
  return ch.send(0x00, 0xa4, 0x04, next ? 0x02 : 0x00, name);
}

/** The terminal AID this card AID matches (exact, or as a prefix where partial selection is allowed). */
function terminalAidFor(adf: Uint8Array): TerminalAid | undefined {
  return TERMINAL_AIDS.find((t) => {
    const aid = fromHex(t.aid);
    if (adf.length === aid.length) return bytesEqual(adf, aid);
    return t.partialMatch && adf.length > aid.length && bytesEqual(adf.subarray(0, aid.length), aid);
  });
}

function candidateFrom(m: Map<number, { value: Uint8Array }>, adf: Uint8Array, what: string): Candidate | undefined {
  if (adf.length < 5 || adf.length > 16) throw cardError(`${what}: AID of ${adf.length} bytes`);
  const terminal = terminalAidFor(adf);
  if (!terminal) return undefined;
  const p = m.get(0x87)?.value;
  if (p && p.length !== 1) throw cardError(`${what}: priority indicator of ${p.length} bytes`);
  const label = m.get(0x50)?.value;
  const pref = m.get(0x9f12)?.value;
  return {
    adf,
    label: label ? ascii(label).slice(0, 16) : terminal.name,
    ...(pref ? { preferredName: ascii(pref).slice(0, 16) } : {}),
    priority: p ? p[0]! & 0x0f : 0,
    confirm: p ? (p[0]! & 0x80) !== 0 : false,
    terminal,
  };
}

/** Book 1 §12.3.2: SELECT the PSE, read its directory. null when the card has no usable PSE. */
async function fromPse(ch: CardChannel): Promise<Candidate[] | null> {
  const r = await select(ch, PSE_NAME, false);
  if (r.sw === 0x6a81) throw new TxError('card', 'Carte bloquée', 'card blocked (SELECT 6A81)');
  if (r.sw !== 0x9000) return null;
  const fci = expectTemplate(r.data, 0x6f, 'PSE FCI');
  const a5 = childMap(fci, 'PSE FCI').get(0xa5);
  const sfiNode = a5 ? childMap(a5, 'PSE FCI proprietary template').get(0x88) : undefined;
  if (!sfiNode || sfiNode.value.length !== 1) return null;
  const sfi = sfiNode.value[0]!;
  if (sfi < 1 || sfi > 10) throw cardError(`PSE directory SFI ${sfi} is outside 1..10`);
  const out: Candidate[] = [];
  for (let rec = 1; rec <= MAX_DIRECTORY_RECORDS; rec++) {
    const rr = await ch.send(0x00, 0xb2, rec, (sfi << 3) | 4);
    if (rr.sw === 0x6a83) break;
    if (rr.sw !== 0x9000) throw cardError(`PSE directory record ${rec}: status ${swHex(rr.sw)}`);
    if (rr.data.length > 254) throw cardError(`PSE directory record ${rec} is ${rr.data.length} bytes`);
    const t70 = expectTemplate(rr.data, 0x70, `PSE directory record ${rec}`);
    for (const entry of t70.children ?? []) {
      if (entry.tag !== 0x61) continue;
      const m = childMap(entry, `PSE directory entry`);
      const adf = m.get(0x4f)?.value;
      if (!adf) throw cardError('PSE directory entry without ADF name (4F)');
      const c = candidateFrom(m, adf, 'PSE directory entry');
      if (c && !out.some((o) => bytesEqual(o.adf, c.adf))) out.push(c);
    }
  }
  return out;
}

/** Book 1 §12.3.3: SELECT each terminal AID, with "next occurrence" where partial names are allowed. */
async function fromAidList(ch: CardChannel): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const t of TERMINAL_AIDS) {
    const aid = fromHex(t.aid);
    let next = false;
    for (let occurrence = 0; occurrence < 8; occurrence++) {
      const r = await select(ch, aid, next);
      if (r.sw === 0x6a81) throw new TxError('card', 'Carte bloquée', 'card blocked (SELECT 6A81)');
      if (r.sw !== 0x9000 && r.sw !== 0x6283) break;
      const fci = expectTemplate(r.data, 0x6f, `FCI of ${t.name}`);
      const m = childMap(fci, `FCI of ${t.name}`);
      const df = m.get(0x84)?.value;
      const a5 = m.get(0xa5);
      if (!df || !a5) throw cardError(`FCI of ${t.name} without DF name or proprietary template`);
      if (r.sw === 0x9000) {
        const c = candidateFrom(childMap(a5, `FCI of ${t.name}`), df, `FCI of ${t.name}`);
        if (c && c.terminal === t && !out.some((o) => bytesEqual(o.adf, c.adf))) out.push(c);
      }
      if (bytesEqual(df, aid) || !t.partialMatch) break;
      next = true;
    }
  }
  return out;
}

export async function buildCandidates(ch: CardChannel): Promise<{ candidates: Candidate[]; method: 'pse' | 'aid-list' }> {
  const pse = await fromPse(ch);
  if (pse && pse.length > 0) return { candidates: sortByPriority(pse), method: 'pse' };
  return { candidates: sortByPriority(await fromAidList(ch)), method: 'aid-list' };
}

export function sortByPriority(list: Candidate[]): Candidate[] {
  const rank = (c: Candidate) => (c.priority === 0 ? 16 : c.priority);
  // Stable: equal priorities keep the card's (directory) order.
  return list.map((c, i) => ({ c, i })).sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i).map((x) => x.c);
}

/** The cardholder picks (or confirms) when the card asks for it or the best priorities tie. */
export async function choose(candidates: Candidate[]): Promise<Candidate> {
  const first = candidates[0];
  if (!first) throw new TxError('no-application', 'Carte non supportée', 'no application supported by both the card and the terminal');
  const tie = candidates.length > 1 && candidates[1]!.priority === first.priority;
  const needsChoice = tie || candidates.some((c) => c.confirm);
  if (!needsChoice) return first;
  const names = candidates.map((c) => c.preferredName ?? c.label);
  const a = await platform.ui.ask({ title: 'Paiement', text: candidates.length === 1 ? `Confirmez l'application ${names[0]}` : 'Choisissez l\'application', choices: [...(candidates.length === 1 ? ['Valider'] : names), 'Annuler'], timeoutMs: 30_000 });
  if (a.choice < 0 || a.choice >= candidates.length) throw new TxError('cancelled', 'Choix annulé', 'application choice cancelled or timed out');
  return candidates[a.choice]!;
}

/** Final SELECT (Book 1 §12.4); a card refusing it leaves the candidate out. */
export async function finalSelect(ch: CardChannel, c: Candidate): Promise<Selected | null> {
  const r = await select(ch, c.adf, false);
  if (r.sw !== 0x9000) return null;
  const fci = expectTemplate(r.data, 0x6f, 'application FCI');
  const m = childMap(fci, 'application FCI');
  const df = m.get(0x84)?.value;
  const a5 = m.get(0xa5);
  if (!df || !a5) throw cardError('application FCI without DF name (84) or proprietary template (A5)');
  if (!bytesEqual(df, c.adf)) throw cardError(`final SELECT answered for another DF name (${toHex(df)})`);
  const fciData = new Map<number, Uint8Array>();
  for (const [tag, node] of childMap(a5, 'application FCI proprietary template')) fciData.set(tag, node.value);
  return { candidate: c, fci: fciData };
}
