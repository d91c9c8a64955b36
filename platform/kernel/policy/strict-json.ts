/**
 * A strict JSON reader for security-relevant files (policies, manifests).
 *
 * JSON.parse is not enough here: it silently keeps the last of duplicated keys (so two tools could
 * read different grants from the same signed bytes), it gives only an offset in some errors and none
 * in others, and it turns a "__proto__" key into a prototype change. This reader rejects duplicates,
 * reports line and column, and bounds nesting.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export class JsonSyntaxError extends Error {
  constructor(
    /** 1-based. */
    readonly line: number,
    /** 1-based, in UTF-16 code units. */
    readonly column: number,
    /** JSON pointer of the value being read when the error happened ('' for the document). */
    readonly pointer: string,
    readonly detail: string,
  ) {
    super(`invalid JSON at line ${line}, column ${column}: ${detail}`);
    this.name = 'JsonSyntaxError';
  }
}

const MAX_DEPTH = 64;

export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function parseStrictJson(text: string): JsonValue {
  let pos = 0;

  const fail = (detail: string, pointer: string, at = pos): never => {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at && i < text.length; i++) {
      if (text.charCodeAt(i) === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    throw new JsonSyntaxError(line, at - lineStart + 1, pointer, detail);
  };

  const describe = (i: number): string => {
    if (i >= text.length) return 'end of file';
    const ch = text[i] as string;
    return /[\x20-\x7e]/.test(ch) ? `'${ch}'` : `character U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  };

  const skipWs = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else break;
    }
  };

  const readString = (pointer: string): string => {
    const start = pos;
    pos++; // opening quote
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        pos++;
        // The lexeme is now known to be well-formed except for escapes, which JSON.parse checks.
        try {
          return JSON.parse(text.slice(start, pos)) as string;
        } catch {
          return fail('invalid escape sequence in string', pointer, start);
        }
      }
      if (c === 0x5c) {
        pos += 2;
        continue;
      }
      if (c < 0x20) fail('control character inside a string (escape it)', pointer);
      pos++;
    }
    return fail('unterminated string', pointer, start);
  };

  const readNumber = (pointer: string): number => {
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(text.slice(pos, pos + 400));
    if (!m) return fail(`unexpected ${describe(pos)}`, pointer);
    pos += m[0].length;
    const n = Number(m[0]);
    if (!Number.isFinite(n)) fail('number out of range', pointer, pos - m[0].length);
    return n;
  };

  const readValue = (pointer: string, depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH} levels`, pointer);
    skipWs();
    const c = text[pos];
    if (c === '{') {
      pos++;
      // Own properties only, even for "__proto__": the schema then refuses it as an unknown field.
      const obj: { [key: string]: JsonValue } = {};
      skipWs();
      if (text[pos] === '}') {
        pos++;
        return obj;
      }
      for (;;) {
        skipWs();
        if (text[pos] !== '"') fail(`expected a property name in double quotes, found ${describe(pos)}`, pointer);
        const keyAt = pos;
        const key = readString(pointer);
        const childPointer = `${pointer}/${escapePointerToken(key)}`;
        if (Object.prototype.hasOwnProperty.call(obj, key)) fail(`duplicate key "${key}"`, childPointer, keyAt);
        skipWs();
        if (text[pos] !== ':') fail(`expected ':' after property name "${key}", found ${describe(pos)}`, childPointer);
        pos++;
        const value = readValue(childPointer, depth + 1);
        Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
        skipWs();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return obj;
        }
        return fail(`expected ',' or '}' after the value of "${key}", found ${describe(pos)}`, childPointer);
      }
    }
    if (c === '[') {
      pos++;
      const arr: JsonValue[] = [];
      skipWs();
      if (text[pos] === ']') {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(readValue(`${pointer}/${arr.length}`, depth + 1));
        skipWs();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return arr;
        }
        return fail(`expected ',' or ']' after array element ${arr.length - 1}, found ${describe(pos)}`, pointer);
      }
    }
    if (c === '"') return readString(pointer);
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return readNumber(pointer);
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return value;
      }
    }
    return fail(`unexpected ${describe(pos)}, expected a value`, pointer);
  };

  // A UTF-8 byte order mark is tolerated: some editors on the manufacturer side add one.
  if (text.charCodeAt(0) === 0xfeff) pos = 1;
  const value = readValue('', 0);
  skipWs();
  if (pos < text.length) fail(`unexpected ${describe(pos)} after the end of the document`, '');
  return value;
}
