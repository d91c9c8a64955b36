import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../platform/sdk/hex.js';
import { findTag, parseTlv } from '../../../platform/sdk/tlv.js';
import { IsoCard, ok, status, type IsoCardConfig } from '../../../emulator/cards/framework/iso-card.js';
import { decodeCommandApdu } from '../../../emulator/cards/framework/apdu.js';
import { SW, describeSw } from '../../../emulator/cards/framework/status.js';
import { asciiHex, send } from './helpers.js';

const AID = 'A0 00 00 00 99 01';

function config(over: Partial<IsoCardConfig> = {}): IsoCardConfig {
  return {
    kind: 'unit-card',
    atr: { protocol: 'T=1', historical: fromHex('4441') },
    fileSystem: {
      type: 'df',
      children: [
        { type: 'transparent', fid: 0x2f00, data: fromHex('61 03 4F 01 01') },
        {
          type: 'df',
          fid: 0x1000,
          aid: fromHex(AID),
          fciProprietary: fromHex('50 02 4142'),
          children: [
            { type: 'transparent', fid: 0x0001, sfi: 3, data: Uint8Array.from({ length: 300 }, (_, i) => i & 0xff) },
            { type: 'records', fid: 0x0002, sfi: 1, records: [fromHex('AA'), fromHex('BBBB')] },
            { type: 'transparent', fid: 0x0003, read: { pin: 0x81 }, data: fromHex('5EC2E7') },
            { type: 'transparent', fid: 0x0004, read: 'never', data: fromHex('00') },
            { type: 'df', fid: 0x1100, children: [{ type: 'transparent', fid: 0x0005, data: fromHex('55') }] },
          ],
        },
        { type: 'df', fid: 0x2000, aid: fromHex('A0 00 00 00 99 02'), children: [] },
      ],
    },
    pins: [{ reference: 0x81, value: '2468', format: 'bcd-ff', maxTries: 3 }],
    ...over,
  };
}

describe('command decoding', () => {
  it('recognises the four cases, short and extended', () => {
    const c = (h: string) => decodeCommandApdu(fromHex(h));
    expect(c('00A40000')).toMatchObject({ ok: true, command: { isoCase: 1, ne: null } });
    expect(c('00B0000000')).toMatchObject({ ok: true, command: { isoCase: 2, ne: 256, neIsMax: true } });
    expect(c('00A4040002AABB')).toMatchObject({ ok: true, command: { isoCase: 3, ne: null } });
    expect(c('00A4040002AABB10')).toMatchObject({ ok: true, command: { isoCase: 4, ne: 16 } });
    expect(c('00B00000000000')).toMatchObject({ ok: true, command: { isoCase: 2, ne: 65536, extended: true } });
    expect(c('00A40400000002AABB0100')).toMatchObject({ ok: true, command: { isoCase: 4, ne: 256, extended: true } });
    expect(c('00A4')).toMatchObject({ ok: false });
    expect(c('00A4040003AABB')).toMatchObject({ ok: false });
    expect(c('00A404000000')).toMatchObject({ ok: false });
  });
});

describe('dispatch and status words', () => {
  it('answers 6700 to malformed lengths, 6E00 to unknown CLA, 6D00 to unknown INS', () => {
    const card = new IsoCard(config());
    expect(send(card, '00A4').sw).toBe('6700');
    expect(send(card, '00A4040005AABB').sw).toBe('6700');
    expect(send(card, '80A4040000').sw).toBe('6E00');
    expect(send(card, 'FF000000').sw).toBe('6E00');
    expect(send(card, '00FE0000').sw).toBe('6D00');
  });

  it('lets a model add commands by CLA mask and INS, and override defaults', () => {
    const card = new IsoCard(
      config({
        handlers: [
          { cla: 0x80, claMask: 0xf0, ins: 0xca, name: 'GET DATA', handler: () => ok(fromHex('9F1701 03')) },
          { cla: 0x00, ins: 0x84, name: 'no challenge', handler: () => status(SW.CONDITIONS_NOT_SATISFIED) },
        ],
      }),
    );
    expect(send(card, '80CA9F1700')).toEqual({ data: '9F170103', sw: '9000' });
    expect(send(card, '84CA9F1700').data).toBe('9F170103');
    expect(send(card, '80CB9F1700').sw).toBe('6D00');
    expect(send(card, '0084000008').sw).toBe('6985');
  });

  it('never throws: a handler bug answers 6F00', () => {
    const card = new IsoCard(
      config({
        handlers: [{ cla: 0x80, ins: 0x10, handler: () => { throw new Error('boom'); } }],
      }),
    );
    expect(send(card, '80100000').sw).toBe('6F00');
    expect(card.process(new Uint8Array(0))).toEqual(fromHex('6700'));
  });

  it('describes status words for humans', () => {
    expect(describeSw(0x6a82)).toMatch(/not found/);
    expect(describeSw(0x63c2)).toMatch(/2 tries left/);
    expect(describeSw(0x6c10)).toMatch(/exact length 16/);
  });
});

