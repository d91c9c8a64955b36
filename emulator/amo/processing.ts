/**
 * What the emulated AMO does with a received message: keep it raw, read it as a DI-SV file
 * (manifest + signed lots), deduplicate on the fileId, check each lot and each invoice, answer one
 * ARL per lot and, for accepted invoices, payments (RSP) now or on settle(). Nothing a sender puts in
 * a message can throw out of here: every failure becomes a refusal, a negative ARL or a rejection.
 *
 * Atomicity: the checks and mail composition (asynchronous) run first; then ONE SQLite transaction
 * records the file, its lots, the invoices seen, the ARLs and their delivery to the mailbox. A crash
 * before it leaves the raw message with outcome 'received', reprocessed at the next start.
 * Messages are processed one at a time (a queue), which is what makes the dedup and the invoice
 * number checks race-free.
 */
import { createHash, randomBytes } from 'node:crypto';
import { simpleParser, type ParsedMail } from 'mailparser';
import { decodeManifest, fileIdOf, lotAttachmentName, type FileManifest } from '../../applets/sesam-vitale/formats/file.js';
import { decodeLotBody, type LotEntry, type LotHeader } from '../../applets/sesam-vitale/formats/lot.js';
import { decodeInvoice } from '../../applets/sesam-vitale/formats/invoice.js';
import { encodeArl, type ArlReport } from '../../applets/sesam-vitale/formats/arl.js';
import { encodeRsp, type RspReport } from '../../applets/sesam-vitale/formats/rsp.js';
import { destinationAddress, practitionerAddress, PRACTITIONER_DOMAIN } from '../../applets/sesam-vitale/formats/mail.js';
import { addWorkingDays } from '../../applets/sesam-vitale/rules/dates.js';
import type { InvoiceData, InvoiceKind, IsoDate } from '../../applets/sesam-vitale/model.js';
import type { EmulatorPki } from '../cards/pki/index.js';
import { checkContent, checkCpsSignature, checkVitaleAuth, unverifiedContent, type Failure } from './checks.js';
import { composeArl, composeRefusal, composeRsp, type ComposedMail } from './mail-out.js';
import { INVOICE_REASONS, LOT_REASONS, type Reason } from './reasons.js';
import { applyAmoRules, type AmoRules } from './rules.js';
import type { AmoStore, PaymentDue } from './store.js';
import type { PractitionerFile } from './practitioners.js';
import type { InboundEnvelope } from './smtp-in.js';

export interface AmoStats {
  /** Every message received on SMTP (files, duplicates, refused ones). */
  filesReceived: number;
  /** Copies of a file already processed: answered with the stored ARLs. */
  duplicates: number;
  /** Messages that could not be read as a file (refusal mail sent, message kept). */
  refused: number;
  lots: number;
  invoicesAccepted: number;
  invoicesRejected: number;
  arlSent: number;
  rspSent: number;
  /** Invoices paid (one RSP line each). */
  paid: number;
}

export interface ProcessingDeps {
  store: AmoStore;
  pki: EmulatorPki;
  rules: AmoRules;
  /** Epoch ms; the AMO's "today" is its UTC date. */
  now(): number;
  mailboxUser: string;
  stats: AmoStats;
  /** Billing number -> national identifier of its holder (practitioners.ts). */
  practitioners: PractitionerFile;
}

export function emptyStats(): AmoStats {
  return { filesReceived: 0, duplicates: 0, refused: 0, lots: 0, invoicesAccepted: 0, invoicesRejected: 0, arlSent: 0, rspSent: 0, paid: 0 };
}

