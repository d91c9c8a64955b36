/**
 * How DI-SV files travel by mail (docs/formats.md): one file per message to the destination's address,
 * the manifest and one attached CMS per lot; returns (ARL, RSP) recognised by subject and attachment name.
 * Addresses and names are this project's; nothing here touches the network.
 */
import type { FileManifest } from './file.js';
import { decodeManifest, encodeManifest, lotAttachmentName, manifestAttachmentName } from './file.js';
import { FormatError } from './errors.js';
import { INVOICE_LAYOUT } from './invoice.js';

export interface MailAttachment {
  filename: string;
  contentType: string;
  content: Uint8Array;
}

/** What the applet hands to `platform.net.send('amo-smtp', …)`. */
export interface MailMessage {
  type: 'mail';
  from: string;
  to: string[];
  subject: string;
  messageId: string;
  text: string;
  attachments: MailAttachment[];
}

/** What a POP3 `retrieve` returns. */
export interface MailReceived {
  uid: string;
  messageId: string;
  from: string;
  subject: string;
  date: number;
  text: string;
  attachments: MailAttachment[];
}

export const AMO_DOMAIN = 'amo.test';
export const PRACTITIONER_DOMAIN = 'cabinet.test';

export const CONTENT_TYPES = {
  manifest: 'text/plain',
  lot: 'application/pkcs7-mime',
  arl: 'application/x-di-sv-arl',
  rsp: 'application/x-di-sv-rsp',
} as const;

const DESTINATION = /^(AMO|AMC)-([0-9A-Z]{1,16})$/;
const BILLING = /^[0-9]{9}$/;

/** `AMO-019999999` → `amo-019999999@amo.test`; `AMC-99999901` → `amc-99999901@amo.test`. */
export function destinationAddress(destination: string): string {
  const m = DESTINATION.exec(destination);
  if (!m) throw new FormatError('MAIL', 'destination', `${JSON.stringify(destination)} is not AMO-<régime caisse centre> or AMC-<number>`);
  return `${destination.toLowerCase()}@${AMO_DOMAIN}`;
}

/** The inverse of destinationAddress, for the AMO: `undefined` for an address it does not serve. */
export function destinationOfAddress(address: string): string | undefined {
  const m = /^(amo|amc)-([0-9a-z]{1,16})@(.+)$/.exec(address.trim().toLowerCase());
  if (!m || m[3] !== AMO_DOMAIN) return undefined;
  return `${m[1]!.toUpperCase()}-${m[2]!.toUpperCase()}`;
}

export function practitionerAddress(billingNumber: string): string {
  if (!BILLING.test(billingNumber)) throw new FormatError('MAIL', 'billingNumber', `${JSON.stringify(billingNumber)} is not 9 digits`);
  return `ps-${billingNumber}@${PRACTITIONER_DOMAIN}`;
}

export function fileMailSubject(fileId: string): string {
  return `DI-SV FILE ${fileId}`;
}

/** Stable per file: a re-send carries the same id, and the receiver deduplicates on the file id anyway. */
export function fileMessageId(fileId: string): string {
  return `<${fileId}@${PRACTITIONER_DOMAIN}>`;
}

/** What a file's mail is built from: fields fixed when the file was made, and its signed lots. */
export interface FileToMail {
  fileId: string;
  fileNo: number;
  billingNumber: string;
  destination: string;
  createdAt: string;
}
export interface SignedLotToMail {
  lotNo: number;
  kind: 'FSE' | 'DRE';
  invoiceNos: readonly number[];
  amount: number;
  signed: Uint8Array;
}

/**
 * The mail of a stored file, from stored values only, so that a re-send (after a failure or a
 * crash) is byte-identical in what the receiver reads and deduplicates on. The device's applet and
 * the practice computer (tla/) both send files through it.
 */
export function storedFileMail(file: FileToMail, lots: readonly SignedLotToMail[]): MailMessage {
  const manifest: FileManifest = {
    fileId: file.fileId,
    fileNo: file.fileNo,
    billingNumber: file.billingNumber,
    destination: file.destination,
    createdAt: file.createdAt,
    lots: lots.map((l) => ({ lotNo: l.lotNo, kind: l.kind, invoices: l.invoiceNos.length, amount: l.amount, attachment: lotAttachmentName(file.fileId, l.lotNo) })),
  };
  return fileMail(manifest, lots.map((l) => ({ lotNo: l.lotNo, signed: l.signed })), practitionerAddress(file.billingNumber));
}

