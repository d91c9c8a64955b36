/**
 * What an applet may hand the mail transports, checked at the trust boundary before anything is
 * sent or asked of a server. The applet is untrusted: a CR/LF in an address or subject would be a
 * header or SMTP command injection, a path-like attachment name could be written somewhere by the
 * receiver, and sizes are bounded so one call cannot tie the kernel up. Every refusal is an E_ARGS
 * naming the field; the message content is never echoed back (it holds health data).
 */
import type { WireValue } from '../../wire/messages.js';
import { KernelError } from '../errors.js';

export const MAX_RECIPIENTS = 16;
export const MAX_SUBJECT_CHARS = 200;
export const MAX_TEXT_BYTES = 64 * 1024;
export const MAX_ATTACHMENTS = 32;
export const MAX_MAIL_BYTES = 8 * 1024 * 1024;
/** RFC 1939: a unique-id is 1 to 70 characters in 0x21..0x7E. */
export const UID_PATTERN = /^[\x21-\x7e]{1,70}$/;
export const MAX_DELETE_UIDS = 10_000;

export interface OutgoingAttachment {
  filename: string;
  contentType: string;
  content: Uint8Array;
}

/** The kernel's view of what the applet sends on an smtp endpoint (formats/mail.ts MailMessage). */
export interface OutgoingMail {
  type: 'mail';
  from: string;
  to: string[];
  subject: string;
  messageId: string;
  text: string;
  attachments: OutgoingAttachment[];
}

export type Pop3Request = { type: 'list' } | { type: 'retrieve'; uid: string } | { type: 'delete'; uids: string[] };

// local@domain: no whitespace, CR/LF, angle brackets, quotes or commas (those would let one field
// carry several recipients or break out of the envelope), one @, a dotted domain.
const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;
const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const FILENAME = /^[A-Za-z0-9._-]{1,80}$/;
const CONTENT_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$/;
const MESSAGE_ID = /^<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,128}@[A-Za-z0-9.-]{1,128}>$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const MESSAGE_FIELDS = ['type', 'from', 'to', 'subject', 'messageId', 'text', 'attachments'];
const ATTACHMENT_FIELDS = ['filename', 'contentType', 'content'];

type Plain = { [k: string]: WireValue };

