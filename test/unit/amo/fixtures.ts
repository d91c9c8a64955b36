/**
 * Shared by the AMO tests: identities from a throw-away emulator PKI, a valid FSE built with the
 * applet's own modules, signed lots and files as the applet would send them, and a raw POP3 client.
 */
import { constants, createHash, createPrivateKey, privateEncrypt, sign } from 'node:crypto';
import { connect } from 'node:net';
import { simpleParser } from 'mailparser';
import { createTransport } from 'nodemailer';
import type { EmulatorPki, IssuedIdentity } from '../../../emulator/cards/pki/index.js';
import { billingNumberKey } from '../../../emulator/cards/models/cps/data.js';
import { buildInvoice } from '../../../applets/sesam-vitale/invoice/build.js';
import type { InvoiceInput } from '../../../applets/sesam-vitale/invoice/validate.js';
import type { InvoiceData, IsoDate, PractitionerRef } from '../../../applets/sesam-vitale/model.js';
import { encodeInvoice } from '../../../applets/sesam-vitale/formats/invoice.js';
import { encodeLotBody, type LotEntry } from '../../../applets/sesam-vitale/formats/lot.js';
import { fileIdOf, lotAttachmentName, type FileManifest } from '../../../applets/sesam-vitale/formats/file.js';
import { fileMail, practitionerAddress, type MailMessage } from '../../../applets/sesam-vitale/formats/mail.js';
import { signCms } from '../../../applets/sesam-vitale/formats/cms.js';

export const BILLING = `75199001${billingNumberKey('75199001')}`;
export const NATIONAL_ID = '819999000011';
/** The AMO's pinned clock: a Wednesday, 10:00 UTC. */
export const NOW = Date.parse('2025-03-12T10:00:00Z');
export const TODAY: IsoDate = '2025-03-12';

const VALID = { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') };

export interface Identities {
  cps: IssuedIdentity;
  /** Same practitioner, certificate dated as in the cps-certificat-expire profile (ended 2022-01-01). */
  cpsExpired: IssuedIdentity;
  /** Another practitioner's valid CPS. */
  otherCps: IssuedIdentity;
  vitale: IssuedIdentity;
}

export async function identities(pki: EmulatorPki): Promise<Identities> {
  const subject = { commonName: 'ALICE FICTIF', serialNumber: NATIONAL_ID, title: 'Medecin' };
  const [cps, cpsExpired, otherCps, vitale] = await Promise.all([
    pki.issue({ id: 'amo-test:cps', ca: 'health', subject, usage: 'sign', ...VALID }),
    pki.issue({ id: 'amo-test:cps-expired', ca: 'health', subject, usage: 'sign', notBefore: new Date('2019-01-01T00:00:00Z'), notAfter: new Date('2022-01-01T00:00:00Z') }),
    pki.issue({ id: 'amo-test:cps-other', ca: 'health', subject: { commonName: 'BRUNO AUTRE', serialNumber: '819999000029', title: 'Medecin' }, usage: 'sign', ...VALID }),
    pki.issue({ id: 'amo-test:vitale', ca: 'vitale', subject: { commonName: 'CARTE VITALE TEST 9900000001', serialNumber: '9900000001' }, usage: 'auth', ...VALID }),
  ]);
  return { cps, cpsExpired, otherCps, vitale };
}

export const practitioner: PractitionerRef = {
  nationalId: NATIONAL_ID,
  nom: 'FICTIF',
  prenom: 'ALICE',
  specialite: '01',
  billingNumber: BILLING,
  situationNumber: 1,
  conventionCode: '1',
  tariffZone: '10',
  remplacant: false,
};

export function input(over: Partial<InvoiceInput> = {}): InvoiceInput {
  return {
    practitioner,
    situation: { number: 1, mode: 'L', billingNumber: BILLING, conventionCode: '1', tariffZone: '10', specialite: '01', canSignFse: true, canSignLot: true, remplacant: false },
    insured: { nir: '180017599900137', regime: '01', caisse: '751', centre: '9999', codeGestion: '10' },
    beneficiary: {
      surname: 'TESTDUPONT',
      firstName: 'JEAN',
      birthDate: '19800115',
      birthRank: 1,
      quality: '00',
      nir: '180017599900137',
      nationality: 'FRA',
      rights: { start: '2023-01-01', ald: false, exoneration: '0' },
    },
    context: { nature: 'maladie', aldRelated: false, parcours: 'traitant', tiersPayantAmo: false, tiersPayantAmc: false },
    acts: [{ date: TODAY, code: 'G' }],
    degraded: false,
    vitaleSerial: '9900000001',
    ...over,
  } as InvoiceInput;
}

export function fse(invoiceNo: number, over: Partial<InvoiceInput> = {}): InvoiceData {
  return buildInvoice(input(over), { invoiceNo }, TODAY).data;
}

function signer(id: IssuedIdentity, at: number) {
  const key = createPrivateKey(id.privateKeyPem);
  const prefix = Buffer.from('3031300d060960864801650304020105000420', 'hex');
  return {
    signerCertDer: id.certificateDer,
    chainDer: id.chainDer,
    signingTime: new Date(at - 60_000),
    digest: async (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest()),
    // What the CPS's PSO CDS does: PKCS#1 v1.5 over DigestInfo(SHA-256, hash).
    signHash: async (h: Uint8Array) => new Uint8Array(privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([prefix, h]))),
  };
}

