/**
 * "The applet touches no card but Vitale and CPS classes" (issue 4). Two parts:
 *
 * 1. Observed: the real SESAM-Vitale applet and the REAL payment applet (applets/payment-stub, the
 *    emulated acquirer) run a day's work — CPS read with its PIN, Vitale read, FSE secured (Vitale
 *    INTERNAL AUTHENTICATE, CPS signature), the patient part charged on an EMV card. The kernel's
 *    hash-chained audit log (<dataDir>/audit.log, platform/kernel/audit.ts) then shows that every card
 *    offered to sesam-vitale and every lease it took or lost concerns the classes vitale or cps only,
 *    and that the EMV card was offered (and leased) to payment only.
 *
 * 2. Attacked: a development applet under a copy of the sesam-vitale policy (same domain, same card
 *    classes and APDU allowlists) tries to reach the EMV card: platform.slots.acquire on its slot, and
 *    EMV commands (SELECT of the EMV AID and of the PSE, GET PROCESSING OPTIONS, GENERATE AC, an EMV
 *    VERIFY, a PIN entry with the EMV PIN reference) sent through the lease it does hold, on the
 *    Vitale card. The EMV card is watched at the APDU level: nothing reaches it.
 *
 * What the broker answers (platform/slot-broker): E_NOT_ROUTED for a slot whose card is routed to
 * another domain (leases.ts), E_APDU_DENIED for a (CLA, INS, P1, P2) outside the card class's
 * allowlist and for any PIN-carrying INS (apdu-filter.ts), E_POLICY from pin.verify for a PIN
 * reference the class does not list. Besides (CLA, INS[, P1, P2]), a SELECT by DF name must name one
 * of the class's own AIDs (policy `aids`): a card carrying a Vitale and an EMV application would
 * otherwise let health select the EMV one through its lease.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appletBundle, bootBilling, CONTEXT, paymentStandIn, todayIso, type Billing, type R } from '../support/billing.js';
import { bootDev, until, type DevKernel } from '../support/dev-kernel.js';
import { loadCard } from '../../emulator/cards/profiles.js';
import type { CardModel } from '../../emulator/cards/card.js';
import { startAcquirer, type AcquirerServer } from '../../emulator/acquirer/server.js';
import { readAuditEntries, verifyAuditFile, type AuditEntry } from '../../platform/kernel/audit.js';
import { loadPolicyFile } from '../../platform/kernel/policy/loader.js';
import { repoRoot } from '../../platform/kernel/paths.js';
import { KEY_DIR, emvCard } from '../unit/acquirer/emv-terminal.js';
import { auditExcerpt, evidence } from './evidence.js';
import { profile, realPolicies } from '../unit/acquirer/payment-fixtures.js';

const HEALTH_CLASSES = ['vitale', 'cps'];
const EMV_AID = [0xa0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10];
const PSE = [...'1PAY.SYS.DDF01'].map((c) => c.charCodeAt(0));

/** Wraps a card so that every command it receives is counted: the raw traffic of that slot. */
function recording(card: CardModel, log: Uint8Array[]): CardModel {
  return {
    kind: card.kind,
    reset: () => card.reset(),
    process: (apdu) => {
      log.push(apdu.slice());
      return card.process(apdu);
    },
    ...(card.processingMs && { processingMs: (apdu: Uint8Array) => card.processingMs!(apdu) }),
  };
}

function audit(dataDir: string): AuditEntry[] {
  const path = join(dataDir, 'audit.log');
  const v = verifyAuditFile(path);
  expect(v, JSON.stringify(v)).toMatchObject({ ok: true });
  const { entries, problems } = readAuditEntries(path);
  expect(problems).toEqual([]);
  return entries;
}

const slotOf = (e: AuditEntry): number | undefined => (typeof e.fields.slot === 'number' ? e.fields.slot : undefined);
const classOf = (e: AuditEntry): string | undefined => (typeof e.fields.cardClass === 'string' ? e.fields.cardClass : undefined);

