/**
 * The payment applet's EMV kernel, packed as it ships (bundleApplet), under the real payment policy,
 * against the emulator's EMV cards and a small acquirer speaking the issue 5 protocol (TCP, 4-byte
 * length + msgpack frames). The acquirer here is the issuer host the emulator documents: it verifies
 * ARQCs with the emulator's IMK over the applet's acInput and answers ARPCs the card checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { bootDev, until, type DevKernel } from '../support/dev-kernel.js';
import { bundleApplet } from '../../platform/kernel/packages/pack.js';
import { loadPolicyFile } from '../../platform/kernel/policy/loader.js';
import { repoRoot } from '../../platform/kernel/paths.js';
import type { Policy, NetworkEndpoint } from '../../platform/kernel/policy/types.js';
import type { Transport } from '../../platform/kernel/services.js';
import type { WireValue } from '../../platform/wire/messages.js';
import { encodeFrame, FrameDecoder } from '../../platform/wire/frames.js';
import { loadCard } from '../../emulator/cards/profiles.js';
import type { CardModel } from '../../emulator/cards/card.js';
import { emvCaPublicKeys, loadEmvIssuerKeys } from '../../emulator/cards/models/emv/keys.js';
import { generateArpc, issuerAuthenticationData, verifyArqc } from '../../emulator/cards/models/emv/crypto.js';
import { fromHex, toHex } from '../../platform/sdk/hex.js';
import { encodeTlv, parseTlv } from '../../platform/sdk/tlv.js';
import { parseAfl } from '../../applets/payment-stub/gpo-records.js';
import { buildDolData, parseDol } from '../../applets/payment-stub/dol.js';
import { randomSelectionPercent } from '../../applets/payment-stub/risk.js';
import { modPow, rsaRecover } from '../../applets/payment-stub/oda.js';
import { DEFAULT_PARAMS } from '../../applets/payment-stub/terminal.js';
import { maskPan, formatAmount } from '../../applets/payment-stub/util.js';

const KEY_DIR = process.env.DI_EMULATOR_KEYS ?? join(repoRoot(), '.di-data', 'emulator-keys');
const PANS = ['4970100000000014', '5413330000000027', '4970100000000030', '4970100000000048', '4970100000000055', '4970100000000063', '4970100000000071'];

// ---- a fake acquirer (issuer host) on the issue 5 protocol ------------------------------------

type Msg = { [k: string]: WireValue };
interface Authorized {
  ref: string;
  amount: number;
  code: string;
  reversed: boolean;
}

class FakeAcquirer {
  readonly requests: Msg[] = [];
  readonly authorized = new Map<string, Authorized>();
  private server!: Server;
  private imk!: Uint8Array;
  port = 0;
  unreachable = false;

  async start(): Promise<void> {
    this.imk = (await loadEmvIssuerKeys(KEY_DIR)).imkAc;
    this.server = createServer((s) => this.serve(s));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  private serve(s: Socket): void {
    if (this.unreachable) {
      s.destroy();
      return;
    }
    const dec = new FrameDecoder(1 << 20);
    s.on('data', (chunk) => {
      // "Unreachable": the connection drops without an answer (also on a pooled connection).
      if (this.unreachable) {
        s.destroy();
        return;
      }
      let msgs: unknown[];
      try {
        msgs = dec.push(chunk);
      } catch {
        s.destroy();
        return;
      }
      for (const m of msgs) {
        void this.handle(m as Msg).then((reply) => s.write(encodeFrame(reply)));
      }
    });
    s.on('error', () => undefined);
  }

  async handle(m: Msg): Promise<Msg> {
    this.requests.push(m);
    switch (m.type) {
      case 'ca-keys':
        return {
          type: 'ca-keys',
          keys: (await emvCaPublicKeys(KEY_DIR)).map((k) => ({ rid: fromHex(k.rid), index: k.index, modulus: fromHex(k.modulusHex), exponent: fromHex(k.exponentHex), checksum: fromHex(k.checksumHex) })),
        };
      case 'authorize': {
        const { ref, amount, pan, psn, atc, arqc, acInput } = m as { ref: string; amount: number; pan: string; psn: number; atc: Uint8Array; arqc: Uint8Array; acInput: Uint8Array };
        const atcN = (atc[0]! << 8) | atc[1]!;
        const key = { imk: this.imk, pan, panSequenceNumber: psn, atc: atcN };
        const ok = verifyArqc({ ...key, input: acInput, arqc });
        const code = !ok ? 'A1' : amount > 150_000 ? '05' : '00';
        const arc = Uint8Array.from(code, (c) => c.charCodeAt(0));
        const reply: Msg = { type: 'authorization', ref, responseCode: code, arc };
        if (ok) {
          const arpc = generateArpc({ ...key, arqc, arc });
          reply.arpc = arpc;
          reply.issuerAuthData = issuerAuthenticationData(arpc, arc);
        }
        if (code === '00') reply.authCode = String(100000 + this.authorized.size).slice(0, 6);
        this.authorized.set(ref, { ref, amount, code, reversed: false });
        return reply;
      }
      case 'reversal': {
        const orig = this.authorized.get(String(m.originalRef));
        const accepted = orig !== undefined && orig.code === '00' && !orig.reversed;
        if (orig && accepted) orig.reversed = true;
        return { type: 'reversal', ref: m.ref ?? '', accepted, ...(accepted ? {} : { reason: 'unknown or already reversed' }) };
      }
      case 'batch': {
        const mine = [...this.authorized.values()].filter((a) => a.code === '00' && !a.reversed);
        const refs = (m.refs as string[]) ?? [];
        // Offline approvals (TC) were never seen online: the batch brings them to the acquirer.
        const differences = mine.filter((a) => !refs.includes(a.ref)).map((a) => a.ref);
        return { type: 'batch', accepted: true, acquirerCount: Number(m.count), acquirerTotal: Number(m.total), differences };
      }
      default:
        return { type: 'error', reason: 'unknown message type' };
    }
  }
}

/** A kernel transport for `acquirer` endpoints (until the kernel ships its own): one frame out, one frame back. */
const tcpTransport = (fake: FakeAcquirer): Transport => ({
  send: (ep: NetworkEndpoint, message: WireValue) =>
    new Promise<WireValue>((resolve, reject) => {
      if (fake.unreachable) return reject(Object.assign(new Error('acquirer unreachable'), { code: 'E_NET' }));
      const s = connect(ep.port, ep.host);
      const dec = new FrameDecoder(1 << 20);
      s.on('connect', () => s.write(encodeFrame(message)));
      s.on('data', (c) => {
        const out = dec.push(c);
        if (out.length > 0) {
          resolve(out[0] as WireValue);
          s.end();
        }
      });
      s.on('error', reject);
    }),
  fetch: async () => {
    throw new Error('fetch is not part of the acquirer protocol');
  },
});

