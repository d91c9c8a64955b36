/**
 * The emulated AMO end to end on loopback: files sent by SMTP (nodemailer as the client), read back
 * from the POP3 mailbox with a raw socket client, ARL and RSP decoded with the applet's own strict
 * decoders. Keys come from a throw-away emulator PKI; the AMO's clock is pinned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { loadOrCreatePki } from '../../emulator/cards/pki/index.js';
import { parseAmoRules, startAmo, type Amo } from '../../emulator/amo/server.js';
import { decodeArl, type ArlReport } from '../../applets/sesam-vitale/formats/arl.js';
import { decodeRsp } from '../../applets/sesam-vitale/formats/rsp.js';
import { classifyReturn } from '../../applets/sesam-vitale/formats/mail.js';
import { addWorkingDays } from '../../applets/sesam-vitale/rules/dates.js';
import { BILLING, entry, fileMessage, fse, identities, mailbox, NOW, smtpSend, TODAY, type Identities } from '../unit/amo/fixtures.js';
import type { ParsedMail } from 'mailparser';

let dir: string;
let keyDir: string;
let ids: Identities;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'di-amo-'));
  keyDir = join(dir, 'keys');
  ids = await identities(await loadOrCreatePki(keyDir));
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function start(name: string, payment: 'immediate' | 'manual' = 'immediate'): Promise<Amo> {
  return startAmo({ smtpPort: 0, pop3Port: 0, dataDir: join(dir, name), keyDir, payment, now: () => NOW });
}

function returns(mails: ParsedMail[]) {
  const arl: ArlReport[] = [];
  const rsp: ReturnType<typeof decodeRsp>[] = [];
  const other: ParsedMail[] = [];
  for (const m of mails) {
    const c = classifyReturn({
      uid: 'x',
      messageId: m.messageId ?? '',
      from: m.from?.value[0]?.address ?? '',
      subject: m.subject ?? '',
      date: m.date?.getTime() ?? 0,
      text: m.text ?? '',
      attachments: m.attachments.map((a) => ({ filename: a.filename ?? '', contentType: a.contentType, content: new Uint8Array(a.content) })),
    });
    if (c.kind === 'ARL') arl.push(decodeArl(c.attachment.content));
    else if (c.kind === 'RSP') rsp.push(decodeRsp(c.attachment.content));
    else other.push(m);
  }
  return { arl, rsp, other };
}

describe('AMO emulator', () => {
  it('accepts a valid signed file: positive ARL, then an RSP paying the AMO part on the next working day', async () => {
    const amo = await start('valid');
    try {
      const d1 = fse(1);
      const d2 = fse(2, { acts: [{ date: TODAY, code: 'G' }], context: { nature: 'maladie', aldRelated: false, parcours: 'traitant', tiersPayantAmo: true, tiersPayantAmc: false } });
      await smtpSend(amo.smtpPort, await fileMessage(1, [await entry(d1, ids), await entry(d2, ids)], ids.cps));
      await amo.whenIdle();
      const { arl, rsp, other } = returns(await mailbox(amo.pop3Port));
      expect(other).toEqual([]);
      expect(arl).toHaveLength(1);
      expect(arl[0]).toMatchObject({ status: 'positive', billingNumber: BILLING, lotNo: 1, date: TODAY });
      expect(arl[0]!.invoices).toEqual([
        { invoiceNo: 1, status: 'accepted' },
        { invoiceNo: 2, status: 'accepted' },
      ]);
      expect(rsp).toHaveLength(1);
      expect(rsp[0]!.payments.map((p) => [p.invoiceNo, p.paid, p.status, p.paymentDate])).toEqual([
        [1, d1.pricing.totals.amo, 'paid', addWorkingDays(TODAY, 1)],
        [2, d2.pricing.totals.amo, 'paid', addWorkingDays(TODAY, 1)],
      ]);
      expect(amo.stats()).toMatchObject({ filesReceived: 1, duplicates: 0, lots: 1, invoicesAccepted: 2, invoicesRejected: 0, arlSent: 1, rspSent: 1, paid: 2 });
      expect(amo.files()[0]).toMatchObject({ fileId: `F${BILLING}000001`, status: 'processed', lots: [{ lotNo: 1, status: 'positive' }] });
    } finally {
      await amo.close();
    }
  });

  it('rejects per invoice: tampered record F02, no Vitale auth F03, other signer F02, broken record F01, re-used number F08; the lot stays positive', async () => {
    const amo = await start('tamper');
    try {
      // A first name changed after signing: still a well-formed record, no longer the signed one.
      const tampered = await entry(fse(1), ids, {
        tamper: (r) => {
          const t = r.slice();
          const at = Buffer.from(t).indexOf(Buffer.from('JEAN'));
          t[at + 3] = 0x4d;
          return t;
        },
      });
      // A record cut short: the strict decoder refuses it.
      const broken = await entry(fse(5), ids, { tamper: (r) => r.slice(0, r.length - 20) });
      const noVitale = await entry(fse(2), ids, { noVitale: true });
      const good = await entry(fse(3), ids);
      const other = await entry(fse(4), ids, { cps: ids.otherCps });
      await smtpSend(amo.smtpPort, await fileMessage(1, [tampered, noVitale, good, other, broken], ids.cps));
      // Number 3 again with another content: a re-used number.
      const reuse = await entry(fse(3, { context: { nature: 'maladie', aldRelated: false, parcours: 'traitant', tiersPayantAmo: true, tiersPayantAmc: false } }), ids);
      await smtpSend(amo.smtpPort, await fileMessage(2, [reuse], ids.cps));
      await amo.whenIdle();
      const { arl } = returns(await mailbox(amo.pop3Port));
      const byLot = new Map(arl.map((a) => [a.lotNo, a]));
      const lot1 = byLot.get(1)!;
      expect(lot1.status).toBe('positive');
      expect(lot1.invoices.map((i) => [i.invoiceNo, i.status, i.code])).toEqual([
        [1, 'rejected', 'F02'],
        [2, 'rejected', 'F03'],
        [3, 'accepted', undefined],
        [4, 'rejected', 'F02'],
        [5, 'rejected', 'F01'],
      ]);
      expect(byLot.get(2)!.invoices).toEqual([expect.objectContaining({ invoiceNo: 3, status: 'rejected', code: 'F08' })]);
      expect(amo.stats()).toMatchObject({ invoicesAccepted: 1, invoicesRejected: 5, paid: 1 });
    } finally {
      await amo.close();
    }
  });

  it('answers a bad lot signature with a lot-level negative ARL naming every invoice (L02)', async () => {
    const amo = await start('badlot');
    try {
      await smtpSend(amo.smtpPort, await fileMessage(1, [await entry(fse(1), ids), await entry(fse(2), ids)], ids.cps, { corruptLot: true }));
      await amo.whenIdle();
      const { arl, rsp } = returns(await mailbox(amo.pop3Port));
      expect(arl).toHaveLength(1);
      expect(arl[0]!.status).toBe('negative');
      expect(arl[0]!.lotReason?.code).toBe('L02');
      expect(arl[0]!.invoices.map((i) => [i.status, i.code])).toEqual([
        ['rejected', 'L02'],
        ['rejected', 'L02'],
      ]);
      expect(rsp).toEqual([]);
    } finally {
      await amo.close();
    }
  });

  it('refuses a lot signed with an expired CPS certificate (L03) and its invoices signed by it (F02)', async () => {
    const amo = await start('expired');
    try {
      await smtpSend(amo.smtpPort, await fileMessage(1, [await entry(fse(1), ids, { cps: ids.cpsExpired })], ids.cpsExpired));
      await smtpSend(amo.smtpPort, await fileMessage(2, [await entry(fse(2), ids, { cps: ids.cpsExpired })], ids.cps));
      await amo.whenIdle();
      const { arl } = returns(await mailbox(amo.pop3Port));
      const byLot = new Map(arl.map((a) => [a.lotNo, a]));
      expect(byLot.get(1)).toMatchObject({ status: 'negative', lotReason: { code: 'L03' } });
      expect(byLot.get(2)).toMatchObject({ status: 'positive', invoices: [{ invoiceNo: 2, status: 'rejected', code: 'F02' }] });
    } finally {
      await amo.close();
    }
  });

  it('deduplicates a re-sent file: the same ARL again, nothing processed twice, nothing paid twice', async () => {
    const amo = await start('dedup');
    try {
      const mail = await fileMessage(1, [await entry(fse(1), ids)], ids.cps);
      await smtpSend(amo.smtpPort, mail);
      await smtpSend(amo.smtpPort, mail);
      await amo.whenIdle();
      const mails = await mailbox(amo.pop3Port);
      const { arl, rsp } = returns(mails);
      expect(arl).toHaveLength(2);
      expect(arl[1]).toEqual(arl[0]);
      const arlMails = mails.filter((m) => m.subject?.includes('ARL'));
      expect(arlMails[1]!.attachments[0]!.content.equals(arlMails[0]!.attachments[0]!.content)).toBe(true);
      expect(rsp).toHaveLength(1);
      expect(amo.stats()).toMatchObject({ filesReceived: 2, duplicates: 1, lots: 1, invoicesAccepted: 1, paid: 1 });
      expect(amo.files()).toHaveLength(1);
    } finally {
      await amo.close();
    }
  });

  it('applies rules as data: a matching invoice is rejected with the rule code, the others pass', async () => {
    const amo = await startAmo({ smtpPort: 0, pop3Port: 0, dataDir: join(dir, 'rules'), keyDir, now: () => NOW, rules: parseAmoRules({ reject: [{ when: { code: 'G', billingNumber: BILLING, kind: 'FSE', nature: 'maternite' }, reason: { code: 'R01', text: 'G EN MATERNITE REFUSE (TEST)' } }] }) });
    try {
      const maternite = fse(2, { context: { nature: 'maternite', aldRelated: false, parcours: 'traitant', tiersPayantAmo: false, tiersPayantAmc: false } });
      await smtpSend(amo.smtpPort, await fileMessage(1, [await entry(fse(1), ids), await entry(maternite, ids)], ids.cps));
      await amo.whenIdle();
      const { arl } = returns(await mailbox(amo.pop3Port));
      expect(arl[0]!.invoices).toEqual([
        { invoiceNo: 1, status: 'accepted' },
        { invoiceNo: 2, status: 'rejected', code: 'R01', text: 'G EN MATERNITE REFUSE (TEST)' },
      ]);
    } finally {
      await amo.close();
    }
  });

  it('manual payment: no RSP until settle()', async () => {
    const amo = await start('manual', 'manual');
    try {
      await smtpSend(amo.smtpPort, await fileMessage(1, [await entry(fse(1), ids)], ids.cps));
      await amo.whenIdle();
      expect(returns(await mailbox(amo.pop3Port)).rsp).toEqual([]);
      expect(amo.settle()).toBe(1);
      await amo.whenIdle();
      const { rsp } = returns(await mailbox(amo.pop3Port));
      expect(rsp).toHaveLength(1);
      expect(rsp[0]!.seq).toBe(1);
      expect(amo.settle()).toBe(0);
    } finally {
      await amo.close();
    }
  });

  it('refuses corrupt MIME without crashing: the raw message is kept, a refusal is mailed, the server keeps serving', async () => {
    const amo = await start('corrupt');
    try {
      const raw = [
        'From: ps-x@cabinet.test',
        'To: amo-017519999@amo.test',
        'Subject: DI-SV FILE F000',
        'Content-Type: multipart/mixed; boundary="nope"',
        '',
        '--nope',
        'Content-Type: application/octet-stream; name="x.txt"',
        'Content-Disposition: attachment; filename="x.txt"',
        'Content-Transfer-Encoding: base64',
        '',
        '!!!! not base64 \u0000\u0001',
        '',
      ].join('\r\n');
      await new Promise<void>((resolve, reject) => {
        const s = connect(amo.smtpPort, '127.0.0.1');
        const steps = ['EHLO t', 'MAIL FROM:<ps-x@cabinet.test>', 'RCPT TO:<amo-017519999@amo.test>', 'DATA', `${raw}\r\n.`, 'QUIT'];
        let buf = '';
        s.on('data', (c: Buffer) => {
          buf += c.toString('latin1');
          // One command per complete final reply line ("250 ", "354 "...).
          const lines = buf.split('\r\n');
          buf = lines.pop() ?? '';
          for (const l of lines) if (/^\d{3} /.test(l) && steps.length > 0) s.write(`${steps.shift()}\r\n`);
        });
        s.on('close', () => resolve());
        s.on('error', reject);
      });
      await amo.whenIdle();
      const mails = await mailbox(amo.pop3Port);
      expect(mails).toHaveLength(1);
      expect(mails[0]!.subject).toMatch(/^DI-SV REFUS/);
      expect(amo.stats()).toMatchObject({ filesReceived: 1, refused: 1 });
      // Still serving: a valid file right after is processed.
      await smtpSend(amo.smtpPort, await fileMessage(1, [await entry(fse(1), ids)], ids.cps));
      await amo.whenIdle();
      expect(returns(await mailbox(amo.pop3Port)).arl[0]?.status).toBe('positive');
    } finally {
      await amo.close();
    }
    // Kept on disk: the store survives the server.
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(join(dir, 'corrupt', 'amo.sqlite'), { readonly: true });
    const rows = db.prepare('SELECT outcome, length(raw) AS n FROM messages ORDER BY id').all() as Array<{ outcome: string; n: number }>;
    db.close();
    expect(rows[0]).toMatchObject({ outcome: 'refused' });
    expect(rows[0]!.n).toBeGreaterThan(100);
  });
});