export function fileMail(manifest: FileManifest, lots: Array<{ lotNo: number; signed: Uint8Array }>, from: string): MailMessage {
  const manifestBytes = encodeManifest(manifest);
  if (lots.length !== manifest.lots.length || lots.some((l, i) => l.lotNo !== manifest.lots[i]?.lotNo)) {
    throw new FormatError('MAIL', `file ${manifest.fileId}`, `the lots given (${lots.map((l) => l.lotNo).join(', ')}) are not the manifest's (${manifest.lots.map((l) => l.lotNo).join(', ')})`);
  }
  const total = manifest.lots.reduce((s, l) => s + l.invoices, 0);
  return {
    type: 'mail',
    from,
    to: [destinationAddress(manifest.destination)],
    subject: fileMailSubject(manifest.fileId),
    messageId: fileMessageId(manifest.fileId),
    text: [
      `Fichier ${manifest.fileId} (${INVOICE_LAYOUT})`,
      `Émetteur : ${manifest.billingNumber}`,
      `Destinataire : ${manifest.destination}`,
      `Lots : ${manifest.lots.length}, factures : ${total}`,
      '',
    ].join('\r\n'),
    attachments: [
      { filename: manifestAttachmentName(manifest.fileId), contentType: CONTENT_TYPES.manifest, content: manifestBytes },
      ...manifest.lots.map((l, i) => ({ filename: l.attachment, contentType: CONTENT_TYPES.lot, content: (lots[i] as { signed: Uint8Array }).signed })),
    ],
  };
}

/** For the AMO: the manifest and the lots of a received file mail, checked against each other. */
export function parseFileMail(m: { subject: string; attachments: MailAttachment[] }): { manifest: FileManifest; lots: Array<{ lotNo: number; signed: Uint8Array }> } {
  const sm = /^DI-SV FILE (F[0-9]{15})$/.exec(m.subject.trim());
  if (!sm) throw new FormatError('MAIL', 'subject', `${JSON.stringify(m.subject)} is not "DI-SV FILE <file id>"`);
  const fileId = sm[1]!;
  const mf = m.attachments.find((a) => a.filename === manifestAttachmentName(fileId));
  if (!mf) throw new FormatError('MAIL', 'attachments', `no manifest ${manifestAttachmentName(fileId)}`);
  const manifest = decodeManifest(mf.content);
  if (manifest.fileId !== fileId) throw new FormatError('MAIL', 'attachments', `the manifest is for ${manifest.fileId}, the subject says ${fileId}`);
  const lots = manifest.lots.map((l) => {
    const a = m.attachments.find((x) => x.filename === l.attachment);
    if (!a) throw new FormatError('MAIL', 'attachments', `lot ${l.lotNo}: attachment ${l.attachment} missing`);
    return { lotNo: l.lotNo, signed: a.content };
  });
  if (m.attachments.length !== manifest.lots.length + 1) {
    throw new FormatError('MAIL', 'attachments', `${m.attachments.length} attachments, the manifest lists ${manifest.lots.length} lots + itself`);
  }
  return { manifest, lots };
}

export function arlMailSubject(fileId: string, lotNo: number): string {
  return `DI-SV ARL ${fileId} L${lotNo}`;
}

export function arlAttachmentName(fileId: string, lotNo: number): string {
  return `${fileId}-L${lotNo}.arl`;
}

export function rspMailSubject(billingNumber: string, seq: number): string {
  return `DI-SV RSP ${billingNumber} ${String(seq).padStart(6, '0')}`;
}

export function rspAttachmentName(billingNumber: string, seq: number): string {
  return `R${billingNumber}${String(seq).padStart(6, '0')}.rsp`;
}

/**
 * Recognises a return in the practitioner's mailbox by its subject and its one attachment, whose name
 * must be the one the subject implies; anything else is `unknown` (left in the mailbox, reported).
 */
export function classifyReturn(m: MailReceived): { kind: 'ARL' | 'RSP'; attachment: MailAttachment } | { kind: 'unknown'; reason: string } {
  const subject = typeof m.subject === 'string' ? m.subject.trim() : '';
  const arl = /^DI-SV ARL (F[0-9]{15}) L([0-9]{1,6})$/.exec(subject);
  const rsp = /^DI-SV RSP ([0-9]{9}) ([0-9]{6})$/.exec(subject);
  let expected: string;
  let kind: 'ARL' | 'RSP';
  if (arl) {
    kind = 'ARL';
    expected = arlAttachmentName(arl[1]!, Number(arl[2]));
  } else if (rsp) {
    kind = 'RSP';
    expected = rspAttachmentName(rsp[1]!, Number(rsp[2]));
  } else {
    return { kind: 'unknown', reason: `objet non reconnu : ${JSON.stringify(subject.slice(0, 80))}` };
  }
  const attachments = Array.isArray(m.attachments) ? m.attachments : [];
  if (attachments.length !== 1) return { kind: 'unknown', reason: `${kind} : ${attachments.length} pièces jointes au lieu d'une` };
  const a = attachments[0]!;
  if (a.filename !== expected) return { kind: 'unknown', reason: `${kind} : pièce jointe ${JSON.stringify(a.filename)} au lieu de ${expected}` };
  if (!(a.content instanceof Uint8Array)) return { kind: 'unknown', reason: `${kind} : pièce jointe illisible` };
  return { kind, attachment: a };
}
