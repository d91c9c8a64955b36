/**
 * Fuzzing the DI-SV decoders (unit): random bytes and mutated valid files. Whatever the input, a decoder
 * either returns or throws FormatError; never a TypeError, RangeError or a hang.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../../applets/sesam-vitale/formats/errors.js';
import { decodeInvoice, encodeInvoice } from '../../../applets/sesam-vitale/formats/invoice.js';
import { decodeLotBody, encodeLotBody } from '../../../applets/sesam-vitale/formats/lot.js';
import { decodeManifest, encodeManifest } from '../../../applets/sesam-vitale/formats/file.js';
import { decodeArl, encodeArl } from '../../../applets/sesam-vitale/formats/arl.js';
import { decodeRsp, encodeRsp } from '../../../applets/sesam-vitale/formats/rsp.js';
import { arlReport, invoiceData, manifest, rspReport } from './formats-arbitraries.js';

function onlyFormatErrors(decode: (b: Uint8Array) => unknown, b: Uint8Array): void {
  try {
    decode(b);
  } catch (err) {
    if (!(err instanceof FormatError)) throw new Error(`decoder threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    expect(err.message).toMatch(/^(FSE|DRE|LOT|FILE|ARL|RSP) record \d+/);
  }
}

/** Mutations that keep most of the structure, so the decoders get past the framing checks. */
type Mutation =
  | { op: 'set'; at: number; byte: number }
  | { op: 'printable'; at: number; ch: string }
  | { op: 'delete'; at: number; len: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'truncate'; at: number }
  | { op: 'dupRecord'; record: number }
  | { op: 'dropRecord'; record: number }
  | { op: 'swapRecords'; a: number; b: number };

const pos = fc.nat({ max: 1_000_000 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: pos, byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('printable' as const), at: pos, ch: fc.constantFrom(...' 0123456789AZaz=+/-L'.split('')) }),
  fc.record({ op: fc.constant('delete' as const), at: pos, len: fc.integer({ min: 1, max: 140 }) }),
  fc.record({ op: fc.constant('insert' as const), at: pos, bytes: fc.uint8Array({ minLength: 1, maxLength: 140 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: pos }),
  fc.record({ op: fc.constant('dupRecord' as const), record: pos }),
  fc.record({ op: fc.constant('dropRecord' as const), record: pos }),
  fc.record({ op: fc.constant('swapRecords' as const), a: pos, b: pos }),
);

function mutate(b: Uint8Array, m: Mutation): Uint8Array {
  const n = b.length;
  const records = Math.max(1, Math.floor(n / 130));
  const rec = (i: number): Uint8Array => b.slice((i % records) * 130, (i % records) * 130 + 130);
  const without = (i: number): Uint8Array => { const k = i % records; return Uint8Array.from([...b.slice(0, k * 130), ...b.slice(k * 130 + 130)]); };
  switch (m.op) {
    case 'set': { const c = b.slice(); if (n) c[m.at % n] = m.byte; return c; }
    case 'printable': { const c = b.slice(); if (n) c[m.at % n] = m.ch.charCodeAt(0); return c; }
    case 'delete': { const at = n ? m.at % n : 0; return Uint8Array.from([...b.slice(0, at), ...b.slice(at + m.len)]); }
    case 'insert': { const at = n ? m.at % (n + 1) : 0; return Uint8Array.from([...b.slice(0, at), ...m.bytes, ...b.slice(at)]); }
    case 'truncate': return b.slice(0, n ? m.at % n : 0);
    case 'dupRecord': { const k = (m.record % records) * 130; return Uint8Array.from([...b.slice(0, k), ...rec(m.record), ...b.slice(k)]); }
    case 'dropRecord': return without(m.record);
    case 'swapRecords': {
      const c = b.slice();
      const a = (m.a % records) * 130;
      const d = (m.b % records) * 130;
      c.set(b.slice(d, d + 130), a);
      c.set(b.slice(a, a + 130), d);
      return c;
    }
  }
}

const lotBody = fc
  .uniqueArray(
    fc.record({ invoiceNo: fc.integer({ min: 0, max: 999_999_999 }), record: fc.uint8Array({ maxLength: 300 }), cpsSignature: fc.uint8Array({ maxLength: 200 }) }),
    { minLength: 1, maxLength: 4, selector: (e) => e.invoiceNo },
  )
  .map((entries) => encodeLotBody({ lotNo: 3, kind: 'DRE', destination: 'AMC-99999901', billingNumber: '019999994', createdAt: '2025-03-15' }, entries));

const cases: Array<[string, (b: Uint8Array) => unknown, fc.Arbitrary<Uint8Array>]> = [
  ['invoice', decodeInvoice, invoiceData.map(encodeInvoice)],
  ['lot body', decodeLotBody, lotBody],
  ['manifest', decodeManifest, manifest.map(encodeManifest)],
  ['ARL', decodeArl, arlReport.map(encodeArl)],
  ['RSP', decodeRsp, rspReport.map(encodeRsp)],
];

describe.each(cases)('%s decoder', (_name, decode, valid) => {
  it('throws only FormatError on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => onlyFormatErrors(decode, b)), { numRuns: 300 });
  });

  it('throws only FormatError on mutated valid files', () => {
    fc.assert(
      fc.property(valid, fc.array(mutation, { minLength: 1, maxLength: 3 }), (b, ms) => {
        onlyFormatErrors(decode, ms.reduce(mutate, b));
      }),
      { numRuns: 300 },
    );
  });
});
