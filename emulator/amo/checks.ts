/**
 * The emulated AMO's checks on what a practitioner sends: CMS signatures against the emulator's test
 * PKI (lot: attached, invoice: detached over the record), the Vitale card's INTERNAL AUTHENTICATE,
 * and the content of each invoice (NIR keys, dates, rights, amounts recomputed with the same tariff
 * the applet uses). Each failure is a Reason from reasons.ts, with a detail for the journal/ARL text.
 */
import { createHash, verify as rsaVerify, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { verifyCms } from '../../applets/sesam-vitale/formats/cms.js';
import type { ActInput, CpsSituation, InvoiceData, IsoDate, PricedLine, Pricing } from '../../applets/sesam-vitale/model.js';
import { checkNir } from '../../applets/sesam-vitale/rules/nir.js';
import { compareIso, isIsoDate } from '../../applets/sesam-vitale/rules/dates.js';
import { priceActs } from '../../applets/sesam-vitale/tariff/price.js';
import { validateInvoice } from '../../applets/sesam-vitale/invoice/validate.js';
import { actsOfLines } from '../../applets/sesam-vitale/invoice/build.js';
import type { EmulatorPki } from '../cards/pki/index.js';
import { INVOICE_REASONS, LOT_REASONS, type Reason } from './reasons.js';

export interface Failure {
  reason: Reason;
  /** What exactly failed, for the store and docs; never key material. */
  detail: string;
}

export type SignatureCheck = { ok: true; content: Uint8Array; signerCertDer: Uint8Array; signerSerial: string | undefined; signingTime: Date } | { ok: false; failure: Failure };

const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';
const OID_SERIAL_NUMBER = '2.5.4.5';
/** A signing time this far ahead of the AMO's clock is not believed. */
const CLOCK_SKEW_MS = 5 * 60_000;
const TWO_YEARS_DAYS = 2 * 365 + 1;

function toArrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
}

/** Reads what the verification does not return on failure: signing time and the certificates carried. */
function cmsFacts(cms: Uint8Array): { signingTime?: Date; certs: Uint8Array[] } | null {
  try {
    const asn = asn1js.fromBER(toArrayBuffer(cms));
    if (asn.offset === -1) return null;
    const info = new pkijs.ContentInfo({ schema: asn.result });
    if (info.contentType !== pkijs.ContentInfo.SIGNED_DATA) return null;
    const sd = new pkijs.SignedData({ schema: info.content });
    const certs: Uint8Array[] = [];
    for (const c of sd.certificates ?? []) if (c instanceof pkijs.Certificate) certs.push(new Uint8Array(c.toSchema().toBER(false)));
    const attrs = sd.signerInfos[0]?.signedAttrs?.attributes ?? [];
    const st = attrs.find((a) => a.type === OID_SIGNING_TIME)?.values[0];
    let signingTime: Date | undefined;
    if (st instanceof asn1js.UTCTime || st instanceof asn1js.GeneralizedTime) signingTime = st.toDate();
    return signingTime ? { signingTime, certs } : { certs };
  } catch {
    return null;
  }
}

/**
 * The encapsulated content of an attached CMS without checking anything: when a lot's signature
 * fails, the ARL still names the invoices it held if the body can be read.
 */
export function unverifiedContent(cms: Uint8Array): Uint8Array | null {
  try {
    const asn = asn1js.fromBER(toArrayBuffer(cms));
    if (asn.offset === -1) return null;
    const info = new pkijs.ContentInfo({ schema: asn.result });
    const sd = new pkijs.SignedData({ schema: info.content });
    const e = sd.encapContentInfo.eContent;
    return e ? new Uint8Array(e.getValue()) : null;
  } catch {
    return null;
  }
}

/** The subject serialNumber (the CPS puts the national identifier there; the Vitale card its serial). */
export function subjectSerial(certDer: Uint8Array): string | undefined {
  try {
    const cert = pkijs.Certificate.fromBER(toArrayBuffer(certDer));
    const t = cert.subject.typesAndValues.find((x) => x.type === OID_SERIAL_NUMBER);
    const v = t?.value.valueBlock as { value?: unknown } | undefined;
    return typeof v?.value === 'string' ? v.value : undefined;
  } catch {
    return undefined;
  }
}