// ---- a card that misbehaves in one chosen way --------------------------------------------------

type Mutate = (apdu: Uint8Array, resp: Uint8Array) => Uint8Array;

class TamperedCard implements CardModel {
  readonly kind = 'emv';
  constructor(
    private readonly inner: CardModel,
    private readonly mutate: Mutate,
  ) {}
  reset(): Uint8Array {
    return this.inner.reset();
  }
  process(apdu: Uint8Array): Uint8Array | null {
    let r = this.inner.process(apdu);
    // Collect a T=0 "61xx" answer here, so the mutation sees (and returns) the whole response.
    while (r !== null && r.length === 2 && r[0] === 0x61) r = this.inner.process(Uint8Array.of(0x00, 0xc0, 0x00, 0x00, r[1]!));
    return r === null ? null : this.mutate(apdu, r);
  }
}

const isReadRecord = (apdu: Uint8Array, sfi: number, rec: number) => apdu[1] === 0xb2 && apdu[2] === rec && apdu[3] === ((sfi << 3) | 4);
const withSw = (data: Uint8Array) => Uint8Array.from([...data, 0x90, 0x00]);

/** Record SFI 1 / 2 rebuilt with its 70 children changed. */
function editRecord2(edit: (children: Uint8Array[], tags: number[]) => Uint8Array[]): Mutate {
  return (apdu, resp) => {
    if (!isReadRecord(apdu, 1, 2) || resp.at(-2) !== 0x90) return resp;
    const t70 = parseTlv(resp.subarray(0, resp.length - 2))[0]!;
    const kids = t70.children!;
    const parts = edit(
      kids.map((k) => encodeTlv(k.tag, k.value)),
      kids.map((k) => k.tag),
    );
    const body = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of parts) {
      body.set(p, at);
      at += p.length;
    }
    return withSw(encodeTlv(0x70, body));
  };
}