function isPlain(v: WireValue | undefined): v is Plain {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function bad(where: string, field: string, why: string): KernelError {
  return new KernelError('E_ARGS', `${where}: ${field} ${why}`);
}

export function isMailAddress(s: string): boolean {
  if (s.length > 254) return false;
  const at = s.indexOf('@');
  if (at < 0 || at !== s.lastIndexOf('@')) return false;
  const local = s.slice(0, at);
  return LOCAL.test(local) && !local.startsWith('.') && !local.endsWith('.') && !local.includes('..') && DOMAIN.test(s.slice(at + 1));
}

function onlyFields(where: string, o: Plain, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad(where, `${path}${k}`, `is not a field of a mail message (fields: ${allowed.join(', ')})`);
}

function address(where: string, v: WireValue | undefined, field: string): string {
  if (typeof v !== 'string' || !isMailAddress(v)) throw bad(where, field, 'must be a plain address local@domain (no spaces, CR/LF, <>, quotes or commas)');
  return v;
}

/** Validates an outgoing mail; `where` names the call and endpoint in errors. */
export function checkOutgoingMail(where: string, v: WireValue): OutgoingMail {
  if (!isPlain(v)) throw bad(where, 'message', 'must be an object { type: "mail", from, to, subject, messageId, text, attachments }');
  onlyFields(where, v, MESSAGE_FIELDS, '');
  if (v.type !== 'mail') throw bad(where, 'type', 'must be "mail"');
  const from = address(where, v.from, 'from');
  const toRaw = v.to;
  if (!Array.isArray(toRaw) || toRaw.length < 1 || toRaw.length > MAX_RECIPIENTS) throw bad(where, 'to', `must be an array of 1 to ${MAX_RECIPIENTS} addresses`);
  const to = toRaw.map((a, i) => address(where, a, `to[${i}]`));
  const subject = v.subject;
  if (typeof subject !== 'string' || subject.length > MAX_SUBJECT_CHARS || CONTROL.test(subject)) {
    throw bad(where, 'subject', `must be a string of at most ${MAX_SUBJECT_CHARS} characters without control characters`);
  }
  const messageId = v.messageId;
  if (typeof messageId !== 'string' || !MESSAGE_ID.test(messageId)) throw bad(where, 'messageId', 'must look like <id@domain>');
  const text = v.text;
  if (typeof text !== 'string') throw bad(where, 'text', 'must be a string');
  const textBytes = Buffer.byteLength(text, 'utf8');
  if (textBytes > MAX_TEXT_BYTES) throw bad(where, 'text', `is ${textBytes} bytes; at most ${MAX_TEXT_BYTES}`);
  const attRaw = v.attachments;
  if (!Array.isArray(attRaw) || attRaw.length > MAX_ATTACHMENTS) throw bad(where, 'attachments', `must be an array of at most ${MAX_ATTACHMENTS} attachments`);
  let total = textBytes;
  const attachments = attRaw.map((a, i): OutgoingAttachment => {
    const at = `attachments[${i}]`;
    if (!isPlain(a)) throw bad(where, at, 'must be an object { filename, contentType, content }');
    onlyFields(where, a, ATTACHMENT_FIELDS, `${at}.`);
    if (typeof a.filename !== 'string' || !FILENAME.test(a.filename) || a.filename.startsWith('.')) {
      throw bad(where, `${at}.filename`, 'must be 1 to 80 characters among A-Z a-z 0-9 . _ - and not start with "."');
    }
    if (typeof a.contentType !== 'string' || !CONTENT_TYPE.test(a.contentType)) throw bad(where, `${at}.contentType`, 'must be a media type type/subtype without parameters');
    if (!(a.content instanceof Uint8Array)) throw bad(where, `${at}.content`, 'must be bytes (Uint8Array)');
    total += a.content.byteLength;
    if (total > MAX_MAIL_BYTES) throw bad(where, 'attachments', `make the message larger than ${MAX_MAIL_BYTES} bytes`);
    return { filename: a.filename, contentType: a.contentType, content: a.content };
  });
  return { type: 'mail', from, to, subject, messageId, text, attachments };
}

function uid(where: string, v: WireValue | undefined, field: string): string {
  if (typeof v !== 'string' || !UID_PATTERN.test(v)) throw bad(where, field, 'must be a POP3 unique id (1 to 70 printable ASCII characters, no space)');
  return v;
}

/** Validates a POP3 request: { type: 'list' } | { type: 'retrieve', uid } | { type: 'delete', uids }. */
export function checkPop3Request(where: string, v: WireValue): Pop3Request {
  if (!isPlain(v)) throw bad(where, 'request', 'must be an object { type: "list" | "retrieve" | "delete", … }');
  switch (v.type) {
    case 'list':
      onlyFields(where, v, ['type'], '');
      return { type: 'list' };
    case 'retrieve':
      onlyFields(where, v, ['type', 'uid'], '');
      return { type: 'retrieve', uid: uid(where, v.uid, 'uid') };
    case 'delete': {
      onlyFields(where, v, ['type', 'uids'], '');
      const raw = v.uids;
      if (!Array.isArray(raw) || raw.length > MAX_DELETE_UIDS) throw bad(where, 'uids', `must be an array of at most ${MAX_DELETE_UIDS} unique ids`);
      return { type: 'delete', uids: raw.map((u, i) => uid(where, u, `uids[${i}]`)) };
    }
    default:
      throw bad(where, 'type', 'must be "list", "retrieve" or "delete"');
  }
}

/** A server's reply text, made safe to put in an error: printable ASCII, bounded. */
export function serverText(s: string, max = 160): string {
  const clean = s.replace(/[^\x20-\x7e]/g, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
