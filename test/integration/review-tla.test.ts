/**
 * Review of issue 8, device side (the sesam-vitale applet's portable mode and TLA operations):
 * the cases the first tests did not try. A file the AMO's server refuses is not "out of network";
 * a device clock set back (date.set from the practice computer) does not hold waiting files back
 * for the difference once the network is back; correcting a rejected FSE whose DRE the practice
 * computer holds does not make a second DRE for the same care.
 */
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootBilling, CONTEXT, todayIso, type Billing, type R } from '../support/billing.js';
import { loadCard } from '../../emulator/cards/profiles.js';
import type { WireValue } from '../../platform/wire/messages.js';
import { NET_RETRY_MAX_MS } from '../../applets/sesam-vitale/pipeline/transmit.js';

type Waiting = { fileId: string; attempts: number; nextAttemptAt: number; lastError?: string };

describe('review: portable mode on the device', () => {
  let b: Billing;
  const acts = [{ date: todayIso(), code: 'G' }];
  const retryTick = () => b.dk.kernel.call('sesam-vitale', 'onTimer', [{ name: 'retry' }]);
  const status = () => b.act('status');

  beforeAll(async () => {
    b = await bootBilling();
    await b.insertCps(0, 'cps-medecin-generaliste');
    await b.insertVitale(1, 'vitale-assure-seul');
  }, 60_000);

  afterAll(async () => {
    b?.dk.kernel.clock.set(Date.now());
    await b?.close();
  });

  it('a device clock set back while a file waits: the retry timer sends it once the network is back', async () => {
    const clock = b.dk.kernel.clock;
    expect(await b.act('fse.create', { acts, context: CONTEXT })).toMatchObject({ ok: true });
    b.dk.kernel.network.setOnline(false);
    const t = await b.act('transmit');
    expect(t).toMatchObject({ lotsBuilt: 1, filesSent: [] });
    expect((await status()).portable).toMatchObject({ offline: true, filesWaiting: 1 });
    b.dk.kernel.network.setOnline(true);
    // Back-off not over yet: the timer leaves it (well under a minute).
    await retryTick();
    expect((await status()).filesWaiting).toHaveLength(1);
    // The practice computer sets the device's clock one day back (it was ahead).
    clock.set(Date.now() - 24 * 3600 * 1000);
    try {
      await retryTick();
      const st = await status();
      expect(st.filesWaiting, JSON.stringify(st.filesWaiting)).toEqual([]);
      await b.amo.whenIdle();
      expect(b.amo.stats()).toMatchObject({ duplicates: 0, invoicesAccepted: 1 });
    } finally {
      clock.set(Date.now());
    }
  });
});

describe('review: a refusal of the AMO’s server', () => {
  let b: Billing;
  const acts = [{ date: todayIso(), code: 'G' }];

  beforeAll(async () => {
    b = await bootBilling();
    await b.insertCps(0, 'cps-medecin-generaliste');
    await b.insertVitale(1, 'vitale-assure-seul');
  }, 60_000);

  afterAll(async () => {
    await b?.close();
  });

  it('a file the AMO’s mail server refuses (550) is not “out of network”: no portable screen, the back-off grows', async () => {
    // The AMO's SMTP port now answered by a server that refuses every recipient (before any send:
    // no pooled connection to the AMO's own server).
    const port = b.amo.smtpPort;
    await b.amo.close();
    const refusing = new SMTPServer({
      disabledCommands: ['AUTH', 'STARTTLS'],
      authOptional: true,
      logger: false,
      onRcptTo(_a, _s, cb) {
        const err = new Error('550 5.7.1 relaying denied') as Error & { responseCode: number };
        err.responseCode = 550;
        cb(err);
      },
    });
    await new Promise<void>((r) => refusing.listen(port, '127.0.0.1', () => r()));
    try {
      expect(await b.act('fse.create', { acts, context: CONTEXT })).toMatchObject({ ok: true });
      let w: Waiting | undefined;
      for (let i = 0; i < 3; i++) {
        const t = await b.act('transmit', { force: true });
        w = (t.filesWaiting as Waiting[])[0];
      }
      expect(w?.lastError, JSON.stringify(w)).toMatch(/550/);
      const st = await b.act('status');
      expect(st.portable as R).toMatchObject({ offline: false });
      // 3 refusals: 30 s x 2^2 = 2 min, not the 50 s kept for want of network.
      expect(w!.nextAttemptAt - (await b.dk.kernel.clock.now())).toBeGreaterThan(NET_RETRY_MAX_MS);
    } finally {
      // Closed without waiting: the kernel's pooled SMTP connection goes with the kernel (afterAll).
      refusing.close();
    }
  });
});

