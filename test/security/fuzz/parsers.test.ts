/** Fuzzing of the card-data parsers and of the broker's APDU filter (FUZZ-01, FUZZ-02, FUZZ-06). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TlvError, encodeTlv, parseTlv, type TlvNode } from '../../../platform/sdk/tlv.js';
import { ApduError, buildApdu, parseCommandApdu } from '../../../platform/sdk/apdu.js';
import { checkAppletApdu, compileRules, type FilterClass } from '../../../platform/slot-broker/apdu-filter.js';
import { BrokerError } from '../../../platform/slot-broker/types.js';
import { testCardClass } from '../../support/dev-kernel.js';
import { FUZZ_TIMEOUT, fuzzParams } from './budget.js';

const bytes = (max = 300) => fc.uint8Array({ minLength: 0, maxLength: max });

function reencode(nodes: TlvNode[]): Uint8Array {
  const parts = nodes.map((n) => encodeTlv(n.tag, n.children ?? n.value));
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}

describe('fuzz: BER-TLV and APDU parsers', () => {
  it('[FUZZ-01] BER-TLV: random bytes parse or throw TlvError; what parses is stable under re-encoding', () => {
    fc.assert(
      fc.property(bytes(), (b) => {
        let nodes: TlvNode[];
        try {
          nodes = parseTlv(b);
        } catch (e) {
          expect(e).toBeInstanceOf(TlvError);
          return;
        }
        const again = parseTlv(reencode(nodes));
        expect(again.map((n) => n.tag)).toEqual(nodes.map((n) => n.tag));
      }),
      fuzzParams(),
    );
  }, FUZZ_TIMEOUT);

  it('[FUZZ-01] BER-TLV: mutations of valid nested TLV throw only TlvError', () => {
    const valid = encodeTlv(0x65, [
      { tag: 0x80, value: new TextEncoder().encode('DUPONT') } as TlvNode,
      { tag: 0x93, value: new Uint8Array(15) } as TlvNode,
    ] as TlvNode[]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
        const b = Uint8Array.from(valid);
        for (const [i, v] of edits) b[i % b.length] = v;
        try {
          parseTlv(b);
        } catch (e) {
          expect(e).toBeInstanceOf(TlvError);
        }
      }),
      fuzzParams(),
    );
  }, FUZZ_TIMEOUT);

  it('[FUZZ-02] APDU: random commands parse consistently (header, Lc = data length) or throw ApduError', () => {
    fc.assert(
      fc.property(bytes(600), (b) => {
        try {
          const c = parseCommandApdu(b);
          expect([c.cla, c.ins, c.p1, c.p2]).toEqual([b[0], b[1], b[2], b[3]]);
          expect(c.data.length).toBeLessThanOrEqual(b.length - 4);
        } catch (e) {
          expect(e).toBeInstanceOf(ApduError);
        }
      }),
      fuzzParams(),
    );
  }, FUZZ_TIMEOUT);

  it('[FUZZ-02] APDU: build then parse round-trips for every case', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xfe }), fc.integer({ min: 0, max: 255 }).filter((i) => (i & 0xf0) !== 0x60 && (i & 0xf0) !== 0x90),
        fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 400 }), fc.option(fc.integer({ min: 1, max: 65536 }), { nil: undefined }),
        (cla, ins, p1, p2, data, le) => {
          const b = buildApdu({ cla, ins, p1, p2, data, ...(le !== undefined && { le }) });
          const c = parseCommandApdu(b);
          expect([c.cla, c.ins, c.p1, c.p2]).toEqual([cla, ins, p1, p2]);
          expect(Array.from(c.data)).toEqual(Array.from(data));
        },
      ),
      fuzzParams(),
    );
  }, FUZZ_TIMEOUT);
});

describe('fuzz: the broker APDU filter', () => {
  const cc = testCardClass();
  const cls: FilterClass = { name: cc.name, rules: compileRules(cc, 'fuzz'), pinReferences: new Set(cc.pinReferences) };
  const allowed = new Set(['00A4', '00B0', '00B2', '80EE']);
  const PIN_INS = new Set([0x20, 0x21, 0x24, 0x25, 0x2c, 0x2d]);

  it('[FUZZ-06] only well-formed, allowlisted, non-PIN commands pass; everything else is a BrokerError', () => {
    const header = fc.tuple(fc.constantFrom(0x00, 0x80, 0x84, 0x0c, 0xff), fc.constantFrom(0xa4, 0xb0, 0xb2, 0xee, 0x20, 0x24, 0x2c, 0xe4, 0x82, 0xca), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 300 }), (h, tail) => {
        const apdu = Uint8Array.from([...h, ...tail]);
        try {
          const c = checkAppletApdu(apdu, cls, 65_544);
          const key = c.cla.toString(16).padStart(2, '0').toUpperCase() + c.ins.toString(16).padStart(2, '0').toUpperCase();
          expect(allowed.has(key)).toBe(true);
          expect(PIN_INS.has(c.ins)).toBe(false);
          expect(() => parseCommandApdu(apdu)).not.toThrow();
        } catch (e) {
          expect(e).toBeInstanceOf(BrokerError);
          expect(['E_APDU_DENIED', 'E_APDU_MALFORMED']).toContain((e as BrokerError).code);
        }
      }),
      fuzzParams(),
    );
  }, FUZZ_TIMEOUT);
});
