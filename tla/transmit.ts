/**
 * The practice computer sends the invoices it unloaded, as the device would: lots of at most
 * MAX_INVOICES_PER_LOT invoices of one billing number, destination and kind (formats/lot.ts), each
 * signed by the practitioner's CPS (attached CMS), grouped per destination into files (formats/file.ts)
 * mailed to the AMO (formats/mail.ts) over SMTP with nodemailer.
 *
 * Numbers: lots and files from 500000 per billing number (store.ts), so they never meet the device's.
 * Crash safety, as on the device: the lot number, the unsigned lot and the invoices' lot are one
 * transaction, the signature is stored after (a lot found unsigned is signed on the next run); the
 * file number, the file and its lots likewise. A file is rebuilt from stored bytes only, so a re-send
 * is the same file (same fileId, same Message-ID, same lots): the AMO deduplicates on it.
 */
import { createTransport } from 'nodemailer';
import { encodeLotBody, MAX_INVOICES_PER_LOT, type LotEntry } from '../applets/sesam-vitale/formats/lot.js';
import { fileIdOf, MAX_LOTS_PER_FILE } from '../applets/sesam-vitale/formats/file.js';
import { storedFileMail, type MailMessage } from '../applets/sesam-vitale/formats/mail.js';
import { TlaError } from './client.js';
import type { CpsSigner } from './cps-signer.js';
import type { StoredFile, StoredInvoice, StoredLot, TlaStore } from './store.js';

export const DEFAULT_AMO = { host: '127.0.0.1', port: 2525 } as const;
/** As the device (pipeline/lots.ts): a stored lot and a mail stay well within limits. */
export const LOT_MAX_BYTES = 320 * 1024;
export const FILE_MAX_BYTES = 640 * 1024;
export const SMTP_TIMEOUT_MS = 30_000;

export interface TransmitOptions {
  /** Opens the practitioner's CPS when a lot has to be signed (never before: nothing to sign, no PIN). */
  cps?: () => Promise<CpsSigner>;
  amo?: { host: string; port: number };
  /** The day written in lots and files (default: today, UTC). */
  today?: string;
  now?: () => number;
  timeoutMs?: number;
}

export interface TransmitReport {
  lotsBuilt: number;
  lotsSigned: number;
  filesBuilt: number;
  filesSent: string[];
  filesWaiting: Array<{ fileId: string; attempts: number; lastError: string | null }>;
  /** What could not be done and why (no CPS for a billing number, SMTP refused, ...). */
  errors: string[];
}

function entryOf(i: StoredInvoice): LotEntry {
  const e: LotEntry = { invoiceNo: i.invoiceNo, record: i.record, cpsSignature: i.cpsSignature };
  if (i.vitaleAuth && i.vitaleCertDer) {
    e.vitaleAuth = i.vitaleAuth;
    e.vitaleCertDer = i.vitaleCertDer;
  }
  return e;
}

const entryBytes = (i: StoredInvoice): number => i.record.length + i.cpsSignature.length + (i.vitaleAuth?.length ?? 0) + (i.vitaleCertDer?.length ?? 0);

/** Unlotted invoices into numbered, unsigned lots (one transaction each). */
export function buildLots(store: TlaStore, today: string, billings?: Set<string>): StoredLot[] {
  const groups = new Map<string, StoredInvoice[]>();
  for (const i of store.invoicesWithoutLot()) {
    if (billings && !billings.has(i.billingNumber)) continue;
    const k = `${i.billingNumber}|${i.destination}|${i.kind}`;
    groups.set(k, [...(groups.get(k) ?? []), i]);
  }
  const built: StoredLot[] = [];
  for (const list of groups.values()) {
    list.sort((a, b) => a.invoiceNo - b.invoiceNo);
    let n = 0;
    while (n < list.length) {
      const chunk: StoredInvoice[] = [];
      let size = 0;
      while (n < list.length && chunk.length < MAX_INVOICES_PER_LOT) {
        const s = entryBytes(list[n]!);
        if (chunk.length > 0 && size + s > LOT_MAX_BYTES) break;
        chunk.push(list[n]!);
        size += s;
        n++;
      }
      const first = chunk[0]!;
      const kind = first.kind;
      built.push(
        store.createLot(
          {
            billingNumber: first.billingNumber,
            destination: first.destination,
            kind,
            createdAt: today,
            amount: chunk.reduce((s, i) => s + (kind === 'DRE' ? i.amc : i.amo), 0),
            invoiceNos: chunk.map((i) => i.invoiceNo),
          },
          (lotNo) => encodeLotBody({ lotNo, kind, destination: first.destination, billingNumber: first.billingNumber, createdAt: today }, chunk.map(entryOf)),
        ),
      );
    }
  }
  return built;
}