export function isoDay(ms: number): IsoDate {
  return new Date(ms).toISOString().slice(0, 10);
}

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function newUid(): string {
  return `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

function bareMessageId(id: string | undefined): string {
  return (id ?? '').trim().replace(/^<|>$/g, '');
}

type InvoiceOutcome = { invoiceNo: number; status: 'accepted' | 'rejected'; code?: string; text?: string };

interface InvoiceToRecord {
  billing: string;
  kind: InvoiceKind;
  invoiceNo: number;
  recordSha256: string;
  status: 'accepted' | 'rejected';
  reason?: Reason;
  payment?: PaymentDue;
}

interface LotResult {
  lotNo: number;
  report: ArlReport;
  invoices: InvoiceToRecord[];
  detail?: string;
}

/** Invoice numbers of a lot whose signature failed, when its body can still be read: the ARL names them. */
function invoiceNosOf(signed: Uint8Array | undefined): number[] {
  if (!signed) return [];
  const content = unverifiedContent(signed);
  if (!content) return [];
  try {
    return decodeLotBody(content).entries.map((e) => e.invoiceNo);
  } catch {
    return [];
  }
}

export class Processor {
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: ProcessingDeps) {}

  /** Serialises `work` after everything queued; a failure of one item never blocks the next. */
  enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  idle(): Promise<void> {
    return this.enqueue(async () => undefined);
  }

  /** Keep first (durable), then process in the queue. */
  receive(raw: Uint8Array, envelope: InboundEnvelope): Promise<void> {
    const id = this.d.store.keepMessage(this.d.now(), envelope.mailFrom, envelope.rcptTo, raw);
    return this.enqueue(() => this.#process(id, raw, envelope));
  }

  /** Messages kept but never processed (a crash between keep and commit). */
  resumePending(): Promise<void> {
    const pending = this.d.store.messages().filter((m) => m.outcome === 'received');
    return this.enqueue(async () => {
      // Checked against the envelope it arrived with, as it would have been before the crash.
      for (const m of pending) await this.#process(m.id, m.raw, { mailFrom: m.mailFrom, rcptTo: m.rcptTo });
    });
  }

  async #process(messageId: number, raw: Uint8Array, envelope: InboundEnvelope): Promise<void> {
    const { store, stats } = this.d;
    stats.filesReceived++;
    let parsed: ParsedMail;
    try {
      parsed = await simpleParser(Buffer.from(raw), { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
    } catch (err) {
      return this.#refuse(messageId, envelope, '', `message MIME illisible (${(err as Error).message})`);
    }
    const subject = parsed.subject ?? '';
    const manifests = parsed.attachments.filter((a) => (a.filename ?? '').toLowerCase().endsWith('.txt'));
    if (manifests.length !== 1) return this.#refuse(messageId, envelope, subject, `${manifests.length} manifeste(s) .txt au lieu d'un seul`);
    let manifest: FileManifest;
    try {
      manifest = decodeManifest(new Uint8Array(manifests[0]!.content));
    } catch (err) {
      return this.#refuse(messageId, envelope, subject, `manifeste illisible (${(err as Error).message})`);
    }
    const fileId = manifest.fileId;

    const seen = store.file(fileId);
    if (seen) {
      // A re-sent file: the same ARLs again, nothing processed a second time.
      const arls = store.arls(fileId);
      const at = this.d.now();
      store.tx(() => {
        for (const a of arls) store.deliver(this.d.mailboxUser, newUid(), a.mail, at);
        store.setOutcome(messageId, 'duplicate', fileId, null);
      });
      stats.duplicates++;
      stats.arlSent += arls.length;
      return;
    }

    const envelopeProblem = this.#envelopeProblem(parsed, envelope, manifest, manifests[0]!.filename ?? '');
    const byName = new Map(parsed.attachments.map((a) => [a.filename ?? '', new Uint8Array(a.content)]));
    const today = isoDay(this.d.now());
    const results: LotResult[] = [];
    const numbersInFile = new Map<string, string>();
    for (const lot of manifest.lots) {
      const signed = byName.get(lot.attachment);
      const header: Pick<ArlReport, 'fileId' | 'lotNo' | 'billingNumber' | 'destination' | 'date'> = { fileId, lotNo: lot.lotNo, billingNumber: manifest.billingNumber, destination: manifest.destination, date: today };
      const lotFailure = (reason: Reason, detail: string): LotResult => ({
        lotNo: lot.lotNo,
        report: { ...header, status: 'negative', lotReason: { ...reason }, invoices: invoiceNosOf(signed).map((n) => ({ invoiceNo: n, status: 'rejected', code: reason.code, text: reason.text })) },
        invoices: [],
        detail,
      });
      if (envelopeProblem) {
        results.push(lotFailure(envelopeProblem.reason, envelopeProblem.detail));
        continue;
      }
      if (!signed || lot.attachment !== lotAttachmentName(fileId, lot.lotNo)) {
        results.push(lotFailure(LOT_REASONS.structure, `attachment ${lot.attachment} missing or misnamed`));
        continue;
      }
      results.push(await this.#lot(manifest, lot, signed, header, today, numbersInFile, lotFailure));
    }

    // Compose everything before the transaction (MailComposer is asynchronous).
    const at = this.d.now();
    const arls: Array<{ lotNo: number; body: Uint8Array; mail: ComposedMail }> = [];
    for (const r of results) {
      const body = encodeArl(r.report);
      const mail = await composeArl({ fileId, lotNo: r.lotNo, billingNumber: manifest.billingNumber, destination: manifest.destination, status: r.report.status, body, date: new Date(at) });
      arls.push({ lotNo: r.lotNo, body, mail });
    }
    store.tx(() => {
      store.addFile({ fileId, billing: manifest.billingNumber, destination: manifest.destination, receivedAt: at, lots: results.length, status: envelopeProblem ? 'refused' : 'processed' }, messageId);
      for (const r of results) {
        store.addLot(fileId, r.lotNo, r.report.status, r.report.lotReason);
        for (const inv of r.invoices) {
          store.recordInvoice({ billing: inv.billing, kind: inv.kind, invoiceNo: inv.invoiceNo, recordSha256: inv.recordSha256, fileId, lotNo: r.lotNo, status: inv.status, ...(inv.reason ? { code: inv.reason.code, text: inv.reason.text } : {}) });
          if (inv.payment) store.addPaymentDue(inv.payment, today);
        }
      }
      for (const a of arls) {
        store.addArl(fileId, a.lotNo, a.body, a.mail.raw);
        store.deliver(this.d.mailboxUser, newUid(), a.mail.raw, at);
      }
      store.setOutcome(messageId, envelopeProblem ? 'refused' : 'processed', fileId, envelopeProblem?.detail ?? results.find((r) => r.detail)?.detail ?? null);
    });
    stats.lots += results.length;
    stats.arlSent += arls.length;
    for (const r of results) {
      for (const i of r.report.invoices) {
        if (i.status === 'accepted') stats.invoicesAccepted++;
        else stats.invoicesRejected++;
      }
    }
  }

  #envelopeProblem(parsed: ParsedMail, envelope: InboundEnvelope, m: FileManifest, manifestName: string): Failure | null {
    const fileId = m.fileId;
    const structure = (detail: string): Failure => ({ reason: LOT_REASONS.structure, detail });
    if (fileIdOf(m.billingNumber, m.fileNo) !== fileId) return structure(`fileId ${fileId} does not match billing number and file number`);
    if (manifestName !== `${fileId}.txt`) return structure(`manifest named ${manifestName}, expected ${fileId}.txt`);
    if ((parsed.subject ?? '') !== `DI-SV FILE ${fileId}`) return structure(`subject "${parsed.subject ?? ''}" does not name the file`);
    if (bareMessageId(parsed.messageId) !== `${fileId}@${PRACTITIONER_DOMAIN}`) return structure(`Message-ID ${parsed.messageId ?? '(none)'} does not match the file`);
    const sender = practitionerAddress(m.billingNumber).toLowerCase();
    const from = parsed.from?.value[0]?.address?.toLowerCase();
    if (from !== sender) return { reason: LOT_REASONS.billing, detail: `sender ${from ?? '(none)'} is not ${sender}` };
    // The null reverse-path (MAIL FROM:<>) is no practitioner either.
    if (envelope.mailFrom.toLowerCase() !== sender) return { reason: LOT_REASONS.billing, detail: `SMTP sender ${envelope.mailFrom || '<>'} is not ${sender}` };
    let dest: string | undefined;
    try {
      dest = destinationAddress(m.destination).toLowerCase();
    } catch {
      dest = undefined;
    }
    if (dest === undefined || !envelope.rcptTo.some((r) => r.toLowerCase() === dest)) return { reason: LOT_REASONS.destination, detail: `not addressed to the destination ${m.destination}` };
    const named = new Set([`${fileId}.txt`, ...m.lots.map((l) => l.attachment)]);
    const extra = parsed.attachments.map((a) => a.filename ?? '(no name)').filter((n) => !named.has(n));
    if (extra.length > 0) return structure(`attachments not named in the manifest: ${extra.join(', ')}`);
    return null;
  }

  async #lot(
    manifest: FileManifest,
    lot: FileManifest['lots'][number],
    signed: Uint8Array,
    header: Pick<ArlReport, 'fileId' | 'lotNo' | 'billingNumber' | 'destination' | 'date'>,
    today: IsoDate,
    numbersInFile: Map<string, string>,
    lotFailure: (reason: Reason, detail: string) => LotResult,
  ): Promise<LotResult> {
    const now = new Date(this.d.now());
    const sig = await checkCpsSignature(signed, this.d.pki, now);
    if (!sig.ok) return lotFailure(sig.failure.reason, sig.failure.detail);
    let body: { header: LotHeader; entries: LotEntry[] };
    try {
      body = decodeLotBody(sig.content);
    } catch (err) {
      return lotFailure(LOT_REASONS.structure, (err as Error).message);
    }
    const h = body.header;
    const mismatch: Failure | null =
      h.billingNumber !== manifest.billingNumber ? { reason: LOT_REASONS.billing, detail: `billing number ${h.billingNumber}, manifest says ${manifest.billingNumber}` }
      : h.destination !== manifest.destination ? { reason: LOT_REASONS.destination, detail: `destination ${h.destination}, manifest says ${manifest.destination}` }
      : body.entries.length !== lot.invoices || body.entries.length === 0 ? { reason: LOT_REASONS.count, detail: `${body.entries.length} invoices, manifest says ${lot.invoices}` }
      : h.lotNo !== lot.lotNo || h.kind !== lot.kind ? { reason: LOT_REASONS.structure, detail: `lot ${h.lotNo} ${h.kind}, manifest says ${lot.lotNo} ${lot.kind}` }
      : null;
    if (mismatch) {
      const r = mismatch.reason;
      return { lotNo: lot.lotNo, report: { ...header, status: 'negative', lotReason: { ...r }, invoices: body.entries.map((e) => ({ invoiceNo: e.invoiceNo, status: 'rejected', code: r.code, text: r.text })) }, invoices: [], detail: mismatch.detail };
    }

    const outcomes: InvoiceOutcome[] = [];
    const records: InvoiceToRecord[] = [];
    let firstDetail: string | undefined;
    for (const e of body.entries) {
      const r = await this.#invoice(e, h, sig.signerSerial, today, now, numbersInFile);
      if (r.failure) {
        outcomes.push({ invoiceNo: e.invoiceNo, status: 'rejected', code: r.failure.reason.code, text: r.failure.reason.text });
        firstDetail ??= `invoice ${e.invoiceNo}: ${r.failure.detail}`;
      } else {
        outcomes.push({ invoiceNo: e.invoiceNo, status: 'accepted' });
      }
      if (r.record) records.push(r.record);
    }
    // Positive: the lot was taken; invoices may still be rejected one by one (formats/arl.ts).
    const result: LotResult = { lotNo: lot.lotNo, report: { ...header, status: 'positive', invoices: outcomes }, invoices: records };
    if (firstDetail !== undefined) result.detail = firstDetail;
    return result;
  }

  async #invoice(
    e: LotEntry,
    h: LotHeader,
    lotSigner: string | undefined,
    today: IsoDate,
    now: Date,
    numbersInFile: Map<string, string>,
  ): Promise<{ failure?: Failure; record?: InvoiceToRecord }> {
    let d: InvoiceData;
    try {
      d = decodeInvoice(e.record);
    } catch (err) {
      return { failure: { reason: INVOICE_REASONS.format, detail: (err as Error).message } };
    }
    if (d.invoiceNo !== e.invoiceNo || d.kind !== h.kind || d.practitioner.billingNumber !== h.billingNumber) {
      return { failure: { reason: INVOICE_REASONS.format, detail: 'invoice number, kind or billing number differ from the lot' } };
    }
    const hash = sha256Hex(e.record);
    const key = `${h.billingNumber}/${d.kind}/${d.invoiceNo}`;
    const earlier = numbersInFile.get(key);
    const seen = earlier !== undefined ? { recordSha256: earlier, status: 'accepted' as const } : this.d.store.seenInvoice(h.billingNumber, d.kind, d.invoiceNo);
    // Reuse of a number is refused without touching what was recorded for the first one.
    if (seen && seen.recordSha256 !== hash) return { failure: { reason: INVOICE_REASONS.duplicate, detail: `number ${d.invoiceNo} already received with another content` } };
    if (seen && seen.status === 'accepted') return { failure: { reason: INVOICE_REASONS.duplicate, detail: `invoice ${d.invoiceNo} already received and accepted` } };
    numbersInFile.set(key, hash);

    const reject = (reason: Reason, detail: string) => ({
      failure: { reason, detail },
      record: { billing: h.billingNumber, kind: d.kind, invoiceNo: d.invoiceNo, recordSha256: hash, status: 'rejected' as const, reason },
    });
    const sig = await checkCpsSignature(e.cpsSignature, this.d.pki, now, e.record);
    if (!sig.ok) return reject(INVOICE_REASONS.signature, sig.failure.detail);
    // The lot is signed by the invoice's practitioner, or, for a remplaçant's invoice, by the holder
    // of the billing number it was made under (the titulaire, per the caisse's practitioner file).
    const lotSignerOk = lotSigner === d.practitioner.nationalId || (d.practitioner.remplacant && lotSigner !== undefined && this.d.practitioners.get(d.practitioner.billingNumber) === lotSigner);
    if (sig.signerSerial !== d.practitioner.nationalId || !lotSignerOk) {
      return reject(INVOICE_REASONS.signature, `signed by ${sig.signerSerial ?? '?'} (lot by ${lotSigner ?? '?'}), invoice of ${d.practitioner.nationalId}`);
    }
    // A DRE is split from its FSE and carries no card authentication of its own (docs/amo.md).
    if (d.kind === 'FSE' && !d.degraded) {
      const v = checkVitaleAuth(e.record, e.vitaleAuth, e.vitaleCertDer, d, this.d.pki);
      if (v) return reject(v.reason, v.detail);
    }
    const content = checkContent(d, today);
    if (content) return reject(content.reason, content.detail);
    const rule = applyAmoRules(this.d.rules, d);
    if (rule) return reject(rule, `rule ${rule.code}`);
    return {
      record: {
        billing: h.billingNumber,
        kind: d.kind,
        invoiceNo: d.invoiceNo,
        recordSha256: hash,
        status: 'accepted',
        payment: {
          billing: h.billingNumber,
          kind: d.kind,
          invoiceNo: d.invoiceNo,
          destination: h.destination,
          nir: d.beneficiary.nir ?? d.insured.nir,
          careDate: d.careDate,
          charged: d.pricing.totals.charged,
          amount: d.kind === 'FSE' ? d.pricing.totals.amo : d.pricing.totals.amc,
        },
      },
    };
  }

  async #refuse(messageId: number, envelope: InboundEnvelope, subject: string, reason: string): Promise<void> {
    const { store, stats } = this.d;
    const at = this.d.now();
    const to = envelope.mailFrom !== '' ? envelope.mailFrom : `postmaster@${PRACTITIONER_DOMAIN}`;
    const mail = await composeRefusal({ to, subject: subject.replace(/[\r\n]/g, ' '), reason, ref: messageId, date: new Date(at) });
    store.tx(() => {
      store.deliver(this.d.mailboxUser, newUid(), mail.raw, at);
      store.setOutcome(messageId, 'refused', null, reason);
    });
    stats.refused++;
  }

  /**
   * Payments due become RSP files: one per billing number and destination, payment date the next
   * working day. Returns the number of invoices paid.
   */
  async settle(): Promise<number> {
    const { store, stats } = this.d;
    const due = store.paymentsDue();
    const groups = new Map<string, PaymentDue[]>();
    for (const p of due) {
      const k = `${p.billing}\u0000${p.destination}`;
      const g = groups.get(k) ?? [];
      g.push(p);
      groups.set(k, g);
    }
    let paid = 0;
    for (const group of groups.values()) {
      const { billing, destination } = group[0]!;
      const at = this.d.now();
      const today = isoDay(at);
      const paymentDate = addWorkingDays(today, 1);
      // The queue makes this peek safe: nothing else allocates a sequence meanwhile.
      const seq = store.peekNext(`rsp/${billing}`);
      const report: RspReport = {
        emitter: destination,
        billingNumber: billing,
        seq,
        date: today,
        payments: group.map((p) => ({ invoiceNo: p.invoiceNo, nir: p.nir, careDate: p.careDate, charged: p.charged, paid: p.amount, paymentDate, status: 'paid' as const })),
      };
      const body = encodeRsp(report);
      const mail = await composeRsp({ billingNumber: billing, seq, destination, body, date: new Date(at) });
      store.tx(() => {
        const got = store.next(`rsp/${billing}`);
        if (got !== seq) throw new Error(`RSP sequence moved (${seq} -> ${got})`);
        store.addRsp(billing, seq, destination, body, at);
        for (const p of group) store.markPaid(p, seq, paymentDate);
        store.deliver(this.d.mailboxUser, newUid(), mail.raw, at);
      });
      stats.rspSent++;
      stats.paid += group.length;
      paid += group.length;
    }
    return paid;
  }
}
