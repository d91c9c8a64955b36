/**
 * UTF-8 for applets: the isolate has only ECMAScript built-ins, so no TextEncoder/TextDecoder.
 * Written here because nothing ECMAScript-only fits; strict on decode (malformed input throws).
 */
export function utf8Encode(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

export class Utf8Error extends Error {
  constructor(readonly offset: number) {
    super(`malformed UTF-8 at byte ${offset}`);
    this.name = 'Utf8Error';
  }
}

export function utf8Decode(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; ) {
    const c = b[i] as number;
    let cp: number;
    let n: number;
    if (c < 0x80) [cp, n] = [c, 1];
    else if (c >= 0xc2 && c < 0xe0) [cp, n] = [c & 31, 2];
    else if (c >= 0xe0 && c < 0xf0) [cp, n] = [c & 15, 3];
    else if (c >= 0xf0 && c < 0xf5) [cp, n] = [c & 7, 4];
    else throw new Utf8Error(i);
    if (i + n > b.length) throw new Utf8Error(i);
    for (let k = 1; k < n; k++) {
      const x = b[i + k] as number;
      if ((x & 0xc0) !== 0x80) throw new Utf8Error(i + k);
      cp = (cp << 6) | (x & 63);
    }
    // Reject over-long forms, surrogates and values past U+10FFFF.
    if ((n === 3 && cp < 0x800) || (n === 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) throw new Utf8Error(i);
    s += String.fromCodePoint(cp);
    i += n;
  }
  return s;
}
