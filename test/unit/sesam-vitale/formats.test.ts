/**
 * DI-SV 01 layouts (unit): exact round trips on generated normalised data, transliteration on encode,
 * and strict decoding (each deviation a FormatError naming the record and the field).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../../applets/sesam-vitale/formats/errors.js';
import { INVOICE_LAYOUT, decodeInvoice, encodeInvoice } from '../../../applets/sesam-vitale/formats/invoice.js';
import { MAX_INVOICES_PER_LOT, decodeLotBody, encodeLotBody, type LotEntry, type LotHeader } from '../../../applets/sesam-vitale/formats/lot.js';
import { decodeManifest, encodeManifest, fileIdOf, lotAttachmentName } from '../../../applets/sesam-vitale/formats/file.js';
import { ARL_REASONS, decodeArl, encodeArl, type ArlReport } from '../../../applets/sesam-vitale/formats/arl.js';
import { RSP_REASONS, decodeRsp, encodeRsp } from '../../../applets/sesam-vitale/formats/rsp.js';
import {
  AMO_DOMAIN,
  arlAttachmentName,
  arlMailSubject,
  classifyReturn,
  destinationAddress,
  destinationOfAddress,
  fileMail,
  parseFileMail,
  practitionerAddress,
  rspAttachmentName,
  rspMailSubject,
  type MailReceived,
} from '../../../applets/sesam-vitale/formats/mail.js';
import { base64Decode, base64Encode, transliterate } from '../../../applets/sesam-vitale/formats/records.js';
import type { InvoiceData } from '../../../applets/sesam-vitale/model.js';
import { arlReport, invoiceData, manifest, rspReport } from './formats-arbitraries.js';

const ascii = (b: Uint8Array): string => String.fromCharCode(...b);
const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const records = (b: Uint8Array): string[] => ascii(b).split('\r\n').slice(0, -1);
const join = (lines: string[]): Uint8Array => bytes(lines.map((l) => `${l}\r\n`).join(''));

function sample(): InvoiceData {
  return {
    kind: 'FSE',
    invoiceNo: 42,
    createdAt: '2025-03-14',
    careDate: '2025-03-14',
    practitioner: {
      nationalId: '810001234567',
      nom: 'MARTIN',
      prenom: 'JEAN-PIERRE',
      specialite: '01',
      billingNumber: '019999994',
      situationNumber: 1,
      conventionCode: '1',
      tariffZone: '30',
      remplacant: false,
    },
    insured: { nir: '180012A00100164', regime: '01', caisse: '751', centre: '0001', codeGestion: '10' },
    beneficiary: {
      surname: "D'ALMEIDA",
      firstName: 'ANNE',
      birthDate: '19480000',
      birthRank: 1,
      quality: '00',
      nir: '180012A00100164',
      nationality: 'FRA',
      rights: { start: '2024-01-01', ald: true, exoneration: '4' },
      amc: { number: '99999901', contractType: '01', tiersPayant: true, start: '2025-01-01', end: '2025-12-31', name: 'MUTUELLE TEST' },
    },
    context: { nature: 'maladie', aldRelated: true, parcours: 'traitant', tiersPayantAmo: true, tiersPayantAmc: true },
    degraded: false,
    vitaleSerial: '1234567890',
    pricing: {
      lines: [
        {
          date: '2025-03-14',
          code: 'G',
          kind: 'NGAP',
          coefficient: 1,
          quantity: 1,
          modifiers: [],
          unitPrice: 3000,
          charged: 3000,
          base: 3000,
          rate: 100,
          amo: 3000,
          amc: 0,
          patient: 0,
        },
        {
          date: '2025-03-14',
          code: 'DEQP003',
          kind: 'CCAM',
          coefficient: 1,
          quantity: 1,
          activity: '1',
          phase: '0',
          modifiers: ['F'],
          unitPrice: 1452,
          charged: 1452,
          base: 1452,
          rate: 100,
          amo: 1252,
          amc: 0,
          patient: 200,
        },
      ],
      totals: { charged: 4452, base: 4452, amo: 4252, amc: 0, patient: 200, participation: 200 },
      tableVersion: 'NGAP-2024-12-22',
    },
  };
}

/** Runs `f` and returns its FormatError (fails the test on success or on another error type). */
function formatError(f: () => unknown): FormatError {
  try {
    f();
  } catch (err) {
    if (err instanceof FormatError) return err;
    throw new Error(`expected a FormatError, got ${String(err)}`);
  }
  throw new Error('expected a FormatError, the decoder accepted the input');
}

