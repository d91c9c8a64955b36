import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../platform/sdk/hex.js';
import { findTag, parseTlv } from '../../../platform/sdk/tlv.js';
import { buildAtr } from '../../../emulator/cards/framework/atr.js';
import { cardConfigFromProfile, ProfileError } from '../../../emulator/cards/framework/profile.js';
import { createTestCard, loadTestCardProfile, TEST_CARD_AID } from '../../../emulator/cards/test-card.js';
import { asciiHex, send } from './helpers.js';

describe('test card', () => {
  it('has the default ATR: T=1 with historical bytes "DITEST"', () => {
    const card = createTestCard();
    expect(card.kind).toBe('test-card');
    expect(toHex(card.reset())).toBe(toHex(buildAtr({ protocol: 'T=1', historical: fromHex(asciiHex('DITEST')) })));
  });

  it('accepts a configured ATR', () => {
    const atr = buildAtr({ protocol: 'T=0', historical: fromHex('0102') });
    const card = createTestCard({ atr });
    expect(toHex(card.reset())).toBe(toHex(atr));
    expect(card.protocol).toBe('T=0');
  });

  it('holds the application with its three EFs', () => {
    const card = createTestCard();
    const fci = send(card, `00A4040008${toHex(TEST_CARD_AID)}00`);
    expect(toHex(findTag(parseTlv(fromHex(fci.data)), 0x84)!.value)).toBe('F044495445535401');
    expect(send(card, '00A4020C020101').sw).toBe('9000');
    expect(send(card, '00B0000000')).toEqual({ data: asciiHex('DITEST PUBLIC DATA 0001'), sw: '9000' });
    for (const n of [1, 2, 3]) {
      const r = send(card, `00B20${n}0C00`);
      expect(r.sw).toBe('9000');
      expect(toHex(findTag(parseTlv(fromHex(r.data)), 0x80)!.value)).toBe(asciiHex(`REC${n}`));
    }
    expect(send(card, '00B2040C00').sw).toBe('6A83');
    expect(send(card, '00A4020C020102').sw).toBe('9000');
    expect(send(card, '00B0000000').sw).toBe('6982');
  });

  it('echoes case 4 data and checks its parameters', () => {
    const card = createTestCard();
    const payload = Uint8Array.from({ length: 255 }, (_, i) => 255 - i);
    expect(send(card, `80EE0000FF${toHex(payload)}00`)).toEqual({ data: toHex(payload), sw: '9000' });
    expect(send(card, '80EE010001AA00').sw).toBe('6A86');
    expect(send(card, '80EE000000').sw).toBe('6700');
    expect(card.processingMs(fromHex('80EE000001AA00'))).toBe(1);
    expect(card.processingMs(fromHex('00200001'))).toBe(25);
  });

  it('loads the profile by name and rejects path-like names', () => {
    const p = loadTestCardProfile('test-card');
    expect(p.kind).toBe('test-card');
    expect(() => loadTestCardProfile('../card')).toThrow(ProfileError);
    expect(() => loadTestCardProfile('no-such-profile')).toThrow(/no no-such-profile\.json/);
  });

  it('builds independent cards from one profile', () => {
    const profile = loadTestCardProfile();
    const a = createTestCard({ profile });
    const b = createTestCard({ profile });
    send(a, `00A4040C08${toHex(TEST_CARD_AID)}`);
    send(a, '0020000108 39393939FFFFFFFF');
    expect(a.pins.get(1)!.triesLeft).toBe(2);
    expect(b.pins.get(1)!.triesLeft).toBe(3);
  });

  it('validates profiles and names the faulty field', () => {
    const good = loadTestCardProfile();
    const bad = structuredClone(good) as unknown as { fileSystem: { children: Array<{ children: Array<Record<string, unknown>> }> } };
    bad.fileSystem.children[0]!.children[0]!.fid = '01';
    expect(() => cardConfigFromProfile(bad, 'x.json')).toThrow(/x\.json: fileSystem\.children\[0\]\.children\[0\]\.fid: FID must be 2 bytes/);
    const badPin = structuredClone(good);
    badPin.pins![0]!.format = 'clear' as never;
    expect(() => cardConfigFromProfile(badPin)).toThrow(/pins\[0\]\.format/);
    const badHex = structuredClone(good) as unknown as { atr: Record<string, unknown> };
    badHex.atr = { hex: '3B0' };
    expect(() => cardConfigFromProfile(badHex)).toThrow(/atr\.hex: fromHex: odd number/);
  });
});
