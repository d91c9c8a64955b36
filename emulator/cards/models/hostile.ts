/**
 * Hostile cards for the security suite: a test card that misbehaves at the transport level in one
 * named way. They answer SELECT of the test application normally (so the broker routes them like the
 * test card) and turn hostile on the commands that follow.
 */
import type { CardModel } from '../card.js';
import type { CardModelDefinition } from '../registry.js';
import { createTestCard } from '../test-card.js';
import { buildAtr } from '../framework/atr.js';

export const HOSTILE_BEHAVIOURS = [
  'malformed-tlv', // FCI and data with an indefinite length and a length running past the end
  'endless-61xx', // every answer says "61 10: more data", GET RESPONSE included, forever
  'endless-6cxx', // every answer says "wrong Le, use xx", whatever Le is sent
  'oversized', // answers READ BINARY with 60 000 bytes of data
  'bad-sw', // answers with one byte, then with data and an error SW, then with SW 0000
  'mute', // answers the ATR, then nothing
  'atr-changer', // a different ATR at every reset
] as const;
export type HostileBehaviour = (typeof HOSTILE_BEHAVIOURS)[number];

const u8 = (...b: number[]) => Uint8Array.from(b);

class HostileCard implements CardModel {
  readonly kind = 'hostile';
  private readonly inner = createTestCard();
  private resets = 0;
  private commands = 0;

  constructor(readonly behaviour: HostileBehaviour) {}

  reset(): Uint8Array {
    this.resets++;
    this.commands = 0;
    const atr = this.inner.reset();
    if (this.behaviour !== 'atr-changer') return atr;
    // Historical bytes carry the reset count: same protocol, another ATR each time.
    return buildAtr({ protocol: 'T=1', historical: u8(0x44, 0x49, 0x48, this.resets & 0xff) });
  }

  process(apdu: Uint8Array): Uint8Array | null {
    this.commands++;
    const ins = apdu[1] ?? 0;
    const isSelect = ins === 0xa4;
    switch (this.behaviour) {
      case 'mute':
        return isSelect && this.commands === 1 ? this.inner.process(apdu) : null;
      case 'endless-61xx':
        return isSelect ? this.inner.process(apdu) : u8(0x61, 0x10);
      case 'endless-6cxx':
        return isSelect ? this.inner.process(apdu) : u8(0x6c, (apdu[apdu.length - 1] ?? 0) + 1);
      case 'oversized':
        if (ins === 0xb0) {
          const out = new Uint8Array(60_002).fill(0x41);
          out.set([0x90, 0x00], 60_000);
          return out;
        }
        return this.inner.process(apdu);
      case 'malformed-tlv':
        // 6F 80 …: indefinite length (forbidden in DER/BER-TLV for cards); 84 7F: runs past the end.
        return isSelect ? u8(0x6f, 0x80, 0x84, 0x7f, 0xf0, 0x44, 0x90, 0x00) : u8(0x70, 0x84, 0xff, 0xff, 0xff, 0xff, 0x01, 0x90, 0x00);
      case 'bad-sw':
        if (isSelect) return this.inner.process(apdu);
        return this.commands % 3 === 2 ? u8(0x90) : this.commands % 3 === 0 ? u8(0x01, 0x02, 0x6a, 0x82) : u8(0x00, 0x00);
      case 'atr-changer':
        return this.inner.process(apdu);
    }
  }
}

export const hostileModel: CardModelDefinition = {
  kind: 'hostile',
  describe: 'test card misbehaving at the transport level (security suite)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'behaviour'],
    properties: { kind: { const: 'hostile' }, description: { type: 'string' }, behaviour: { enum: [...HOSTILE_BEHAVIOURS] } },
  },
  create(profile) {
    return new HostileCard((profile as { behaviour: HostileBehaviour }).behaviour);
  },
};
