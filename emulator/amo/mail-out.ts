/**
 * The AMO's outgoing mail (ARL, RSP, refusals) as RFC 822 messages composed by nodemailer's
 * MailComposer, stored as bytes in the practitioner's POP3 mailbox. The Date header comes from the
 * emulator's clock so tests stay deterministic.
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { arlAttachmentName, arlMailSubject, destinationAddress, practitionerAddress, rspAttachmentName, rspMailSubject, AMO_DOMAIN } from '../../applets/sesam-vitale/formats/mail.js';

export interface ComposedMail {
  raw: Uint8Array;
  messageId: string;
}

/** Where refusals come from when the file names no destination we can trust. */
export const AMO_POSTMASTER = `postmaster@${AMO_DOMAIN}`;

async function compose(o: { from: string; to: string; subject: string; messageId: string; date: Date; text: string; attachment?: { filename: string; contentType: string; content: Uint8Array } }): Promise<ComposedMail> {
  const composer = new MailComposer({
    from: o.from,
    to: o.to,
    subject: o.subject,
    messageId: o.messageId,
    date: o.date,
    text: o.text,
    attachments: o.attachment ? [{ filename: o.attachment.filename, contentType: o.attachment.contentType, content: Buffer.from(o.attachment.content) }] : [],
  });
  const raw = await composer.compile().build();
  return { raw: new Uint8Array(raw), messageId: o.messageId };
}

/** Sender of returns about a destination; a destination formats/mail.ts cannot address falls back to the postmaster. */
function fromFor(destination: string): string {
  try {
    return destinationAddress(destination);
  } catch {
    return AMO_POSTMASTER;
  }
}

export function composeArl(o: { fileId: string; lotNo: number; billingNumber: string; destination: string; status: 'positive' | 'negative'; body: Uint8Array; date: Date }): Promise<ComposedMail> {
  return compose({
    from: fromFor(o.destination),
    to: practitionerAddress(o.billingNumber),
    subject: arlMailSubject(o.fileId, o.lotNo),
    // Stable per lot: a duplicate file gets the very same ARL message again.
    messageId: `<ARL-${o.fileId}-L${o.lotNo}@${AMO_DOMAIN}>`,
    date: o.date,
    text: `Accusé de réception logique (ARL ${o.status === 'positive' ? 'positif' : 'négatif'}) du lot ${o.lotNo} du fichier ${o.fileId}.`,
    attachment: { filename: arlAttachmentName(o.fileId, o.lotNo), contentType: 'text/plain', content: o.body },
  });
}

export function composeRsp(o: { billingNumber: string; seq: number; destination: string; body: Uint8Array; date: Date }): Promise<ComposedMail> {
  return compose({
    from: fromFor(o.destination),
    to: practitionerAddress(o.billingNumber),
    subject: rspMailSubject(o.billingNumber, o.seq),
    messageId: `<RSP-${o.billingNumber}-${o.seq}@${AMO_DOMAIN}>`,
    date: o.date,
    text: `Retour de paiement n° ${o.seq} (RSP) pour le numéro de facturation ${o.billingNumber}.`,
    attachment: { filename: rspAttachmentName(o.billingNumber, o.seq), contentType: 'text/plain', content: o.body },
  });
}

/** A message we could not read as a file at all: the practitioner is told in plain French why. */
export function composeRefusal(o: { to: string; subject: string; reason: string; ref: number; date: Date }): Promise<ComposedMail> {
  return compose({
    from: AMO_POSTMASTER,
    to: o.to,
    subject: `DI-SV REFUS ${o.subject}`.slice(0, 200),
    messageId: `<REFUS-${o.ref}@${AMO_DOMAIN}>`,
    date: o.date,
    text: `Votre message n'a pas pu être traité comme un fichier DI-SV : ${o.reason}\r\nIl est conservé sous la référence ${o.ref}. Aucune facture qu'il contiendrait n'a été prise en compte : renvoyez le fichier.`,
  });
}
