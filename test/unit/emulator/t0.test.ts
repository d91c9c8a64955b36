import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../platform/sdk/hex.js';
import { parseAtr } from '../../../emulator/cards/framework/atr.js';
import { IsoCard, ok } from '../../../emulator/cards/framework/iso-card.js';
import { createTestCard, TEST_CARD_AID } from '../../../emulator/cards/test-card.js';
import { asciiHex, send } from './helpers.js';

const SELECT_APP = `00A4040008${toHex(TEST_CARD_AID)}`;
const PUBLIC = asciiHex('DITEST PUBLIC DATA 0001');

describe('T=1 (default)', () => {
  it('announces T=1 and returns case 4 data directly', () => {
    const card = createTestCard();
    expect(card.protocol).toBe('T=1');
    expect(parseAtr(card.reset()).protocols).toEqual([1]);
    expect(send(card, '80EE000003 010203 00')).toEqual({ data: '010203', sw: '9000' });
    const fci = send(card, `${SELECT_APP}00`);
    expect(fci.sw).toBe('9000');
    expect(fci.data.startsWith('6F')).toBe(true);
  });

  it('sends no data to a case 3 command', () => {
    const card = createTestCard();
    expect(send(card, SELECT_APP)).toEqual({ data: '', sw: '9000' });
  });

  it('returns a short Ne with 61xx for the rest', () => {
    const card = createTestCard();
    expect(send(card, '80EE000004 0A0B0C0D 02')).toEqual({ data: '0A0B', sw: '6102' });
    expect(send(card, '00C0000002')).toEqual({ data: '0C0D', sw: '9000' });
  });
});

describe('T=0', () => {
  it('announces T=0 in the ATR', () => {
    const card = createTestCard({ protocol: 'T=0' });
    expect(card.protocol).toBe('T=0');
    const atr = parseAtr(card.reset());
    expect(atr.protocols).toEqual([0]);
    expect(atr.tck).toBeUndefined();
    expect(toHex(atr.historical)).toBe(asciiHex('DITEST'));
  });

  it('answers a case 4 command with 61xx and serves the data through GET RESPONSE', () => {
    const card = createTestCard({ protocol: 'T=0' });
    expect(send(card, '80EE000005 1122334455 00')).toEqual({ data: '', sw: '6105' });
    expect(send(card, '00C0000005')).toEqual({ data: '1122334455', sw: '9000' });
    // Nothing left.
    expect(send(card, '00C0000005').sw).toBe('6985');
  });

  it('answers 6Cxx to GET RESPONSE with a wrong Le, keeping the data', () => {
    const card = createTestCard({ protocol: 'T=0' });
    send(card, '80EE000003 AABBCC');
    expect(send(card, '00C0000010').sw).toBe('6C03');
    expect(send(card, '00C0000003')).toEqual({ data: 'AABBCC', sw: '9000' });
  });

  it('chains 61xx for responses longer than 256 bytes', () => {
    const big = Uint8Array.from({ length: 600 }, (_, i) => (i * 7) & 0xff);
    const card = new IsoCard({
      kind: 'big',
      atr: { protocol: 'T=0', historical: new Uint8Array(0) },
      fileSystem: { type: 'df' },
      handlers: [{ cla: 0x80, ins: 0x50, handler: () => ok(big) }],
    });
    expect(send(card, '8050000001 00').sw).toBe('6100');
    const a = send(card, '00C0000000');
    expect(a.sw).toBe('6100');
    const b = send(card, '00C0000000');
    expect(b.sw).toBe('6158');
    const c = send(card, '00C0000058');
    expect(c.sw).toBe('9000');
    expect(a.data + b.data + c.data).toBe(toHex(big));
  });

  it('forgets the pending response when another command comes in', () => {
    const card = createTestCard({ protocol: 'T=0' });
    expect(send(card, '80EE000002 0102').sw).toBe('6102');
    expect(send(card, '0084000008').sw).toBe('9000');
    expect(send(card, '00C0000002').sw).toBe('6985');
  });

  it('answers 6Cxx to a case 2 command with a wrong Le; the re-send succeeds', () => {
    const card = createTestCard({ protocol: 'T=0' });
    // Case 3 SELECT with FCI to give: 61xx, xx being the FCI length.
    const fciLength = send(createTestCard(), `${SELECT_APP}00`).data.length / 2;
    expect(send(card, SELECT_APP).sw).toBe(`61${fciLength.toString(16).toUpperCase().padStart(2, '0')}`);
    expect(send(card, '00A4020C020101').sw).toBe('9000');
    const len = PUBLIC.length / 2;
    expect(send(card, '00B0000000').sw).toBe(`6C${len.toString(16).toUpperCase().padStart(2, '0')}`);
    expect(send(card, '00B0000020').sw).toBe(`6C${len.toString(16).toUpperCase().padStart(2, '0')}`);
    // A shorter Le is a legitimate partial read, not an error.
    expect(send(card, '00B0000005')).toEqual({ data: PUBLIC.slice(0, 10), sw: '9000' });
    expect(send(card, `00B00000${len.toString(16).padStart(2, '0')}`)).toEqual({ data: PUBLIC, sw: '9000' });
    // Records: same rule.
    expect(send(card, '00B2010C00').sw).toBe('6C08');
    expect(send(card, '00B2010C08')).toEqual({ data: '7006800452454331', sw: '9000' });
  });

  it('refuses extended APDUs (T=0 has no extended lengths)', () => {
    const card = createTestCard({ protocol: 'T=0' });
    expect(send(card, '80EE0000000002AABB0000').sw).toBe('6700');
    const t1 = createTestCard();
    expect(send(t1, '80EE0000000002AABB0000')).toEqual({ data: 'AABB', sw: '9000' });
  });

  it('returns GET CHALLENGE directly when Le is right', () => {
    const card = createTestCard({ protocol: 'T=0', random: (n) => new Uint8Array(n).fill(0x5a) });
    expect(send(card, '0084000008')).toEqual({ data: '5A5A5A5A5A5A5A5A', sw: '9000' });
  });

  it('can be driven by the broker loop a T=0 card expects', () => {
    const card = createTestCard({ protocol: 'T=0' });
    const payload = Uint8Array.from({ length: 200 }, (_, i) => i);
    // Case 4 echo through the usual transport loop: 61xx -> GET RESPONSE xx.
    let r = card.process(fromHex(`80EE0000C8${toHex(payload)}00`))!;
    let data = '';
    for (let rounds = 0; r[r.length - 2] === 0x61 && rounds < 8; rounds++) {
      r = card.process(Uint8Array.of(0x00, 0xc0, 0x00, 0x00, r[r.length - 1]!))!;
      data += toHex(r.subarray(0, r.length - 2));
    }
    expect(toHex(r.subarray(r.length - 2))).toBe('9000');
    expect(data).toBe(toHex(payload));
  });
});
