/**
 * DI-SV 01 invoice layout (FSE and DRE): what the CPS signs and the AMO checks. Record order and every
 * field are described in docs/formats.md; each InvoiceData field has a place here so the receiver sees
 * exactly what was signed.
 */
import type { Beneficiary, InvoiceData, InvoiceKind, Nature, Parcours, PricedLine, Totals } from '../model.js';
import { FormatError, type FormatName } from './errors.js';
import { RecordReader, RecordWriter, joinRecords, splitRecords } from './records.js';

export const INVOICE_LAYOUT = 'DI-SV 01';

export const MAX_INVOICE_LINES = 999;

const KINDS: Record<InvoiceKind, string> = { FSE: 'FSE', DRE: 'DRE' };
const NATURES: Record<Nature, string> = { maladie: 'MA', maternite: 'MT', at: 'AT' };
const PARCOURS: Record<Parcours, string> = { traitant: 'T', oriente: 'O', hors: 'H', exempt: 'E' };
const ACT_KINDS: Record<PricedLine['kind'], string> = { NGAP: 'N', CCAM: 'C' };

const NIR = /^[0-9]{5}(?:[0-9]{2}|2A|2B)[0-9]{8}$/;
const DIGITS = /^[0-9]+$/;
const MODIFIER_SLOTS = 5;

export const INVOICE_RECORD = {
  header: '100',
  practitioner: '110',
  insured: '120',
  beneficiary: '130',
  rights: '140',
  context: '150',
  line: '200',
  totals: '800',
  trailer: '900',
} as const;

const AMOUNT = 8;
const TOTAL = 10;

