/**
 * The emulated acquirer against real cards: the card computes a real ARQC (raw APDUs), the
 * acquirer checks it with the issuer keys, and the card accepts (or refuses) the ARPC it answers.
 * Requests go through the kernel's AcquirerTransport, as the payment domain's would.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAcquirer, defaultRules, type AcquirerServer } from '../../../emulator/acquirer/server.js';
import { parseRules, type AcquirerRules } from '../../../emulator/acquirer/rules.js';
import { AcquirerTransport } from '../../../platform/kernel/transports/acquirer.js';
import { encodeFrame, FrameDecoder } from '../../../platform/wire/frames.js';
import type { NetworkEndpoint } from '../../../platform/kernel/policy/types.js';
import type { WireValue } from '../../../platform/wire/messages.js';
import { toHex } from '../../../platform/sdk/hex.js';
import { KEY_DIR, authorizeMessage, emvCard, runToArqc, secondGenerateAc } from './emv-terminal.js';

type Reply = { [k: string]: WireValue };
const PAN = '5413330000000027'; // emulator/cards/profiles/emv-online.json

describe('acquirer emulator', () => {
  let dir: string;
  let server: AcquirerServer;
  const transport = new AcquirerTransport();
  let ep: NetworkEndpoint;
  const send = async (m: WireValue) => (await transport.send(ep, m, new AbortController().signal)) as Reply;
  let seq = 0;
  const ref = () => `R${++seq}`;

  const rules: AcquirerRules = {
    issuerUnavailable: ['541334'],
    rules: [
      { kind: 'expired', code: '54' },
      { kind: 'pin-failed', code: '55' },
      { kind: 'pan-in', pans: ['5413330000000019'], code: '51' },
      { kind: 'amount-above', limit: 150_000, code: '05' },
    ],
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'di-acq-'));
    server = await startAcquirer({ port: 0, keyDir: KEY_DIR, journalPath: join(dir, 'journal.jsonl'), rules });
    ep = { name: 'acquirer', kind: 'acquirer', host: '127.0.0.1', port: server.port };
  });
  afterAll(async () => {
    transport.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('approves a good ARQC; the card accepts the ARPC and gives a TC on the second GENERATE AC', async () => {
    const s = runToArqc(await emvCard('emv-online'), { amount: 2300 });
    expect(s.cid & 0xc0).toBe(0x80);
    const r = await send(authorizeMessage(s, 'A-OK'));
    expect(r).toMatchObject({ type: 'authorization', ref: 'A-OK', responseCode: '00' });
    expect(r.authCode).toMatch(/^[0-9A-Z]{6}$/);
    expect(toHex(r.arc as Uint8Array)).toBe('3030');
    expect((r.arpc as Uint8Array).length).toBe(8);
    expect(toHex(r.issuerAuthData as Uint8Array)).toBe(toHex(r.arpc as Uint8Array) + '3030');
    expect(secondGenerateAc(s, r.issuerAuthData as Uint8Array, r.arc as Uint8Array) & 0xc0).toBe(0x40);
  });

  it('a forged ARPC (one bit) is refused by the card: AAC', async () => {
    const s = runToArqc(await emvCard('emv-online'), { amount: 1000 });
    const r = await send(authorizeMessage(s, ref()));
    const iad = (r.issuerAuthData as Uint8Array).slice();
    iad[0] = iad[0]! ^ 1;
    expect(secondGenerateAc(s, iad, r.arc as Uint8Array) & 0xc0).toBe(0x00);
  });

  it('declines above 1 500,00 EUR with 05 (ARPC still authentic, the card ends with AAC); exactly the limit passes', async () => {
    const card = await emvCard('emv-online');
    const over = runToArqc(card, { amount: 150_001 });
    const r = await send(authorizeMessage(over, ref()));
    expect(r.responseCode).toBe('05');
    expect(r.authCode).toBeUndefined();
    expect(toHex(r.arc as Uint8Array)).toBe('3035');
    expect(secondGenerateAc(over, r.issuerAuthData as Uint8Array, r.arc as Uint8Array) & 0xc0).toBe(0x00);
    const at = runToArqc(card, { amount: 150_000 });
    expect((await send(authorizeMessage(at, ref()))).responseCode).toBe('00');
  });

  it('A1 on a tampered ARQC, on a cryptogram input that does not carry the amount or the ATC, with no ARPC', async () => {
    const s = runToArqc(await emvCard('emv-online'), { amount: 4200 });
    const tampered = s.arqc.slice();
    tampered[7] = tampered[7]! ^ 0x80;
    const a = await send(authorizeMessage(s, ref(), { arqc: tampered }));
    expect(a.responseCode).toBe('A1');
    expect(a.arpc).toBeUndefined();
    expect(a.issuerAuthData).toBeUndefined();
    expect(toHex(a.arc as Uint8Array)).toBe('4131');
    // The same good cryptogram claimed for another amount.
    expect((await send(authorizeMessage(s, ref(), { amount: 100 }))).responseCode).toBe('A1');
    expect((await send(authorizeMessage(s, ref(), { atc: Uint8Array.of(0xff, 0xff) }))).responseCode).toBe('A1');
    // A wrong PSN derives another card key.
    expect((await send(authorizeMessage(s, ref(), { psn: 2 }))).responseCode).toBe('A1');
    expect((await send(authorizeMessage(s, ref()))).responseCode).toBe('00');
  });

  it('rules as data: listed PAN 51, unavailable issuer 91, expiry 54, failed offline PIN 55', async () => {
    const s = runToArqc(await emvCard('emv-online'), { amount: 2000 });
    // The listed PAN never verifies with this card's cryptogram, so 51 is checked on a rule set listing the real PAN.
    const listed = await startAcquirer({ port: 0, keyDir: KEY_DIR, journalPath: null, rules: { ...rules, rules: [{ kind: 'pan-in', pans: [PAN], code: '51' }] } });
    const down = await startAcquirer({ port: 0, keyDir: KEY_DIR, journalPath: null, rules: { issuerUnavailable: ['5413'], rules: [] } });
    try {
      const t = new AcquirerTransport();
      const via = async (port: number, m: WireValue) => (await t.send({ ...ep, port }, m, new AbortController().signal)) as Reply;
      const r51 = await via(listed.port, authorizeMessage(s, ref()));
      expect(r51.responseCode).toBe('51');
      expect((r51.arpc as Uint8Array).length).toBe(8);
      const r91 = await via(down.port, authorizeMessage(s, ref()));
      expect(r91.responseCode).toBe('91');
      expect(r91.arpc).toBeUndefined();
      t.close();
    } finally {
      await listed.close();
      await down.close();
    }
    expect((await send(authorizeMessage(s, ref(), { expiry: '260114' }))).responseCode).toBe('54');
    expect((await send(authorizeMessage(s, ref(), { expiry: s.expiry }))).responseCode).toBe('00');
    expect((await send(authorizeMessage(s, ref(), { cvmResults: Uint8Array.of(0x41, 0x03, 0x01) }))).responseCode).toBe('55');
    // Rules files are checked, naming the path.
    expect(() => parseRules({ rules: [{ kind: 'amount-above', limit: -1, code: '05' }] })).toThrow('/rules/0/limit');
    expect(() => parseRules({ rules: [{ kind: 'pan-in', pans: ['x'], code: '00' }] })).toThrow('/rules/0/code');
    expect(parseRules(JSON.parse(JSON.stringify(defaultRules())))).toEqual(defaultRules());
  });

  it('a retransmitted authorisation gets the same answer; a ref reused for another cryptogram is refused', async () => {
    const card = await emvCard('emv-online');
    const s = runToArqc(card, { amount: 3100 });
    const first = await send(authorizeMessage(s, 'RETX-1'));
    const again = await send(authorizeMessage(s, 'RETX-1'));
    expect(again).toEqual(first);
    const other = runToArqc(card, { amount: 3100 });
    expect(await send(authorizeMessage(other, 'RETX-1'))).toEqual({ type: 'error', reason: 'ref was already used for another authorisation' });
  });

  it('reversal: by original ref, once; refused for unknown, declined or a different amount', async () => {
    const card = await emvCard('emv-online');
    const s = runToArqc(card, { amount: 5000 });
    expect((await send(authorizeMessage(s, 'REV-ORIG'))).responseCode).toBe('00');
    expect(await send({ type: 'reversal', ref: 'REV-2', originalRef: 'REV-ORIG', amount: 4999 })).toEqual({ type: 'reversal', ref: 'REV-2', accepted: false, reason: 'amount differs from the original' });
    expect(await send({ type: 'reversal', ref: 'REV-1', originalRef: 'REV-ORIG', amount: 5000 })).toEqual({ type: 'reversal', ref: 'REV-1', accepted: true });
    // Retransmission of the same reversal: same answer, no second effect.
    expect(await send({ type: 'reversal', ref: 'REV-1', originalRef: 'REV-ORIG', amount: 5000 })).toEqual({ type: 'reversal', ref: 'REV-1', accepted: true });
    expect(await send({ type: 'reversal', ref: 'REV-3', originalRef: 'REV-ORIG', amount: 5000 })).toMatchObject({ accepted: false, reason: 'already reversed' });
    expect(await send({ type: 'reversal', ref: 'REV-4', originalRef: 'NOPE', amount: 5000 })).toMatchObject({ accepted: false, reason: 'unknown original transaction' });
    const d = runToArqc(card, { amount: 200_000 });
    expect((await send(authorizeMessage(d, 'REV-DECL'))).responseCode).toBe('05');
    expect(await send({ type: 'reversal', ref: 'REV-5', originalRef: 'REV-DECL', amount: 200_000 })).toMatchObject({ accepted: false, reason: 'original was not approved (05)' });
  });

  it('batch: compares count and total with its approved, not reversed records of that terminal and date; lists differences', async () => {
    const card = await emvCard('emv-online');
    const day = { date: '260220' };
    const term = { terminalId: 'T-BATCH' };
    const a = runToArqc(card, { amount: 1000, ...day });
    const b = runToArqc(card, { amount: 2500, ...day });
    const c = runToArqc(card, { amount: 700, ...day });
    const declined = runToArqc(card, { amount: 900_000, ...day });
    const otherDay = runToArqc(card, { amount: 100, date: '260221' });
    for (const [s, r] of [[a, 'B-1'], [b, 'B-2'], [c, 'B-3'], [declined, 'B-4'], [otherDay, 'B-5']] as const) await send(authorizeMessage(s, r, term));
    expect(await send({ type: 'reversal', ref: 'B-3R', originalRef: 'B-3', amount: 700 })).toMatchObject({ accepted: true });
    const bad = await send({ type: 'batch', ...term, ...day, count: 4, total: 4300, refs: ['B-1', 'B-3', 'B-4', 'B-X', 'B-1'] });
    expect(bad).toMatchObject({ type: 'batch', accepted: false, acquirerCount: 2, acquirerTotal: 3500 });
    expect(bad.differences).toEqual([
      'B-3: reversed',
      'B-4: declined by the acquirer (05)',
      'B-X: unknown to the acquirer',
      'B-1: listed twice',
      "B-2: approved by the acquirer, missing from the terminal's batch",
      'count: terminal 4, acquirer 2',
      'total: terminal 4300, acquirer 3500',
    ]);
    expect(await send({ type: 'batch', ...term, ...day, count: 2, total: 3500, refs: ['B-1', 'B-2'] })).toEqual({
      type: 'batch', accepted: true, acquirerCount: 2, acquirerTotal: 3500, differences: [],
    });
    // Collected by the accepted batch: a later batch of the same day starts from zero.
    expect(await send({ type: 'batch', ...term, ...day, count: 0, total: 0, refs: [] })).toEqual({
      type: 'batch', accepted: true, acquirerCount: 0, acquirerTotal: 0, differences: [],
    });
  });

  it('ca-keys: the emulator test CA under the three RIDs, with checksums a terminal can recompute', async () => {
    const r = await send({ type: 'ca-keys' });
    const keys = r.keys as Array<{ rid: Uint8Array; index: number; modulus: Uint8Array; exponent: Uint8Array; checksum: Uint8Array }>;
    expect(keys.map((k) => toHex(k.rid))).toEqual(['A000000042', 'A000000003', 'A000000004']);
    for (const k of keys) {
      expect(k.index).toBe(0xe8);
      expect(k.modulus.length).toBe(176);
      const sum = createHash('sha1').update(k.rid).update(Uint8Array.of(k.index)).update(k.modulus).update(k.exponent).digest();
      expect(toHex(k.checksum)).toBe(toHex(sum));
    }
  });

  it('malformed messages get { type: error } naming the field, never the PAN; the connection stays usable', async () => {
    const s = runToArqc(await emvCard('emv-online'), { amount: 100 });
    const cases: Array<[WireValue, RegExp]> = [
      [{ type: 'nope' }, /unknown message type/],
      [{ type: 'authorize' }, /^ref must be/],
      [{ ...authorizeMessage(s, ref()), arqc: new Uint8Array(7) }, /^arqc must be 8 bytes/],
      [{ ...authorizeMessage(s, ref()), currency: 840 }, /^currency/],
      [{ ...authorizeMessage(s, ref()), date: '261340' }, /^date/],
      [{ ...authorizeMessage(s, ref()), amount: -5 }, /^amount/],
      [{ ...authorizeMessage(s, ref()), pan: '5413330000000028' }, /^pan fails the Luhn check$/],
      [{ ...authorizeMessage(s, ref()), pan: 12 }, /^pan must be/],
      [{ type: 'batch', terminalId: 'T', date: '260101', count: 0, total: 0, refs: [1] }, /^refs\/0/],
      [{ type: 'reversal', ref: 'x y', originalRef: 'a', amount: 1 }, /^ref must be/],
    ];
    for (const [m, why] of cases) {
      const r = await send(m);
      expect(r.type).toBe('error');
      expect(String(r.reason)).toMatch(why);
      expect(String(r.reason)).not.toContain('541333');
    }
    expect((await send(authorizeMessage(s, ref()))).responseCode).toBe('00');
  });

  it('a client sending garbage frames is answered once with an error and disconnected; the server keeps serving', async () => {
    const garbage = [
      Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), // length prefix far above the limit
      Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]), // msgpack's reserved byte
      Buffer.from([0, 0, 0, 0]), // empty body
    ];
    for (const g of garbage) {
      const { frames, closed } = await rawExchange(server.port, g);
      expect(closed).toBe(true);
      expect(frames).toEqual([{ type: 'error', reason: 'malformed frame: disconnected' }]);
    }
    // A frame that decodes to a non-object is a malformed message, not a malformed stream.
    const { frames, closed } = await rawExchange(server.port, Buffer.concat([encodeFrame([1, 2, 3]), encodeFrame('x')]), 2);
    expect(closed).toBe(false);
    expect(frames).toEqual([
      { type: 'error', reason: 'a message is an object with a string type' },
      { type: 'error', reason: 'a message is an object with a string type' },
    ]);
    expect((await send({ type: 'ca-keys' })).type).toBe('ca-keys');
  });

  it('the journal masks the PAN 6/4, keeps no cryptogram, and survives a restart (a reversal stays once)', async () => {
    const entries = server.journal();
    const auths = entries.filter((e) => e.kind === 'authorization');
    expect(auths.length).toBeGreaterThan(5);
    for (const e of auths) expect(e).toMatchObject({ panMasked: '541333******0027' });
    const text = readFileSync(join(dir, 'journal.jsonl'), 'utf8');
    expect(text).not.toContain(PAN);
    const s = runToArqc(await emvCard('emv-online'), { amount: 8800 });
    expect((await send(authorizeMessage(s, 'PERSIST'))).responseCode).toBe('00');
    const journalText = readFileSync(join(dir, 'journal.jsonl'), 'utf8');
    expect(journalText).not.toContain(toHex(s.arqc));
    expect(journalText.toLowerCase()).not.toContain(toHex(s.arqc).toLowerCase());
    expect(journalText).toContain('"ref":"PERSIST"');
    transport.close();
    await server.close();
    server = await startAcquirer({ port: 0, keyDir: KEY_DIR, journalPath: join(dir, 'journal.jsonl'), rules });
    ep = { ...ep, port: server.port };
    expect(server.journal().length).toBe(entries.length + 1);
    expect(await send({ type: 'reversal', ref: 'PR-1', originalRef: 'PERSIST', amount: 8800 })).toMatchObject({ accepted: true });
    expect(await send({ type: 'reversal', ref: 'PR-2', originalRef: 'REV-ORIG', amount: 5000 })).toMatchObject({ accepted: false, reason: 'already reversed' });
  });
});

/** Writes bytes on a fresh connection; collects reply frames until `want` frames, close, or 2 s. */
function rawExchange(port: number, bytes: Buffer, want = 1): Promise<{ frames: unknown[]; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const dec = new FrameDecoder(1 << 20);
    const frames: unknown[] = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ frames, closed });
    };
    const timer = setTimeout(done, 2000);
    sock.on('data', (c) => {
      frames.push(...dec.push(c));
      // Give the server a moment to close after its answer, when it means to.
      if (frames.length >= want) setTimeout(done, 300);
    });
    sock.on('close', () => {
      closed = true;
      done();
    });
    sock.on('error', () => undefined);
    sock.write(bytes);
  });
}
