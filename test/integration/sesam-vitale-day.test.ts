/**
 * A practitioner's day on the real SESAM-Vitale applet, end to end on loopback (cards -> FSE -> lots
 * -> SMTP -> AMO -> ARL/RSP by POP3 -> reconciled), for what sesam-vitale-pipeline.test.ts does not
 * cover: acts in series (a nurse's dated sessions of one prescription, with a daily limit refused),
 * the DRE for the AMC part under tiers payant (two lots, two destinations, two files), the refusals
 * a practitioner meets (rights closed, a Vitale card with a wrong NIR key, a remplaçant who may not
 * sign lots, a blocked CPS, a future date, an unknown act), and the patient part charged with the
 * REAL payment applet on an emulated EMV card against the emulated acquirer.
 *
 * Expected amounts are computed here from the values docs/tariff.md states (AMI 3,15 €, IFD 2,75 €,
 * IK infirmier 0,35 €/km, G 30,00 €, rates 60 % / 70 %, participation forfaitaire 2 €, half-up
 * rounding per line), never with the applet's priceActs. Deadlines likewise, with a working-day
 * count written here (French public holidays, Easter from the Gregorian computus).
 *
 * Two kernel boots (each costs seconds): one for the nurse's day and the refusals, one for the DRE
 * and the payment.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appletBundle, bootBilling, CONTEXT, todayIso, type Billing, type R } from '../support/billing.js';
import { until } from '../support/dev-kernel.js';
import { loadCard } from '../../emulator/cards/profiles.js';
import { startAcquirer, type AcquirerServer } from '../../emulator/acquirer/server.js';
import { decodeRsp, type RspReport } from '../../applets/sesam-vitale/formats/rsp.js';
import type { Key, TerminalView } from '../../platform/kernel/terminal.js';
import { KEY_DIR, emvCard } from '../unit/acquirer/emv-terminal.js';
import { profile, realPolicies } from '../unit/acquirer/payment-fixtures.js';

// ---- independent expectations ---------------------------------------------------------------------

const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const ms = (d: string): number => Date.parse(`${d}T00:00:00Z`);
const shift = (d: string, days: number): string => iso(ms(d) + days * DAY);

/** Easter Sunday (anonymous Gregorian algorithm), as epoch ms at UTC midnight. */
function easter(y: number): number {
  const a = y % 19;
  const b = Math.floor(y / 100);
  const c = y % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return Date.UTC(y, month - 1, day);
}

function holidays(y: number): Set<string> {
  const fixed = ['01-01', '05-01', '05-08', '07-14', '08-15', '11-01', '11-11', '12-25'].map((md) => `${y}-${md}`);
  const e = easter(y);
  return new Set([...fixed, iso(e + DAY), iso(e + 39 * DAY), iso(e + 50 * DAY)]);
}

/** The n-th working day after `d` (not Saturday, Sunday or a national holiday). */
function workingDaysAfter(d: string, n: number): string {
  let t = ms(d);
  let left = n;
  while (left > 0) {
    t += DAY;
    const wd = new Date(t).getUTCDay();
    const s = iso(t);
    if (wd !== 0 && wd !== 6 && !holidays(Number(s.slice(0, 4))).has(s)) left--;
  }
  return iso(t);
}

/** Half-up rounding of n / d for non-negative integers (docs/tariff.md §2). */
const roundHalfUp = (n: number, d: number): number => Math.floor((2 * n + d) / (2 * d));

/** docs/tariff.md, table in force since 2024-12-22, in centimes. */
const TARIFF = { AMI: 315, IFD: 275, IK_INFIRMIER: 35, G: 3000, PARTICIPATION: 200 };

// ---- helpers --------------------------------------------------------------------------------------

const text = (v: TerminalView): string => [v.screen.title, ...v.screen.lines].join(' | ');

