/**
 * Review of the billing change (ca6fb4f..HEAD): each test states what must hold and names the defect
 * it demonstrates. Real modules throughout: the applet's returns pipeline over the kernel's real
 * DomainStore, the AMO emulator on loopback, the applet packer, and the whole applet under a kernel.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { StoreOp, Transferable } from '../../platform/sdk/api.js';
import { openDomainStore, type DomainStore } from '../../platform/kernel/store.js';
import { bundleApplet } from '../../platform/kernel/packages/pack.js';
import { fetchReturns } from '../../applets/sesam-vitale/pipeline/returns.js';
import { keys } from '../../applets/sesam-vitale/pipeline/keys.js';
import { encodeArl, type ArlReport } from '../../applets/sesam-vitale/formats/arl.js';
import { arlAttachmentName, arlMailSubject, classifyReturn, type MailMessage } from '../../applets/sesam-vitale/formats/mail.js';
import { decodeArl } from '../../applets/sesam-vitale/formats/arl.js';
import { loadOrCreatePki } from '../../emulator/cards/pki/index.js';
import { parseAmoRules, startAmo } from '../../emulator/amo/server.js';
import { AmoStore } from '../../emulator/amo/store.js';
import { entry, fileMessage, fse, identities, mailbox, NOW, type Identities } from '../unit/amo/fixtures.js';
import { bootBilling, CONTEXT, todayIso, type Billing, type R } from '../support/billing.js';
import { loadCard } from '../../emulator/cards/profiles.js';

// ---------------------------------------------------------------------------------------------------
// 1. returns.fetch: one oversized corrupt return wedges the mailbox for good
// ---------------------------------------------------------------------------------------------------

const BILLING = '751990017';
const FILE_ID = `F${BILLING}000001`;

describe('returns.fetch over the real domain store', () => {
  let dir: string;
  let store: DomainStore;
  let mail: Map<string, { subject: string; attachments: Array<{ filename: string; contentType: string; content: Uint8Array }> }>;

  const arl: ArlReport = {
    fileId: FILE_ID,
    lotNo: 1,
    billingNumber: BILLING,
    destination: 'AMO-017519999',
    date: '2025-01-10',
    status: 'positive',
    invoices: [{ invoiceNo: 1, status: 'accepted' }],
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'di-review-ret-'));
    store = openDomainStore({ dataDir: dir, domain: 'sesam-vitale', quotaBytes: 256 * 1024 * 1024 });
    mail = new Map();
    (globalThis as unknown as { platform: unknown }).platform = {
      store: {
        get: async (k: string) => store.get(k),
        list: async (o: { prefix?: string } = {}) => store.list(o),
        transaction: async (ops: StoreOp[]) => store.transaction(ops),
      },
      net: {
        // What the kernel's pop3 transport answers (it delivers messages up to 8 MiB).
        fetch: async (_ep: string, req: { type: string; uid?: string; uids?: string[] }) => {
          if (req.type === 'list') return { type: 'list', messages: [...mail.keys()].map((uid) => ({ uid, size: 1 })) };
          if (req.type === 'retrieve') return { type: 'message', uid: req.uid, messageId: `<${req.uid}@amo.test>`, from: 'postmaster@amo.test', date: 0, text: '', ...mail.get(req.uid!)! };
          for (const u of req.uids!) mail.delete(u);
          return { type: 'deleted', count: req.uids!.length };
        },
      },
      clock: { now: async () => Date.UTC(2025, 0, 10, 9) },
      crypto: { digest: async (_alg: string, data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest()) },
    };
    const inv = { data: { invoiceNo: 1 }, state: 'sent', history: [{ state: 'sent', at: 1 }], destination: 'AMO-017519999', deadline: '2025-01-15', lotNo: 1 };
    store.transaction([
      { op: 'put', key: keys.invoice(BILLING, 1), value: inv as unknown as Transferable },
      { op: 'put', key: keys.lot(BILLING, 1), value: { lotNo: 1, destination: 'AMO-017519999', invoiceNos: [1], body: new Uint8Array([1]), signed: new Uint8Array([2]), fileNo: 1 } },
      { op: 'put', key: keys.file(BILLING, 1), value: { fileNo: 1, fileId: FILE_ID, destination: 'AMO-017519999', lotNos: [1], state: 'sent', attempts: 1, nextAttemptAt: 0, billingNumber: BILLING, createdAt: '2025-01-10' } },
    ]);
  });

  afterAll(() => {
    delete (globalThis as unknown as { platform?: unknown }).platform;
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // DEFECT (pipeline/returns.ts:147-157): a return that does not decode is kept under ret-bad/<uid>
  // with ALL its raw bytes. When those exceed the store's 1 MiB per value, the ret-bad put throws a
  // StoreError (code E_VALUE), which the code treats like a network failure: the loop stops, the
  // message is never marked done nor deleted, and every later fetch stops on it again. One malformed
  // (oversized) message in the mailbox blocks every ARL and RSP behind it forever.
  it('a corrupt return too large to keep whole is still set aside, and the returns behind it are applied', async () => {
    const huge = new Uint8Array(1_200_000).fill(0x41); // an "ARL" attachment that does not decode
    mail.set('u-big', { subject: arlMailSubject(FILE_ID, 1), attachments: [{ filename: arlAttachmentName(FILE_ID, 1), contentType: 'text/plain', content: huge }] });
    mail.set('u-good', { subject: arlMailSubject(FILE_ID, 1), attachments: [{ filename: arlAttachmentName(FILE_ID, 1), contentType: 'text/plain', content: encodeArl(arl) }] });

    const first = await fetchReturns();
    const second = await fetchReturns();
    // The good ARL must have been applied by now, and the bad message reported as corrupt.
    expect({ first: first.ok, second: second.ok, second_error: second.error ?? null }).toEqual({ first: true, second: true, second_error: null });
    expect(store.get(keys.lot(BILLING, 1))).toMatchObject({ arl: 'positive' });
    expect([...first.corrupt, ...second.corrupt].map((c) => c.uid)).toContain('u-big');
  });
});

// ---------------------------------------------------------------------------------------------------
// 2. The AMO's envelope check (docs/amo.md §Processing 4: SMTP MAIL FROM = practitionerAddress, L04)
// ---------------------------------------------------------------------------------------------------

describe('AMO envelope checks', () => {
  let dir: string;
  let keyDir: string;
  let ids: Identities;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'di-review-amo-'));
    keyDir = join(dir, 'keys');
    ids = await identities(await loadOrCreatePki(keyDir));
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function arlsOf(pop3Port: number): Promise<ArlReport[]> {
    const out: ArlReport[] = [];
    for (const m of await mailbox(pop3Port)) {
      const c = classifyReturn({ uid: 'x', messageId: m.messageId ?? '', from: '', subject: m.subject ?? '', date: 0, text: '', attachments: m.attachments.map((a) => ({ filename: a.filename ?? '', contentType: a.contentType, content: new Uint8Array(a.content) })) });
      if (c.kind === 'ARL') out.push(decodeArl(c.attachment.content));
    }
    return out;
  }

  function raw(m: MailMessage): Promise<Buffer> {
    return new MailComposer({
      from: m.from,
      to: m.to,
      subject: m.subject,
      messageId: m.messageId,
      text: m.text,
      attachments: m.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: Buffer.from(a.content) })),
    })
      .compile()
      .build();
  }

  // DEFECT (emulator/amo/processing.ts:243): `envelope.mailFrom !== '' && …` skips the SMTP sender
  // check when MAIL FROM is the null reverse-path <>: a file sent with MAIL FROM:<> is accepted
  // (positive ARL, payment) although docs/amo.md requires MAIL FROM = practitionerAddress (L04).
  it('a file sent with the null reverse-path MAIL FROM:<> is refused L04, like any other foreign SMTP sender', async () => {
    const amo = await startAmo({ smtpPort: 0, pop3Port: 0, dataDir: join(dir, 'null-sender'), keyDir, payment: 'manual', now: () => NOW });
    try {
      const m = await fileMessage(1, [await entry(fse(1), ids)], ids.cps);
      const t = createTransport({ host: '127.0.0.1', port: amo.smtpPort, secure: false, ignoreTLS: true });
      try {
        await t.sendMail({ envelope: { from: '', to: m.to }, raw: await raw(m) });
      } finally {
        t.close();
      }
      await amo.whenIdle();
      const arls = await arlsOf(amo.pop3Port);
      expect(arls).toHaveLength(1);
      expect(arls[0]).toMatchObject({ status: 'negative', lotReason: { code: 'L04' } });
    } finally {
      await amo.close();
    }
  }, 60_000);

  // DEFECT (emulator/amo/processing.ts:137, resumePending): a message kept before a crash is
  // processed at the next start with an EMPTY envelope ({ mailFrom: '', rcptTo: [] }) although the
  // store kept its MAIL FROM and RCPT TO: the L04 sender and L05 destination checks are skipped, so a
  // file the AMO would have refused had it not crashed is accepted after the restart.
  it('a message kept before a crash is checked at restart against the envelope it arrived with', async () => {
    const d = join(dir, 'resume');
    const m = await fileMessage(1, [await entry(fse(1), ids)], ids.cps);
    // What a SIGKILL between "keep" and "commit" leaves: the raw message, outcome 'received'.
    const s = new AmoStore(d);
    s.keepMessage(NOW, 'intrus@ailleurs.test', ['autre@amo.test'], new Uint8Array(await raw(m)));
    s.close();
    const amo = await startAmo({ smtpPort: 0, pop3Port: 0, dataDir: d, keyDir, payment: 'manual', now: () => NOW });
    try {
      await amo.whenIdle();
      const arls = await arlsOf(amo.pop3Port);
      expect(arls).toHaveLength(1);
      // Live, the same message gets a negative ARL (foreign SMTP sender L04 / not addressed to the destination L05).
      expect(arls[0]!.status).toBe('negative');
      expect(['L04', 'L05']).toContain(arls[0]!.lotReason?.code);
    } finally {
      await amo.close();
    }
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------------
// 3. Applet packages: the confinement of what an applet may bundle (docs/ARCHITECTURE.md)
// ---------------------------------------------------------------------------------------------------

describe('applet bundle confinement', () => {
  let dir: string;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // DEFECT (platform/kernel/packages/pack.ts:144,159): "granted package code" is recognised by the
  // importer's PATH containing a `node_modules` segment. A folder named node_modules INSIDE the applet
  // directory therefore counts as granted code: its relative imports skip the root check, so the
  // bundle (then signed by the manufacturer's key) can take in any file of the packing machine, and
  // its bare imports may name any package, granted or not.
  it('a file the applet reaches through its own node_modules folder is confined like any other applet file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'di-review-pack-'));
    writeFileSync(join(dir, 'secret.json'), JSON.stringify({ manufacturerSecret: 'S3CR3T-OUTSIDE-THE-APPLET' }));
    const applet = join(dir, 'applet');
    mkdirSync(join(applet, 'node_modules', 'evil'), { recursive: true });
    writeFileSync(join(applet, 'node_modules', 'evil', 'index.js'), `import s from '../../../secret.json';\nexport default s;\n`);
    writeFileSync(join(applet, 'main.ts'), `import s from './node_modules/evil/index.js';\n(globalThis as any).main = async () => JSON.stringify(s);\n`);
    let script = '';
    let refused: unknown = null;
    try {
      script = await bundleApplet(applet, 'main.ts', undefined, []);
    } catch (e) {
      refused = e;
    }
    expect(script).not.toContain('S3CR3T-OUTSIDE-THE-APPLET');
    expect(refused).not.toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------------
// 4. A corrected FSE: the AMC's DRE and the patient's card payment
// ---------------------------------------------------------------------------------------------------

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

describe('a rejected FSE under tiers payant AMC, paid at the desk, then corrected', () => {
  let b: Billing;
  const today = todayIso();
  const tp = { ...CONTEXT, tiersPayantAmo: true, tiersPayantAmc: true };
  let fseNo = 0;
  let dreNo = 0;
  let corrected: R = {};

  beforeAll(async () => {
    // The caisse rejects the FSE (an R01 rule), the AMC accepts the DRE split from it.
    b = await bootBilling({
      amo: { rules: parseAmoRules({ reject: [{ when: { kind: 'FSE' }, reason: { code: 'R01', text: 'REJET DE TEST' } }] }) },
      config: { reader: { driver: 'emulated', slots: 3, timing: false, baudRate: 9600, pcscReaders: [] } },
    });
    await b.insertCps(0, 'cps-medecin-generaliste', '1234', 0);
    await insertVitaleAs(b, 1, 'vitale-amc-tiers-payant', 0);
    const r = await b.act('fse.create', { acts: [{ date: today, code: 'G' }], context: tp, beneficiary: 0 });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
    fseNo = r.invoiceNo as number;
    dreNo = r.dreNo as number;
    expect(dreNo).toBeGreaterThan(0);
    // The patient pays the participation at the desk (the stand-in payment domain approves).
    const p = await b.act('fse.pay', { invoiceNo: fseNo });
    expect(p, JSON.stringify(p)).toMatchObject({ ok: true, status: 'approved' });
    const t = await b.act('transmit');
    expect(t, JSON.stringify(t)).toMatchObject({ ok: true });
    await b.amo.whenIdle();
    for (let i = 0; i < 20; i++) {
      await b.amo.whenIdle();
      await b.act('returns.fetch');
      const st = await b.act('status');
      if ((st.byState as R)['arl-negative'] === 1) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    corrected = await b.act('fse.correct', { invoiceNo: fseNo });
    expect(corrected, JSON.stringify(corrected)).toMatchObject({ ok: true, correctedFrom: fseNo });
  }, 120_000);

  afterAll(async () => {
    await b?.close();
  });

  // DEFECT (pipeline/invoices.ts:87,114 + invoice/build.ts:84-85): fse.correct marks only the old FSE
  // `replacedBy`; the correction makes a NEW DRE (new number, no correctedFrom) while the first DRE,
  // split from the rejected FSE, stays valid and was already accepted by the AMC. The AMC is billed
  // twice for the same care, as two different invoices.
  it('the AMC is billed once for one care: after the correction is transmitted, one DRE accepted, not two', async () => {
    const t = await b.act('transmit');
    expect(t, JSON.stringify(t)).toMatchObject({ ok: true });
    await b.amo.whenIdle();
    const acceptedDres = b.amo
      .files()
      .flatMap((f) => f.invoices)
      .filter((i) => i.kind === 'DRE' && i.status === 'accepted')
      .map((i) => i.invoiceNo);
    expect({ firstDre: dreNo, correctionDre: corrected.dreNo ?? null, acceptedDres }).toEqual({ firstDre: dreNo, correctionDre: corrected.dreNo ?? null, acceptedDres: [dreNo] });
  }, 60_000);

  // DEFECT (pipeline/payment.ts:25-26): the "never paid twice" guard is keyed on the invoice number
  // (pay/<billing>/<no>). A correction is the same care under a new number, so fse.pay on it charges
  // the patient's card a second time — and the web terminal offers exactly that (its "payer" button
  // follows the last invoice, which fse.correct sets).
  it('the patient is not charged twice for one care: paying the correction of an FSE already paid by card is refused', async () => {
    const p = await b.act('fse.pay', { invoiceNo: corrected.invoiceNo as number });
    expect(p.status).not.toBe('approved');
    expect((p.error as R | undefined)?.code).toBe('E_PAID');
  }, 60_000);
});