describe('billing confinement, observed: the real applets at work, read back from the audit log', () => {
  let b: Billing;
  let acquirer: AcquirerServer;
  let journalDir: string;
  const emvTraffic: Uint8Array[] = [];
  const today = todayIso();

  beforeAll(async () => {
    journalDir = mkdtempSync(join(tmpdir(), 'di-acq-conf-sv-'));
    acquirer = await startAcquirer({ port: 0, keyDir: KEY_DIR, journalPath: join(journalDir, 'journal.jsonl') });
    const { payment } = realPolicies(acquirer.port);
    b = await bootBilling({
      payment: { policy: payment, script: await appletBundle('payment-stub'), filename: 'payment-stub/applet.js' },
      config: { reader: { driver: 'emulated', slots: 3, timing: false, baudRate: 9600, pcscReaders: [] } },
    });
    await until(() => b.dk.kernel.handlers.get('payment')?.includes('onIntent'), 20_000, 'payment ready');
    // The bank card first, so that it sits in the reader through the whole health session.
    b.dk.kernel.insertCard(2, recording(await emvCard('emv-online'), emvTraffic));
    await until(() => b.dk.kernel.broker.cardsFor('payment').length > 0, 10_000, 'EMV card routed to payment');
    await b.insertCps(0, 'cps-medecin-generaliste', '1234', 0);
    await b.insertVitale(1, 'vitale-assure-seul');
  }, 90_000);

  afterAll(async () => {
    await b?.close();
    await acquirer?.close();
    if (journalDir) rmSync(journalDir, { recursive: true, force: true });
  });

  it('an FSE secured and its patient part charged by card: health leased only vitale/cps, payment only the EMV card', async (ctx) => {
    const f = await b.act('fse.create', { acts: [{ date: today, code: 'G' }], context: CONTEXT });
    expect(f, JSON.stringify(f)).toMatchObject({ ok: true, invoiceNo: 1 });
    b.dk.kernel.terminal.typeKeys(['1', '2', '3', '4', 'OK']);
    const p = await b.act('fse.pay', { invoiceNo: 1 });
    expect(p, JSON.stringify(p)).toMatchObject({ ok: true, status: 'approved' });
    // The charge really ran on the card in slot 2.
    expect(emvTraffic.length).toBeGreaterThan(0);

    const entries = audit(b.dk.dataDir);
    const offered = entries.filter((e) => e.event === 'card.offered');
    const health = entries.filter((e) => e.domain === 'sesam-vitale');
    const healthCards = health.filter((e) => e.event === 'card.offered' || e.event.startsWith('lease.'));

    // What the day looked like: the CPS and the Vitale card offered, leased (the CPS kept, the Vitale
    // taken to read and again to authenticate the FSE).
    expect(offered.filter((e) => e.domain === 'sesam-vitale').map(classOf).sort()).toEqual(['cps', 'vitale']);
    const leases = health.filter((e) => e.event === 'lease.acquire');
    expect(leases.filter((e) => classOf(e) === 'cps').length).toBeGreaterThanOrEqual(1);
    expect(leases.filter((e) => classOf(e) === 'vitale').length).toBeGreaterThanOrEqual(2);

    // Every card event and lease of sesam-vitale concerns a vitale or cps card, in the slots those sit in.
    const healthSlots = new Set(offered.filter((e) => e.domain === 'sesam-vitale').map(slotOf));
    expect([...healthSlots].sort()).toEqual([0, 1]);
    for (const e of healthCards) {
      if (classOf(e) !== undefined) expect(HEALTH_CLASSES, JSON.stringify(e)).toContain(classOf(e));
      expect(healthSlots.has(slotOf(e)), JSON.stringify(e)).toBe(true);
    }
    // Nothing of sesam-vitale's names the EMV card's slot at all.
    expect(health.filter((e) => slotOf(e) === 2)).toEqual([]);

    // The EMV card was offered to payment only, and leased by payment only.
    const slot2 = entries.filter((e) => slotOf(e) === 2 && (e.event === 'card.offered' || e.event.startsWith('lease.')));
    expect(slot2.filter((e) => e.event === 'card.offered')).toHaveLength(1);
    expect(slot2.filter((e) => e.event === 'card.offered')[0]).toMatchObject({ domain: 'payment', fields: { cardClass: 'emv' } });
    expect(slot2.filter((e) => e.event === 'lease.acquire').length).toBeGreaterThanOrEqual(1);
    for (const e of slot2) expect(e.domain, JSON.stringify(e)).toBe('payment');
    // And payment leased nothing else.
    for (const e of entries.filter((x) => x.domain === 'payment' && x.event === 'lease.acquire')) expect(e.fields).toMatchObject({ slot: 2, cardClass: 'emv' });

    evidence(ctx, 'card events and leases', auditExcerpt(entries.filter((e) => e.event === 'card.offered' || e.event.startsWith('lease.')), 20));
  });
});

