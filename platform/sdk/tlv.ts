/**
 * Strict BER-TLV codec (ISO/IEC 7816-4 §5.2, EMV Book 3 annex B).
 *
 * Cards are untrusted input for the kernel and the applets alike, so the parser refuses anything
 * it would otherwise have to guess about (indefinite lengths, oversize tags, lengths that overrun
 * the buffer, bottomless nesting) instead of "recovering". Bundled into applets: no Node APIs.
 */
import { concatBytes, toHex } from './hex.js';

export interface TlvNode {
  /** Tag bytes as one big-endian number, e.g. 0x9F02 or 0xBF0C. */
  tag: number;
  tagHex: string;
  constructed: boolean;
  value: Uint8Array;
  /** Present for constructed tags: the value parsed as a sequence of objects. */
  children?: TlvNode[];
  /** Offset of the tag's first byte in the buffer handed to parseTlv. */
  offset: number;
}

export interface TlvParseOptions {
  /** Maximum nesting of constructed objects, top level counting as 1. Default 8. */
  maxDepth?: number;
  /** Skip 00 and FF bytes between objects, as EMV records allow. Default false. */
  allowPadding?: boolean;
}

export type TlvErrorReason =
  | 'truncated-tag'
  | 'tag-too-long'
  | 'invalid-tag'
  | 'truncated-length'
  | 'indefinite-length'
  | 'length-too-long'
  | 'length-overflow'
  | 'too-deep'
  | 'trailing-garbage';

export class TlvError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: TlvErrorReason,
    message: string,
  ) {
    super(`BER-TLV ${reason} at offset ${offset}: ${message}`);
    this.name = 'TlvError';
  }
}

const MAX_TAG_BYTES = 3;
const MAX_LENGTH_BYTES = 3;
const DEFAULT_MAX_DEPTH = 8;

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

interface Cursor {
  readonly buf: Uint8Array;
  /** Offset of buf[0] in the caller's buffer, so errors and nodes report absolute offsets. */
  readonly base: number;
  readonly maxDepth: number;
  readonly allowPadding: boolean;
}

function parseLevel(c: Cursor, start: number, end: number, depth: number): TlvNode[] {
  if (depth > c.maxDepth) {
    throw new TlvError(c.base + start, 'too-deep', `nesting exceeds maxDepth ${c.maxDepth}`);
  }
  const { buf } = c;
  const nodes: TlvNode[] = [];
  let pos = start;
  while (pos < end) {
    const first = buf[pos]!;
    if (first === 0x00 || first === 0xff) {
      if (c.allowPadding) {
        pos++;
        continue;
      }
      // 00 and FF can never start a tag (ISO 7816-4 §5.2.2.1): after a complete object this is junk.
      const reason: TlvErrorReason = nodes.length > 0 ? 'trailing-garbage' : 'invalid-tag';
      throw new TlvError(c.base + pos, reason, `byte ${hex2(first)} cannot start a tag (padding not allowed)`);
    }
    const tagStart = pos;
    let tag = first;
    pos++;
    if ((first & 0x1f) === 0x1f) {
      let more = true;
      while (more) {
        if (pos - tagStart >= MAX_TAG_BYTES) {
          throw new TlvError(c.base + tagStart, 'tag-too-long', `tag longer than ${MAX_TAG_BYTES} bytes`);
        }
        if (pos >= end) {
          throw new TlvError(c.base + tagStart, 'truncated-tag', `tag starting ${hex2(first)} ends at the end of data`);
        }
        const b = buf[pos]!;
        tag = tag * 256 + b;
        more = (b & 0x80) !== 0;
        pos++;
      }
    }
    const tagBytes = buf.subarray(tagStart, pos);
    if (pos >= end) {
      throw new TlvError(c.base + pos, 'truncated-length', `tag ${toHex(tagBytes)} has no length field`);
    }
    const lenStart = pos;
    const l0 = buf[pos]!;
    pos++;
    let length: number;
    if (l0 < 0x80) {
      length = l0;
    } else if (l0 === 0x80) {
      throw new TlvError(c.base + lenStart, 'indefinite-length', `tag ${toHex(tagBytes)} uses indefinite length (80)`);
    } else {
      const n = l0 & 0x7f;
      if (n > MAX_LENGTH_BYTES) {
        throw new TlvError(
          c.base + lenStart,
          'length-too-long',
          `tag ${toHex(tagBytes)} length field ${hex2(l0)} announces ${n} length bytes (max ${MAX_LENGTH_BYTES})`,
        );
      }
      if (pos + n > end) {
        throw new TlvError(c.base + lenStart, 'truncated-length', `tag ${toHex(tagBytes)} length field needs ${n} more bytes`);
      }
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + buf[pos + i]!;
      pos += n;
    }
    if (length > end - pos) {
      throw new TlvError(
        c.base + lenStart,
        'length-overflow',
        `tag ${toHex(tagBytes)} claims ${length} bytes but only ${end - pos} remain`,
      );
    }
    const constructed = (first & 0x20) !== 0;
    const node: TlvNode = {
      tag,
      tagHex: toHex(tagBytes),
      constructed,
      value: buf.slice(pos, pos + length),
      offset: c.base + tagStart,
    };
    if (constructed) node.children = parseLevel(c, pos, pos + length, depth + 1);
    nodes.push(node);
    pos += length;
  }
  return nodes;
}