export function encodeInvoice(d: InvoiceData): Uint8Array {
  const f: FormatName = d.kind === 'DRE' ? 'DRE' : 'FSE';
  const lines: string[] = [];
  const w = (type: string): RecordWriter => new RecordWriter(f, lines.length + 1, type);
  const n = d.pricing.lines.length;
  if (n < 1 || n > MAX_INVOICE_LINES) throw new FormatError(f, 'record 7 (200)', `an invoice has 1..${MAX_INVOICE_LINES} act lines, got ${n}`);

  lines.push(
    w(INVOICE_RECORD.header)
      .raw('layout', 8, INVOICE_LAYOUT)
      .choice('kind', 3, d.kind, KINDS)
      .num('invoiceNo', 9, d.invoiceNo)
      .optNum('relatedNo', 9, d.relatedNo)
      .optNum('correctedFrom', 9, d.correctedFrom)
      .date6('createdAt', d.createdAt)
      .date6('careDate', d.careDate)
      .flag('degraded', d.degraded)
      .optCode('vitaleSerial', 16, d.vitaleSerial, DIGITS)
      .text('tableVersion', 30, d.pricing.tableVersion)
      .done(),
  );
  const p = d.practitioner;
  lines.push(
    w(INVOICE_RECORD.practitioner)
      .code('nationalId', 20, p.nationalId)
      .text('nom', 27, p.nom)
      .text('prenom', 27, p.prenom)
      .code('specialite', 2, p.specialite, DIGITS)
      .code('billingNumber', 9, p.billingNumber, /^[0-9]{9}$/)
      .num('situationNumber', 2, p.situationNumber)
      .code('conventionCode', 2, p.conventionCode)
      .code('tariffZone', 2, p.tariffZone)
      .flag('remplacant', p.remplacant)
      .optCode('replacedBillingNumber', 9, p.replacedBillingNumber, /^[0-9]{9}$/)
      .done(),
  );
  const i = d.insured;
  lines.push(
    w(INVOICE_RECORD.insured)
      .code('nir', 15, i.nir, NIR)
      .code('regime', 2, i.regime, DIGITS)
      .code('caisse', 3, i.caisse, DIGITS)
      .code('centre', 4, i.centre, DIGITS)
      .code('codeGestion', 2, i.codeGestion)
      .done(),
  );
  const b = d.beneficiary;
  lines.push(
    w(INVOICE_RECORD.beneficiary)
      .text('surname', 27, b.surname)
      .optText('usualName', 27, b.usualName)
      .text('firstName', 27, b.firstName)
      .digits('birthDate', 8, b.birthDate)
      .num('birthRank', 1, b.birthRank)
      .code('quality', 2, b.quality, DIGITS)
      .optCode('nir', 15, b.nir, NIR)
      .code('nationality', 3, b.nationality, /^[A-Z]{3}$/)
      .done(),
  );
  const rw = w(INVOICE_RECORD.rights)
    .date8('rightsStart', b.rights.start)
    .optDate8('rightsEnd', b.rights.end)
    .flag('ald', b.rights.ald)
    .code('exoneration', 1, b.rights.exoneration);
  if (b.amc) {
    rw.code('amcNumber', 10, b.amc.number, DIGITS)
      .code('amcContractType', 2, b.amc.contractType, DIGITS)
      .flag('amcTiersPayant', b.amc.tiersPayant)
      .date8('amcStart', b.amc.start)
      .date8('amcEnd', b.amc.end)
      .optText('amcName', 40, b.amc.name);
  }
  lines.push(rw.done());
  const c = d.context;
  if (d.series && (d.series.prescriberId === undefined || d.series.prescriptionDate === undefined)) {
    throw new FormatError(f, `record ${lines.length + 1} (150) series`, 'a series needs the prescriber and the prescription date');
  }
  lines.push(
    w(INVOICE_RECORD.context)
      .choice('nature', 2, c.nature, NATURES)
      .optCode('atNumber', 15, c.atNumber)
      .flag('aldRelated', c.aldRelated)
      .choice('parcours', 1, c.parcours, PARCOURS)
      .optCode('orientingPractitioner', 20, c.orientingPractitioner)
      .flag('tiersPayantAmo', c.tiersPayantAmo)
      .flag('tiersPayantAmc', c.tiersPayantAmc)
      .optCode('prescriberId', 20, d.series?.prescriberId)
      .optDate6('prescriptionDate', d.series?.prescriptionDate)
      .done(),
  );
  for (const l of d.pricing.lines) {
    const lw = w(INVOICE_RECORD.line)
      .date6('date', l.date)
      .code('code', 8, l.code)
      .choice('kind', 1, l.kind, ACT_KINDS)
      .fixed('coefficient', 6, 2, l.coefficient)
      .num('quantity', 4, l.quantity)
      .optCode('activity', 1, l.activity, DIGITS)
      .optCode('phase', 1, l.phase, DIGITS);
    if (!Array.isArray(l.modifiers) || l.modifiers.length > MODIFIER_SLOTS) {
      throw new FormatError(f, `record ${lines.length + 1} (200) modifiers`, `at most ${MODIFIER_SLOTS} modifiers`);
    }
    for (let k = 0; k < MODIFIER_SLOTS; k++) lw.optCode(`modifiers[${k}]`, 4, l.modifiers[k]);
    lines.push(
      lw
        .num('unitPrice', AMOUNT, l.unitPrice)
        .num('charged', AMOUNT, l.charged)
        .num('base', AMOUNT, l.base)
        .num('rate', 3, l.rate)
        .num('amo', AMOUNT, l.amo)
        .num('amc', AMOUNT, l.amc)
        .num('patient', AMOUNT, l.patient)
        .done(),
    );
  }
  const t = d.pricing.totals;
  lines.push(
    w(INVOICE_RECORD.totals)
      .num('charged', TOTAL, t.charged)
      .num('base', TOTAL, t.base)
      .num('amo', TOTAL, t.amo)
      .num('amc', TOTAL, t.amc)
      .num('patient', TOTAL, t.patient)
      .num('participation', TOTAL, t.participation)
      .done(),
  );
  const sums = lineSums(d.pricing.lines);
  lines.push(
    w(INVOICE_RECORD.trailer)
      .num('recordCount', 4, lines.length + 1)
      .num('lineCount', 3, n)
      .num('sumCharged', TOTAL, sums.charged)
      .num('sumBase', TOTAL, sums.base)
      .num('sumAmo', TOTAL, sums.amo)
      .num('sumAmc', TOTAL, sums.amc)
      .num('sumPatient', TOTAL, sums.patient)
      .done(),
  );
  return joinRecords(lines);
}

function lineSums(lines: PricedLine[]): Omit<Totals, 'participation'> {
  const s = { charged: 0, base: 0, amo: 0, amc: 0, patient: 0 };
  for (const l of lines) {
    s.charged += l.charged;
    s.base += l.base;
    s.amo += l.amo;
    s.amc += l.amc;
    s.patient += l.patient;
  }
  return s;
}