function issuedBy(certDer: Uint8Array, caDer: Uint8Array): boolean {
  try {
    const cert = new X509Certificate(certDer);
    const ca = new X509Certificate(caDer);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

function validAt(certDer: Uint8Array, at: Date): boolean {
  const c = new X509Certificate(certDer);
  return new Date(c.validFrom).getTime() <= at.getTime() && at.getTime() <= new Date(c.validTo).getTime();
}

/**
 * A CPS signature: CMS SignedData, signer certificate issued by the health CA (not the Vitale CA, not
 * the root itself), valid at the signing time, the signing time not ahead of our clock, and the
 * signature itself (pkijs, with the chain up to the test root).
 */
export async function checkCpsSignature(cms: Uint8Array, pki: EmulatorPki, now: Date, detachedContent?: Uint8Array): Promise<SignatureCheck> {
  const fail = (reason: Reason, detail: string): SignatureCheck => ({ ok: false, failure: { reason, detail } });
  const facts = cmsFacts(cms);
  if (!facts) return fail(LOT_REASONS.signature, 'not a CMS SignedData');
  if (!facts.signingTime) return fail(LOT_REASONS.signature, 'no signingTime signed attribute');
  const signingTime = facts.signingTime;
  if (signingTime.getTime() > now.getTime() + CLOCK_SKEW_MS) return fail(LOT_REASONS.signature, `signingTime ${signingTime.toISOString()} is in the future`);
  const fromHealthCa = facts.certs.filter((c) => issuedBy(c, pki.healthCaDer));
  const result = await verifyCms(cms, {
    trustedCertsDer: [pki.rootDer],
    intermediatesDer: [pki.healthCaDer],
    checkDate: signingTime,
    ...(detachedContent ? { detachedContent } : {}),
  });
  if (!result.ok) {
    if (fromHealthCa.length === 0) return fail(LOT_REASONS.certificate, `no certificate issued by the health CA (${result.reason})`);
    if (!fromHealthCa.some((c) => validAt(c, signingTime))) return fail(LOT_REASONS.certificate, `certificate not valid at ${signingTime.toISOString()}`);
    return fail(LOT_REASONS.signature, result.reason);
  }
  if (!issuedBy(result.signerCertDer, pki.healthCaDer)) return fail(LOT_REASONS.certificate, 'signer certificate not issued by the health CA');
  if (!validAt(result.signerCertDer, signingTime)) return fail(LOT_REASONS.certificate, `certificate not valid at ${signingTime.toISOString()}`);
  return { ok: true, content: result.content, signerCertDer: result.signerCertDer, signerSerial: subjectSerial(result.signerCertDer), signingTime };
}

/**
 * The Vitale card's INTERNAL AUTHENTICATE: RSASSA-PKCS1-v1_5 SHA-256 over the challenge, which is
 * SHA-256(record). The certificate carried must be issued by the Vitale CA, valid at the care date,
 * and name the card serial the invoice gives.
 */
export function checkVitaleAuth(record: Uint8Array, auth: Uint8Array | undefined, certDer: Uint8Array | undefined, d: InvoiceData, pki: EmulatorPki): Failure | null {
  const fail = (detail: string): Failure => ({ reason: INVOICE_REASONS.vitale, detail });
  if (!auth || !certDer) return fail('Vitale authentication or certificate missing');
  if (!issuedBy(certDer, pki.vitaleCaDer)) return fail('card certificate not issued by the Vitale CA');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certDer);
  } catch {
    return fail('card certificate unreadable');
  }
  if (!validAt(certDer, new Date(`${d.careDate}T12:00:00Z`))) return fail(`card certificate not valid on ${d.careDate}`);
  if (d.vitaleSerial === undefined || subjectSerial(certDer) !== d.vitaleSerial) return fail('card certificate does not name the card of the invoice');
  const challenge = createHash('sha256').update(record).digest();
  let good = false;
  try {
    good = rsaVerify('sha256', challenge, cert.publicKey, auth);
  } catch {
    good = false;
  }
  return good ? null : fail('INTERNAL AUTHENTICATE signature does not verify');
}