// ---- the kernel under test ---------------------------------------------------------------------

interface Result {
  status: string;
  transactionRef: string;
  authCode?: string;
}

describe('payment applet: EMV contact kernel', () => {
  let dk: DevKernel;
  const fake = new FakeAcquirer();
  const views: string[] = [];
  const results: Result[] = [];

  beforeAll(async () => {
    await fake.start();
    const policy: Policy = structuredClone(loadPolicyFile(join(repoRoot(), 'policies', 'payment.json')));
    policy.network.endpoints = policy.network.endpoints.map((e) => (e.name === 'acquirer' ? { ...e, port: fake.port } : e));
    const script = await bundleApplet(join(repoRoot(), 'applets', 'payment-stub'), 'main.ts');
    dk = await bootDev([{ policy, script, filename: 'payment.js' }]);
    // The kernel's own acquirer transport when it has one (it reaches the fake through the policy's port).
    if (!dk.kernel.transports.has('acquirer')) dk.kernel.transports.set('acquirer', tcpTransport(fake));
    dk.kernel.terminal.on('view', (v) => views.push(JSON.stringify(v)));
    // Random selection off, so "offline below the floor limit" is deterministic; tested on its own below.
    dk.kernel.store('payment').put('terminal-params', { targetPercent: 0, maxTargetPercent: 0 });
  }, 60_000);

  afterAll(async () => {
    await dk?.close();
    await fake.close();
  });

  const call = async (amount: unknown, currency: unknown = 'EUR'): Promise<Result> => {
    const r = (await dk.kernel.call('payment', 'onIntent', [{ from: 'test', action: 'charge', payload: { amount: amount as WireValue, currency: currency as WireValue, reference: 'FSE-42' } }])) as unknown as Result;
    results.push(r);
    return r;
  };
  const insert = async (card: CardModel | string) => {
    dk.kernel.insertCard(0, typeof card === 'string' ? await loadCard(card, KEY_DIR) : card);
    await until(() => dk.kernel.broker.cardsFor('payment').length > 0, 10_000, 'card routed to payment');
  };
  const remove = async () => {
    dk.kernel.removeCard(0);
    await until(() => dk.kernel.broker.cardsFor('payment').length === 0, 10_000, 'card gone');
  };
  const pinPrompt = () => until(() => dk.kernel.terminal.current().pinEntry, 15_000, 'PIN prompt');
  const typePin = async (pin = '1234') => {
    await pinPrompt();
    dk.kernel.terminal.typeKeys([...(pin.split('') as Array<'1'>), 'OK']);
  };
  const entry = (ref: string) => dk.kernel.store('payment').get(`tx/${ref}`) as Record<string, unknown>;
  const screenText = () => dk.kernel.terminal.current().screen.lines.join(' / ');

  it('emv-approuve-offline: 23,00 EUR approved offline (TC) below the floor limit, receipts masked', async () => {
    await insert('emv-approuve-offline');
    const run = call(2300);
    await typePin();
    const r = await run;
    expect(r).toEqual({ status: 'approved', transactionRef: expect.any(String) });
    expect(Object.keys(r).sort()).toEqual(['status', 'transactionRef']);
    const e = entry(r.transactionRef);
    expect(e).toMatchObject({ status: 'approved', stage: 'done', online: false, cryptogramType: 'TC', aid: 'A0000000421010', label: 'CB', maskedPan: '497010******0014', amount: 2300, reference: 'FSE-42' });
    expect(String(e.oda)).toBe('dda:ok');
    expect(e.tvr).toBe('0000000000');
    const receipts = e.receipts as { merchant: string[]; cardholder: string[] };
    const text = receipts.cardholder.join('\n');
    expect(text).toContain('497010******0014');
    expect(text).toContain('MONTANT = 23,00 EUR');
    expect(text).toContain('CONSERVEZ CE TICKET');
    expect(text).toContain('A0000000421010');
    expect(text).toContain(r.transactionRef);
    expect(receipts.merchant.join('\n')).toContain('TICKET COMMERCANT');
    expect(JSON.stringify(receipts)).not.toContain('4970100000000014');
    expect(dk.kernel.store('payment').get('receipt/last')).toMatchObject({ ref: r.transactionRef });
    expect(screenText()).toContain('Paiement accepté');
    // The CA keys came from the acquirer once and are cached in the store.
    expect(fake.requests.filter((q) => q.type === 'ca-keys')).toHaveLength(1);
    expect(dk.kernel.store('payment').get('ca-keys')).toBeTruthy();
    await remove();
  });

  it('emv-approuve-offline: 150,00 EUR goes online (floor limit) and is approved with an auth code; the ARQC verified', async () => {
    await insert('emv-approuve-offline');
    const run = call(15_000);
    await typePin();
    const r = await run;
    expect(r.status).toBe('approved');
    expect(r.authCode).toMatch(/^\d{6}$/);
    const auth = fake.requests.filter((q) => q.type === 'authorize').at(-1)!;
    expect(auth).toMatchObject({ ref: r.transactionRef, amount: 15_000, currency: 978, terminalId: 'DI000001', pan: '4970100000000014', psn: 1 });
    expect((auth.tvr as Uint8Array)[3]! & 0x80).toBe(0x80); // floor limit exceeded
    expect(auth.cvmResults).toEqual(Uint8Array.of(0x41, 0x03, 0x02)); // plaintext PIN, successful
    expect(fake.authorized.get(r.transactionRef)?.code).toBe('00'); // not A1: acInput is what the card MACed
    expect(entry(r.transactionRef)).toMatchObject({ status: 'approved', online: true, responseCode: '00', cryptogramType: 'ARQC/TC', authCode: r.authCode });
    expect(fake.requests.filter((q) => q.type === 'ca-keys')).toHaveLength(1);
    await remove();
  });

  it('emv-online: approved online (DDA only, format 1 answers)', async () => {
    await insert('emv-online');
    const run = call(5_000);
    await typePin();
    const r = await run;
    expect(r.status).toBe('approved');
    expect(r.authCode).toBeTruthy();
    expect(entry(r.transactionRef)).toMatchObject({ aid: 'A0000000041010', maskedPan: '541333******0027', oda: 'dda:ok', cryptogramType: 'ARQC/TC' });
    await remove();
  });

  it('emv-online: declined by the acquirer\'s amount rule (05), the card gives an AAC', async () => {
    dk.kernel.store('payment').put('terminal-params', { targetPercent: 0, maxTargetPercent: 0, maxAmount: 300_000 });
    try {
      await insert('emv-online');
      const run = call(200_000);
      await typePin();
      const r = await run;
      expect(r).toEqual({ status: 'declined', transactionRef: expect.any(String) });
      expect(entry(r.transactionRef)).toMatchObject({ responseCode: '05', reason: 'Refusé par la banque', cryptogramType: 'ARQC/AAC' });
      expect(screenText()).toContain('Paiement refusé');
    } finally {
      dk.kernel.store('payment').put('terminal-params', { targetPercent: 0, maxTargetPercent: 0 });
      await remove();
    }
  });

  it('emv-online: acquirer unreachable → default action analysis, the card declines (Z3)', async () => {
    fake.unreachable = true;
    try {
      await insert('emv-online');
      const run = call(4_000);
      await typePin();
      const r = await run;
      expect(r.status).toBe('declined');
      expect(entry(r.transactionRef)).toMatchObject({ reason: 'Autorisation impossible', cryptogramType: 'ARQC/AAC' });
    } finally {
      fake.unreachable = false;
      await remove();
    }
  });

  it('emv-refus: the card declines at the first GENERATE AC (SDA card)', async () => {
    await insert('emv-refus');
    const run = call(1_000);
    await typePin();
    const r = await run;
    expect(r.status).toBe('declined');
    expect(entry(r.transactionRef)).toMatchObject({ cryptogramType: 'AAC', oda: 'sda:ok', maskedPan: '497010******0030' });
    // SDA selected (TVR byte 1 bit 2), nothing failed.
    expect(entry(r.transactionRef).tvr).toBe('0200000000');
    await remove();
  });

  it('wrong PIN: "Code faux, il reste 2 essais", then the right PIN is accepted', async () => {
    await insert('emv-approuve-offline');
    const run = call(1_500);
    await typePin('9999');
    await until(() => dk.kernel.terminal.current().pinEntry?.prompt.startsWith('Code faux, il reste 2 essais'), 15_000, 'second PIN prompt');
    await typePin('1234');
    const r = await run;
    expect(r.status).toBe('approved');
    expect(views.some((v) => v.includes('Code faux, il reste 2 essais'))).toBe(true);
    await remove();
  });

  it('emv-pin-bloque: PIN try limit exceeded → TVR bit, "Carte bloquée", declined', async () => {
    await insert('emv-pin-bloque');
    const r = await call(2_000);
    expect(r.status).toBe('declined');
    const e = entry(r.transactionRef);
    expect(e.reason).toBe('Carte bloquée');
    expect(parseInt(String(e.tvr).slice(4, 6), 16) & 0x20).toBe(0x20);
    expect(screenText()).toContain('Carte bloquée');
    await remove();
  });

  it('emv-expiree: expired application (TVR), DDA fails on the certificate date, declined', async () => {
    await insert('emv-expiree');
    const run = call(2_000);
    await typePin();
    const r = await run;
    expect(r.status).toBe('declined');
    const e = entry(r.transactionRef);
    expect(e.reason).toBe('Carte expirée');
    expect(String(e.oda)).toMatch(/^dda:failed \(ICC certificate expired\)/);
    const tvr = fromHex(String(e.tvr));
    expect(tvr[0]! & 0x08).toBe(0x08); // DDA failed
    expect(tvr[1]! & 0x40).toBe(0x40); // expired application
    await remove();
  });

  it('emv-sans-pse: selection by the terminal AID list', async () => {
    await insert('emv-sans-pse');
    const run = call(900);
    await typePin();
    const r = await run;
    expect(r.status).toBe('approved');
    expect(entry(r.transactionRef)).toMatchObject({ aid: 'A0000000421010', label: 'CB' });
    await remove();
  });

  it('emv-deux-applications: equal priorities → the cardholder chooses on screen', async () => {
    await insert('emv-deux-applications');
    const run = call(1_200);
    const q = await until(() => dk.kernel.terminal.current().question, 15_000, 'application choice');
    expect(q.choices).toEqual(['CB', 'VISA DEBIT', 'Annuler']);
    dk.kernel.terminal.answer(1);
    await typePin();
    const r = await run;
    expect(r.status).toBe('approved');
    expect(entry(r.transactionRef)).toMatchObject({ aid: 'A0000000031010', label: 'VISA DEBIT' });
    await remove();
  });

  it('card removed during PIN entry → cancelled, "Carte retirée" in the journal', async () => {
    await insert('emv-approuve-offline');
    const run = call(3_000);
    await pinPrompt();
    dk.kernel.removeCard(0);
    await until(() => dk.kernel.broker.cardsFor('payment').length === 0, 10_000, 'card gone');
    // If the kernel keeps the PIN pad open, the digits still reach nothing: the card is gone.
    if (dk.kernel.terminal.current().pinEntry) dk.kernel.terminal.typeKeys(['1', '2', '3', '4', 'OK']);
    const r = await run;
    expect(r.status).toBe('cancelled');
    expect(entry(r.transactionRef)).toMatchObject({ status: 'cancelled', reason: 'Carte retirée', maskedPan: '497010******0014' });
    expect(screenText()).toContain('Carte retirée');
  });

  it('amount limits and currency are checked before any card is touched', async () => {
    for (const [amount, currency, why] of [
      [0, 'EUR', 'Montant minimum 0,01 EUR'],
      [150_001, 'EUR', 'Montant maximum 1 500,00 EUR'],
      [12.5, 'EUR', 'Montant invalide'],
      [100, 'USD', 'Devise non acceptée'],
    ] as const) {
      const r = await call(amount, currency);
      expect(r.status).toBe('error');
      expect(screenText()).toContain(why);
      expect(entry(r.transactionRef)).toMatchObject({ status: 'error', reason: why });
    }
    // Numeric currency 978 is accepted too (it waits for a card, then is cancelled).
    const run = call(100, 978);
    const q = await until(() => dk.kernel.terminal.current().question, 10_000, 'insert card question');
    expect(q.choices).toEqual(['Annuler']);
    expect(screenText()).toContain('Montant : 1,00 EUR');
    expect(screenText()).toContain('Insérez la carte');
    dk.kernel.terminal.answer(0);
    expect((await run).status).toBe('cancelled');
  });

  it('a reversal of the last approved payment, through main() and the store command', async () => {
    await insert('emv-approuve-offline');
    const run = call(4_200);
    await typePin();
    const paid = await run;
    expect(paid.status).toBe('approved');
    await remove();
    dk.kernel.store('payment').put('command', { action: 'reversal' });
    const r = (await dk.kernel.call('payment', 'main')) as Record<string, unknown>;
    expect(r).toMatchObject({ status: 'refused', originalRef: paid.transactionRef }); // an offline TC the acquirer never saw
    // Online-approved payments can be reversed at the acquirer.
    await insert('emv-online');
    const run2 = call(6_000);
    await typePin();
    const paid2 = await run2;
    expect(paid2.status).toBe('approved');
    await remove();
    dk.kernel.store('payment').put('command', { action: 'reversal' });
    const r2 = (await dk.kernel.call('payment', 'main')) as Record<string, unknown>;
    expect(r2).toMatchObject({ status: 'accepted', originalRef: paid2.transactionRef });
    expect(fake.requests.at(-1)).toMatchObject({ type: 'reversal', originalRef: paid2.transactionRef, amount: 6_000 });
    expect(entry(paid2.transactionRef).reversed).toBe(true);
    expect(dk.kernel.store('payment').get('command')).toBeUndefined();
    // Twice is refused locally.
    dk.kernel.store('payment').put('command', { action: 'reversal' });
    expect(await dk.kernel.call('payment', 'main')).toMatchObject({ status: 'refused', reason: 'already reversed' });
  });

  it('the daily batch sends the approved, not reversed payments and marks them collected', async () => {
    dk.kernel.store('payment').put('command', { action: 'batch' });
    const r = (await dk.kernel.call('payment', 'main')) as { status: string; count: number; total: number };
    const approved = results.filter((x) => x.status === 'approved').map((x) => entry(x.transactionRef)).filter((e) => !e.reversed);
    expect(r.status).toBe('accepted');
    expect(r.count).toBe(approved.length);
    expect(r.total).toBe(approved.reduce((s, e) => s + Number(e.amount), 0));
    const sent = fake.requests.at(-1)!;
    expect(sent).toMatchObject({ type: 'batch', terminalId: 'DI000001', count: r.count, total: r.total });
    expect(approved.every((e) => entry(String(e.ref)).batched === true)).toBe(true);
    dk.kernel.store('payment').put('command', { action: 'batch' });
    expect(await dk.kernel.call('payment', 'main')).toMatchObject({ status: 'accepted', count: 0, total: 0 });
  });

  it('a debit interrupted after its authorization left is closed and reversed at restart (recover)', async () => {
    // As a crash would leave it: journaled at 'authorizing', approved at the acquirer, never completed.
    await fake.handle({ type: 'authorize', ref: 'DI000001-CRASH-1', amount: 700, pan: '4970100000000014', psn: 1, atc: Uint8Array.of(0, 1), arqc: new Uint8Array(8), acInput: new Uint8Array(0) });
    fake.authorized.get('DI000001-CRASH-1')!.code = '00';
    dk.kernel.store('payment').put('tx/DI000001-CRASH-1', { ref: 'DI000001-CRASH-1', kind: 'debit', reference: 'X', amount: 700, currency: 978, date: '261130', time: '120000', stage: 'authorizing', updatedAt: 0 });
    dk.kernel.store('payment').put('command', { action: 'recover' });
    expect(await dk.kernel.call('payment', 'main')).toMatchObject({ status: 'recovered', count: 1, refs: ['DI000001-CRASH-1'] });
    expect(entry('DI000001-CRASH-1')).toMatchObject({ status: 'error', stage: 'done', reason: 'Transaction interrompue', reversed: true });
    expect(fake.requests.at(-1)).toMatchObject({ type: 'reversal', originalRef: 'DI000001-CRASH-1' });
  });

  describe('malformed card answers end in error with a reason, never a crash', () => {
    const cases: Array<[string, () => Promise<CardModel>, string]> = [
      ['hostile-malformed-tlv (indefinite length in the FCI)', () => loadCard('hostile-malformed-tlv', KEY_DIR), 'Réponse de la carte invalide'],
      [
        'inconsistent AFL (first record after the last)',
        async () =>
          new TamperedCard(await loadCard('emv-approuve-offline', KEY_DIR), (apdu, resp) =>
            apdu[1] === 0xa8 && resp.at(-2) === 0x90 ? withSw(encodeTlv(0x77, Uint8Array.from([...encodeTlv(0x82, fromHex('7800')), ...encodeTlv(0x94, fromHex('08030100'))]))) : resp,
          ),
        'AFL incohérent',
      ],
      ['missing CDOL1 (8C)', async () => new TamperedCard(await loadCard('emv-approuve-offline', KEY_DIR), editRecord2((parts, tags) => parts.filter((_, i) => tags[i] !== 0x8c))), 'Donnée obligatoire absente'],
      ['a tag twice (5F24)', async () => new TamperedCard(await loadCard('emv-approuve-offline', KEY_DIR), editRecord2((parts, tags) => [...parts, parts[tags.indexOf(0x5f24)]!])), 'Données de la carte en double'],
      ['oversized record (> 254 bytes)', async () => new TamperedCard(await loadCard('emv-approuve-offline', KEY_DIR), editRecord2((parts) => [...parts, encodeTlv(0xdf01, new Uint8Array(200))])), 'Enregistrement trop long'],
    ];
    for (const [name, make, reason] of cases) {
      it(name, async () => {
        await insert(await make());
        try {
          const r = await call(1_000);
          expect(r.status).toBe('error');
          expect(entry(r.transactionRef)).toMatchObject({ status: 'error', reason });
          expect(screenText()).toContain(reason);
          expect(dk.kernel.status().domains.find((d) => d.domain === 'payment')?.restarts ?? 0).toBe(0);
        } finally {
          await remove();
        }
      });
    }
  });

  it('no PAN, track 2, cryptogram or PIN on screen, in logs, the audit log or intent results', () => {
    const logs = existsSync(join(dk.dataDir, 'logs')) ? readdirSync(join(dk.dataDir, 'logs')).map((f) => readFileSync(join(dk.dataDir, 'logs', f), 'utf8')) : [];
    const audit = readFileSync(join(dk.dataDir, 'audit.log'), 'utf8');
    const all = [...views, ...logs, audit, JSON.stringify(results)].join('\n');
    for (const pan of PANS) {
      expect(all).not.toContain(pan);
      expect(all.toUpperCase()).not.toContain(`${pan}D`); // track 2 equivalent
    }
    expect(all).not.toMatch(/\b1234\b|31323334|\b9999\b/);
    for (const r of results) expect(Object.keys(r).every((k) => ['status', 'transactionRef', 'authCode'].includes(k))).toBe(true);
    expect(views.some((v) => v.includes('Montant : 23,00 EUR'))).toBe(true);
  });
});