/** Inserts a Vitale card and picks the beneficiary on screen when the applet asks. */
async function insertVitaleAs(b: Billing, slot: number, name: string, beneficiary: number): Promise<R> {
  b.dk.kernel.insertCard(slot, await loadCard(name));
  const t0 = Date.now();
  for (;;) {
    if (b.dk.kernel.terminal.current().question) b.dk.kernel.terminal.answer(beneficiary);
    const s = await b.act('session.state');
    if (s.vitale) return s;
    if (Date.now() - t0 > 30_000) throw new Error(`timed out reading ${name}; last state ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** returns.fetch until `pred` holds on the status (the RSP may land a moment after the ARL). */
async function fetchUntil(b: Billing, pred: (st: R) => boolean): Promise<{ st: R; fetches: R[] }> {
  const fetches: R[] = [];
  for (let i = 0; i < 20; i++) {
    await b.amo.whenIdle();
    const r = await b.act('returns.fetch');
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, corrupt: [] });
    fetches.push(r);
    const st = await b.act('status');
    if (pred(st)) return { st, fetches };
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`returns never reached the expected state; fetches ${JSON.stringify(fetches)}`);
}

/** The RSPs the AMO emitted, decoded strictly from its own store. */
function rspReports(amoDir: string): RspReport[] {
  const db = new Database(join(amoDir, 'amo.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT body FROM rsp ORDER BY billing, seq').all() as Array<{ body: Buffer }>;
    return rows.map((r) => decodeRsp(new Uint8Array(r.body)));
  } finally {
    db.close();
  }
}

// ---- 1. a nurse's series, and the refusals ---------------------------------------------------------

describe('a day of acts in series (cps-infirmiere), then the refusals a practitioner meets', () => {
  let b: Billing;
  const views: TerminalView[] = [];
  const today = todayIso();
  const nurseContext = { ...CONTEXT, parcours: 'exempt' };
  const prescriptionDate = shift(today, -10);
  const series = { prescriberId: '19999000011', prescriptionDate };
  const d1 = shift(today, -3);
  const d2 = shift(today, -2);
  const d3 = shift(today, -1);
  const sessions = [
    { date: d1, code: 'AMI', coefficient: 1 },
    { date: d1, code: 'IFD' },
    { date: d1, code: 'IK', quantity: 12 },
    { date: d2, code: 'AMI', coefficient: 2 },
    { date: d2, code: 'AMI', coefficient: 1.5 },
    { date: d2, code: 'IFD' },
    { date: d3, code: 'AMI', coefficient: 3 },
    { date: d3, code: 'IFD' },
    { date: d3, code: 'IK', quantity: 8 },
  ];
  /** Per line: base = round(unit × coefficient) × quantity; AMO 60 % (auxiliaire médical), no participation, no AMC. */
  const expected = (() => {
    const lines = sessions.map((s) => {
      const unit = s.code === 'AMI' ? TARIFF.AMI : s.code === 'IFD' ? TARIFF.IFD : TARIFF.IK_INFIRMIER;
      const base = roundHalfUp(unit * Math.round((s.coefficient ?? 1) * 100), 100) * (s.quantity ?? 1);
      const amo = roundHalfUp(base * 60, 100);
      return { base, amo, patient: base - amo };
    });
    const sum = (k: 'base' | 'amo' | 'patient') => lines.reduce((a, l) => a + l[k], 0);
    return { charged: sum('base'), base: sum('base'), amo: sum('amo'), amc: 0, patient: sum('patient'), participation: 0 };
  })();
  let seriesNo = 0;

  beforeAll(async () => {
    b = await bootBilling();
    b.dk.kernel.terminal.on('view', (v) => views.push(v));
    await b.insertCps(0, 'cps-infirmiere');
    await b.insertVitale(1, 'vitale-assure-seul');
  }, 90_000);

  afterAll(async () => {
    await b?.close();
  });

  it('sessions breaking a daily limit (5 IFD on one day) are refused, in French, naming the act and the date; no number is used', async () => {
    const tooMany = [{ date: d2, code: 'AMI', coefficient: 1 }, ...Array.from({ length: 5 }, () => ({ date: d2, code: 'IFD' }))];
    const r = await b.act('fse.create', { acts: tooMany, context: nurseContext, series });
    expect(r.ok).toBe(false);
    const err = r.error as R;
    expect(err.code).toBe('daily-limit');
    expect(String(err.message)).toContain('IFD');
    expect(String(err.message)).toContain(d2);
    expect(String(err.message)).toMatch(/limite .* par jour/);
    expect((await b.act('status')).byState).toMatchObject({ created: 0, secured: 0 });
  });

  it('the sessions of one prescription are secured as ONE invoice priced as the tariff says (60 %, no participation)', async () => {
    const r = await b.act('fse.create', { acts: sessions, context: nurseContext, series });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, invoiceNo: 1 });
    seriesNo = r.invoiceNo as number;
    expect(r.dreNo).toBeUndefined();
    expect(r.totals).toEqual(expected);
    // The patient advances everything (no tiers payant): 3 working days after the last session.
    expect(r.patientToPay).toBe(expected.charged);
    expect(r.deadline).toBe(workingDaysAfter(d3, 3));
    const dup = (await b.act('fse.duplicate', { invoiceNo: seriesNo })).lines as string[];
    expect(dup.filter((l) => /^\d\d\/\d\d\/\d{4} (AMI|IFD|IK)\b/.test(l))).toHaveLength(sessions.length);
    expect((await b.act('status')).byState).toMatchObject({ secured: 1, created: 0 });
  });

  it('the series invoice reaches the AMO in one lot, gets a positive ARL and is paid the AMO part', async () => {
    const t = await b.act('transmit');
    expect(t, JSON.stringify(t)).toMatchObject({ ok: true, lotsBuilt: 1, errors: [] });
    expect(t.filesSent).toHaveLength(1);
    await b.amo.whenIdle();
    const files = b.amo.files();
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ status: 'processed', billingNumber: '691990030', destination: 'AMO-017519999', lots: [{ lotNo: 1, status: 'positive' }] });
    expect(files[0]!.invoices).toEqual([{ kind: 'FSE', invoiceNo: seriesNo, lotNo: 1, status: 'accepted' }]);

    const { st, fetches } = await fetchUntil(b, (s) => (s.paid as R).count === 1);
    expect(fetches.reduce((n, f) => n + (f.arl as number), 0)).toBe(1);
    expect(fetches.flatMap((f) => f.rejects as unknown[])).toEqual([]);
    expect(st.byState).toMatchObject({ paid: 1, sent: 0, 'arl-positive': 0, secured: 0 });
    // What the RSP paid, as the applet reconciled it, and as the AMO wrote it.
    expect(st.paid).toEqual({ count: 1, amount: expected.amo });
    const payments = rspReports(b.amoDir).flatMap((x) => x.payments);
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ invoiceNo: seriesNo, careDate: d3, charged: expected.charged, paid: expected.amo, status: 'paid' });
  });

  it('an unknown act code and a care date in the future are refused with what to do, before any number is taken', async () => {
    const unknown = await b.act('fse.create', { acts: [{ date: today, code: 'ZZQ' }], context: nurseContext });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'unknown-code', field: 'acts[0].code' } });
    expect(String((unknown.error as R).message)).toContain('ZZQ');
    expect(String((unknown.error as R).message)).toMatch(/inconnu/);

    const tomorrow = shift(today, 1);
    const future = await b.act('fse.create', { acts: [{ date: tomorrow, code: 'AMI', coefficient: 1 }], context: nurseContext });
    expect(future).toMatchObject({ ok: false, error: { code: 'date-future', field: 'acts[0].date' } });
    expect(String((future.error as R).message)).toContain(tomorrow);
    expect(String((future.error as R).message)).toMatch(/postérieur à aujourd'hui/);

    const st = await b.act('status');
    // Refused before numbering: nothing created, nothing to secure.
    expect(st.byState).toMatchObject({ created: 0, secured: 0, paid: 1 });
    expect(st.toSecure).toEqual([]);
  });

  it('vitale-droits-expires: the screen says the rights are closed and the FSE is refused for the care date', async () => {
    b.dk.kernel.removeCard(1);
    await b.waitState((s) => !s.vitale, 'Vitale removed');
    const s = await b.insertVitale(1, 'vitale-droits-expires');
    expect((s.vitale as R).beneficiaries).toMatchObject([{ surname: 'TESTPETIT', rightsOpenToday: false }]);
    await until(() => views.some((v) => v.domain === 'sesam-vitale' && text(v).includes('Droits fermés')), 5000, 'rights-closed screen');
    const r = await b.act('fse.create', { acts: [{ date: today, code: 'AMI', coefficient: 1 }], context: nurseContext });
    expect(r).toMatchObject({ ok: false, error: { code: 'rights-closed', field: 'beneficiary.rights' } });
    expect(String((r.error as R).message)).toContain(`Droits AMO fermés le ${today}`);
    expect(String((r.error as R).message)).toContain('2023-12-31');
  });

  it('vitale-nir-invalide: refused on screen (wrong NIR key), no patient in session, no FSE possible', async () => {
    b.dk.kernel.removeCard(1);
    await b.waitState((s) => !s.vitale, 'Vitale removed');
    const before = views.length;
    b.dk.kernel.insertCard(1, await loadCard('vitale-nir-invalide'));
    await until(() => views.slice(before).some((v) => v.domain === 'sesam-vitale' && text(v).includes('Carte Vitale refusée')), 15_000, 'bad NIR screen');
    const refused = views.slice(before).find((v) => text(v).includes('Carte Vitale refusée'))!;
    expect(text(refused)).toContain('Clé du NIR incorrecte');
    // The NIR is shown masked (first 5 characters and the key), never in full.
    expect(text(refused)).toMatch(/NIR \d{5}•{8} 33/);
    expect(text(refused)).not.toMatch(/\d{13}/);
    expect((await b.act('session.state')).vitale).toBeUndefined();
    const r = await b.act('fse.create', { acts: [{ date: today, code: 'AMI', coefficient: 1 }], context: nurseContext });
    expect(r).toMatchObject({ ok: false, error: { code: 'E_VITALE', message: 'Insérez la carte Vitale du patient' } });
    expect((await b.act('status')).byState).toMatchObject({ created: 0, secured: 0 });
  });

  it('cps-remplacant: the FSE is secured under the replaced practitioner\'s billing number; the remplaçant cannot sign lots, the titulaire\'s CPS does, and the AMO accepts it', async () => {
    b.dk.kernel.removeCard(0);
    b.dk.kernel.removeCard(1);
    await b.waitState((s) => !s.cps && !s.vitale, 'cards removed');
    const s = await b.insertCps(0, 'cps-remplacant');
    expect((s.cps as R).situations).toMatchObject([{ billingNumber: '331990051', canSignFse: true, canSignLot: false, remplacant: true }]);
    await b.insertVitale(1, 'vitale-assure-seul');
    const f = await b.act('fse.create', { acts: [{ date: today, code: 'G' }], context: CONTEXT });
    // Billed under the replaced practitioner's number (751990011): its numbering starts at 1 here.
    expect(f, JSON.stringify(f)).toMatchObject({ ok: true, invoiceNo: 1 });
    const received = b.amo.stats().filesReceived;
    const t = await b.act('transmit', { force: true });
    expect(t).toMatchObject({ ok: false, lotsBuilt: 0, filesSent: [] });
    expect(t.errors).toEqual(['Situation sans droit de signer les lots : transmission des factures impossible']);
    await b.amo.whenIdle();
    expect(b.amo.stats().filesReceived).toBe(received);
    const st = await b.act('status');
    // The nurse's paid series, and the remplaçant's FSE still secured, waiting for a signer of lots.
    expect(st.byState).toMatchObject({ secured: 1, 'in-lot': 0, sent: 0, paid: 1 });
    expect(st.lotsPending).toBe(0);

    // The titulaire (situation 1: 751990011) comes back: her CPS signs the lot; the AMO knows she
    // holds that billing number and accepts the remplaçant's FSE in it.
    b.dk.kernel.removeCard(0);
    await b.waitState((x) => !x.cps, 'remplaçant CPS removed');
    await b.insertCps(0, 'cps-medecin-generaliste', '1234', 0);
    const t2 = await b.act('transmit');
    expect(t2, JSON.stringify(t2)).toMatchObject({ ok: true, lotsBuilt: 1 });
    await b.amo.whenIdle();
    const file = b.amo.files().find((x) => x.billingNumber === '751990011');
    expect(file).toMatchObject({ status: 'processed', lots: [{ status: 'positive' }], invoices: [{ invoiceNo: 1, status: 'accepted' }] });
    await b.act('returns.fetch');
    await b.amo.whenIdle();
    await b.act('returns.fetch');
    expect((await b.act('status')).byState).toMatchObject({ secured: 0, paid: 2 });
  });

  it('cps-pin-bloque: the screen says the card is blocked, no PIN is verified and nothing is signed', async () => {
    b.dk.kernel.removeCard(0);
    await b.waitState((s) => !s.cps, 'CPS removed');
    const before = views.length;
    b.dk.kernel.terminal.typeKeys(['1', '2', '3', '4', 'OK']);
    b.dk.kernel.insertCard(0, await loadCard('cps-pin-bloque'));
    await until(() => views.slice(before).some((v) => v.domain === 'sesam-vitale' && text(v).includes('Carte CPS bloquée')), 15_000, 'blocked screen');
    const s = await b.waitState((x) => (x.cps as R | undefined)?.nom === 'BLOQUE-FICTIF', 'blocked CPS in session');
    expect((s.cps as R).pinVerified).toBe(false);
    expect(views.slice(before).every((v) => !/1234/.test(text(v)))).toBe(true);

    // Asked to sign, the applet asks the PIN again; the card is still blocked: refused, no signature.
    b.dk.kernel.terminal.typeKeys(['1', '2', '3', '4', 'OK']);
    const securedBefore = ((await b.act('status')).byState as R).secured;
    const r = await b.act('fse.create', { acts: [{ date: today, code: 'G' }], context: CONTEXT });
    expect(r).toMatchObject({ ok: false, error: { code: 'E_PIN', field: 'cps' } });
    expect(String((r.error as R).message)).toContain('signature impossible');
    const st = await b.act('status');
    expect((st.byState as R).secured).toBe(securedBefore);
    expect(st.byState).toMatchObject({ 'in-lot': 0, sent: 0 });
    // The CPS is made ready before a number is spent: nothing is left 'created' behind.
    expect(st.toSecure).toEqual([]);
    expect(views.slice(before).filter((v) => text(v).includes('Carte CPS bloquée')).length).toBeGreaterThanOrEqual(2);
  });
});

// ---- 2. DRE under tiers payant, and the patient part paid by card -------------------------------------

interface EmvProfile {
  cardholder: { pan: string };
}

describe('DRE for the AMC part (vitale-amc-tiers-payant), and fse.pay with the real payment applet', () => {
  let b: Billing;
  let acquirer: AcquirerServer;
  let journalDir: string;
  const today = todayIso();
  const tp = { ...CONTEXT, tiersPayantAmo: true, tiersPayantAmc: true };
  const PAN = profile<EmvProfile>('emv-online').cardholder.pan;
  let fseNo = 0;
  let dreNo = 0;
  let childNo = 0;

  beforeAll(async () => {
    journalDir = mkdtempSync(join(tmpdir(), 'di-acq-day-'));
    acquirer = await startAcquirer({ port: 0, keyDir: KEY_DIR, journalPath: join(journalDir, 'journal.jsonl') });
    const { payment } = realPolicies(acquirer.port);
    // Three slots: the CPS stays in, the Vitale card, the patient's bank card.
    b = await bootBilling({
      payment: { policy: payment, script: await appletBundle('payment-stub'), filename: 'payment-stub/applet.js' },
      config: { reader: { driver: 'emulated', slots: 3, timing: false, baudRate: 9600, pcscReaders: [] } },
    });
    await until(() => b.dk.kernel.handlers.get('payment')?.includes('onIntent'), 20_000, 'payment ready');
    b.dk.kernel.insertCard(2, await emvCard('emv-online'));
    await until(() => b.dk.kernel.broker.cardsFor('payment').length > 0, 10_000, 'EMV card routed to payment');
    await b.insertCps(0, 'cps-medecin-generaliste', '1234', 0);
    await insertVitaleAs(b, 1, 'vitale-amc-tiers-payant', 0);
  }, 90_000);

  afterAll(async () => {
    await b?.close();
    await acquirer?.close();
    if (journalDir) rmSync(journalDir, { recursive: true, force: true });
  });

  it('fse.create under tiers payant AMO + AMC returns an FSE and a DRE number; 8 working days to send', async () => {
    const r = await b.act('fse.create', { acts: [{ date: today, code: 'G' }], context: tp, beneficiary: 0 });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, invoiceNo: 1, dreNo: 2 });
    fseNo = r.invoiceNo as number;
    dreNo = r.dreNo as number;
    // G 30,00 €, 70 %: AMO 21,00 € less the 2 € participation (adult, maladie, responsible contract);
    // the AMC pays the ticket modérateur 9,00 €; the patient keeps the participation.
    const amoGross = roundHalfUp(TARIFF.G * 70, 100);
    const amc = TARIFF.G - amoGross;
    const amo = amoGross - TARIFF.PARTICIPATION;
    expect(r.totals).toEqual({ charged: TARIFF.G, base: TARIFF.G, amo, amc, patient: TARIFF.G - amo - amc, participation: TARIFF.PARTICIPATION });
    expect(r.patientToPay).toBe(TARIFF.PARTICIPATION);
    expect(r.deadline).toBe(workingDaysAfter(today, 8));
    expect(b.dk.kernel.terminal.current().screen.lines.join(' ')).toContain(`DRE n° ${dreNo} pour la complémentaire`);
    expect((await b.act('status')).byState).toMatchObject({ secured: 2 });
  });

  it('transmit makes two lots for two destinations, in two files; both ARLs positive; RSPs pay the AMO part (FSE) and the AMC part (DRE)', async () => {
    const t = await b.act('transmit');
    expect(t, JSON.stringify(t)).toMatchObject({ ok: true, lotsBuilt: 2, errors: [] });
    expect(t.filesSent).toHaveLength(2);
    await b.amo.whenIdle();
    const files = b.amo.files();
    expect(files).toHaveLength(2);
    const byDest = new Map(files.map((f) => [f.destination, f]));
    expect([...byDest.keys()].sort()).toEqual(['AMC-99999901', 'AMO-013319999']);
    expect(byDest.get('AMO-013319999')).toMatchObject({ status: 'processed', lots: [{ status: 'positive' }], invoices: [{ kind: 'FSE', invoiceNo: fseNo, status: 'accepted' }] });
    expect(byDest.get('AMC-99999901')).toMatchObject({ status: 'processed', lots: [{ status: 'positive' }], invoices: [{ kind: 'DRE', invoiceNo: dreNo, status: 'accepted' }] });
    expect(new Set(files.map((f) => f.fileId)).size).toBe(2);
    expect(files.every((f) => f.invoices.length === 1 && f.lots.length === 1)).toBe(true);

    const { st, fetches } = await fetchUntil(b, (s) => (s.paid as R).count === 2);
    expect(fetches.reduce((n, f) => n + (f.arl as number), 0)).toBe(2);
    expect(st.byState).toMatchObject({ paid: 2, sent: 0, secured: 0, 'arl-negative': 0 });
    const amo = roundHalfUp(TARIFF.G * 70, 100) - TARIFF.PARTICIPATION;
    const amc = TARIFF.G - roundHalfUp(TARIFF.G * 70, 100);
    expect(st.paid).toEqual({ count: 2, amount: amo + amc });
    const reports = rspReports(b.amoDir);
    const paid = reports.flatMap((x) => x.payments.map((p) => ({ invoiceNo: p.invoiceNo, paid: p.paid, status: p.status })));
    expect(paid.sort((x, y) => x.invoiceNo - y.invoiceNo)).toEqual([
      { invoiceNo: fseNo, paid: amo, status: 'paid' },
      { invoiceNo: dreNo, paid: amc, status: 'paid' },
    ]);
  });

  it('without tiers payant the deadline is 3 working days and the patient advances everything (a child: no participation)', async () => {
    const r = await b.act('fse.create', { acts: [{ date: today, code: 'G' }], context: CONTEXT, beneficiary: 1 });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, invoiceNo: 3 });
    expect(r.dreNo).toBeUndefined();
    childNo = r.invoiceNo as number;
    const amoGross = roundHalfUp(TARIFF.G * 70, 100);
    expect(r.totals).toEqual({ charged: TARIFF.G, base: TARIFF.G, amo: amoGross, amc: TARIFF.G - amoGross, patient: 0, participation: 0 });
    expect(r.patientToPay).toBe(TARIFF.G);
    expect(r.deadline).toBe(workingDaysAfter(today, 3));
  });

  it('fse.pay charges the patient part on the EMV card (emv-online, online approval); health gets no card data; a second pay is refused E_PAID', async () => {
    const journalBefore = acquirer.journal().length;
    b.dk.kernel.terminal.typeKeys(['1', '2', '3', '4', 'OK'] as Key[]);
    const p = await b.act('fse.pay', { invoiceNo: childNo });
    expect(p, JSON.stringify(p)).toMatchObject({ ok: true, status: 'approved', amount: TARIFF.G });
    for (const k of Object.keys(p)) expect(['ok', 'status', 'transactionRef', 'authCode', 'amount']).toContain(k);
    expect(typeof p.transactionRef === 'string' && p.transactionRef.length > 0).toBe(true);
    expect(JSON.stringify(p)).not.toContain(PAN);

    // The acquirer authorized exactly that amount, online, for the reference health holds.
    const auths = acquirer.journal().slice(journalBefore).filter((e) => e.kind === 'authorization');
    expect(auths).toHaveLength(1);
    expect(auths[0]).toMatchObject({ ref: p.transactionRef, amount: TARIFF.G, responseCode: '00', panMasked: `${PAN.slice(0, 6)}******${PAN.slice(-4)}` });
    expect(b.dk.kernel.terminal.foreground()).toBe(null);

    const again = await b.act('fse.pay', { invoiceNo: childNo });
    expect(again).toMatchObject({ ok: false, error: { code: 'E_PAID', field: 'invoiceNo' } });
    expect(String((again.error as R).message)).toContain('déjà réglée');
    expect(acquirer.journal().slice(journalBefore).filter((e) => e.kind === 'authorization')).toHaveLength(1);

    // Nor did the PAN reach health's store (in the clear or as BCD).
    const stores = join(b.dk.dataDir, 'stores');
    const files = existsSync(stores) ? readdirSync(stores).filter((f) => f.startsWith('sesam-vitale')) : [];
    expect(files.length).toBeGreaterThan(0);
    const bcd = Buffer.from(PAN, 'hex');
    for (const f of files) {
      const raw = readFileSync(join(stores, f));
      expect(raw.includes(Buffer.from(PAN, 'latin1')), f).toBe(false);
      expect(raw.includes(bcd), f).toBe(false);
    }
  });
});