describe('records', () => {
  it('transliterates accents and ligatures to uppercase and refuses what has no transliteration', () => {
    expect(transliterate('Élodie Müller-Çelik')).toBe('ELODIE MULLER-CELIK');
    expect(transliterate('  Œuvre d’Ænée ')).toBe("OEUVRE D'AENEE");
    expect(transliterate('Strauß')).toBe('STRAUSS');
    expect(transliterate('李')).toBeUndefined();
    expect(transliterate('a@b')).toBeUndefined();
  });

  it('base64 agrees with Node and is strict', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const s = base64Encode(b);
        expect(s).toBe(Buffer.from(b).toString('base64'));
        expect(base64Decode(s)).toEqual(b);
      }),
    );
    expect(base64Decode('QQ=')).toBeUndefined();
    expect(base64Decode('QR==')).toBeUndefined(); // non-zero unused bits
    expect(base64Decode('Q===')).toBeUndefined();
    expect(base64Decode('QQ==QQ==')).toBeUndefined();
  });
});

describe('invoice (FSE/DRE)', () => {
  it('round-trips generated invoices exactly', () => {
    fc.assert(
      fc.property(invoiceData, (d) => {
        const enc = encodeInvoice(d);
        expect(decodeInvoice(enc)).toStrictEqual(d);
        // Every record is 128 characters + CRLF.
        expect(enc.length % 130).toBe(0);
        for (const r of records(enc)) expect(r).toHaveLength(128);
      }),
      { numRuns: 300 },
    );
  });

  it('starts with the layout id and transliterates text on encode', () => {
    const d = sample();
    d.beneficiary.surname = 'Hélène Œstrøm';
    d.practitioner.prenom = 'José';
    const enc = encodeInvoice(d);
    expect(ascii(enc).slice(3, 11)).toBe(INVOICE_LAYOUT);
    const back = decodeInvoice(enc);
    expect(back.beneficiary.surname).toBe('HELENE OESTROM');
    expect(back.practitioner.prenom).toBe('JOSE');
  });

  it('refuses on encode what the layout cannot carry, never truncating', () => {
    const d = sample();
    d.beneficiary.surname = 'X'.repeat(28);
    expect(formatError(() => encodeInvoice(d)).message).toBe('FSE record 4 (130) surname: 28 characters do not fit in 27');
    const e = sample();
    e.beneficiary.firstName = 'Zoë 🙂';
    expect(formatError(() => encodeInvoice(e)).where).toBe('record 4 (130) firstName');
    const f = sample();
    f.pricing.lines[0]!.charged = -1;
    expect(formatError(() => encodeInvoice(f)).where).toBe('record 7 (200) charged');
    const g = sample();
    g.pricing.lines[0]!.coefficient = 1.005;
    expect(formatError(() => encodeInvoice(g)).where).toBe('record 7 (200) coefficient');
    const h = sample();
    h.careDate = '1999-12-31';
    expect(formatError(() => encodeInvoice(h)).where).toBe('record 1 (100) careDate');
    const i = sample();
    i.kind = 'DRE';
    i.insured.nir = '1800175001001'; // 13 characters
    expect(formatError(() => encodeInvoice(i)).message).toMatch(/^DRE record 3 \(120\) nir:/);
    const j = sample();
    j.pricing.lines = [];
    expect(formatError(() => encodeInvoice(j)).where).toMatch(/^record 7/);
  });

  it('keeps lunar birth dates and Corsican NIRs as they are', () => {
    const back = decodeInvoice(encodeInvoice(sample()));
    expect(back.beneficiary.birthDate).toBe('19480000');
    expect(back.insured.nir).toBe('180012A00100164');
  });

  const enc = encodeInvoice(sample());
  const lines = records(enc);
  const replaceAt = (recordIdx: number, col: number, text: string): Uint8Array => {
    const copy = [...lines];
    const l = copy[recordIdx]!;
    copy[recordIdx] = l.slice(0, col) + text + l.slice(col + text.length);
    return join(copy);
  };

  it.each([
    ['a record one character short', () => join(lines.map((l, i) => (i === 2 ? l.slice(0, 127) : l))), 'record 3', /ends at column 128|CRLF/],
    ['LF instead of CRLF', () => bytes(lines.map((l) => `${l}\n`).join('')), 'record 1', /CRLF|ends at column/],
    ['trailing garbage', () => bytes(`${ascii(enc)}X`), 'record 11', /trailing data/],
    ['a trailing extra record', () => join([...lines, lines[0]!]), 'record 11', /after the trailer/],
    ['records out of order', () => join([lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)]), 'record 2 (120) type', /110/],
    ['an unknown record type', () => join([...lines.slice(0, 6), `ZZZ${lines[6]!.slice(3)}`, ...lines.slice(7)]), 'record 7 (ZZZ) type', /200/],
    ['a letter in a numeric field', () => replaceAt(0, 14, 'A'), 'record 1 (100) invoiceNo', /digits/],
    ['an impossible date', () => replaceAt(0, 41, '250230'), 'record 1 (100) createdAt', /calendar/],
    ['a wrong layout version', () => replaceAt(0, 3, 'DI-SV 02'), 'record 1 (100) layout', /unknown layout/],
    ['a trailer line count that lies', () => replaceAt(9, 7, '003'), 'record 10 (900) lineCount', /act lines/],
    ['a trailer total that lies', () => replaceAt(9, 10, '0000004453'), 'record 10 (900) sumCharged', /add up to 4452/],
    ['data in the filler', () => replaceAt(2, 127, 'X'), 'record 3 (120) filler', /blank/],
    ['a lowercase code', () => replaceAt(2, 3, '1a0012A00100164'), 'record 3 (120) nir', /not a valid code/],
    ['a non-ASCII byte', () => { const b = enc.slice(); b[200] = 0xe9; return b; }, 'record 2', /not printable ASCII/],
    ['a modifier after a blank slot', () => replaceAt(7, 30, '    F   '), 'record 8 (200) modifiers[1]', /blank slot/],
    ['a flag that is neither 0 nor 1', () => replaceAt(0, 53, '2'), 'record 1 (100) degraded', /0 or 1/],
  ])('refuses %s', (_name, make, where, reason) => {
    const e = formatError(() => decodeInvoice(make()));
    expect(e.format).toBe('FSE');
    expect(e.where.startsWith(where)).toBe(true);
    expect(e.reason).toMatch(reason);
    expect(e.message).toBe(`FSE ${e.where}: ${e.reason}`);
  });

  it('refuses empty input and a lone header', () => {
    expect(formatError(() => decodeInvoice(new Uint8Array(0))).where).toBe('record 1');
    expect(formatError(() => decodeInvoice(join([lines[0]!]))).where).toBe('record 2');
  });
});