// ---- the attack -----------------------------------------------------------------------------------

/** Runs under the sesam-vitale policy; driven through onAction ('status' is one of its ui.actions). */
const ATTACKER = `
const err = (e) => ({ code: String(e && e.code), message: String(e && e.message) });
const sw = (r) => r[r.length - 2] * 256 + r[r.length - 1];
globalThis.onAction = async (req) => {
  const p = req.payload;
  if (p.op === 'list') return { cards: await platform.slots.list() };
  if (p.op === 'acquire') {
    try { const l = await platform.slots.acquire(p.slot, { timeoutMs: 500 }); const c = l.cardClass; await l.release(); return { acquired: c }; }
    catch (e) { return err(e); }
  }
  if (p.op === 'transmit') {
    const l = await platform.slots.acquire(p.slot, { timeoutMs: 2000 });
    try {
      const out = [];
      for (const a of p.apdus) {
        try { const r = await l.transmit(new Uint8Array(a)); out.push({ sw: sw(r), dataLength: r.length - 2 }); }
        catch (e) { out.push(err(e)); }
      }
      let pin;
      try { pin = await platform.pin.verify(l, { reference: 0x80, format: 'emv-plaintext', prompt: 'Code' }); }
      catch (e) { pin = err(e); }
      return { cardClass: l.cardClass, out, pin };
    } finally { await l.release(); }
  }
  return { unknown: p.op };
};
`;