export interface EntryOptions {
  cps?: IssuedIdentity;
  /** Change the record after it was signed and authenticated. */
  tamper?: (record: Uint8Array) => Uint8Array;
  noVitale?: boolean;
}

export async function entry(d: InvoiceData, ids: Identities, o: EntryOptions = {}): Promise<LotEntry> {
  const record = encodeInvoice(d);
  const cpsSignature = await signCms({ content: record, detached: true, ...signer(o.cps ?? ids.cps, NOW) });
  const e: LotEntry = { invoiceNo: d.invoiceNo, record: o.tamper ? o.tamper(record) : record, cpsSignature };
  if (!o.noVitale && !d.degraded) {
    const challenge = createHash('sha256').update(record).digest();
    e.vitaleAuth = new Uint8Array(sign('sha256', challenge, createPrivateKey(ids.vitale.privateKeyPem)));
    e.vitaleCertDer = ids.vitale.certificateDer;
  }
  return e;
}

export async function fileMessage(fileNo: number, entries: LotEntry[], lotSigner: IssuedIdentity, o: { destination?: string; corruptLot?: boolean } = {}): Promise<MailMessage> {
  const destination = o.destination ?? 'AMO-017519999';
  const fileId = fileIdOf(BILLING, fileNo);
  const body = encodeLotBody({ lotNo: fileNo, kind: 'FSE', destination, billingNumber: BILLING, createdAt: TODAY }, entries);
  let signed = await signCms({ content: body, detached: false, ...signer(lotSigner, NOW) });
  if (o.corruptLot) {
    // Flip a byte inside the signed lot body (the encapsulated content sits before the signature).
    signed = signed.slice();
    const at = Buffer.from(signed).indexOf(Buffer.from(BILLING)) + 2;
    signed[at] = signed[at]! ^ 0x01;
  }
  const manifest: FileManifest = {
    fileId,
    fileNo,
    billingNumber: BILLING,
    destination,
    createdAt: TODAY,
    lots: [{ lotNo: fileNo, kind: 'FSE', invoices: entries.length, amount: 0, attachment: lotAttachmentName(fileId, fileNo) }],
  };
  return fileMail(manifest, [{ lotNo: fileNo, signed }], practitionerAddress(BILLING));
}

export async function smtpSend(port: number, m: MailMessage): Promise<void> {
  const t = createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    await t.sendMail({
      from: m.from,
      to: m.to,
      subject: m.subject,
      messageId: m.messageId,
      text: m.text,
      attachments: m.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: Buffer.from(a.content) })),
    });
  } finally {
    t.close();
  }
}

/** A raw POP3 conversation: sends each command after the previous answer is complete. */
export async function pop3(port: number, commands: Array<{ cmd: string; multi?: boolean }>): Promise<string[]> {
  const sock = connect(port, '127.0.0.1');
  let buf = '';
  const waiters: Array<() => void> = [];
  sock.on('data', (c: Buffer) => {
    buf += c.toString('latin1');
    waiters.shift()?.();
  });
  const read = async (multi: boolean): Promise<string> => {
    for (;;) {
      const end = buf.indexOf('\r\n');
      if (end >= 0) {
        const first = buf.slice(0, end);
        if (!multi || first.startsWith('-ERR')) {
          buf = buf.slice(end + 2);
          return first;
        }
        const term = buf.indexOf('\r\n.\r\n');
        if (term >= 0) {
          const all = buf.slice(0, term + 2);
          buf = buf.slice(term + 5);
          return all;
        }
      }
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  const out: string[] = [await read(false)];
  for (const c of commands) {
    sock.write(`${c.cmd}\r\n`);
    out.push(await read(c.multi ?? false));
  }
  sock.destroy();
  return out;
}

/** Every message of the mailbox, parsed (the mailbox is left as it is). */
export async function mailbox(port: number, user = 'cabinet', password = 'cabinet-test') {
  const [, , , list] = await pop3(port, [{ cmd: `USER ${user}` }, { cmd: `PASS ${password}` }, { cmd: 'UIDL', multi: true }]);
  const n = list!.split('\r\n').slice(1).filter((l) => l.length > 0).length;
  const cmds = [{ cmd: `USER ${user}` }, { cmd: `PASS ${password}` }];
  for (let i = 1; i <= n; i++) cmds.push({ cmd: `RETR ${i}`, multi: true } as { cmd: string; multi: boolean });
  cmds.push({ cmd: 'QUIT' });
  const answers = await pop3(port, cmds);
  const raws = answers.slice(3, 3 + n).map((a) => a.slice(a.indexOf('\r\n') + 2).replace(/^\.\./gm, '.'));
  return Promise.all(raws.map((r) => simpleParser(Buffer.from(r, 'latin1'))));
}
