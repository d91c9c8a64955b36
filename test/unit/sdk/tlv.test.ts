import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from '../../../platform/sdk/hex.js';
import { encodeTlv, findAll, findTag, parseTlv, TlvError, type TlvErrorReason, type TlvNode } from '../../../platform/sdk/tlv.js';

function reasonOf(hex: string, options?: Parameters<typeof parseTlv>[1]): { reason: TlvErrorReason; offset: number } {
  try {
    parseTlv(fromHex(hex), options);
  } catch (e) {
    if (e instanceof TlvError) return { reason: e.reason, offset: e.offset };
    throw e;
  }
  throw new Error(`parseTlv accepted ${hex}`);
}

describe('parseTlv', () => {
  it('parses primitive and constructed objects with absolute offsets', () => {
    // 6F { 84 AID, A5 { 50 "DI" } } 9F02 amount
    const bytes = fromHex('6F 0E 84 05 A000000003 A5 05 50 03 444954  9F02 06 000000002300');
    const nodes = parseTlv(bytes);
    expect(nodes).toHaveLength(2);
    const fci = nodes[0]!;
    expect(fci.tag).toBe(0x6f);
    expect(fci.tagHex).toBe('6F');
    expect(fci.constructed).toBe(true);
    expect(fci.offset).toBe(0);
    expect(fci.children!.map((c) => c.tagHex)).toEqual(['84', 'A5']);
    const label = fci.children![1]!.children![0]!;
    expect(label.tag).toBe(0x50);
    expect(label.offset).toBe(11);
    expect(toHex(label.value)).toBe('444954');
    expect(nodes[1]!.tag).toBe(0x9f02);
    expect(nodes[1]!.tagHex).toBe('9F02');
    expect(nodes[1]!.constructed).toBe(false);
    expect(nodes[1]!.offset).toBe(16);
    expect(nodes[1]!.children).toBeUndefined();
  });

  it('reads long-form lengths (81, 82, 83) and three-byte tags', () => {
    const v = new Uint8Array(300).fill(7);
    const nodes = parseTlv(new Uint8Array([0x5f, 0x20, 0x82, 0x01, 0x2c, ...v]));
    expect(nodes[0]!.tag).toBe(0x5f20);
    expect(nodes[0]!.value.length).toBe(300);
    expect(parseTlv(fromHex('DF8101 81 01 AA'))[0]!.tag).toBe(0xdf8101);
    expect(parseTlv(fromHex('C1 83 000002 BBCC'))[0]!.value.length).toBe(2);
  });

  it('rejects each malformation with its reason and offset', () => {
    expect(reasonOf('9F')).toEqual({ reason: 'truncated-tag', offset: 0 });
    expect(reasonOf('5A 01 11 9F 81 81 01 00')).toEqual({ reason: 'tag-too-long', offset: 3 });
    expect(reasonOf('5A')).toEqual({ reason: 'truncated-length', offset: 1 });
    expect(reasonOf('5A 82 01')).toEqual({ reason: 'truncated-length', offset: 1 });
    expect(reasonOf('70 80 5A 01 11 00 00')).toEqual({ reason: 'indefinite-length', offset: 1 });
    expect(reasonOf('5A 84 00 00 00 01 11')).toEqual({ reason: 'length-too-long', offset: 1 });
    expect(reasonOf('5A 05 1122')).toEqual({ reason: 'length-overflow', offset: 1 });
    expect(reasonOf('5A 01 11 00')).toEqual({ reason: 'trailing-garbage', offset: 3 });
    expect(reasonOf('FF 5A 01 11')).toEqual({ reason: 'invalid-tag', offset: 0 });
    // A constructed value whose content overruns inside the parent.
    expect(reasonOf('70 03 5A 05 11')).toEqual({ reason: 'length-overflow', offset: 3 });
  });

  it('skips 00/FF padding only when allowed', () => {
    const hex = '00 70 04 5A 01 11 FF FF 9F36 02 0001 00';
    expect(reasonOf(hex).reason).toBe('invalid-tag');
    const nodes = parseTlv(fromHex(hex), { allowPadding: true });
    expect(nodes.map((n) => n.tagHex)).toEqual(['70', '9F36']);
    expect(nodes[0]!.offset).toBe(1);
    expect(nodes[1]!.offset).toBe(8);
  });

  it('enforces maxDepth', () => {
    let v: Uint8Array = fromHex('5A 01 11');
    for (let i = 0; i < 8; i++) v = encodeTlv(0x70, v);
    // 8 templates + the primitive = depth 9.
    expect(() => parseTlv(v)).toThrow(TlvError);
    expect(reasonOf(toHex(v)).reason).toBe('too-deep');
    expect(parseTlv(v, { maxDepth: 9 })).toHaveLength(1);
    expect(reasonOf('70 03 5A 01 11', { maxDepth: 1 }).reason).toBe('too-deep');
    expect(parseTlv(fromHex('5A 01 11'), { maxDepth: 1 })).toHaveLength(1);
  });

  it('reports a message that names the problem', () => {
    expect(() => parseTlv(fromHex('5A 05 1122'))).toThrow(/length-overflow at offset 1: tag 5A claims 5 bytes but only 2 remain/);
  });

  it('throws nothing but TlvError on random input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, allowPadding) => {
        try {
          parseTlv(bytes, { allowPadding });
        } catch (e) {
          if (!(e instanceof TlvError)) throw e;
          expect(e.offset).toBeGreaterThanOrEqual(0);
          expect(e.offset).toBeLessThanOrEqual(bytes.length);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('throws nothing but TlvError on mutations of valid TLV', () => {
    const valid = fromHex('6F 1A 84 07 A0000000031010 A5 0F 50 0A 56495341204445424954 87 01 01');
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(valid.length), (pos, byte, cut) => {
        const m = valid.slice(0, Math.max(cut, 1));
        if (pos < m.length) m[pos] = byte;
        try {
          parseTlv(m);
        } catch (e) {
          if (!(e instanceof TlvError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('encodeTlv', () => {
  it('uses minimal length encodings', () => {
    expect(toHex(encodeTlv(0x5a, new Uint8Array(0)))).toBe('5A00');
    expect(toHex(encodeTlv(0x5a, new Uint8Array(127))).slice(0, 4)).toBe('5A7F');
    expect(toHex(encodeTlv(0x5a, new Uint8Array(128))).slice(0, 6)).toBe('5A8180');
    expect(toHex(encodeTlv(0x5a, new Uint8Array(255))).slice(0, 6)).toBe('5A81FF');
    expect(toHex(encodeTlv(0x5a, new Uint8Array(256))).slice(0, 8)).toBe('5A820100');
    expect(toHex(encodeTlv(0x5a, new Uint8Array(65536))).slice(0, 10)).toBe('5A83010000');
  });

  it('encodes children of constructed tags', () => {
    const children: TlvNode[] = parseTlv(fromHex('84 02 A0A1 87 01 01'));
    expect(toHex(encodeTlv(0x6f, children))).toBe('6F0784 02A0A1870101'.replace(/ /g, ''));
  });

  it('refuses malformed tag numbers and children under a primitive tag', () => {
    expect(() => encodeTlv(0x9f, new Uint8Array(0))).toThrow(/announces subsequent bytes/);
    expect(() => encodeTlv(0x5a01, new Uint8Array(0))).toThrow(/complete but more bytes follow/);
    expect(() => encodeTlv(0x9f8101, new Uint8Array(0))).not.toThrow();
    expect(() => encodeTlv(0x9f0181, new Uint8Array(0))).toThrow(/continuation bit/);
    expect(() => encodeTlv(0x1000000, new Uint8Array(0))).toThrow(/1 to 3 byte/);
    expect(() => encodeTlv(0x5a, [])).toThrow(/primitive/);
  });
});

/** Valid tag numbers: 1-byte (not xx11111), 2- and 3-byte forms; never starting with 00 or FF. */
const tagArb = (constructed: boolean): fc.Arbitrary<number> => {
  const cbit = constructed ? 0x20 : 0;
  const firstShort = fc
    .integer({ min: 0, max: 0xff })
    .map((b) => (b & 0xc0) | cbit | (b & 0x1f))
    .filter((b) => (b & 0x1f) !== 0x1f && b !== 0);
  const firstLong = fc.integer({ min: 0, max: 3 }).map((cls) => (cls << 6) | cbit | 0x1f);
  const two = fc.tuple(firstLong, fc.integer({ min: 0, max: 0x7f })).map(([a, b]) => (a << 8) | b);
  const three = fc
    .tuple(firstLong, fc.integer({ min: 0x80, max: 0xff }), fc.integer({ min: 0, max: 0x7f }))
    .map(([a, b, c]) => (a << 16) | (b << 8) | c);
  return fc.oneof(firstShort, two, three).filter((t) => t >> (t > 0xffff ? 16 : t > 0xff ? 8 : 0) !== 0xff);
};

interface Tree {
  tag: number;
  value: Uint8Array | Tree[];
}

const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ tag: tagArb(false), value: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({ tag: tagArb(true), value: fc.array(tie('tree'), { maxLength: 4 }) }),
  ),
})).tree;

function encodeTree(t: Tree): Uint8Array {
  if (t.value instanceof Uint8Array) return encodeTlv(t.tag, t.value);
  const parts = t.value.map(encodeTree);
  const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    body.set(p, pos);
    pos += p.length;
  }
  return encodeTlv(t.tag, body);
}

function sameTree(t: Tree, n: TlvNode): void {
  expect(n.tag).toBe(t.tag);
  if (t.value instanceof Uint8Array) {
    expect(n.constructed).toBe(false);
    expect(toHex(n.value)).toBe(toHex(t.value));
  } else {
    expect(n.constructed).toBe(true);
    expect(n.children).toHaveLength(t.value.length);
    t.value.forEach((c, i) => sameTree(c, n.children![i]!));
  }
}

describe('round trip', () => {
  it('parse(encode(tree)) gives the tree back, and re-encoding the nodes gives the same bytes', () => {
    fc.assert(
      fc.property(fc.array(treeArb, { maxLength: 4 }), (trees) => {
        const parts = trees.map(encodeTree);
        const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let pos = 0;
        for (const p of parts) {
          bytes.set(p, pos);
          pos += p.length;
        }
        const nodes = parseTlv(bytes, { maxDepth: 64 });
        expect(nodes).toHaveLength(trees.length);
        trees.forEach((t, i) => sameTree(t, nodes[i]!));
        const again = nodes.map((n) => toHex(encodeTlv(n.tag, n.children ?? n.value))).join('');
        expect(again).toBe(toHex(bytes));
      }),
      { numRuns: 300 },
    );
  });
});

describe('findTag / findAll', () => {
  const nodes = parseTlv(fromHex('6F 10 84 02 A0A1 A5 0A 61 03 4F 01 01 61 03 4F 01 02 4F 01 03'));

  it('finds depth-first, first match', () => {
    expect(toHex(findTag(nodes, 0x4f)!.value)).toBe('01');
    expect(findTag(nodes, 0x84)!.offset).toBe(2);
    expect(findTag(nodes, 0x9f02)).toBeUndefined();
  });

  it('finds all in pre-order', () => {
    expect(findAll(nodes, 0x4f).map((n) => toHex(n.value))).toEqual(['01', '02', '03']);
    expect(findAll(nodes, 0x61)).toHaveLength(2);
    expect(findAll(nodes, 0x77)).toEqual([]);
  });
});