describe('lot body', () => {
  const header: LotHeader = { lotNo: 12, kind: 'FSE', destination: 'AMO-017510001', billingNumber: '019999994', createdAt: '2025-03-15' };
  const entryArb: fc.Arbitrary<LotEntry> = fc
    .record({
      invoiceNo: fc.integer({ min: 0, max: 999_999_999 }),
      record: fc.uint8Array({ maxLength: 700 }),
      cpsSignature: fc.uint8Array({ maxLength: 400 }),
      vitale: fc.option(fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 500 })), { nil: undefined }),
    })
    .map(({ vitale, ...e }) => (vitale ? { ...e, vitaleAuth: vitale[0], vitaleCertDer: vitale[1] } : e));

  it('round-trips generated lots with arbitrary binary items', () => {
    fc.assert(
      fc.property(fc.uniqueArray(entryArb, { minLength: 1, maxLength: 8, selector: (e) => e.invoiceNo }), (entries) => {
        const b = encodeLotBody(header, entries);
        expect(decodeLotBody(b)).toStrictEqual({ header, entries });
      }),
      { numRuns: 150 },
    );
  });

  it('carries a real invoice record byte for byte', () => {
    const record = encodeInvoice(sample());
    const out = decodeLotBody(encodeLotBody(header, [{ invoiceNo: 42, record, cpsSignature: Uint8Array.of(1, 2, 3) }]));
    expect(out.entries[0]!.record).toEqual(record);
    expect(decodeInvoice(out.entries[0]!.record)).toStrictEqual(sample());
  });

  it('refuses more than MAX_INVOICES_PER_LOT invoices, duplicates and a lone Vitale item', () => {
    const many = Array.from({ length: MAX_INVOICES_PER_LOT + 1 }, (_, i) => ({ invoiceNo: i, record: Uint8Array.of(i), cpsSignature: Uint8Array.of(i) }));
    expect(formatError(() => encodeLotBody(header, many)).where).toBe('record 1 (L00) entryCount');
    const e = { invoiceNo: 1, record: Uint8Array.of(1), cpsSignature: Uint8Array.of(1) };
    expect(formatError(() => encodeLotBody(header, [e, e])).reason).toMatch(/twice/);
    expect(formatError(() => encodeLotBody(header, [{ ...e, vitaleAuth: Uint8Array.of(1) }])).reason).toMatch(/go together/);
    expect(formatError(() => encodeLotBody({ ...header, destination: 'XYZ-1' }, [e])).where).toBe('record 1 (L00) destination');
  });

  it('checks declared lengths, continuation types and the trailer', () => {
    const b = encodeLotBody(header, [{ invoiceNo: 7, record: new Uint8Array(200).fill(65), cpsSignature: new Uint8Array(10) }]);
    const ls = records(b);
    // L10 recordLength 200 -> 201: the base64 no longer has the declared length.
    const lenLie = [...ls];
    lenLie[1] = `${lenLie[1]!.slice(0, 12)}0000201${lenLie[1]!.slice(19)}`;
    expect(formatError(() => decodeLotBody(join(lenLie))).where).toMatch(/^record 5 \(L11\) record/);
    const typeSwap = [...ls];
    typeSwap[3] = `L12${typeSwap[3]!.slice(3)}`;
    expect(formatError(() => decodeLotBody(join(typeSwap))).where).toBe('record 4 (L12) record');
    const count = [...ls];
    count[ls.length - 1] = `L99000006${count[ls.length - 1]!.slice(9)}`;
    expect(formatError(() => decodeLotBody(join(count))).where).toBe('record 7 (L99) recordCount');
    const huge = [...ls];
    huge[1] = `${huge[1]!.slice(0, 12)}9999999${huge[1]!.slice(19)}`;
    expect(formatError(() => decodeLotBody(join(huge))).reason).toMatch(/run past the end/);
  });
});

