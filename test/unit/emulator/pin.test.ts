import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../platform/sdk/hex.js';
import { encodePinBlock, PinObject } from '../../../emulator/cards/framework/pin.js';
import { createTestCard, TEST_CARD_AID } from '../../../emulator/cards/test-card.js';
import { send } from './helpers.js';

const GOOD = '0020000108 31323334FFFFFFFF';
const BAD = '0020000108 39393939FFFFFFFF';

function selected(opts: Parameters<typeof createTestCard>[0] = {}) {
  const card = createTestCard(opts);
  expect(send(card, `00A4040C08${toHex(TEST_CARD_AID)}`).sw).toBe('9000');
  return card;
}

describe('PIN blocks', () => {
  it('encodes the three formats', () => {
    expect(toHex(encodePinBlock('1234', 'ascii-ff'))).toBe('31323334FFFFFFFF');
    expect(toHex(encodePinBlock('1234', 'bcd-ff'))).toBe('1234FFFFFFFFFFFF');
    expect(toHex(encodePinBlock('12345', 'emv-plaintext'))).toBe('2512345FFFFFFFFF');
  });

  it('refuses non-digits without echoing them', () => {
    expect(() => encodePinBlock('12a4', 'ascii-ff')).toThrow(/4 to 12 decimal digits/);
    try {
      encodePinBlock('98x7', 'bcd-ff');
    } catch (e) {
      expect((e as Error).message).not.toContain('98x7');
    }
  });

  it('keeps the value out of toString, JSON and inspect', () => {
    const pin = new PinObject({ reference: 1, value: '8642', format: 'ascii-ff', maxTries: 3 });
    for (const s of [String(pin), JSON.stringify(pin), inspect(pin, { showHidden: true, depth: 5 })]) {
      expect(s).not.toContain('8642');
      expect(s).not.toContain('38363432');
    }
  });
});

describe('VERIFY', () => {
  it('counts down wrong tries with 63Cx, blocks with 6983 and stays blocked', () => {
    const card = selected();
    expect(send(card, '00200001').sw).toBe('63C3');
    expect(send(card, BAD).sw).toBe('63C2');
    expect(send(card, BAD).sw).toBe('63C1');
    expect(send(card, '00200001').sw).toBe('63C1');
    expect(send(card, BAD).sw).toBe('63C0');
    expect(send(card, '00200001').sw).toBe('6983');
    expect(send(card, GOOD).sw).toBe('6983');
    card.reset();
    expect(send(card, GOOD).sw).toBe('6983');
    expect(card.pins.get(1)!.blocked).toBe(true);
  });

  it('restores the counter on a correct PIN and reports 9000 to a status query', () => {
    const card = selected();
    expect(send(card, BAD).sw).toBe('63C2');
    expect(send(card, GOOD).sw).toBe('9000');
    expect(send(card, '00200001').sw).toBe('9000');
    expect(card.pins.get(1)!.triesLeft).toBe(3);
  });

  it('unlocks the protected EF only after verification; SELECT of another application clears it', () => {
    const card = selected();
    expect(send(card, '00A4020C020102').sw).toBe('9000');
    expect(send(card, '00B0000000').sw).toBe('6982');
    expect(send(card, GOOD).sw).toBe('9000');
    expect(send(card, '00B0000000').data).toBe(toHex(Uint8Array.from('DITEST PROTECTED DATA', (c) => c.charCodeAt(0))));
    // Back to the MF (another "application" context) and in again: status is gone.
    expect(send(card, '00A4000C023F00').sw).toBe('9000');
    expect(send(card, `00A4040C08${toHex(TEST_CARD_AID)}`).sw).toBe('9000');
    expect(send(card, '00B0820000').sw).toBe('6982');
    expect(send(card, '00200001').sw).toBe('63C3');
  });

  it('a wrong PIN drops an earlier verification; P1=FF resets it explicitly', () => {
    const card = selected();
    send(card, GOOD);
    expect(send(card, BAD).sw).toBe('63C2');
    expect(send(card, '00B0820000').sw).toBe('6982');
    send(card, GOOD);
    expect(send(card, '0020FF01').sw).toBe('9000');
    expect(send(card, '00B0820000').sw).toBe('6982');
  });

  it('rejects bad parameters without spending a try', () => {
    const card = selected();
    expect(send(card, '0020000104 31323334').sw).toBe('6700');
    expect(send(card, '0020000208 31323334FFFFFFFF').sw).toBe('6A88');
    expect(send(card, '0020010108 31323334FFFFFFFF').sw).toBe('6A86');
    expect(send(card, '0020000108 31323334FFFFFFFF 00').sw).toBe('6700');
    expect(send(card, '00200001').sw).toBe('63C3');
  });

  it('honours a profile starting with fewer tries', () => {
    const card = selected({ pinTriesLeft: 1 });
    expect(send(card, '00200001').sw).toBe('63C1');
    expect(send(card, BAD).sw).toBe('63C0');
    expect(send(card, '00200001').sw).toBe('6983');
  });
});