describe('payment applet: pure parts', () => {
  it('AFL entries are checked (SFI, record range, ODA count, overlaps)', () => {
    expect(parseAfl(fromHex('0801020210010300'))).toHaveLength(2);
    for (const bad of ['', '080102', '08020100', '08010203', '00010100', '0801020208020200', '0901010000']) {
      expect(() => parseAfl(fromHex(bad)), bad).toThrow(/AFL/);
    }
  });

  it('DOL data: numeric right-justified, binary left-justified, unknown tags as zeros', () => {
    const dol = parseDol(fromHex('9F02069F1A029F37049F7C02'), 'test');
    const data = buildDolData(dol, (t) => (t === 0x9f02 ? fromHex('2300') : t === 0x9f1a ? fromHex('0250') : t === 0x9f37 ? fromHex('0102030405') : undefined));
    expect(toHex(data)).toBe('000000002300' + '0250' + '01020304' + '0000');
  });

  it('random selection probability interpolates from the target to the maximum below the floor limit', () => {
    const p = { ...DEFAULT_PARAMS, floorLimit: 10_000, randomThreshold: 2_000, targetPercent: 5, maxTargetPercent: 25 };
    expect(randomSelectionPercent(1_000, p)).toBe(5);
    expect(randomSelectionPercent(6_000, p)).toBe(15);
    expect(randomSelectionPercent(10_000, p)).toBe(0);
  });

  it('RSA recovery with BigInt modPow (e = 3) and masking/amount formats', () => {
    expect(modPow(4n, 13n, 497n)).toBe(445n);
    // n = 61 * 53 = 3233, e = 17, d = 2753: recovering the signature of 65 gives 65 back.
    const sig = modPow(65n, 2753n, 3233n);
    expect(rsaRecover(Uint8Array.of(Number(sig >> 8n), Number(sig & 0xffn)), Uint8Array.of(0x0c, 0xa1), Uint8Array.of(17))).toEqual(Uint8Array.of(0, 65));
    expect(maskPan('4970100000000014')).toBe('497010******0014');
    expect(formatAmount(150_000)).toBe('1 500,00 EUR');
    expect(formatAmount(2_300)).toBe('23,00 EUR');
  });
});