/** Parse a complete buffer of BER-TLV objects. Throws TlvError and nothing else on bad input. */
export function parseTlv(bytes: Uint8Array, options: TlvParseOptions = {}): TlvNode[] {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 1) {
    throw new RangeError(`parseTlv: options.maxDepth must be a positive integer, got ${String(options.maxDepth)}`);
  }
  const cursor: Cursor = { buf: bytes, base: 0, maxDepth, allowPadding: options.allowPadding === true };
  return parseLevel(cursor, 0, bytes.length, 1);
}

/** The tag's bytes, checked to be one well-formed BER tag of at most 3 bytes. */
export function tagBytes(tag: number): Uint8Array {
  if (!Number.isInteger(tag) || tag < 1 || tag > 0xffffff) {
    throw new RangeError(`BER-TLV tag ${String(tag)} is not a 1 to 3 byte tag number`);
  }
  const bytes = tag > 0xffff ? [tag >> 16, (tag >> 8) & 0xff, tag & 0xff] : tag > 0xff ? [tag >> 8, tag & 0xff] : [tag];
  const name = `tag ${tag.toString(16).toUpperCase()}`;
  const first = bytes[0]!;
  if (first === 0xff) throw new RangeError(`BER-TLV ${name}: first byte FF is not a valid tag byte`);
  const multi = (first & 0x1f) === 0x1f;
  if (multi !== bytes.length > 1) {
    throw new RangeError(
      `BER-TLV ${name}: first byte ${multi ? 'announces subsequent bytes but there are none' : 'is complete but more bytes follow'}`,
    );
  }
  for (let i = 1; i < bytes.length; i++) {
    const last = i === bytes.length - 1;
    if (((bytes[i]! & 0x80) !== 0) === last) {
      throw new RangeError(`BER-TLV ${name}: byte ${i + 1} has its continuation bit ${last ? 'set on the last byte' : 'clear before the end'}`);
    }
  }
  return Uint8Array.from(bytes);
}

export function isConstructedTag(tag: number): boolean {
  const bytes = tagBytes(tag);
  return (bytes[0]! & 0x20) !== 0;
}

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  if (length <= 0xff) return Uint8Array.of(0x81, length);
  if (length <= 0xffff) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  if (length <= 0xffffff) return Uint8Array.of(0x83, length >> 16, (length >> 8) & 0xff, length & 0xff);
  throw new RangeError(`BER-TLV value of ${length} bytes exceeds the 3-byte length limit (16777215)`);
}

function encodeNodes(nodes: TlvNode[]): Uint8Array {
  return concatBytes(...nodes.map((n) => encodeTlv(n.tag, n.children ?? n.value)));
}

/** Encode one object with the shortest length field. Children are re-encoded (their `value` is ignored). */
export function encodeTlv(tag: number, value: Uint8Array | TlvNode[]): Uint8Array {
  const t = tagBytes(tag);
  let v: Uint8Array;
  if (Array.isArray(value)) {
    if ((t[0]! & 0x20) === 0) {
      throw new RangeError(`BER-TLV tag ${toHex(t)} is primitive and cannot hold child objects`);
    }
    v = encodeNodes(value);
  } else {
    v = value;
  }
  const l = encodeLength(v.length);
  const out = new Uint8Array(t.length + l.length + v.length);
  out.set(t, 0);
  out.set(l, t.length);
  out.set(v, t.length + l.length);
  return out;
}

/** Depth-first, pre-order: the first object with this tag at any depth. */
export function findTag(nodes: readonly TlvNode[], tag: number): TlvNode | undefined {
  for (const n of nodes) {
    if (n.tag === tag) return n;
    if (n.children) {
      const hit = findTag(n.children, tag);
      if (hit) return hit;
    }
  }
  return undefined;
}

/** Every object with this tag, depth-first pre-order (e.g. all 61 application templates of a PSE). */
export function findAll(nodes: readonly TlvNode[], tag: number): TlvNode[] {
  const out: TlvNode[] = [];
  const walk = (list: readonly TlvNode[]): void => {
    for (const n of list) {
      if (n.tag === tag) out.push(n);
      if (n.children) walk(n.children);
    }
  };
  walk(nodes);
  return out;
}
