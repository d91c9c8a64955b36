/**
 * Installs TextEncoder/TextDecoder on globalThis when absent: the applet isolate has only ECMAScript
 * built-ins, and asn1js builds a TextDecoder when its module loads. So this module must be evaluated
 * before asn1js/pkijs: cms.ts imports it first, and main.ts imports it before anything else. In Node the
 * built-ins exist and nothing is replaced.
 */
import { Utf8Error, utf8Decode, utf8Encode } from '../../../platform/sdk/text.js';

function toBytes(input: unknown): Uint8Array {
  if (input === undefined) return new Uint8Array(0);
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeError('TextDecoder.decode: input must be an ArrayBuffer or a view of one');
}

/** Decoding without `fatal`: a malformed sequence becomes U+FFFD and decoding resumes at the next byte. */
function lenientDecode(b: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    const n = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    if (n > 0 && i + n <= b.length) {
      try {
        out += utf8Decode(b.subarray(i, i + n));
        i += n;
        continue;
      } catch (err) {
        if (!(err instanceof Utf8Error)) throw err;
      }
    }
    out += '\uFFFD';
    i += 1;
  }
  return out;
}

class ShimTextEncoder {
  readonly encoding = 'utf-8';
  encode(input = ''): Uint8Array {
    return utf8Encode(String(input));
  }
  encodeInto(input: string, dest: Uint8Array): { read: number; written: number } {
    const b = utf8Encode(input);
    if (b.length > dest.length) throw new RangeError('TextEncoder.encodeInto: destination too small (shim)');
    dest.set(b);
    return { read: input.length, written: b.length };
  }
}

class ShimTextDecoder {
  readonly encoding = 'utf-8';
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  constructor(label = 'utf-8', options: { fatal?: boolean; ignoreBOM?: boolean } = {}) {
    const l = String(label).trim().toLowerCase();
    if (l !== 'utf-8' && l !== 'utf8' && l !== 'unicode-1-1-utf-8') throw new RangeError(`TextDecoder: only utf-8 is available here, not ${l}`);
    this.fatal = options.fatal === true;
    this.ignoreBOM = options.ignoreBOM === true;
  }
  decode(input?: unknown): string {
    let b = toBytes(input);
    if (!this.ignoreBOM && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
    if (!this.fatal) return lenientDecode(b);
    try {
      return utf8Decode(b);
    } catch (err) {
      if (err instanceof Utf8Error) throw new TypeError(`The encoded data was not valid for encoding utf-8 (${err.message})`);
      throw err;
    }
  }
}

const g = globalThis as { TextEncoder?: unknown; TextDecoder?: unknown };
if (typeof g.TextEncoder !== 'function') g.TextEncoder = ShimTextEncoder;
if (typeof g.TextDecoder !== 'function') g.TextDecoder = ShimTextDecoder;

export const textShimInstalled = true;