describe('SELECT', () => {
  it('selects by AID returning the FCI, or nothing with P2=0C', () => {
    const card = new IsoCard(config());
    const r = send(card, `00A4040006${AID.replace(/ /g, '')}00`);
    expect(r.sw).toBe('9000');
    const fci = parseTlv(fromHex(r.data));
    expect(fci[0]!.tag).toBe(0x6f);
    expect(toHex(findTag(fci, 0x84)!.value)).toBe(AID.replace(/ /g, ''));
    expect(toHex(findTag(fci, 0x50)!.value)).toBe('4142');
    expect(send(card, `00A4040C06${AID.replace(/ /g, '')}`)).toEqual({ data: '', sw: '9000' });
    expect(send(card, '00A4040006A0000000990300').sw).toBe('6A82');
    expect(send(card, '00A40400').sw).toBe('6700');
    expect(send(card, '00A4040206A0000000990100').sw).toBe('6A86');
  });

  it('selects by FID: MF, child EF, child DF, parent', () => {
    const card = new IsoCard(config());
    expect(send(card, '00A4000C023F00').sw).toBe('9000');
    const fcp = send(card, '00A40004022F0000');
    expect(fcp.sw).toBe('9000');
    const t = parseTlv(fromHex(fcp.data));
    expect(t[0]!.tag).toBe(0x62);
    expect(toHex(findTag(t, 0x80)!.value)).toBe('0005');
    expect(toHex(findTag(t, 0x83)!.value)).toBe('2F00');
    expect(send(card, '00A4020C021000').sw).toBe('6A82'); // 1000 is a DF, P1=02 wants an EF
    expect(send(card, '00A4010C021000').sw).toBe('9000');
    expect(send(card, '00A4020C020001').sw).toBe('9000');
    expect(send(card, '00A4000C021100').sw).toBe('9000');
    expect(send(card, '00A4000C020005').sw).toBe('9000');
    expect(send(card, '00B0000001')).toEqual({ data: '55', sw: '9000' });
    expect(send(card, '00A4030C').sw).toBe('9000');
    expect(send(card, '00A4000C020001').sw).toBe('9000');
    expect(send(card, '00A4000C027777').sw).toBe('6A82');
    expect(send(card, '00A4000C03000100').sw).toBe('6700');
    expect(send(card, '00A4090C020001').sw).toBe('6A86');
  });

  it('keeps the current selection when a SELECT fails', () => {
    const card = new IsoCard(config());
    send(card, `00A4040C06${AID.replace(/ /g, '')}`);
    expect(send(card, '00A4000C029999').sw).toBe('6A82');
    expect(send(card, '00B2010C00').sw).toBe('9000');
  });
});

describe('READ BINARY', () => {
  it('reads with an offset in P1-P2, or by SFI in P1', () => {
    const card = new IsoCard(config());
    send(card, `00A4040C06${AID.replace(/ /g, '')}`);
    expect(send(card, '00B0000000').sw).toBe('6986'); // no current EF yet
    expect(send(card, '00B0830004')).toEqual({ data: '00010203', sw: '9000' });
    expect(send(card, '00B0010002')).toEqual({ data: '0001', sw: '9000' }); // offset 0x100
    expect(send(card, '00B0012C00').sw).toBe('6B00');
    expect(send(card, '00B0012810')).toEqual({ data: '28292A2B', sw: '6282' });
    expect(send(card, '00B0012800')).toEqual({ data: '28292A2B', sw: '9000' });
    expect(send(card, '00B08500').sw).toBe('6A82');
    expect(send(card, '00B0C30000').sw).toBe('6A86');
    expect(send(card, '00B00000').sw).toBe('6700');
    expect(send(card, '00B0810000').sw).toBe('6981'); // SFI 1 is a record EF
  });

  it('enforces access conditions: 6982 until the PIN is verified', () => {
    const card = new IsoCard(config());
    send(card, `00A4040C06${AID.replace(/ /g, '')}`);
    expect(send(card, '00A4020C020003').sw).toBe('9000');
    expect(send(card, '00B0000000').sw).toBe('6982');
    expect(send(card, '0020008108 2468FFFFFFFFFFFF').sw).toBe('9000');
    expect(send(card, '00B0000000')).toEqual({ data: '5EC2E7', sw: '9000' });
    expect(send(card, '00A4020C020004').sw).toBe('9000');
    expect(send(card, '00B0000000').sw).toBe('6982'); // 'never'
  });
});

