/**
 * The emulated Assurance Maladie (docs/amo.md): SMTP in (files from the practitioner), checks, ARL per
 * lot and RSP payments delivered to the practitioner's POP3 mailbox, all kept in its own SQLite store
 * under `dataDir`. Loopback only by default.
 */
import { timingSafeEqual } from 'node:crypto';
import type { InvoiceKind } from '../../applets/sesam-vitale/model.js';
import { loadOrCreatePki } from '../cards/pki/index.js';
import { emulatorKeyDir } from '../cards/profiles.js';
import { startPop3Server } from './pop3-server.js';
import { emptyStats, Processor, type AmoStats } from './processing.js';
import { defaultAmoRules, type AmoRules } from './rules.js';
import { startSmtpIn } from './smtp-in.js';
import { AmoStore } from './store.js';
import { practitionerFileFromProfiles, type PractitionerFile } from './practitioners.js';

export type { AmoStats } from './processing.js';
export { defaultAmoRules, parseAmoRules, type AmoRules } from './rules.js';
export { INVOICE_REASONS, LOT_REASONS } from './reasons.js';

export const DEFAULT_SMTP_PORT = 2525;
export const DEFAULT_POP3_PORT = 1110;
export const DEFAULT_MAILBOX = { user: 'cabinet', password: 'cabinet-test' } as const;

export interface AmoOptions {
  /** 0 = ephemeral. */
  smtpPort?: number;
  pop3Port?: number;
  host?: '127.0.0.1';
  dataDir: string;
  /** Emulator PKI (the cards must use the same one); default emulatorKeyDir(). */
  keyDir?: string;
  mailbox?: { user: string; password: string };
  rules?: AmoRules;
  /** 'immediate': RSP right after the ARL; 'manual': on settle(). */
  payment?: 'immediate' | 'manual';
  /** The AMO's clock (epoch ms); tests pin it. Default Date.now. */
  now?: () => number;
  /** Who holds which billing number; default: the emulator's CPS profiles. */
  practitioners?: PractitionerFile;
}

export interface ReceivedFile {
  fileId: string;
  billingNumber: string;
  destination: string;
  receivedAt: number;
  status: 'processed' | 'refused';
  lots: Array<{ lotNo: number; status: 'positive' | 'negative'; reason?: { code: string; text: string } }>;
  invoices: Array<{ kind: InvoiceKind; invoiceNo: number; lotNo: number; status: 'accepted' | 'rejected'; code?: string; text?: string }>;
}

export interface Amo {
  smtpPort: number;
  pop3Port: number;
  stats(): AmoStats;
  files(): ReceivedFile[];
  /**
   * Manual payment: emits the RSPs for every accepted invoice not yet paid. Returns how many invoices
   * that pays; the mails reach the mailbox once whenIdle() resolves.
   */
  settle(): number;
  /** Resolves when every message received so far (and every settle) is processed. */
  whenIdle(): Promise<void>;
  close(): Promise<void>;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startAmo(opts: AmoOptions): Promise<Amo> {
  const host = opts.host ?? '127.0.0.1';
  const mailbox = opts.mailbox ?? DEFAULT_MAILBOX;
  const payment = opts.payment ?? 'immediate';
  const pki = await loadOrCreatePki(opts.keyDir ?? emulatorKeyDir());
  const store = new AmoStore(opts.dataDir);
  const stats = emptyStats();
  const processor = new Processor({
    store,
    pki,
    rules: opts.rules ?? defaultAmoRules(),
    now: opts.now ?? Date.now,
    mailboxUser: mailbox.user,
    stats,
    practitioners: opts.practitioners ?? practitionerFileFromProfiles(),
  });
  const settleQueued = (): Promise<number> => processor.enqueue(() => processor.settle());

  let smtp: Awaited<ReturnType<typeof startSmtpIn>> | undefined;
  let pop3: Awaited<ReturnType<typeof startPop3Server>> | undefined;
  try {
    await processor.resumePending();
    smtp = await startSmtpIn({
      host,
      port: opts.smtpPort ?? DEFAULT_SMTP_PORT,
      onMessage: async (raw, envelope) => {
        await processor.receive(raw, envelope);
        if (payment === 'immediate') await settleQueued();
      },
    });
    pop3 = await startPop3Server({
      host,
      port: opts.pop3Port ?? DEFAULT_POP3_PORT,
      authenticate: (user, password) => sameSecret(user, mailbox.user) && sameSecret(password, mailbox.password),
      mailbox: {
        list: (user) => store.mailbox(user),
        delete: (user, uids) => store.removeMail(user, uids),
      },
    });
  } catch (err) {
    await smtp?.close();
    store.close();
    throw err;
  }
  const smtpServer = smtp;
  const pop3Server = pop3;
  let closed = false;

  return {
    smtpPort: smtpServer.port,
    pop3Port: pop3Server.port,
    stats: () => ({ ...stats }),
    files: () =>
      store.files().map((f) => {
        const lots = store.db.prepare('SELECT lot_no, status, reason_code, reason_text FROM lots WHERE file_id = ? ORDER BY lot_no').all(f.fileId) as Array<{
          lot_no: number;
          status: 'positive' | 'negative';
          reason_code: string | null;
          reason_text: string | null;
        }>;
        const invoices = store.db.prepare('SELECT kind, invoice_no, lot_no, status, code, text FROM invoices WHERE file_id = ? ORDER BY lot_no, invoice_no').all(f.fileId) as Array<{
          kind: InvoiceKind;
          invoice_no: number;
          lot_no: number;
          status: 'accepted' | 'rejected';
          code: string | null;
          text: string | null;
        }>;
        return {
          fileId: f.fileId,
          billingNumber: f.billing,
          destination: f.destination,
          receivedAt: f.receivedAt,
          status: f.status,
          lots: lots.map((l) => (l.reason_code !== null ? { lotNo: l.lot_no, status: l.status, reason: { code: l.reason_code, text: l.reason_text ?? '' } } : { lotNo: l.lot_no, status: l.status })),
          invoices: invoices.map((i) => ({
            kind: i.kind,
            invoiceNo: i.invoice_no,
            lotNo: i.lot_no,
            status: i.status,
            ...(i.code !== null ? { code: i.code } : {}),
            ...(i.text !== null ? { text: i.text } : {}),
          })),
        };
      }),
    settle: () => {
      const n = store.paymentsDue().length;
      void settleQueued().catch(() => undefined);
      return n;
    },
    whenIdle: () => processor.idle(),
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.all([smtpServer.close(), pop3Server.close()]);
      await processor.idle();
      store.close();
    },
  };
}
