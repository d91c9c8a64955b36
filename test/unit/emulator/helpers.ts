import { fromHex, toHex } from '../../../platform/sdk/hex.js';
import type { CardModel } from '../../../emulator/cards/card.js';

/** Send a hex APDU to a card model and split the answer into data hex and SW. */
export function send(card: CardModel, apduHex: string): { data: string; sw: string } {
  const r = card.process(fromHex(apduHex));
  if (r === null) throw new Error(`card was mute for ${apduHex}`);
  if (r.length < 2) throw new Error(`answer of ${r.length} bytes to ${apduHex} has no SW`);
  return { data: toHex(r.subarray(0, r.length - 2)), sw: toHex(r.subarray(r.length - 2)) };
}

export function asciiHex(s: string): string {
  return toHex(Uint8Array.from(s, (c) => c.charCodeAt(0)));
}