function addDaysIso(iso: IsoDate, days: number): IsoDate {
  return new Date(Date.parse(`${iso}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}


/** Which amounts must match: a DRE is paid on its AMC part, so only what it carries for the AMC counts. */
function amountsDiffer(kind: InvoiceData['kind'], got: Pricing, want: Pricing): string | null {
  if (got.lines.length !== want.lines.length) return `${got.lines.length} lines, tariff gives ${want.lines.length}`;
  const lineFields: Array<keyof PricedLine> = kind === 'FSE' ? ['unitPrice', 'charged', 'base', 'rate', 'amo', 'amc', 'patient'] : ['unitPrice', 'charged', 'base', 'rate', 'amc'];
  for (let i = 0; i < want.lines.length; i++) {
    for (const f of lineFields) {
      if (got.lines[i]![f] !== want.lines[i]![f]) return `line ${i + 1} ${String(f)} ${String(got.lines[i]![f])}, tariff gives ${String(want.lines[i]![f])}`;
    }
  }
  const totalFields: Array<keyof Pricing['totals']> = kind === 'FSE' ? ['charged', 'base', 'amo', 'amc', 'patient', 'participation'] : ['charged', 'base', 'amc'];
  for (const f of totalFields) if (got.totals[f] !== want.totals[f]) return `total ${f} ${got.totals[f]}, tariff gives ${want.totals[f]}`;
  return null;
}

/** The situation the invoice claims, as validateInvoice wants it (its right to sign was the card's to check). */
function situationOf(d: InvoiceData): CpsSituation {
  const p = d.practitioner;
  const s: CpsSituation = {
    number: p.situationNumber,
    mode: 'L',
    billingNumber: p.billingNumber,
    conventionCode: p.conventionCode,
    tariffZone: p.tariffZone,
    specialite: p.specialite,
    canSignFse: true,
    canSignLot: true,
    remplacant: p.remplacant,
  };
  if (p.replacedBillingNumber !== undefined) s.replacedBillingNumber = p.replacedBillingNumber;
  return s;
}

/** The ARL reason for an issue code of invoice/validate.ts or tariff/price.ts. */
export function reasonOfIssue(code: string): Reason {
  if (code === 'nir-invalid' || code.startsWith('degraded-')) return INVOICE_REASONS.nir;
  if (code.startsWith('date') || code.startsWith('series-') || code === 'birth-date-invalid') return INVOICE_REASONS.dates;
  if (code === 'rights-closed') return INVOICE_REASONS.rights;
  if (code.startsWith('amc-')) return INVOICE_REASONS.amc;
  if (code === 'specialty-not-allowed') return INVOICE_REASONS.specialty;
  if (code.startsWith('situation-')) return INVOICE_REASONS.situation;
  return INVOICE_REASONS.amounts;
}

/** Content of one decoded invoice, in the order a caisse would look: NIR, dates, rights, amounts, then the rest. */
export function checkContent(d: InvoiceData, today: IsoDate): Failure | null {
  const nirs: Array<[string, string | undefined]> = [
    ['insured', d.insured.nir],
    ['beneficiary', d.beneficiary.nir],
  ];
  for (const [who, nir] of nirs) {
    if (nir === undefined) continue;
    const r = checkNir(nir);
    if (!r.ok) return { reason: INVOICE_REASONS.nir, detail: `${who} NIR: ${r.reason}` };
  }
  const oldest = addDaysIso(today, -TWO_YEARS_DAYS);
  const dates = [d.careDate, ...d.pricing.lines.map((l) => l.date)];
  for (const date of dates) {
    if (!isIsoDate(date)) return { reason: INVOICE_REASONS.dates, detail: `${date} is not a date` };
    if (compareIso(date, today) > 0) return { reason: INVOICE_REASONS.dates, detail: `${date} is after the reception date ${today}` };
    if (compareIso(date, oldest) < 0) return { reason: INVOICE_REASONS.dates, detail: `${date} is older than two years (délai de prescription)` };
  }
  const rights = d.beneficiary.rights;
  for (const l of d.pricing.lines) {
    if (compareIso(l.date, rights.start) < 0 || (rights.end !== undefined && compareIso(l.date, rights.end) > 0)) {
      return { reason: INVOICE_REASONS.rights, detail: `rights ${rights.start}..${rights.end ?? ''} do not cover ${l.date}` };
    }
  }
  const acts = actsOfLines(d.pricing.lines);
  let want: Pricing;
  try {
    want = priceActs({ acts, context: d.context, beneficiary: d.beneficiary, practitioner: d.practitioner, ...(d.series ? { series: d.series } : {}) });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return { reason: typeof code === 'string' ? reasonOfIssue(code) : INVOICE_REASONS.amounts, detail: `tariff refuses the acts: ${(err as Error).message}` };
  }
  const diff = amountsDiffer(d.kind, d.pricing, want);
  if (diff) return { reason: INVOICE_REASONS.amounts, detail: diff };
  const issues = validateInvoice(
    { practitioner: d.practitioner, situation: situationOf(d), insured: d.insured, beneficiary: d.beneficiary, context: d.context, acts, ...(d.series ? { series: d.series } : {}), degraded: d.degraded },
    today,
  );
  const first = issues[0];
  if (first) return { reason: reasonOfIssue(first.code), detail: `${first.field}: ${first.message}` };
  return null;
}