describe('manifest, ARL, RSP', () => {
  it('round-trip generated values', () => {
    fc.assert(fc.property(manifest, (m) => {
      expect(decodeManifest(encodeManifest(m))).toStrictEqual(m);
    }), { numRuns: 200 });
    fc.assert(fc.property(arlReport, (r) => {
      expect(decodeArl(encodeArl(r))).toStrictEqual(r);
    }), { numRuns: 200 });
    fc.assert(fc.property(rspReport, (r) => {
      expect(decodeRsp(encodeRsp(r))).toStrictEqual(r);
    }), { numRuns: 200 });
  });

  it('names files and attachments as documented', () => {
    expect(fileIdOf('019999994', 3)).toBe('F019999994000003');
    expect(lotAttachmentName('F019999994000003', 12)).toBe('F019999994000003-L12.p7m');
    expect(formatError(() => fileIdOf('1234', 1)).format).toBe('FILE');
  });

  it('checks manifest totals and attachment names', () => {
    const m = { fileId: fileIdOf('019999994', 1), fileNo: 1, billingNumber: '019999994', destination: 'AMO-017510001', createdAt: '2025-03-15', lots: [{ lotNo: 1, kind: 'FSE' as const, invoices: 2, amount: 6000, attachment: lotAttachmentName(fileIdOf('019999994', 1), 1) }] };
    const ls = records(encodeManifest(m));
    const lie = [...ls];
    lie[2] = `${lie[2]!.slice(0, 13)}000000006001${lie[2]!.slice(25)}`;
    expect(formatError(() => decodeManifest(join(lie))).where).toBe('record 3 (F99) amount');
    expect(formatError(() => encodeManifest({ ...m, lots: [{ ...m.lots[0]!, attachment: 'x.p7m' }] })).where).toBe('record 2 (F10) attachment');
    expect(formatError(() => encodeManifest({ ...m, fileId: 'F019999994000002' })).where).toBe('record 1 (F00) fileId');
  });

  it('ARL: a lot reason rejects every invoice; rejected invoices need a reason; the trailer counts are checked', () => {
    const base: ArlReport = { fileId: 'F019999994000001', lotNo: 1, billingNumber: '019999994', destination: 'AMO-017510001', date: '2025-03-16', status: 'negative', lotReason: { code: 'L02', text: 'SIGNATURE DU LOT INVALIDE' }, invoices: [{ invoiceNo: 1, status: 'rejected', code: 'L02', text: 'SIGNATURE DU LOT INVALIDE' }] };
    expect(decodeArl(encodeArl(base))).toStrictEqual(base);
    expect(formatError(() => encodeArl({ ...base, invoices: [{ invoiceNo: 1, status: 'accepted' }] })).reason).toMatch(/lot reason/);
    expect(formatError(() => encodeArl({ ...base, status: 'positive' })).reason).toMatch(/negative/);
    expect(formatError(() => encodeArl({ ...base, status: 'positive', lotReason: undefined, invoices: [{ invoiceNo: 1, status: 'rejected' }] })).reason).toMatch(/code and a text/);
    const ls = records(encodeArl(base));
    const lie = [...ls];
    lie[2] = `${lie[2]!.slice(0, 9)}01${lie[2]!.slice(11)}`;
    expect(formatError(() => decodeArl(join(lie))).where).toBe('record 3 (999) acceptedCount');
    expect(Object.keys(ARL_REASONS).every((c) => /^[LF][0-9]{2}$/.test(c))).toBe(true);
    expect(Object.keys(RSP_REASONS).every((c) => /^P[0-9]{2}$/.test(c))).toBe(true);
  });

  it('RSP: the 999 trailer totals are checked', () => {
    const r = { emitter: 'AMO-017510001', billingNumber: '019999994', seq: 1, date: '2025-03-20', payments: [{ invoiceNo: 42, nir: '180012A00100164', careDate: '2025-03-14', charged: 3000, paid: 3000, paymentDate: '2025-03-20', status: 'paid' as const }] };
    const ls = records(encodeRsp(r));
    expect(ls[0]!.startsWith('000')).toBe(true);
    expect(ls[2]!.startsWith('999')).toBe(true);
    const lie = [...ls];
    lie[2] = `${lie[2]!.slice(0, 26)}000000003001${lie[2]!.slice(38)}`;
    expect(formatError(() => decodeRsp(join(lie))).where).toBe('record 3 (999) totalPaid');
  });
});

