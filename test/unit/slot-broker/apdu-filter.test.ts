import { afterEach, describe, expect, it } from 'vitest';
import { inspectSlotBuffers } from '../../../platform/slot-broker/broker.js';
import { ATR_HEALTH, cardClass, expectBrokerError, FakeCard, h, hex, PIN, rig, type Rig } from './fakes.js';

let r: Rig | null = null;
afterEach(async () => {
  await r?.broker.stop();
  r = null;
});

const klass = cardClass('vitale', hex(ATR_HEALTH), 'FF'.repeat(ATR_HEALTH.length), {
  apdu: [
    { cla: '00', ins: 'A4', p1: '04', p2: '00', name: 'SELECT by AID' },
    { cla: '00', ins: 'B0', name: 'READ BINARY' },
    { cla: '80', ins: 'CA', claMask: 'FC', name: 'GET DATA (any logical channel)' },
    // A policy that lists VERIFY must not get it through for applets.
    { cla: '00', ins: '20', name: 'VERIFY' },
  ],
  pinReferences: [0x81, 0x01],
  aids: ['D250000002564954414C45'],
});

async function leased(opts = {}): Promise<{ r: Rig; card: FakeCard; token: string }> {
  r = await rig([{ domain: 'sesam-vitale', cardClass: klass }], opts);
  const card = new FakeCard(ATR_HEALTH, ['D250000002564954414C45']);
  await r.insert(0, card);
  const { token } = await r.broker.acquire('sesam-vitale', 0, 0);
  return { r, card, token };
}