describe('billing confinement, attacked: an applet under the sesam-vitale policy goes for the EMV card', () => {
  let dk: DevKernel;
  const emvTraffic: Uint8Array[] = [];
  let routingProbes = 0;
  const act = (payload: R) => dk.kernel.action('sesam-vitale', 'status', payload) as Promise<R>;

  beforeAll(async () => {
    // The real policy, copied: same domain, same card classes, same allowlists.
    const policy = structuredClone(loadPolicyFile(join(repoRoot(), 'policies', 'sesam-vitale.json')));
    dk = await bootDev([{ policy, script: ATTACKER, filename: 'attacker.js' }, paymentStandIn()]);
    await until(() => dk.kernel.handlers.get('sesam-vitale')?.includes('onAction'), 20_000, 'attacker ready');
    dk.kernel.insertCard(0, await loadCard('vitale-assure-seul'));
    dk.kernel.insertCard(1, recording(await emvCard('emv-online'), emvTraffic));
    await until(() => dk.kernel.broker.cardsFor('sesam-vitale').length > 0 && dk.kernel.broker.cardsFor('payment').length > 0, 10_000, 'cards routed');
    // What the broker itself sent to tell the EMV card from Vitale/CPS (SELECT by AID probes).
    routingProbes = emvTraffic.length;
  }, 60_000);

  afterAll(async () => {
    await dk?.close();
  });

  it('the EMV card is not even listed to it, and acquiring its slot is refused E_NOT_ROUTED', async (ctx) => {
    expect(await act({ op: 'list' })).toEqual({ cards: [{ slot: 0, cardClass: 'vitale', atr: expect.any(String) }] });
    const r = await act({ op: 'acquire', slot: 1 });
    expect(r).toEqual({ code: 'E_NOT_ROUTED', message: 'slot 1 holds no card routed to domain "sesam-vitale"' });
    // The refusal names neither the card's class nor the domain that holds it.
    expect(r.message).not.toMatch(/emv|payment/i);
    expect(emvTraffic.length).toBe(routingProbes);
    evidence(ctx, 'acquire of the EMV slot', r);
  });

  it('[XDOM-12] EMV commands through its Vitale lease: SELECTs of EMV applications, EMV-only instructions and PIN commands refused by the broker', async (ctx) => {
    const before = dk.kernel.audit.lastSeq;
    const r = await act({
      op: 'transmit',
      slot: 0,
      apdus: [
        [0x00, 0xa4, 0x04, 0x00, EMV_AID.length, ...EMV_AID, 0x00], // SELECT the EMV application
        [0x00, 0xa4, 0x04, 0x00, PSE.length, ...PSE, 0x00], // SELECT 1PAY.SYS.DDF01
        [0x80, 0xa8, 0x00, 0x00, 0x02, 0x83, 0x00, 0x00], // GET PROCESSING OPTIONS
        [0x80, 0xae, 0x80, 0x00, 0x02, 0x00, 0x00, 0x00], // GENERATE AC
        [0x00, 0x20, 0x00, 0x80, 0x08, 0x24, 0x12, 0x34, 0xff, 0xff, 0xff, 0xff, 0xff], // EMV plaintext VERIFY
      ],
    });
    expect(r.cardClass).toBe('vitale');
    const [selAid, selPse, gpo, genAc, verify] = r.out as R[];
    // Not applications of the vitale class: refused before any card sees them.
    expect(selAid).toEqual({ code: 'E_APDU_DENIED', message: 'applet APDU refused: SELECT of application A0000000041010 is not an application of card class "vitale" (policy aids)' });
    expect(selPse).toEqual({ code: 'E_APDU_DENIED', message: 'applet APDU refused: SELECT of application 315041592E5359532E4444463031 is not an application of card class "vitale" (policy aids)' });
    expect(gpo).toEqual({ code: 'E_APDU_DENIED', message: 'applet APDU refused: CLA 80 INS A8 P1 00 P2 00 is not in the allowlist of card class "vitale"' });
    expect(genAc).toEqual({ code: 'E_APDU_DENIED', message: 'applet APDU refused: CLA 80 INS AE P1 80 P2 00 is not in the allowlist of card class "vitale"' });
    expect(verify).toMatchObject({ code: 'E_APDU_DENIED' });
    expect(String(verify!.message)).toMatch(/VERIFY \(INS 20\) to card class "vitale" is never allowed from an applet/);
    expect(String(verify!.message)).not.toMatch(/1234|241234/);
    // The EMV PIN reference is not one of the vitale class's: refused before the keypad is read.
    expect(r.pin).toMatchObject({ code: 'E_POLICY' });
    expect(String((r.pin as R).message)).toContain('PIN reference 128 is not listed for card class vitale');
    expect(dk.kernel.terminal.current().pinEntry).toBe(null);

    // Not one APDU reached the EMV card.
    expect(emvTraffic.length).toBe(routingProbes);

    // The kernel audited the refusals, under the attacker's domain.
    const refused = dk.kernel.audit.entriesSince(before).filter((e) => e.event === 'call.refused' && e.domain === 'sesam-vitale');
    expect(refused.map((e) => [e.fields.op, e.fields.code])).toEqual([
      ['lease.transmit', 'E_APDU_DENIED'],
      ['lease.transmit', 'E_APDU_DENIED'],
      ['lease.transmit', 'E_APDU_DENIED'],
      ['lease.transmit', 'E_APDU_DENIED'],
      ['lease.transmit', 'E_APDU_DENIED'],
      ['pin.verify', 'E_POLICY'],
    ]);
    evidence(ctx, 'EMV commands on the Vitale lease', { out: r.out, pin: r.pin });
    evidence(ctx, 'audit', auditExcerpt(refused));
  });

  it('the EMV card stayed with payment: offered to payment only, never leased by sesam-vitale', () => {
    const entries = audit(dk.dataDir);
    const slot1 = entries.filter((e) => slotOf(e) === 1 && (e.event === 'card.offered' || e.event.startsWith('lease.')));
    expect(slot1.filter((e) => e.event === 'card.offered')).toEqual([expect.objectContaining({ domain: 'payment', fields: { slot: 1, cardClass: 'emv' } })]);
    expect(slot1.filter((e) => e.domain === 'sesam-vitale')).toEqual([]);
    for (const e of entries.filter((x) => x.domain === 'sesam-vitale' && x.event === 'lease.acquire')) expect(e.fields).toEqual({ slot: 0, cardClass: 'vitale' });
    // The audit file on disk is the one the kernel keeps in memory (read back, chain verified).
    expect(readFileSync(join(dk.dataDir, 'audit.log'), 'utf8').trim().split('\n').length).toBe(entries.length);
  });
});
