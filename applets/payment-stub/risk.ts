/**
 * Terminal risk management (EMV Book 3 §10.6): floor limit, random transaction selection and,
 * when the card gives its limits (9F14/9F23), velocity checking. There is no terminal exception
 * file and no transaction log on the card, so no split-sale check.
 */
import { parseCardTlv } from './card.js';
import type { Tx } from './context.js';

/** A uniform number 1..99 from the platform's CSPRNG (rejection sampling, no modulo bias). */
async function random1to99(): Promise<number> {
  for (;;) {
    const b = (await platform.crypto.random(1))[0]!;
    if (b < 198) return (b % 99) + 1;
  }
}

/** Book 3 §10.6.2: below the threshold, the target percentage; towards the floor limit, up to the maximum. */
export function randomSelectionPercent(amount: number, p: Tx['params']): number {
  if (amount >= p.floorLimit) return 0;
  if (amount < p.randomThreshold) return p.targetPercent;
  const span = p.floorLimit - p.randomThreshold;
  if (span <= 0) return p.maxTargetPercent;
  return p.targetPercent + ((p.maxTargetPercent - p.targetPercent) * (amount - p.randomThreshold)) / span;
}

async function getDataU16(tx: Tx, p1: number, p2: number): Promise<number | null> {
  const r = await tx.channel.send(0x80, 0xca, p1, p2);
  if (r.sw !== 0x9000) return null;
  try {
    const n = parseCardTlv(r.data, 'GET DATA');
    const v = n[0]?.value;
    return v && v.length === 2 ? (v[0]! << 8) | v[1]! : null;
  } catch {
    return null;
  }
}

export async function terminalRiskManagement(tx: Tx): Promise<void> {
  tx.tsi.set('terminalRiskPerformed');
  if (tx.amount >= tx.params.floorLimit) tx.tvr.set('floorLimitExceeded');
  else {
    const percent = randomSelectionPercent(tx.amount, tx.params);
    if (percent > 0 && (await random1to99()) <= percent) tx.tvr.set('randomlySelected');
  }
  const lower = tx.card.get(0x9f14);
  const upper = tx.card.get(0x9f23);
  if (lower?.length === 1 && upper?.length === 1) {
    const atc = await getDataU16(tx, 0x9f, 0x36);
    const lastOnline = await getDataU16(tx, 0x9f, 0x13);
    if (atc === null || lastOnline === null || atc <= lastOnline) {
      tx.tvr.set('lowerConsecutiveExceeded');
      tx.tvr.set('upperConsecutiveExceeded');
      return;
    }
    if (lastOnline === 0) tx.tvr.set('newCard');
    if (atc - lastOnline > lower[0]!) tx.tvr.set('lowerConsecutiveExceeded');
    if (atc - lastOnline > upper[0]!) tx.tvr.set('upperConsecutiveExceeded');
  }
}