export function decodeInvoice(b: Uint8Array): InvoiceData {
  let f: FormatName = 'FSE';
  const lines = splitRecords(f, b);
  let idx = 0;
  const next = (type: string, field: string): RecordReader => {
    const line = lines[idx];
    if (line === undefined) throw new FormatError(f, `record ${idx + 1}`, `missing: record ${type} (${field}) expected`);
    const r = new RecordReader(f, ++idx, line);
    if (r.type !== type) r.fail('type', `record type ${JSON.stringify(r.type)} where ${type} (${field}) is expected`);
    return r;
  };

  let r = next(INVOICE_RECORD.header, 'header');
  const layout = r.raw(8);
  if (layout !== INVOICE_LAYOUT) r.fail('layout', `unknown layout ${JSON.stringify(layout)}, this decoder reads ${INVOICE_LAYOUT}`);
  const kind = r.choice('kind', 3, KINDS);
  f = kind;
  const invoiceNo = r.num('invoiceNo', 9);
  const relatedNo = r.optNum('relatedNo', 9);
  const correctedFrom = r.optNum('correctedFrom', 9);
  const createdAt = r.date6('createdAt');
  const careDate = r.date6('careDate');
  const degraded = r.flag('degraded');
  const vitaleSerial = r.optCode('vitaleSerial', 16, DIGITS);
  const tableVersion = r.text('tableVersion', 30);
  r.done();

  r = next(INVOICE_RECORD.practitioner, 'practitioner');
  const nationalId = r.code('nationalId', 20);
  const nom = r.text('nom', 27);
  const prenom = r.text('prenom', 27);
  const specialite = r.code('specialite', 2, DIGITS);
  const billingNumber = r.code('billingNumber', 9, /^[0-9]{9}$/);
  const situationNumber = r.num('situationNumber', 2);
  const conventionCode = r.code('conventionCode', 2);
  const tariffZone = r.code('tariffZone', 2);
  const remplacant = r.flag('remplacant');
  const replacedBillingNumber = r.optCode('replacedBillingNumber', 9, /^[0-9]{9}$/);
  r.done();

  r = next(INVOICE_RECORD.insured, 'insured');
  const insured = {
    nir: r.code('nir', 15, NIR),
    regime: r.code('regime', 2, DIGITS),
    caisse: r.code('caisse', 3, DIGITS),
    centre: r.code('centre', 4, DIGITS),
    codeGestion: r.code('codeGestion', 2),
  };
  r.done();

  r = next(INVOICE_RECORD.beneficiary, 'beneficiary');
  const surname = r.text('surname', 27);
  const usualName = r.optText('usualName', 27);
  const firstName = r.text('firstName', 27);
  const birthDate = r.digits('birthDate', 8);
  const birthRank = r.num('birthRank', 1);
  const quality = r.code('quality', 2, DIGITS);
  const benNir = r.optCode('nir', 15, NIR);
  const nationality = r.code('nationality', 3, /^[A-Z]{3}$/);
  r.done();

  r = next(INVOICE_RECORD.rights, 'rights');
  const rightsStart = r.date8('rightsStart');
  const rightsEnd = r.optDate8('rightsEnd');
  const ald = r.flag('ald');
  const exoneration = r.code('exoneration', 1);
  const amcNumber = r.optCode('amcNumber', 10, DIGITS);
  let amc: Beneficiary['amc'];
  if (amcNumber === undefined) {
    r.blank('amc', 2 + 1 + 8 + 8 + 40);
  } else {
    const contractType = r.code('amcContractType', 2, DIGITS);
    const tiersPayant = r.flag('amcTiersPayant');
    const start = r.date8('amcStart');
    const end = r.date8('amcEnd');
    const name = r.optText('amcName', 40);
    amc = { number: amcNumber, contractType, tiersPayant, start, end, ...(name !== undefined ? { name } : {}) };
  }
  r.done();

  r = next(INVOICE_RECORD.context, 'context');
  const nature = r.choice('nature', 2, NATURES);
  const atNumber = r.optCode('atNumber', 15);
  const aldRelated = r.flag('aldRelated');
  const parcours = r.choice('parcours', 1, PARCOURS);
  const orientingPractitioner = r.optCode('orientingPractitioner', 20);
  const tiersPayantAmo = r.flag('tiersPayantAmo');
  const tiersPayantAmc = r.flag('tiersPayantAmc');
  const prescriberId = r.optCode('prescriberId', 20);
  const prescriptionDate = r.optDate6('prescriptionDate');
  if ((prescriberId === undefined) !== (prescriptionDate === undefined)) r.fail('prescriptionDate', 'a series needs both the prescriber and the prescription date');
  r.done();

  const pricedLines: PricedLine[] = [];
  while (lines[idx] !== undefined && (lines[idx] as string).startsWith(INVOICE_RECORD.line)) {
    r = next(INVOICE_RECORD.line, 'act line');
    const date = r.date6('date');
    const code = r.code('code', 8);
    const lineKind = r.choice('kind', 1, ACT_KINDS);
    const coefficient = r.fixed('coefficient', 6, 2);
    const quantity = r.num('quantity', 4);
    const activity = r.optCode('activity', 1, DIGITS);
    const phase = r.optCode('phase', 1, DIGITS);
    const modifiers: string[] = [];
    let ended = false;
    for (let k = 0; k < MODIFIER_SLOTS; k++) {
      const m = r.optCode(`modifiers[${k}]`, 4);
      if (m === undefined) ended = true;
      else if (ended) r.fail(`modifiers[${k}]`, 'a modifier after a blank slot');
      else modifiers.push(m);
    }
    const line: PricedLine = {
      date,
      code,
      kind: lineKind,
      coefficient,
      quantity,
      ...(activity !== undefined ? { activity } : {}),
      ...(phase !== undefined ? { phase } : {}),
      modifiers,
      unitPrice: r.num('unitPrice', AMOUNT),
      charged: r.num('charged', AMOUNT),
      base: r.num('base', AMOUNT),
      rate: r.num('rate', 3),
      amo: r.num('amo', AMOUNT),
      amc: r.num('amc', AMOUNT),
      patient: r.num('patient', AMOUNT),
    };
    if (line.rate > 100) r.fail('rate', `${line.rate} % is more than 100 %`);
    r.done();
    pricedLines.push(line);
    if (pricedLines.length > MAX_INVOICE_LINES) r.fail('type', `more than ${MAX_INVOICE_LINES} act lines`);
  }
  if (pricedLines.length === 0) next(INVOICE_RECORD.line, 'act line');

  r = next(INVOICE_RECORD.totals, 'totals');
  const totals: Totals = {
    charged: r.num('charged', TOTAL),
    base: r.num('base', TOTAL),
    amo: r.num('amo', TOTAL),
    amc: r.num('amc', TOTAL),
    patient: r.num('patient', TOTAL),
    participation: r.num('participation', TOTAL),
  };
  r.done();

  r = next(INVOICE_RECORD.trailer, 'trailer');
  const recordCount = r.num('recordCount', 4);
  if (recordCount !== idx) r.fail('recordCount', `says ${recordCount} records, the invoice has ${idx}`);
  const lineCount = r.num('lineCount', 3);
  if (lineCount !== pricedLines.length) r.fail('lineCount', `says ${lineCount} act lines, the invoice has ${pricedLines.length}`);
  const sums = lineSums(pricedLines);
  for (const k of ['charged', 'base', 'amo', 'amc', 'patient'] as const) {
    const field = `sum${k[0]!.toUpperCase()}${k.slice(1)}`;
    const v = r.num(field, TOTAL);
    if (v !== sums[k]) r.fail(field, `says ${v}, the act lines add up to ${sums[k]}`);
  }
  r.done();
  if (idx !== lines.length) throw new FormatError(f, `record ${idx + 1}`, 'data after the trailer');

  const data: InvoiceData = {
    kind,
    invoiceNo,
    ...(relatedNo !== undefined ? { relatedNo } : {}),
    ...(correctedFrom !== undefined ? { correctedFrom } : {}),
    createdAt,
    careDate,
    practitioner: {
      nationalId,
      nom,
      prenom,
      specialite,
      billingNumber,
      situationNumber,
      conventionCode,
      tariffZone,
      remplacant,
      ...(replacedBillingNumber !== undefined ? { replacedBillingNumber } : {}),
    },
    insured,
    beneficiary: {
      surname,
      ...(usualName !== undefined ? { usualName } : {}),
      firstName,
      birthDate,
      birthRank,
      quality,
      ...(benNir !== undefined ? { nir: benNir } : {}),
      nationality,
      rights: { start: rightsStart, ...(rightsEnd !== undefined ? { end: rightsEnd } : {}), ald, exoneration },
      ...(amc !== undefined ? { amc } : {}),
    },
    context: {
      nature,
      ...(atNumber !== undefined ? { atNumber } : {}),
      aldRelated,
      parcours,
      ...(orientingPractitioner !== undefined ? { orientingPractitioner } : {}),
      tiersPayantAmo,
      tiersPayantAmc,
    },
    ...(prescriberId !== undefined && prescriptionDate !== undefined ? { series: { prescriberId, prescriptionDate } } : {}),
    degraded,
    ...(vitaleSerial !== undefined ? { vitaleSerial } : {}),
    pricing: { lines: pricedLines, totals, tableVersion },
  };
  return data;
}
