/**
 * The practice computer fetches the AMO's returns about what it sent (tla/returns.ts), from the same
 * POP3 mailbox the device reads. An offline day on the device, unloaded and transmitted by the
 * computer (files from 500000); the device then sends one invoice of its own (same billing number and
 * destination as two of the computer's), and the AMO pays them all at once (manual payment): one RSP
 * is shared between the device and the computer. The computer applies its ARLs and payments, deletes
 * only what is wholly its own and only after its commit (a cut in between re-applies nothing), leaves
 * the device's ARL and the shared RSP; the device's returns.fetch still applies its part; a second
 * fetch is a no-op; a corrupt return claiming to be the computer's is kept with its error, an unknown
 * one is left untouched.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootBilling, CONTEXT, type Billing } from '../support/billing.js';
import { connectPaired, pairFromScreen, tempTlaDir, visitDay, insertVitaleAs } from '../support/tla.js';
import { syncDevice } from '../../tla/sync.js';
import { transmitStored } from '../../tla/transmit.js';
import { openCps } from '../../tla/cps-signer.js';
import { HOST_NUMBER_BASE, TlaStore } from '../../tla/store.js';
import { fetchReturns, type FetchReturnsOptions } from '../../tla/returns.js';
import { composeArl } from '../../emulator/amo/mail-out.js';
import { encodeArl } from '../../applets/sesam-vitale/formats/arl.js';
import { fileIdOf } from '../../applets/sesam-vitale/formats/file.js';

describe('the practice computer fetches the returns about its own files (TLA returns)', () => {
  let b: Billing;
  const host = tempTlaDir();
  let day: Awaited<ReturnType<typeof visitDay>>;
  let store: TlaStore;
  let deviceInvoiceNo = 0;
  let pop3: FetchReturnsOptions['pop3'];

  /** Subjects of the messages in the AMO mailbox, in order. */
  const mailbox = (): Array<{ uid: string; subject: string }> => {
    const db = new Database(join(b.amoDir, 'amo.sqlite'), { readonly: true });
    try {
      const rows = db.prepare('SELECT uid, raw FROM mailbox ORDER BY seq').all() as Array<{ uid: string; raw: Buffer }>;
      return rows.map((r) => ({ uid: r.uid, subject: /^Subject: (.*)$/m.exec(r.raw.toString('latin1'))?.[1]?.trim() ?? '' }));
    } finally {
      db.close();
    }
  };
  const deliver = (uid: string, raw: Uint8Array): void => {
    const db = new Database(join(b.amoDir, 'amo.sqlite'));
    try {
      db.prepare('INSERT INTO mailbox (uid, user, raw, created_at) VALUES (?, ?, ?, ?)').run(uid, 'cabinet', Buffer.from(raw), Date.now());
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    b = await bootBilling({ config: { hostLink: { enabled: true, host: '127.0.0.1', port: 0 } }, amo: { payment: 'manual' } });
    pop3 = { host: '127.0.0.1', port: b.amo.pop3Port, user: 'cabinet', password: 'cabinet-test' };
    // The day away from any network; the computer unloads it and transmits it.
    b.dk.kernel.network.setOnline(false);
    day = await visitDay(b);
    const { client } = await pairFromScreen(b.dk, host.dir, 'Poste accueil');
    client.close();
    const c = await connectPaired(b.dk, host.dir);
    try {
      const r = await syncDevice(c);
      expect(r.erase.invoices).toMatchObject({ asked: 4, erased: 4 });
    } finally {
      c.close();
    }
    store = new TlaStore(host.dir);
    const t = await transmitStored(store, { cps: () => openCps({ profile: 'cps-medecin-generaliste', pin: '1234' }), amo: { host: '127.0.0.1', port: b.amo.smtpPort } });
    expect(t).toMatchObject({ errors: [], filesBuilt: 3 });
    await b.amo.whenIdle();
    // Back online, the device bills one more visit (same patient, so same destination as two of the
    // computer's invoices) and sends it in its own file (numbers below 500000).
    b.dk.kernel.network.setOnline(true);
    await insertVitaleAs(b, 'vitale-assure-seul');
    const f = await b.act('fse.create', { acts: [{ date: new Date().toISOString().slice(0, 10), code: 'G' }], context: CONTEXT, beneficiary: 0 });
    expect(f.ok).toBe(true);
    deviceInvoiceNo = f.invoiceNo as number;
    await b.act('transmit');
    await b.amo.whenIdle();
    expect(b.amo.files()).toHaveLength(4);
    // The AMO pays everything accepted: one RSP per billing number and destination.
    expect(b.amo.settle()).toBe(5);
    await b.amo.whenIdle();
  }, 180_000);

  afterAll(async () => {
    store?.close();
    await b?.close();
    host.remove();
  });

  it('the mailbox holds the ARLs of the 3 computer files and of the device file, and 3 RSPs', () => {
    const kinds = mailbox().map((m) => {
      const arl = /^DI-SV ARL F[0-9]{9}([0-9]{6}) L[0-9]+$/.exec(m.subject);
      if (arl) return Number(arl[1]) >= HOST_NUMBER_BASE ? 'ARL computer' : 'ARL device';
      return /^DI-SV RSP [0-9]{9} [0-9]{6}$/.test(m.subject) ? 'RSP' : m.subject;
    });
    expect(kinds.sort()).toEqual(['ARL computer', 'ARL computer', 'ARL computer', 'ARL device', 'RSP', 'RSP', 'RSP']);
  });

  it('a cut between the commit and the DELE: everything applied once, nothing deleted; the next fetch deletes and re-applies nothing', async () => {
    const before = mailbox();
    await expect(
      fetchReturns(store, {
        pop3,
        beforeDelete: () => {
          throw new Error('cut');
        },
      }),
    ).rejects.toThrow('cut');
    expect(mailbox()).toEqual(before);
    // Committed: every lot has its positive ARL, every invoice of the computer is paid (the AMO part
    // of an FSE, the AMC part of a DRE).
    const lots = store.lots();
    expect(store.lotArls().map((a) => [a.lotNo, a.status])).toEqual(lots.map((l) => [l.lotNo, 'positive']));
    expect(lots.every((l) => l.lotNo >= HOST_NUMBER_BASE)).toBe(true);
    const inv = store.invoices();
    const ret = store.invoiceReturns();
    expect(ret.map((r) => [r.invoiceNo, r.state, r.arl])).toEqual(inv.map((i) => [i.invoiceNo, 'paid', 'positive']));
    for (const i of inv) expect(store.invoiceReturn(i.billingNumber, i.invoiceNo)?.paid?.amount).toBe(i.kind === 'DRE' ? i.amc : i.amo);
    expect(ret.map((r) => r.invoiceNo)).not.toContain(deviceInvoiceNo);
    const recorded = store.returns();
    expect(recorded.map((r) => `${r.kind}:${r.outcome}`).sort()).toEqual(['ARL:applied', 'ARL:applied', 'ARL:applied', 'RSP:applied', 'RSP:applied', 'RSP:shared']);
    const snapshot = JSON.stringify([store.lotArls(), store.invoiceReturns(), store.returns()]);

    const r = await fetchReturns(store, { pop3 });
    expect(r).toMatchObject({ ok: true, listed: 7, arl: 0, rsp: 0, paid: 0, rejects: [], alreadyApplied: 5, deleted: 5, shared: 1, leftUntouched: 1, corrupt: [] });
    expect(JSON.stringify([store.lotArls(), store.invoiceReturns(), store.returns()])).toBe(snapshot);
    // Left: the device's ARL and the shared RSP.
    const left = mailbox();
    expect(left).toHaveLength(2);
    expect(left.map((m) => m.uid).sort()).toEqual(
      before
        .filter((m) => !recorded.some((x) => x.uid === m.uid && x.outcome === 'applied'))
        .map((m) => m.uid)
        .sort(),
    );
    expect(left.some((m) => /^DI-SV ARL F[0-9]{9}([0-4][0-9]{5}) L/.test(m.subject))).toBe(true);
  });

  it("the device's returns.fetch applies its ARL and its part of the shared RSP, and leaves the RSP", async () => {
    const r = await b.act('returns.fetch');
    expect(r).toMatchObject({ ok: true, arl: 1, rsp: 1, corrupt: [], leftForHost: 1 });
    const st = await b.act('status');
    expect(st.byState).toMatchObject({ paid: 1, unloaded: 4 });
    expect(mailbox().map((m) => m.subject)).toEqual([expect.stringMatching(/^DI-SV RSP /)]);
  });

  it('a second fetch by the computer is a no-op', async () => {
    const snapshot = JSON.stringify([store.lotArls(), store.invoiceReturns(), store.returns()]);
    const r = await fetchReturns(store, { pop3 });
    expect(r).toMatchObject({ ok: true, listed: 1, arl: 0, rsp: 0, paid: 0, alreadyApplied: 0, deleted: 0, shared: 1, leftUntouched: 0, corrupt: [] });
    expect(JSON.stringify([store.lotArls(), store.invoiceReturns(), store.returns()])).toBe(snapshot);
    expect(mailbox()).toHaveLength(1);
  });

  it('a corrupt ARL naming one of its files is kept with its error and not deleted; an ARL for an unknown lot is left untouched', async () => {
    const lot = store.lots()[0]!;
    const file = store.files().find((f) => f.fileNo === lot.fileNo)!;
    const bad = await composeArl({ fileId: file.fileId, lotNo: lot.lotNo, billingNumber: lot.billingNumber, destination: lot.destination, status: 'positive', body: new TextEncoder().encode('000 pas un ARL\r\n'), date: new Date() });
    const unknownId = fileIdOf(lot.billingNumber, 500_900);
    const unknown = await composeArl({
      fileId: unknownId,
      lotNo: 500_900,
      billingNumber: lot.billingNumber,
      destination: lot.destination,
      status: 'positive',
      body: encodeArl({ fileId: unknownId, lotNo: 500_900, billingNumber: lot.billingNumber, destination: lot.destination, date: new Date().toISOString().slice(0, 10), status: 'positive', invoices: [] }),
      date: new Date(),
    });
    deliver('host-bad', bad.raw);
    deliver('host-unknown', unknown.raw);
    const snapshot = JSON.stringify([store.lotArls(), store.invoiceReturns()]);
    const r = await fetchReturns(store, { pop3 });
    expect(r).toMatchObject({ ok: true, listed: 3, arl: 0, deleted: 0, shared: 1, leftUntouched: 1 });
    expect(r.corrupt).toEqual([{ uid: 'host-bad', error: expect.stringMatching(/^ARL /) }]);
    const kept = store.returnOf('host-bad');
    expect(kept).toMatchObject({ kind: 'ARL', outcome: 'corrupt', fileId: file.fileId, lotNo: lot.lotNo, size: 16, truncated: false });
    expect(Buffer.from(kept!.raw!).toString()).toBe('000 pas un ARL\r\n');
    expect(store.returnOf('host-unknown')).toBeUndefined();
    expect(JSON.stringify([store.lotArls(), store.invoiceReturns()])).toBe(snapshot);
    expect(mailbox().map((m) => m.uid)).toEqual(expect.arrayContaining(['host-bad', 'host-unknown']));
    // Seen again: skipped, still not deleted.
    const again = await fetchReturns(store, { pop3 });
    expect(again).toMatchObject({ ok: true, corrupt: [], corruptKept: 1, leftUntouched: 1, deleted: 0 });
    expect(mailbox()).toHaveLength(3);
    // The device, fetching the same mailbox, does not set the computer's corrupt ARL aside (which
    // would delete it from the server): its subject names the computer's range.
    const device = (await b.act('returns.fetch')) as { ok: boolean; corrupt: unknown[]; leftForHost: number };
    expect(device.corrupt).toEqual([]);
    expect(device.leftForHost).toBe(3);
    expect(mailbox().map((m) => m.uid)).toEqual(expect.arrayContaining(['host-bad', 'host-unknown']));
  });

  it('an unreachable mailbox is reported, nothing changes', async () => {
    const r = await fetchReturns(store, { pop3: { ...pop3, port: 1 }, timeoutMs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/relève interrompue/);
    expect(r.error).not.toContain('cabinet-test');
  });
});
