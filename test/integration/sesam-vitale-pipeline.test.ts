/**
 * The real SESAM-Vitale applet (bundled as `di applet pack` does) under the real policy (ports
 * pointed at an AMO emulator on ephemeral loopback ports): CPS read with the situation picked on
 * screen and the PIN typed on the keypad, Vitale read, fse.create -> transmit (lot signed by the CPS,
 * file sent by SMTP) -> AMO -> returns.fetch by POP3 -> invoice 'arl-positive' then 'paid'.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, until, type DevKernel } from '../support/dev-kernel.js';
import { appletBundle, billingPolicy, bootBilling, CONTEXT, paymentStandIn, type Billing } from '../support/billing.js';
import type { CardModel } from '../../emulator/cards/card.js';
import { loadCard } from '../../emulator/cards/profiles.js';
import { startAmo, type Amo } from '../../emulator/amo/server.js';

type R = Record<string, unknown>;


describe('sesam-vitale applet: cards -> FSE -> lot -> SMTP -> AMO -> ARL/RSP by POP3', () => {
  let dk: DevKernel;
  let amo: Amo;
  let amoDir: string;
  const act = (action: string, payload: R = {}) => dk.kernel.action('sesam-vitale', action, payload) as Promise<R>;
  const today = new Date().toISOString().slice(0, 10);
  const context = { nature: 'maladie', aldRelated: false, parcours: 'traitant', tiersPayantAmo: false, tiersPayantAmc: false };

  beforeAll(async () => {
    amoDir = mkdtempSync(join(tmpdir(), 'di-amo-'));
    // One extra rejection as data: work accidents are refused, so a negative ARL line can be corrected.
    amo = await startAmo({ smtpPort: 0, pop3Port: 0, dataDir: amoDir, payment: 'immediate', rules: { reject: [{ when: { nature: 'at' }, reason: { code: 'R01', text: 'AT NON RECONNU' } }] } });
    // The real policies, the mail endpoints moved to the AMO's ephemeral ports; a payment stand-in approves charges.
    dk = await bootDev([{ policy: billingPolicy(amo.smtpPort, amo.pop3Port), script: await appletBundle('sesam-vitale'), filename: 'sesam-vitale/applet.js' }, paymentStandIn()]);
    await until(() => dk.kernel.handlers.get('sesam-vitale')?.includes('onAction'), 15_000, 'applet ready');
  }, 60_000);

  afterAll(async () => {
    await dk?.close();
    await amo?.close();
    rmSync(amoDir, { recursive: true, force: true });
  });

  it('payloads are checked at the boundary: unknown field, wrong type, unknown action', async () => {
    expect(await act('status', { extra: 1 })).toMatchObject({ ok: false, error: { code: 'E_PAYLOAD', field: 'extra' } });
    expect(await act('fse.create', { acts: 'G', context })).toMatchObject({ ok: false, error: { code: 'E_PAYLOAD', field: 'acts' } });
    expect(await act('fse.create', { acts: [{ date: today, code: 'G' }], context })).toMatchObject({ ok: false, error: { code: 'E_CPS' } });
  });

  it('reads the CPS (situation 1 picked, PIN on the keypad) and the Vitale card', async () => {
    // '1' answers the situation question, then the PIN; the keypad buffers them until asked.
    dk.kernel.terminal.typeKeys(['1', '1', '2', '3', '4', 'OK']);
    dk.kernel.insertCard(0, await loadCard('cps-medecin-generaliste'));
    let state: R = {};
    const t0 = Date.now();
    while (Date.now() - t0 < 20_000) {
      state = await act('session.state');
      if ((state.cps as R | undefined)?.pinVerified === true) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(state.cps).toMatchObject({ nom: 'FICTIF', prenom: 'ALICE', situation: 0, pinVerified: true });
    expect((state.cps as R).situations).toHaveLength(2);

    dk.kernel.insertCard(1, await loadCard('vitale-assure-seul'));
    const t1 = Date.now();
    while (Date.now() - t1 < 20_000) {
      state = await act('session.state');
      if (state.vitale) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(state.vitale).toEqual({
      beneficiaries: [{ index: 0, surname: 'TESTDUPONT', firstName: 'JEAN', birthDate: '19800115', birthRank: 1, quality: '00', rightsOpenToday: true }],
      selected: 0,
    });
    // Summary screens mask the NIR.
    const screen = dk.kernel.terminal.current().screen.lines.join('\n');
    expect(screen).not.toContain('180017599900137');
  });

  it('fse.create secures an FSE (numbered 1) and says what the patient pays', async () => {
    const r = await act('fse.create', { acts: [{ date: today, code: 'G' }], context });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, invoiceNo: 1 });
    expect(r.patientToPay).toBe((r.totals as R).charged);
    expect(typeof r.deadline).toBe('string');
    expect(dk.kernel.terminal.current().screen.lines.join(' ')).toContain('FSE sécurisée n° 1');
    const st = await act('status');
    expect((st.byState as R).secured).toBe(1);
  });

  it('transmit builds and signs a lot, sends one file; the AMO accepts it; returns give ARL then payment', async () => {
    const t = await act('transmit');
    expect(t, JSON.stringify(t)).toMatchObject({ ok: true, lotsBuilt: 1 });
    expect(t.filesSent).toHaveLength(1);
    expect((await act('status')).byState).toMatchObject({ sent: 1 });
    await amo.whenIdle();
    const files = amo.files();
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ status: 'processed', lots: [{ lotNo: 1, status: 'positive' }] });

    const r = await act('returns.fetch');
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, arl: 1, corrupt: [] });
    let st = await act('status');
    if (r.rsp === 0) {
      // The RSP may land a moment after the ARL.
      await amo.whenIdle();
      await act('returns.fetch');
      st = await act('status');
    }
    expect(st.byState).toMatchObject({ paid: 1, sent: 0, secured: 0 });
    expect((st.paid as R).count).toBe(1);
    // A second fetch finds nothing new and changes nothing.
    const again = await act('returns.fetch');
    expect(again).toMatchObject({ ok: true, arl: 0, rsp: 0 });
    expect((await act('status')).byState).toMatchObject({ paid: 1 });
  });

  it('a second transmit has nothing to send: the file is never sent twice', async () => {
    const t = await act('transmit', { force: true });
    expect(t).toMatchObject({ ok: true, lotsBuilt: 0, filesSent: [] });
    await amo.whenIdle();
    expect(amo.files()).toHaveLength(1);
  });

  it('fse.pay asks the payment domain for the patient part (the screen is lent to it), and refuses unknown invoices', async () => {
    const views: Array<string | null> = [];
    const onView = (v: { domain: string | null }) => views.push(v.domain);
    dk.kernel.terminal.on('view', onView);
    const p = await act('fse.pay', { invoiceNo: 1 });
    dk.kernel.terminal.off('view', onView);
    expect(p, JSON.stringify(p)).toMatchObject({ ok: true, status: 'approved' });
    expect(String(p.transactionRef)).toMatch(/^PAY-/);
    // The payment domain had the screen during the charge, and health got it back after.
    expect(dk.kernel.terminal.foreground()).toBe(null);
    expect(await act('fse.pay', { invoiceNo: 999 })).toMatchObject({ ok: false, error: { code: 'E_UNKNOWN', field: 'invoiceNo' } });
    expect(await act('fse.pay', { invoiceNo: 'un' })).toMatchObject({ ok: false, error: { code: 'E_PAYLOAD', field: 'invoiceNo' } });
  });

  it('degraded mode: no Vitale authentication, a paper duplicate; a rejected line is corrected under a new number', async () => {
    const d = await act('fse.degraded', {
      insured: { nir: '180017599900137', regime: '01', caisse: '751', centre: '9999', codeGestion: '10' },
      beneficiary: { surname: 'TESTDUPONT', firstName: 'JEAN', birthDate: '19800115', birthRank: 1, quality: '00', nir: '180017599900137', nationality: 'FRA', rights: { start: '2023-01-01', ald: false, exoneration: '0' } },
      acts: [{ date: today, code: 'G' }],
      context,
    });
    expect(d, JSON.stringify(d)).toMatchObject({ ok: true, invoiceNo: 2 });
    const dup = d.duplicate as string[];
    expect(dup[0]).toContain('DUPLICATA');
    expect(dup.join('\n')).toContain('180017599900137');
    expect((await act('fse.duplicate', { invoiceNo: 2 })).lines).toEqual(dup);

    const at = await act('fse.create', { acts: [{ date: today, code: 'G' }], context: { ...context, nature: 'at', atNumber: 'AT1234567' } });
    expect(at, JSON.stringify(at)).toMatchObject({ ok: true, invoiceNo: 3 });
    const t = await act('transmit');
    expect(t, JSON.stringify(t)).toMatchObject({ ok: true, lotsBuilt: 1 });
    await amo.whenIdle();
    const r = await act('returns.fetch');
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, arl: 1, corrupt: [] });
    expect(r.rejects).toEqual([{ invoiceNo: 3, code: 'R01', text: 'AT NON RECONNU', source: 'ARL' }]);
    let st = await act('status');
    expect(st.rejectsToRedo).toEqual([{ invoiceNo: 3, code: 'R01', text: 'AT NON RECONNU', source: 'ARL' }]);

    const c = await act('fse.correct', { invoiceNo: 3, context });
    expect(c, JSON.stringify(c)).toMatchObject({ ok: true, invoiceNo: 4, correctedFrom: 3 });
    expect(await act('fse.correct', { invoiceNo: 3, context })).toMatchObject({ ok: false, error: { code: 'E_STATE' } });
    st = await act('status');
    expect(st.rejectsToRedo).toEqual([]);
    expect(await act('transmit')).toMatchObject({ ok: true, lotsBuilt: 1 });
    await amo.whenIdle();
    await act('returns.fetch');
    await amo.whenIdle();
    await act('returns.fetch');
    st = await act('status');
    // 1, 2 and 4 paid; 3 stays rejected at the ARL, replaced by 4.
    expect(st.byState).toMatchObject({ paid: 3, 'arl-negative': 1, sent: 0, secured: 0, created: 0 });
  });
});

describe('sesam-vitale applet: an invoice left unsigned is secured later with the same number', () => {
  let b: Billing;
  beforeAll(async () => {
    b = await bootBilling();
  }, 60_000);
  afterAll(async () => {
    await b?.close();
  });

  it('a Vitale card that fails INTERNAL AUTHENTICATE leaves the FSE "created"; fse.secure finishes it, same number, and it is sent once', async () => {
    await b.insertCps(0, 'cps-infirmiere');
    // The Vitale card answers 6F00 to its first INTERNAL AUTHENTICATE, then works.
    const card = await loadCard('vitale-assure-seul');
    let failures = 1;
    const flaky: CardModel = {
      kind: card.kind,
      reset: () => card.reset(),
      processingMs: (a) => card.processingMs?.(a) ?? 0,
      process: (apdu) => (apdu[1] === 0x88 && failures-- > 0 ? Uint8Array.from([0x6f, 0x00]) : card.process(apdu)),
    };
    b.dk.kernel.insertCard(1, flaky);
    await b.waitState((s) => s.vitale !== undefined && s.vitale !== null, 'Vitale read');
    const today = new Date().toISOString().slice(0, 10);
    const acts = [{ date: today, code: 'AMI', coefficient: 1 }];
    const first = await b.act('fse.create', { acts, context: { ...CONTEXT, parcours: 'exempt' } });
    expect(first.ok, JSON.stringify(first)).toBe(false);
    let st = await b.act('status');
    expect(st.toSecure).toEqual([1]);
    // Nothing unsigned leaves: transmit builds no lot.
    expect(await b.act('transmit')).toMatchObject({ ok: true, lotsBuilt: 0 });
    const s = await b.act('fse.secure', { invoiceNo: 1 });
    expect(s, JSON.stringify(s)).toMatchObject({ ok: true, invoiceNo: 1 });
    expect(await b.act('fse.secure', { invoiceNo: 1 })).toMatchObject({ ok: false, error: { code: 'E_STATE' } });
    st = await b.act('status');
    expect(st.toSecure).toEqual([]);
    expect(await b.act('transmit')).toMatchObject({ ok: true, lotsBuilt: 1 });
    await b.amo.whenIdle();
    expect(b.amo.files().flatMap((f) => f.invoices)).toEqual([expect.objectContaining({ invoiceNo: 1, status: 'accepted' })]);
  });
});
