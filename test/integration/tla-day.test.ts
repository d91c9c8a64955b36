/**
 * Issue 8, end to end: a day of visits on a device with NO network (the AMO is down as well), the
 * practice computer pairs by the code read on the device screen, unloads every secured invoice into
 * its own store, has the device erase them, then — the AMO back — puts them in lots signed by the
 * practitioner's CPS and sends them. The AMO receives each invoice exactly once, with valid
 * signatures (it checks the CPS signature of every lot and invoice and the Vitale authentication);
 * the device holds them as 'unloaded' and its own transmission sends none of them.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAmo, type Amo } from '../../emulator/amo/server.js';
import { syncDevice } from '../../tla/sync.js';
import { transmitStored } from '../../tla/transmit.js';
import { openCps } from '../../tla/cps-signer.js';
import { shortFingerprint } from '../../tla/identity.js';
import { HOST_NUMBER_BASE, TlaStore } from '../../tla/store.js';
import type { Billing, R } from '../support/billing.js';
import { bootTlaBilling, connectPaired, hostLinkOf, pairFromScreen, PAIRING_TITLE, tempTlaDir, visitDay } from '../support/tla.js';

describe('offline day, then the practice computer unloads, erases and transmits (TLA)', () => {
  let b: Billing;
  let amo: Amo | undefined;
  const host = tempTlaDir();
  let day: Awaited<ReturnType<typeof visitDay>>;
  let smtpPort = 0;
  let pop3Port = 0;

  beforeAll(async () => {
    b = await bootTlaBilling();
    smtpPort = b.amo.smtpPort;
    pop3Port = b.amo.pop3Port;
    // The day is spent away from any network: cable out, and the AMO is not even running.
    await b.amo.close();
    b.dk.kernel.network.setOnline(false);
    day = await visitDay(b);
  }, 120_000);

  afterAll(async () => {
    await amo?.close();
    await b?.close();
    host.remove();
  });

  it('the visits are secured on the device while offline', async () => {
    expect(day.numbers.map((n) => n.kind).sort()).toEqual(['DRE', 'FSE', 'FSE', 'FSE']);
    const st = await b.act('status');
    expect(st.byState).toMatchObject({ secured: 4, 'in-lot': 0, sent: 0 });
  });

  it('pairing: the code is read on the device screen with its fingerprint; the computer pins that device', async () => {
    const { client, screen } = await pairFromScreen(b.dk, host.dir, 'Poste accueil');
    try {
      expect(screen.fingerprint).toBe(shortFingerprint(hostLinkOf(b.dk).fingerprint));
      expect(client.deviceFingerprint).toBe(hostLinkOf(b.dk).fingerprint);
      expect(client.paired).toBe(true);
      expect(client.store.devices().map((d) => d.fingerprint)).toEqual([hostLinkOf(b.dk).fingerprint]);
      // The device knows the computer by its certificate and name; the code left the screen.
      expect(hostLinkOf(b.dk).paired().map((p) => [p.fingerprint, p.name])).toEqual([[client.identity.fingerprint, 'Poste accueil']]);
      expect(b.dk.kernel.terminal.current().screen.title).not.toBe(PAIRING_TITLE);
      const id = await client.identify();
      expect(id).toMatchObject({ protocol: 'di-tla/1', domain: 'sesam-vitale', hostName: 'Poste accueil' });
      expect(id.ops).toEqual(expect.arrayContaining(['fse.unload', 'erase']));
    } finally {
      client.close();
    }
  });

  it('sync: every secured invoice unloaded into the computer store (bytes as signed), then erased on the device', async () => {
    const client = await connectPaired(b.dk, host.dir);
    try {
      const r = await syncDevice(client, { pageSize: 3 });
      expect(r.unload.invoices).toMatchObject({ received: 4, added: 4, already: 0, conflicts: [] });
      expect(r.unload.invoices.pages).toBeGreaterThanOrEqual(2);
      expect(r.unload.beneficiaries.added).toBeGreaterThanOrEqual(2);
      expect(r.erase.invoices).toMatchObject({ asked: 4, erased: 4, already: 0, refused: [] });
      expect(r.erase.beneficiaries.refused).toEqual([]);
      const stored = client.store.invoices();
      expect(stored.map((i) => i.ref)).toEqual(day.refs);
      expect(stored.every((i) => i.record.length > 0 && i.cpsSignature.length > 0 && i.erasedAt !== null)).toBe(true);
      // FSEs carry the Vitale authentication; the DRE does not.
      for (const i of stored) expect(i.vitaleAuth !== undefined).toBe(i.kind === 'FSE');
    } finally {
      client.close();
    }
    const st = await b.act('status');
    expect(st.byState).toMatchObject({ secured: 0, unloaded: 4 });
  });

  it('transmit: the AMO (back now) receives every invoice exactly once, signatures valid, lots and files numbered from 500000', async () => {
    amo = await startAmo({ smtpPort, pop3Port, dataDir: b.amoDir, payment: 'immediate' });
    const store = new TlaStore(host.dir);
    try {
      const t = await transmitStored(store, { cps: () => openCps({ profile: 'cps-medecin-generaliste', pin: '1234' }), amo: { host: '127.0.0.1', port: smtpPort } });
      expect(t.errors).toEqual([]);
      expect(t.filesWaiting).toEqual([]);
      // Two AMO destinations (two caisses) and one AMC: three lots, three files.
      expect(t).toMatchObject({ lotsBuilt: 3, lotsSigned: 3, filesBuilt: 3 });
      expect(t.filesSent).toHaveLength(3);
      for (const f of t.filesSent) expect(Number(f.slice(-6))).toBeGreaterThanOrEqual(HOST_NUMBER_BASE);
      expect(store.lots().every((l) => l.lotNo >= HOST_NUMBER_BASE && l.signed !== null)).toBe(true);
      await amo.whenIdle();
      const files = amo.files();
      expect(files).toHaveLength(3);
      expect(files.every((f) => f.status === 'processed' && f.lots.every((l) => l.status === 'positive'))).toBe(true);
      const got = files.flatMap((f) => f.invoices.map((i) => ({ invoiceNo: i.invoiceNo, kind: i.kind, status: i.status })));
      expect(got.sort((x, y) => x.invoiceNo - y.invoiceNo)).toEqual(day.numbers.map((n) => ({ ...n, status: 'accepted' })));
      expect(amo.stats()).toMatchObject({ invoicesAccepted: 4, invoicesRejected: 0, duplicates: 0 });

      // A crash after the AMO's 250 and before the file was marked sent: the re-send is the same
      // file (same id and Message-ID), which the AMO recognises; nothing is counted twice.
      const first = store.files()[0]!;
      store.db.prepare("UPDATE files SET state = 'ready' WHERE file_id = ?").run(first.fileId);
      const again = await transmitStored(store, { amo: { host: '127.0.0.1', port: smtpPort } });
      expect(again).toMatchObject({ lotsBuilt: 0, filesBuilt: 0, filesSent: [first.fileId], errors: [] });
      await amo.whenIdle();
      expect(amo.stats()).toMatchObject({ duplicates: 1, invoicesAccepted: 4 });
      expect(amo.files()).toHaveLength(3);
      const db = new Database(`${b.amoDir}/amo.sqlite`, { readonly: true });
      try {
        const per = db.prepare('SELECT invoice_no, COUNT(*) AS n FROM invoices GROUP BY billing, kind, invoice_no').all() as Array<{ invoice_no: number; n: number }>;
        expect(per).toHaveLength(4);
        expect(per.every((x) => x.n === 1)).toBe(true);
      } finally {
        db.close();
      }
      // Nothing left to do: a third run sends nothing.
      const idle = await transmitStored(store, { amo: { host: '127.0.0.1', port: smtpPort } });
      expect(idle).toMatchObject({ lotsBuilt: 0, filesBuilt: 0, filesSent: [], errors: [] });
    } finally {
      store.close();
    }
  });

  it("back online, the device's own transmission sends none of them; they stay 'unloaded'", async () => {
    b.dk.kernel.network.setOnline(true);
    const before = amo!.stats().filesReceived;
    const t = (await b.act('transmit')) as R;
    expect(t).toMatchObject({ lotsBuilt: 0, filesSent: [] });
    await amo!.whenIdle();
    expect(amo!.stats().filesReceived).toBe(before);
    const st = await b.act('status');
    expect(st.byState).toMatchObject({ unloaded: 4, secured: 0, 'in-lot': 0, sent: 0 });
  });
});