/** Signed lots without a file into numbered files per billing number and destination. */
export function buildFiles(store: TlaStore, today: string): StoredFile[] {
  const groups = new Map<string, StoredLot[]>();
  for (const l of store.lots()) {
    if (l.signed === null || l.fileNo !== null) continue;
    const k = `${l.billingNumber}|${l.destination}`;
    groups.set(k, [...(groups.get(k) ?? []), l]);
  }
  const built: StoredFile[] = [];
  for (const list of groups.values()) {
    list.sort((a, b) => a.lotNo - b.lotNo);
    let n = 0;
    while (n < list.length) {
      const chunk: StoredLot[] = [];
      let size = 0;
      while (n < list.length && chunk.length < MAX_LOTS_PER_FILE) {
        const s = list[n]!.signed!.length;
        if (chunk.length > 0 && size + s > FILE_MAX_BYTES) break;
        chunk.push(list[n]!);
        size += s;
        n++;
      }
      const first = chunk[0]!;
      built.push(store.createFile({ billingNumber: first.billingNumber, destination: first.destination, createdAt: today, lotNos: chunk.map((l) => l.lotNo) }, (fileNo) => fileIdOf(first.billingNumber, fileNo)));
    }
  }
  return built;
}

/** The mail of a stored file, from stored bytes only: the same every time. */
export function fileMessage(store: TlaStore, f: StoredFile): MailMessage {
  const lots = f.lotNos.map((n) => {
    const l = store.lot(f.billingNumber, n);
    if (!l || l.signed === null) throw new Error(`lot ${n} of file ${f.fileId} missing or unsigned`);
    return { ...l, signed: l.signed };
  });
  return storedFileMail(f, lots);
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/** What may be said of an SMTP failure: the server and its reply, never the message. */
function smtpFailure(amo: { host: string; port: number }, e: unknown): string {
  const f = (e ?? {}) as { code?: unknown; responseCode?: unknown; response?: unknown; message?: unknown };
  const where = `${amo.host}:${amo.port}`;
  if (typeof f.responseCode === 'number' && typeof f.response === 'string') return `serveur ${where} : ${f.responseCode} ${f.response.replace(/[\r\n]+/g, ' ').slice(0, 160)}`;
  const m = String(f.message ?? '');
  if (/ECONNREFUSED/.test(m) || f.code === 'ECONNECTION') return `serveur ${where} injoignable (connexion refusée)`;
  if (/timeout/i.test(m) || f.code === 'ETIMEDOUT') return `serveur ${where} : pas de réponse`;
  return `envoi vers ${where} impossible${typeof f.code === 'string' ? ` (${f.code})` : ''}`;
}

/**
 * Builds lots (signed by the CPS), files, and sends every file not yet sent. Lots of a billing
 * number the CPS may not sign for are left unbuilt and reported.
 */
export async function transmitStored(store: TlaStore, o: TransmitOptions = {}): Promise<TransmitReport> {
  const now = o.now ?? Date.now;
  const today = o.today ?? new Date(now()).toISOString().slice(0, 10);
  const amo = o.amo ?? DEFAULT_AMO;
  const report: TransmitReport = { lotsBuilt: 0, lotsSigned: 0, filesBuilt: 0, filesSent: [], filesWaiting: [], errors: [] };

  const needSigning = store.invoicesWithoutLot().length > 0 || store.lots().some((l) => l.signed === null);
  if (needSigning) {
    let cps: CpsSigner | null = null;
    if (!o.cps) report.errors.push('factures à mettre en lots : la carte CPS du praticien est nécessaire pour les signer (--cps <profil>)');
    else {
      try {
        cps = await o.cps();
      } catch (err) {
        report.errors.push(err instanceof TlaError ? err.message : `carte CPS : ${(err as Error).message.slice(0, 200)}`);
      }
    }
    if (cps) {
      const signer = cps;
      const billings = new Set(store.billingNumbersPending());
      const allowed = new Set([...billings].filter((b) => signer.maySignLotsFor(b)));
      for (const b of billings) {
        if (!allowed.has(b) && (store.invoicesWithoutLot().some((i) => i.billingNumber === b) || store.lots(b).some((l) => l.signed === null))) {
          report.errors.push(`numéro de facturation ${b} : la carte CPS insérée n'a pas de situation qui signe ses lots ; insérez celle du praticien`);
        }
      }
      // Lots a crash left unsigned first, then the new ones.
      for (const l of store.lots()) {
        if (l.signed !== null || !allowed.has(l.billingNumber)) continue;
        store.setLotSigned(l.billingNumber, l.lotNo, await signer.signLot(l.body, new Date(now())));
        report.lotsSigned++;
      }
      for (const l of buildLots(store, today, allowed)) {
        report.lotsBuilt++;
        store.setLotSigned(l.billingNumber, l.lotNo, await signer.signLot(l.body, new Date(now())));
        report.lotsSigned++;
      }
    }
  }
  report.filesBuilt = buildFiles(store, today).length;

  const ready = store.files('ready');
  if (ready.length === 0) return report;
  const transport = createTransport({
    host: amo.host,
    port: amo.port,
    secure: false,
    ignoreTLS: isLoopback(amo.host),
    requireTLS: !isLoopback(amo.host),
    connectionTimeout: o.timeoutMs ?? SMTP_TIMEOUT_MS,
    greetingTimeout: o.timeoutMs ?? SMTP_TIMEOUT_MS,
    socketTimeout: o.timeoutMs ?? SMTP_TIMEOUT_MS,
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    debug: false,
  });
  try {
    for (const f of ready) {
      let mail: MailMessage;
      try {
        mail = fileMessage(store, f);
      } catch (err) {
        report.errors.push(`fichier ${f.fileId} : construction impossible (${(err as Error).message.slice(0, 160)})`);
        continue;
      }
      try {
        const info = await transport.sendMail({
          envelope: { from: mail.from, to: mail.to },
          from: mail.from,
          to: mail.to,
          subject: mail.subject,
          messageId: mail.messageId,
          text: mail.text,
          attachments: mail.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, contentDisposition: 'attachment' as const, content: Buffer.from(a.content) })),
        });
        const accepted = Array.isArray(info.accepted) ? info.accepted.length : 0;
        if (accepted === 0) throw Object.assign(new Error('destinataire refusé'), { responseCode: 550, response: 'destinataire refusé par le serveur' });
        store.markFileSent(f.fileId, now(), typeof info.response === 'string' ? info.response : 'sent');
        report.filesSent.push(f.fileId);
      } catch (err) {
        const why = smtpFailure(amo, err);
        store.markFileFailed(f.fileId, now(), why);
        report.filesWaiting.push({ fileId: f.fileId, attempts: f.attempts + 1, lastError: why });
      }
    }
  } finally {
    transport.close();
  }
  if (report.filesWaiting.length > 0) report.errors.push(`${report.filesWaiting.length} fichier(s) non envoyé(s) : ${report.filesWaiting[0]!.lastError ?? ''} ; relancez la transmission`);
  return report;
}