describe('mail', () => {
  const fileId = fileIdOf('019999994', 1);
  const m = {
    fileId,
    fileNo: 1,
    billingNumber: '019999994',
    destination: 'AMO-017510001',
    createdAt: '2025-03-15',
    lots: [
      { lotNo: 1, kind: 'FSE' as const, invoices: 1, amount: 3000, attachment: lotAttachmentName(fileId, 1) },
      { lotNo: 2, kind: 'FSE' as const, invoices: 2, amount: 6000, attachment: lotAttachmentName(fileId, 2) },
    ],
  };

  it('addresses destinations and practitioners', () => {
    expect(destinationAddress('AMO-019999999')).toBe(`amo-019999999@${AMO_DOMAIN}`);
    expect(destinationAddress('AMC-99999901')).toBe('amc-99999901@amo.test');
    expect(destinationOfAddress('AMC-99999901@amo.test')).toBe('AMC-99999901');
    expect(destinationOfAddress('amc-99999901@elsewhere.test')).toBeUndefined();
    expect(practitionerAddress('019999994')).toBe('ps-019999994@cabinet.test');
    expect(formatError(() => destinationAddress('amo-1')).format).toBe('MAIL');
  });

  it('builds a file mail whose id is stable across re-sends, and parses it back', () => {
    const lots = [
      { lotNo: 1, signed: Uint8Array.of(0x30, 1) },
      { lotNo: 2, signed: Uint8Array.of(0x30, 2) },
    ];
    const mail = fileMail(m, lots, practitionerAddress('019999994'));
    expect(mail).toMatchObject({ type: 'mail', to: ['amo-017510001@amo.test'], subject: `DI-SV FILE ${fileId}`, messageId: `<${fileId}@cabinet.test>` });
    expect(mail.attachments.map((a) => a.filename)).toEqual([`${fileId}.txt`, `${fileId}-L1.p7m`, `${fileId}-L2.p7m`]);
    expect(fileMail(m, lots, 'x@cabinet.test').messageId).toBe(mail.messageId);
    expect(parseFileMail(mail)).toStrictEqual({ manifest: m, lots });
    expect(formatError(() => fileMail(m, [lots[0]!], 'x@y')).format).toBe('MAIL');
    expect(formatError(() => parseFileMail({ ...mail, attachments: mail.attachments.slice(0, 2) })).reason).toMatch(/L2\.p7m missing/);
  });

  it('classifies returns by subject and attachment name', () => {
    const received = (subject: string, names: string[]): MailReceived => ({ uid: '1', messageId: '<x@amo.test>', from: 'amo-017510001@amo.test', subject, date: 0, text: '', attachments: names.map((filename) => ({ filename, contentType: 'text/plain', content: Uint8Array.of(1) })) });
    expect(classifyReturn(received(arlMailSubject(fileId, 2), [arlAttachmentName(fileId, 2)]))).toMatchObject({ kind: 'ARL', attachment: { filename: `${fileId}-L2.arl` } });
    expect(classifyReturn(received(rspMailSubject('019999994', 7), [rspAttachmentName('019999994', 7)]))).toMatchObject({ kind: 'RSP' });
    expect(classifyReturn(received(arlMailSubject(fileId, 2), [arlAttachmentName(fileId, 3)])).kind).toBe('unknown');
    expect(classifyReturn(received(arlMailSubject(fileId, 2), []))).toMatchObject({ kind: 'unknown' });
    expect(classifyReturn(received('Bonjour', [arlAttachmentName(fileId, 2)]))).toMatchObject({ kind: 'unknown', reason: expect.stringMatching(/objet/) });
  });
});