describe('review: a rejected FSE whose DRE the practice computer holds', () => {
  let b: Billing;
  const today = todayIso();
  const tp = { ...CONTEXT, tiersPayantAmo: true, tiersPayantAmc: true };
  const host = (op: string, args: R = {}) => b.dk.kernel.call('sesam-vitale', 'onHostRequest', [{ op, args } as unknown as WireValue]) as Promise<R>;

  beforeAll(async () => {
    // The AMO rejects every FSE (the AMC's DREs go through).
    b = await bootBilling({ amo: { rules: { reject: [{ when: { kind: 'FSE' }, reason: { code: 'R01', text: 'REFUS' } }] } } });
    await b.insertCps(0, 'cps-medecin-generaliste');
    b.dk.kernel.insertCard(1, await loadCard('vitale-amc-tiers-payant'));
    const t0 = Date.now();
    for (;;) {
      if (b.dk.kernel.terminal.current().question) b.dk.kernel.terminal.answer(0);
      if ((await b.act('session.state')).vitale) break;
      if (Date.now() - t0 > 30_000) throw new Error('Vitale card not read');
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);

  afterAll(async () => {
    await b?.close();
  });

  it('fse.correct keeps the held DRE (the computer sends it): the AMC gets one DRE for the care', async () => {
    const r = await b.act('fse.create', { acts: [{ date: today, code: 'G' }], context: tp, beneficiary: 0 });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, invoiceNo: 1, dreNo: 2 });
    const billing = (((await b.act('session.state')).cps as R).situations as R[])[0]!.billingNumber as string;
    // The computer's sync is cut after its first page (the FSE); the practitioner takes the FSE back;
    // the computer resumes after it and holds the DRE.
    expect(await host('fse.unload', { max: 1 })).toMatchObject({ ok: true, next: `${billing}/1` });
    expect(await b.act('tla.release')).toMatchObject({ ok: true, released: [`${billing}/1`] });
    expect((await host('fse.unload', { after: `${billing}/1` })).items).toMatchObject([{ ref: `${billing}/2`, kind: 'DRE' }]);
    // The device sends the FSE; the AMO rejects it.
    expect(await b.act('transmit')).toMatchObject({ ok: true, lotsBuilt: 1 });
    await b.amo.whenIdle();
    for (let i = 0; i < 20; i++) {
      await b.act('returns.fetch');
      if (((await b.act('status')).rejectsToRedo as R[]).length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await b.act('status')).rejectsToRedo).toMatchObject([{ invoiceNo: 1 }]);
    // The correction: a new FSE; the AMC part stays the DRE the computer holds.
    const c = await b.act('fse.correct', { invoiceNo: 1 });
    expect(c, JSON.stringify(c)).toMatchObject({ ok: true, invoiceNo: 3, correctedFrom: 1 });
    expect(c.dreNo).toBeUndefined();
    const store = b.dk.kernel.store('sesam-vitale');
    expect(store.get(`inv/${billing}/000000003`) as R).toMatchObject({ dreNo: 2 });
    expect((store.get(`inv/${billing}/000000002`) as R).replacedBy).toBeUndefined();
    // The computer erases its DRE (it sends it); the device sends the corrected FSE and no DRE.
    expect(await host('erase', { invoices: [`${billing}/2`] })).toMatchObject({ ok: true, erased: { invoices: 1 } });
    expect(await b.act('transmit')).toMatchObject({ ok: true });
    await b.amo.whenIdle();
    const dres = b.amo.files().flatMap((f) => f.invoices.filter((i) => i.kind === 'DRE'));
    expect(dres).toEqual([]);
    expect(b.amo.files().flatMap((f) => f.invoices.map((i) => i.invoiceNo)).sort()).toEqual([1, 3]);
  });
});