describe('READ RECORD', () => {
  it('reads records by SFI and reports missing records', () => {
    const card = new IsoCard(config());
    send(card, `00A4040C06${AID.replace(/ /g, '')}`);
    expect(send(card, '00B2010C00')).toEqual({ data: 'AA', sw: '9000' });
    expect(send(card, '00B2020C00')).toEqual({ data: 'BBBB', sw: '9000' });
    expect(send(card, '00B2030C00').sw).toBe('6A83');
    expect(send(card, '00B2020400')).toEqual({ data: 'BBBB', sw: '9000' }); // SFI 0: current EF
    expect(send(card, '00B2011400').sw).toBe('6A82');
    expect(send(card, '00B2011C00').sw).toBe('6981'); // SFI 3 is transparent
    expect(send(card, '00B2010800').sw).toBe('6A86'); // mode 0 not supported
    expect(send(card, '00B2000C00').sw).toBe('6A86');
    expect(send(card, '00B2010C').sw).toBe('6700');
  });
});

describe('GET CHALLENGE', () => {
  it('returns Ne random bytes from the card RNG', () => {
    let calls = 0;
    const card = new IsoCard(config({ random: (n) => Uint8Array.from({ length: n }, () => ++calls) }));
    expect(send(card, '0084000008')).toEqual({ data: '0102030405060708', sw: '9000' });
    expect(send(card, '0084000104').sw).toBe('6A86');
    expect(send(card, '00840000').sw).toBe('6700');
  });

  it('uses a real RNG by default', () => {
    const card = new IsoCard(config());
    const a = send(card, '0084000008');
    const b = send(card, '0084000008');
    expect(a.data).toHaveLength(16);
    expect(a.data).not.toBe(b.data);
  });
});

describe('reset', () => {
  it('returns the ATR and clears selection and security status', () => {
    const card = new IsoCard(config());
    expect(toHex(card.reset())).toBe(toHex(card.atr));
    send(card, `00A4040C06${AID.replace(/ /g, '')}`);
    send(card, '0020008108 2468FFFFFFFFFFFF');
    expect(send(card, '00200081').sw).toBe('9000');
    card.reset();
    expect(send(card, '00200081').sw).toBe('63C3');
    expect(send(card, '00B2010C00').sw).toBe('6A82'); // back at the MF: SFI 1 is not there
  });

  it('reads processing times from the configuration', () => {
    const card = new IsoCard(config({ processing: { defaultMs: 3, byIns: { 0x20: 40 } } }));
    expect(card.processingMs(fromHex('00200081'))).toBe(40);
    expect(card.processingMs(fromHex('00B0000000'))).toBe(3);
    expect(new IsoCard(config()).processingMs(fromHex('00B0000000'))).toBe(0);
  });

  it('rejects inconsistent file systems with a message naming the file', () => {
    const bad = config();
    bad.fileSystem.children!.push({ type: 'transparent', fid: 0x2f00, data: new Uint8Array(0) });
    expect(() => new IsoCard(bad)).toThrow(/MF\/2F00: FID 2F00 appears twice/);
  });

  it('shows no PIN in toString or JSON', () => {
    const card = new IsoCard(config());
    const pin = card.pins.get(0x81)!;
    expect(String(pin)).toBe('PIN ref 81 (bcd-ff, 3/3 tries)');
    expect(JSON.stringify(pin)).not.toContain('2468');
    expect(String(card)).not.toContain('2468');
    expect(asciiHex('x')).toBe('78');
  });
});