describe('APDU allowlist', () => {
  it('lets through commands that match a rule, including under the CLA mask', async () => {
    const { r, card, token } = await leased();
    expect(hex(await r.broker.transmit('sesam-vitale', token, h('00A404000BD250000002564954414C4500')))).toBe('9000');
    expect(hex(await r.broker.transmit('sesam-vitale', token, h('00B0000003')))).toBe('0102039000');
    // 83 & FC = 80: GET DATA on logical channel 3 is covered by the masked rule.
    expect(hex(await r.broker.transmit('sesam-vitale', token, h('83CA9F1700')))).toBe('6D00');
    expect(card.received.map(hex)).toContain('83CA9F1700');
  });

  it('lets a SELECT by name through only for the class\'s own applications (or a longer name they start)', async () => {
    const { r, card, token } = await leased();
    const sent = card.received.length;
    // Another application a multi-application card may carry (an EMV one here): refused before the card.
    await expectBrokerError(
      r.broker.transmit('sesam-vitale', token, h('00A4040007A000000004101000')),
      'E_APDU_DENIED',
      /SELECT of application A0000000041010 is not an application of card class "vitale"/,
    );
    await expectBrokerError(r.broker.transmit('sesam-vitale', token, h('00A4040000')), 'E_APDU_DENIED', /\(empty name\)/);
    // A shorter prefix of the policy's AID is not the application either.
    await expectBrokerError(r.broker.transmit('sesam-vitale', token, h('00A4040005D25000000200')), 'E_APDU_DENIED', /D250000002/);
    expect(card.received.length).toBe(sent);
    // EMV-style partial selection: a longer name starting with the listed AID passes.
    await r.broker.transmit('sesam-vitale', token, h('00A404000CD250000002564954414C450100'));
    expect(card.received.length).toBe(sent + 1);
  });

  it('denies anything else, naming CLA, INS, P1, P2 and the card class, and never sends it', async () => {
    const { r, card, token } = await leased();
    const sent = card.received.length;
    await expectBrokerError(
      r.broker.transmit('sesam-vitale', token, h('00D6000002AABB')),
      'E_APDU_DENIED',
      /CLA 00 INS D6 P1 00 P2 00 is not in the allowlist of card class "vitale"/,
    );
    // P1/P2 pinned by the rule: SELECT by FID (P1 00) is not SELECT by AID.
    await expectBrokerError(r.broker.transmit('sesam-vitale', token, h('00A40000023F00')), 'E_APDU_DENIED', /P1 00 P2 00/);
    // CLA outside the mask.
    await expectBrokerError(r.broker.transmit('sesam-vitale', token, h('90CA9F1700')), 'E_APDU_DENIED', /CLA 90 INS CA/);
    expect(card.received.length).toBe(sent);
  });

  it('never lets an applet send VERIFY (or another PIN command), even when the policy lists it', async () => {
    const { r, card, token } = await leased();
    const sent = card.received.length;
    const err = await expectBrokerError(
      r.broker.transmit('sesam-vitale', token, Uint8Array.from([0x00, 0x20, 0x00, 0x81, 0x08, ...PIN])),
      'E_APDU_DENIED',
      /VERIFY \(INS 20\).*never allowed from an applet.*kernel function/,
    );
    expect(err.message).not.toContain(hex(PIN));
    await expectBrokerError(r.broker.transmit('sesam-vitale', token, h('00200081')), 'E_APDU_DENIED', /VERIFY/);
    await expectBrokerError(r.broker.transmit('sesam-vitale', token, h('80200081')), 'E_APDU_DENIED', /VERIFY/);
    await expectBrokerError(r.broker.transmit('sesam-vitale', token, h('002C000100')), 'E_APDU_DENIED', /RESET RETRY COUNTER/);
    await expectBrokerError(r.broker.transmit('sesam-vitale', token, h('0024000100')), 'E_APDU_DENIED', /CHANGE REFERENCE DATA/);
    expect(card.received.length).toBe(sent);
    expect(card.pinVerified).toBe(false);
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['shorter than a header', '00B000', /3 bytes; the header CLA INS P1 P2 needs 4/],
    ['short Lc 00', '00B0000000AA', /short Lc 00 is invalid/],
    ['short Lc larger than the data (case 3S)', '00B00000050102', /short Lc 05 announces 5 data bytes/],
    ['trailing bytes (case 4S)', '00A4040001A1000000', /short Lc 01 .*but it is 5/],
    ['extended Lc 0000', '00B00000000000AA', /extended Lc 0000 is invalid/],
    ['extended Lc inconsistent (case 3E)', '00B00000000003AABB', /extended Lc 3 announces 3 data bytes/],
    ['trailing bytes (case 4E)', '00B00000000001AA000100', /extended Lc 1 .* but it is 7/],
    ['INS 6X', '0060000000', /INS 60 is invalid/],
  ];
  for (const [name, bytes, reason] of malformed) {
    it(`refuses a malformed command: ${name}`, async () => {
      const { r, card, token } = await leased();
      const sent = card.received.length;
      await expectBrokerError(r.broker.transmit('sesam-vitale', token, h(bytes)), 'E_APDU_MALFORMED', reason);
      expect(card.received.length).toBe(sent);
    });
  }

  it('accepts well-formed extended commands (cases 2E, 3E, 4E)', async () => {
    const { r, card, token } = await leased();
    await r.broker.transmit('sesam-vitale', token, h('00B00000000010'));
    await r.broker.transmit('sesam-vitale', token, h('00B00000000002AABB'));
    await r.broker.transmit('sesam-vitale', token, h('00B00000000002AABB0100'));
    expect(card.received.slice(-3).map(hex)).toEqual(['00B00000000010', '00B00000000002AABB', '00B00000000002AABB0100']);
  });

  it('refuses commands over maxCommandBytes', async () => {
    const { r, token } = await leased({ maxCommandBytes: 16 });
    const big = new Uint8Array(5 + 12);
    big.set([0x00, 0xb0, 0x00, 0x00, 12]);
    await expectBrokerError(
      r.broker.transmit('sesam-vitale', token, big),
      'E_APDU_MALFORMED',
      /command of 17 bytes for card class "vitale" exceeds the cap of 16 bytes/,
    );
  });

  it('refuses something that is not a byte array', async () => {
    const { r, token } = await leased();
    await expectBrokerError(
      r.broker.transmit('sesam-vitale', token, [0, 0xb0, 0, 0] as unknown as Uint8Array),
      'E_APDU_MALFORMED',
      /not a byte array/,
    );
  });
});

describe('transmitPinVerify', () => {
  const verify = (p2: number, cla = 0x00, p1 = 0x00): Uint8Array => Uint8Array.from([cla, 0x20, p1, p2, 0x08, ...PIN]);

  it('sends 00 20 00 P2 for a listed reference, then wipes its copies of the command', async () => {
    const { r, card, token } = await leased();
    const handedBefore = r.reader.handed.length;
    const cmd = verify(0x81);
    expect(hex(await r.broker.transmitPinVerify('sesam-vitale', token, cmd))).toBe('9000');
    expect(card.pinVerified).toBe(true);
    // The buffer the broker handed to the driver was its own copy, and it is all zeros now.
    const handed = r.reader.handed.slice(handedBefore);
    expect(handed).toHaveLength(1);
    expect(handed[0]).not.toBe(cmd);
    expect(handed[0]!.every((b) => b === 0)).toBe(true);
    // Nothing the broker still holds for the slot contains the PIN.
    for (const b of inspectSlotBuffers(r.broker, 0)) expect(hex(b)).not.toContain(hex(PIN));
    // Case 1 (no data) asks for remaining tries.
    expect(hex(await r.broker.transmitPinVerify('sesam-vitale', token, h('00200081')))).toBe('9000');
  });

  it('refuses other references, CLA, P1 and cases, without echoing the PIN', async () => {
    const { r, card, token } = await leased();
    const sent = card.received.length;
    const errors = [
      await expectBrokerError(r.broker.transmitPinVerify('sesam-vitale', token, verify(0x82)), 'E_APDU_DENIED', /reference P2 82 is not a PIN reference of card class "vitale" \(allowed: 81, 01\)/),
      await expectBrokerError(r.broker.transmitPinVerify('sesam-vitale', token, verify(0x81, 0x80)), 'E_APDU_DENIED', /CLA 80 INS 20 P1 00 P2 81 is not 00 20 00 P2/),
      await expectBrokerError(r.broker.transmitPinVerify('sesam-vitale', token, verify(0x81, 0x00, 0x01)), 'E_APDU_DENIED', /P1 01/),
      await expectBrokerError(r.broker.transmitPinVerify('sesam-vitale', token, h('00B0000000')), 'E_APDU_DENIED', /INS B0/),
      await expectBrokerError(r.broker.transmitPinVerify('sesam-vitale', token, Uint8Array.from([0, 0x20, 0, 0x81, 8, ...PIN, 0])), 'E_APDU_DENIED', /case 4/),
      await expectBrokerError(r.broker.transmitPinVerify('sesam-vitale', token, Uint8Array.from([0, 0x20, 0, 0x81, 9, ...PIN])), 'E_APDU_MALFORMED', /short Lc 09/),
    ];
    for (const e of errors) expect(e.message).not.toContain(hex(PIN));
    expect(card.received.length).toBe(sent);
  });

  it('needs a live lease of the same domain', async () => {
    const { r, token } = await leased();
    await expectBrokerError(r.broker.transmitPinVerify('payment', token, verify(0x81)), 'E_LEASE');
    await r.broker.release('sesam-vitale', token);
    await expectBrokerError(r.broker.transmitPinVerify('sesam-vitale', token, verify(0x81)), 'E_LEASE');
  });
});
