/**
 * The SESAM-Vitale applet's side of the TLA host link (issue 8), driven through the kernel exactly as
 * the host link forwards a domain operation: `onHostRequest({ op, args })`. Covers the day's data
 * (strict checks naming the field, the situation chosen without asking, a degraded FSE from a loaded
 * patient, visits.list with masked NIRs, pricing by the loaded table), invoice unload pages (cursor,
 * idempotent re-unload, held invoices never in a device lot), erase (unloaded, repeated erase,
 * refusals), tla.release, Vitale reads (recorded, unloaded, erased), and the returns the device
 * leaves on the POP3 server for the practice computer.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootBilling, CONTEXT, todayIso, type Billing, type R } from '../support/billing.js';
import { TARIFF_TABLES } from '../../applets/sesam-vitale/tariff/tables.js';
import { encodeArl } from '../../applets/sesam-vitale/formats/arl.js';
import { encodeRsp } from '../../applets/sesam-vitale/formats/rsp.js';
import { fileIdOf } from '../../applets/sesam-vitale/formats/file.js';
import { composeArl, composeRsp } from '../../emulator/amo/mail-out.js';
import type { WireValue } from '../../platform/wire/messages.js';
import { allocate, DEVICE_NUMBER_LIMIT } from '../../applets/sesam-vitale/pipeline/numbering.js';

const NIR = '180017599900137';
const PATIENT = {
  insured: { nir: NIR, regime: '01', caisse: '751', centre: '9999', codeGestion: '10' },
  beneficiaries: [{ surname: 'TESTDUPONT', firstName: 'JEAN', birthDate: '19800115', birthRank: 1, quality: '00', nir: NIR, nationality: 'FRA', rights: { start: '2023-01-01', ald: false, exoneration: '0' } }],
};

describe('sesam-vitale applet: TLA domain operations (onHostRequest)', () => {
  let b: Billing;
  let billing = '';
  let secondBilling = '';
  const today = todayIso();
  const acts = [{ date: today, code: 'G' }];
  const host = (op: string, args: R = {}) => b.dk.kernel.call('sesam-vitale', 'onHostRequest', [{ op, args } as unknown as WireValue]) as Promise<R>;
  const refs = (r: R) => (r.items as R[]).map((x) => x.ref);
  const amoInvoices = () => b.amo.files().flatMap((f) => f.invoices.map((i) => i.invoiceNo)).sort((x, y) => x - y);

  beforeAll(async () => {
    b = await bootBilling();
    // First read: learn the card's billing numbers (the first situation answered).
    const s = await b.insertCps(0, 'cps-medecin-generaliste');
    const sits = (s.cps as R).situations as R[];
    billing = sits[0]!.billingNumber as string;
    secondBilling = sits[1]!.billingNumber as string;
    b.dk.kernel.removeCard(0);
    await b.waitState((x) => x.cps === undefined, 'CPS removed');
  }, 60_000);

  afterAll(async () => {
    await b?.close();
  });

  it('data.load refuses malformed day data with E_ARGS naming the field, and keeps the previous load', async () => {
    const cases: Array<[R, string]> = [
      [{}, 'day'],
      [{ day: '2026-13-01' }, 'day'],
      [{ day: today, extra: 1 }, 'extra'],
      [{ day: today, situations: [{ billingNumber: '12' }] }, 'situations[0].billingNumber'],
      [{ day: today, situations: 'x' }, 'situations'],
      [{ day: today, patients: [{ ...PATIENT, insured: { ...PATIENT.insured, nir: '180017599900138' } }] }, 'patients[0].insured.nir'],
      [{ day: today, patients: [{ ...PATIENT, beneficiaries: [{ ...PATIENT.beneficiaries[0], birthRank: 12 }] }] }, 'patients[0].beneficiaries[0].birthRank'],
      [{ day: today, patients: [{ ...PATIENT, beneficiaries: [{ ...PATIENT.beneficiaries[0], hobby: 'x' }] }] }, 'patients[0].beneficiaries[0].hobby'],
      [{ day: today, patients: [PATIENT, PATIENT] }, 'patients[1].insured.nir'],
      [{ day: today, tariff: { ...TARIFF_TABLES[0], participation: -1 } }, 'tariff.participation'],
    ];
    for (const [args, field] of cases) {
      const r = await host('data.load', args);
      expect(r, JSON.stringify(args).slice(0, 120)).toMatchObject({ ok: false, error: { code: 'E_ARGS', field } });
      expect((r.error as R).message).toContain(field);
    }
    expect(await host('data.load', 'x' as unknown as R)).toMatchObject({ ok: false, error: { code: 'E_ARGS', field: 'args' } });
    expect(await host('fse.push', {})).toMatchObject({ ok: false, error: { code: 'E_OP' } });
    // Nothing was loaded by the refusals.
    expect(await b.act('visits.list')).toMatchObject({ ok: true, day: null, patients: [] });
  });

  it('data.load stores the day; the CPS situation it names is chosen without asking; visits.list masks NIRs', async () => {
    const r = await host('data.load', { day: today, situations: [{ billingNumber: secondBilling, label: 'Tournée' }], patients: [PATIENT] });
    expect(r).toEqual({ ok: true, day: today, situations: 1, patients: 1, beneficiaries: 1, tariff: null });
    // The helper would answer 0 if asked: situation 1 proves no question was put.
    const s = await b.insertCps(0, 'cps-medecin-generaliste', '1234', 0);
    expect(s.cps).toMatchObject({ situation: 1, pinVerified: true });
    const v = await b.act('visits.list');
    expect(v).toMatchObject({ ok: true, day: today, patients: [{ index: 0, beneficiaries: [{ index: 0, surname: 'TESTDUPONT', firstName: 'JEAN' }] }] });
    expect(JSON.stringify(v)).not.toContain(NIR);
    // Back to the first situation for the rest.
    expect(await b.act('situation.select', { index: 0 })).toMatchObject({ ok: true, situation: 0 });
  });

  it('fse.degraded takes the patient from the day data (by NIR or by index); bad refs are refused', async () => {
    const d = await b.act('fse.degraded', { patient: { nir: NIR, beneficiary: 0 }, acts, context: CONTEXT });
    expect(d).toMatchObject({ ok: true, invoiceNo: 1 });
    expect((d.duplicate as string[]).join('\n')).toContain(`NIR ${NIR}`);
    expect(await b.act('fse.degraded', { patient: { index: 0, beneficiary: 0 }, acts, context: CONTEXT })).toMatchObject({ ok: true, invoiceNo: 2 });
    expect(await b.act('fse.degraded', { patient: { nir: '280017599900160', beneficiary: 0 }, acts, context: CONTEXT })).toMatchObject({ ok: false, error: { code: 'E_UNKNOWN', field: 'patient.nir' } });
    expect(await b.act('fse.degraded', { patient: { index: 0, beneficiary: 3 }, acts, context: CONTEXT })).toMatchObject({ ok: false, error: { field: 'patient.beneficiary' } });
    expect(await b.act('fse.degraded', { patient: { index: 0, beneficiary: 0 }, insured: PATIENT.insured, acts, context: CONTEXT })).toMatchObject({ ok: false, error: { field: 'patient' } });
  });

  it('fse.unload pages in key order with a cursor, marks them held once, re-unload is identical; held invoices never reach the AMO', async () => {
    await b.insertVitale(1, 'vitale-assure-seul');
    for (const no of [3, 4]) expect(await b.act('fse.create', { acts, context: CONTEXT })).toMatchObject({ ok: true, invoiceNo: no });
    const p1 = await host('fse.unload', { max: 2 });
    expect(p1).toMatchObject({ ok: true, next: `${billing}/2`, held: 2 });
    expect(refs(p1)).toEqual([`${billing}/1`, `${billing}/2`]);
    const item = (p1.items as R[])[0]!;
    expect(item).toMatchObject({ billingNumber: billing, invoiceNo: 1, kind: 'FSE', careDate: today, destination: 'AMO-017519999' });
    expect(item.record).toBeInstanceOf(Uint8Array);
    expect(item.cpsSignature).toBeInstanceOf(Uint8Array);
    expect(item.vitaleAuth).toBeUndefined(); // degraded: no card authentication
    // A cut after the answer: the host asks again and gets the very same page, no new state.
    const again = await host('fse.unload', { max: 2 });
    expect(again).toEqual(p1);
    const p2 = await host('fse.unload', { after: p1.next as string, max: 2 });
    expect(refs(p2)).toEqual([`${billing}/3`, `${billing}/4`]);
    expect(p2).toMatchObject({ next: null, held: 4 });
    expect((p2.items as R[])[0]!.vitaleAuth).toBeInstanceOf(Uint8Array);
    expect(await host('fse.unload', { after: `${billing}/4` })).toMatchObject({ ok: true, items: [], next: null, held: 4 });
    for (const [args, field] of [[{ max: 0 }, 'max'], [{ max: 51 }, 'max'], [{ after: 'x' }, 'after'], [{ after: `${billing}/1`, sort: 'desc' }, 'sort']] as Array<[R, string]>) {
      expect(await host('fse.unload', args)).toMatchObject({ ok: false, error: { code: 'E_ARGS', field } });
    }
    expect(await b.act('status')).toMatchObject({ heldForHost: 4, byState: { secured: 4 } });

    // A fifth invoice, not unloaded: transmit sends it alone.
    expect(await b.act('fse.create', { acts, context: CONTEXT })).toMatchObject({ ok: true, invoiceNo: 5 });
    const t = await b.act('transmit');
    expect(t).toMatchObject({ ok: true, lotsBuilt: 1 });
    await b.amo.whenIdle();
    expect(amoInvoices()).toEqual([5]);
  });

  it('erase turns held invoices into "unloaded" (bytes dropped); a repeat counts as already; others are refused with the reason', async () => {
    expect(await b.act('fse.create', { acts, context: CONTEXT })).toMatchObject({ ok: true, invoiceNo: 6 });
    const r = await host('erase', { invoices: [`${billing}/1`, `${billing}/2`, `${billing}/5`, `${billing}/6`, `${billing}/999`] });
    expect(r).toMatchObject({ ok: true, erased: { invoices: 2, beneficiaries: 0 }, already: { invoices: 0, beneficiaries: 0 } });
    const refused = r.refused as Array<{ ref: string; reason: string }>;
    expect(refused.map((x) => x.ref)).toEqual([`${billing}/5`, `${billing}/6`, `${billing}/999`]);
    expect(refused[1]!.reason).toMatch(/jamais déchargée/);
    expect(refused[2]!.reason).toMatch(/inconnue/);
    const again = await host('erase', { invoices: [`${billing}/1`, `${billing}/2`] });
    expect(again).toMatchObject({ ok: true, erased: { invoices: 0 }, already: { invoices: 2 }, refused: [] });
    expect(await host('erase', { invoices: ['nope'] })).toMatchObject({ ok: false, error: { code: 'E_ARGS', field: 'invoices[0]' } });
    const st = await b.act('status');
    expect(st).toMatchObject({ heldForHost: 2, byState: { unloaded: 2, secured: 3 } });
    // Erased ones are no longer unloadable; the held ones still are.
    expect(refs(await host('fse.unload', {}))).toEqual([`${billing}/3`, `${billing}/4`, `${billing}/6`]);
    expect(await b.act('fse.duplicate', { invoiceNo: 1 })).toMatchObject({ ok: true });
    // The erased invoice keeps its data, not its signed bytes; a held one keeps them.
    const store = b.dk.kernel.store('sesam-vitale');
    {
      const one = store.get(`inv/${billing}/000000001`) as R;
      expect(one).toMatchObject({ state: 'unloaded', data: { invoiceNo: 1 } });
      for (const k of ['record', 'cpsSignature', 'vitaleAuth', 'vitaleCertDer']) expect(one[k], k).toBeUndefined();
      expect((one.history as R[]).at(-1)).toMatchObject({ state: 'unloaded', note: expect.stringMatching(/ordinateur du cabinet/) });
      expect((store.get(`inv/${billing}/000000003`) as R).record).toBeInstanceOf(Uint8Array);
    }
  });

  it('tla.release gives held invoices back to the device, which sends them; erased ones never', async () => {
    const r = await b.act('tla.release');
    expect(r).toMatchObject({ ok: true, released: [`${billing}/3`, `${billing}/4`, `${billing}/6`] });
    expect(await b.act('status')).toMatchObject({ heldForHost: 0 });
    const t = await b.act('transmit');
    expect(t).toMatchObject({ ok: true, lotsBuilt: 1 });
    await b.amo.whenIdle();
    expect(amoInvoices()).toEqual([3, 4, 5, 6]);
    // Erasing a released one is refused: it is the device's again.
    expect((await host('erase', { invoices: [`${billing}/3`] })).refused).toEqual([{ ref: `${billing}/3`, reason: expect.stringMatching(/état/) }]);
  });

  it('Vitale reads are recorded, unloaded with their NIRs, erased (twice: already), unknown refs refused', async () => {
    const u = await host('beneficiaries.unload', {});
    const items = u.items as R[];
    expect(items.length).toBeGreaterThanOrEqual(1);
    expect(items[0]).toMatchObject({ vitaleSerial: '9900000001', insured: { nir: NIR }, beneficiaries: [{ surname: 'TESTDUPONT' }] });
    expect(items[0]!.ref).toMatch(/^[0-9]{15}-9900000001$/);
    expect(u).toMatchObject({ next: null, held: items.length });
    const all = items.map((x) => x.ref as string);
    const e = await host('erase', { beneficiaries: [...all, '000000000000001-X'] });
    expect(e).toMatchObject({ ok: true, erased: { invoices: 0, beneficiaries: all.length }, refused: [{ ref: '000000000000001-X' }] });
    expect(await host('erase', { beneficiaries: all })).toMatchObject({ already: { beneficiaries: all.length }, refused: [] });
    expect(await host('beneficiaries.unload', {})).toMatchObject({ ok: true, items: [], held: 0 });
    // A new read is listed by the next unload.
    b.dk.kernel.removeCard(1);
    await b.insertVitale(1, 'vitale-assure-seul');
    const fresh = (await host('beneficiaries.unload', { max: 1 })).items as R[];
    expect(fresh).toHaveLength(1);

    // 31 days later the retry timer purges the reads (unloaded or not) and the erase tombstones.
    const clock = b.dk.kernel.clock;
    clock.set(Date.now() + 31 * 24 * 3600 * 1000);
    try {
      await b.dk.kernel.call('sesam-vitale', 'onTimer', [{ name: 'retry' }]);
      expect(await host('beneficiaries.unload', {})).toMatchObject({ ok: true, items: [], held: 0 });
      const late = await host('erase', { beneficiaries: [fresh[0]!.ref as string, all[0]!] });
      expect(late).toMatchObject({ erased: { beneficiaries: 0 }, already: { beneficiaries: 0 } });
      expect((late.refused as R[]).map((x) => x.ref)).toEqual([fresh[0]!.ref, all[0]]);
    } finally {
      clock.set(Date.now());
    }
  });

  it('device lot and file numbers stop below 500000 with a clear error', () => {
    const c = { invoice: 0, lot: DEVICE_NUMBER_LIMIT - 2, file: DEVICE_NUMBER_LIMIT - 1 };
    expect(allocate(c, 'lot')).toBe(499_999);
    expect(() => allocate(c, 'lot')).toThrow(/numéros de lot de l’appareil épuisés/);
    expect(() => allocate(c, 'file')).toThrow(/numéros de fichier de l’appareil épuisés/);
  });

  it('returns about the practice computer’s files (numbers >= 500000) or its unloaded invoices stay on the POP3 server', async () => {
    const fileId = fileIdOf(billing, 500_001);
    const arl = await composeArl({
      fileId,
      lotNo: 500_001,
      billingNumber: billing,
      destination: 'AMO-017519999',
      status: 'positive',
      body: encodeArl({ fileId, lotNo: 500_001, billingNumber: billing, destination: 'AMO-017519999', date: today, status: 'positive', invoices: [{ invoiceNo: 1, status: 'accepted' }] }),
      date: new Date(),
    });
    const rsp = await composeRsp({
      billingNumber: billing,
      seq: 900,
      destination: 'AMO-017519999',
      body: encodeRsp({ emitter: 'AMO-017519999', billingNumber: billing, seq: 900, date: today, payments: [{ invoiceNo: 2, nir: NIR, careDate: today, charged: 3000, paid: 2800, paymentDate: today, status: 'paid' }] }),
      date: new Date(),
    });
    const db = new Database(join(b.amoDir, 'amo.sqlite'));
    try {
      db.prepare('INSERT INTO mailbox (uid, user, raw, created_at) VALUES (?, ?, ?, ?)').run('host-arl', 'cabinet', Buffer.from(arl.raw), Date.now());
      db.prepare('INSERT INTO mailbox (uid, user, raw, created_at) VALUES (?, ?, ?, ?)').run('host-rsp', 'cabinet', Buffer.from(rsp.raw), Date.now());
      const left = () => (db.prepare("SELECT uid FROM mailbox WHERE uid LIKE 'host-%' ORDER BY uid").all() as Array<{ uid: string }>).map((x) => x.uid);
      for (let i = 0; i < 2; i++) {
        const r = await b.act('returns.fetch');
        expect(r).toMatchObject({ ok: true, corrupt: [], leftForHost: 2 });
        expect(left()).toEqual(['host-arl', 'host-rsp']);
      }
      // Neither applied nor recorded: the unloaded invoice is as it was, and the device's own returns went through.
      expect(await b.act('status')).toMatchObject({ byState: { unloaded: 2 }, rejectsToRedo: [] });
    } finally {
      db.close();
    }
  });

  it('pricing uses the loaded tariff table for the dates it covers, the bundled ones once it is replaced', async () => {
    const base = TARIFF_TABLES[TARIFF_TABLES.length - 1]!;
    const table = { ...base, version: 'CABINET-TEST', from: today, ngap: { ...base.ngap, G: { ...base.ngap.G!, unit: 3150 } } };
    delete (table as { to?: string }).to;
    expect(await host('data.load', { day: today, patients: [PATIENT], tariff: table as unknown as R })).toMatchObject({ ok: true, tariff: 'CABINET-TEST' });
    const r = await b.act('fse.create', { acts, context: CONTEXT });
    expect(r).toMatchObject({ ok: true, totals: { charged: 3150 } });
    // A new load without a table: the bundled tables again.
    expect(await host('data.load', { day: today })).toMatchObject({ ok: true, tariff: null, patients: 0 });
    expect(await b.act('fse.create', { acts, context: CONTEXT })).toMatchObject({ ok: true, totals: { charged: 3000 } });
  });
});
