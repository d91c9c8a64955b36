/**
 * The one place where secrets are scrubbed before anything leaves the kernel as text: logs, the
 * audit log, error messages, crash output. DESIGN §2 and §11: no PIN or PIN block, no full PAN,
 * no track 2 or cryptogram in any of them.
 *
 * `redactText` masks card numbers inside free text; `redactFields` makes a bounded, JSON-safe deep
 * copy of structured data, dropping secret-named fields entirely. Both err on the side of masking
 * too much: a false positive costs a few unreadable digits, a false negative leaks a card number.
 */

/** JSON-safe output of `redactFields`: survives JSON.stringify/parse unchanged (hashes stay stable). */
export type RedactedValue = null | boolean | number | string | RedactedValue[] | { [key: string]: RedactedValue };

export const REDACTED = '[redacted]';
export const TRUNCATED = '[truncated]';

/** Longest string kept by `redactFields`; longer ones are cut (after masking) and marked. */
export const MAX_STRING_CHARS = 2000;
export const DEFAULT_MAX_DEPTH = 8;
const MAX_ARRAY_ITEMS = 200;
const MAX_OBJECT_KEYS = 200;
/** Total values emitted by one `redactFields` call, so one log call cannot produce megabytes. */
const MAX_NODES = 5000;

const PAN_MIN = 13;
const PAN_MAX = 19;
/** Track 2 allows PANs down to 12 digits (ISO/IEC 7813). */
const TRACK2_PAN_MIN = 12;
/** Hex strings at least this long are treated as dumps (APDUs, TLV) that may hold a BCD PAN. */
const HEX_DUMP_MIN = 32;
/**
 * Shorter hex strings count as dumps too when they mix letters with a long digit run: in
 * "5A08" + PAN the length byte glues onto the PAN, which then no longer looks like a PAN on its own.
 */
const SHORT_HEX_DUMP_MIN = 16;

/**
 * Field names whose values are never written anywhere, compared after lower-casing and removing
 * '_' and '-', so `pinBlock`, `PIN_BLOCK` and `pin-block` are all caught.
 */
const SECRET_KEYS = new Set([
  'pin',
  'pins',
  'pinblock',
  'pincode',
  'puk',
  'newpin',
  'oldpin',
  'track1',
  'track2',
  'cvv',
  'cvv2',
  'cvc',
  'cvc2',
  'icvv',
  'cryptogram',
  'password',
  'passphrase',
  'secret',
  'privatekey',
]);

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase().replace(/[_-]/g, ''));
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** First 6 and last 4 digits kept, the rest starred, length unchanged. */
export function maskPan(pan: string): string {
  if (pan.length <= 10) return '*'.repeat(pan.length);
  return pan.slice(0, 6) + '*'.repeat(pan.length - 10) + pan.slice(-4);
}

/**
 * Marks, in `mask`, the middle digits (all but the first 6 and last 4) of every Luhn-valid
 * window of PAN length inside `digits`. Used where PAN boundaries are unknown (long digit runs,
 * hex dumps): every possible PAN ends up with at least one starred digit.
 *
 * Prefix sums by index parity make each window's Luhn sum O(1): in a window ending at e, the
 * digits doubled are those whose index parity differs from (e - 1)'s. Inputs can be megabytes.
 */
function markLuhnWindows(digits: string, mask: Uint8Array, offset: number): void {
  const n = digits.length;
  if (n < PAN_MIN) return;
  // plainP[i]: sum of digits at indices < i with parity P; dblP[i]: the same, Luhn-doubled.
  const plain0 = new Int32Array(n + 1);
  const plain1 = new Int32Array(n + 1);
  const dbl0 = new Int32Array(n + 1);
  const dbl1 = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const d = digits.charCodeAt(i) - 48;
    const dd = d * 2 > 9 ? d * 2 - 9 : d * 2;
    const odd = i & 1;
    plain0[i + 1] = plain0[i]! + (odd ? 0 : d);
    plain1[i + 1] = plain1[i]! + (odd ? d : 0);
    dbl0[i + 1] = dbl0[i]! + (odd ? 0 : dd);
    dbl1[i + 1] = dbl1[i]! + (odd ? dd : 0);
  }
  for (let start = 0; start + PAN_MIN <= n; start++) {
    for (let len = PAN_MIN; len <= PAN_MAX && start + len <= n; len++) {
      const end = start + len;
      // The last digit of the window is never doubled; its parity class is summed plain.
      const sum =
        (end - 1) & 1
          ? plain1[end]! - plain1[start]! + dbl0[end]! - dbl0[start]!
          : plain0[end]! - plain0[start]! + dbl1[end]! - dbl1[start]!;
      if (sum % 10 === 0) mask.fill(1, offset + start + 6, offset + end - 4);
    }
  }
}

// ---- track 1 and track 2 ----------------------------------------------------------------------

// A digit run (anchored at its start, so matching stays linear) then '=' (ASCII track 2) or
// 'D' (the hex-nibble form of EMV tag 57), expiry and whatever discretionary digits follow,
// plus the 'F' pad of the nibble form.
const TRACK2_RE = /(?<![0-9])([0-9]{12,})([=Dd])([0-9]{4,})([Ff]?)/g;
// Track 1: format code B, PAN, '^', name, '^', expiry, service code, discretionary data.
const TRACK1_RE = /(?<![A-Za-z0-9])([Bb])([0-9]{12,19})\^([^^\r\n]{0,26})\^([0-9]*)/g;

/**
 * In a hex dump the digits before 'D' may include a tag and length (e.g. "5713" + PAN), so the
 * PAN is taken as the longest Luhn-valid suffix; failing that, the last 19 digits are masked.
 */
function splitTrack2Pan(run: string): { lead: string; pan: string } {
  if (run.length <= PAN_MAX) return { lead: '', pan: run };
  for (let len = PAN_MAX; len >= TRACK2_PAN_MIN; len--) {
    const pan = run.slice(run.length - len);
    if (luhnValid(pan)) return { lead: run.slice(0, run.length - len), pan };
  }
  return { lead: run.slice(0, run.length - PAN_MAX), pan: run.slice(run.length - PAN_MAX) };
}

function maskTracks(s: string): string {
  let out = s.replace(TRACK1_RE, (_m, b: string, pan: string) => `${b}${maskPan(pan)}^****`);
  out = out.replace(TRACK2_RE, (_m, run: string) => {
    const { lead, pan } = splitTrack2Pan(run);
    if (pan.length < TRACK2_PAN_MIN) return _m;
    return `${lead}${maskPan(pan)}=****`;
  });
  return out;
}

// ---- hex dumps ---------------------------------------------------------------------------------

const HEX_RUN_RE = new RegExp(`[0-9A-Fa-f]{${SHORT_HEX_DUMP_MIN},}`, 'g');

function looksLikeHexDump(hex: string): boolean {
  if (hex.length >= HEX_DUMP_MIN) return true;
  return /[A-Fa-f]/.test(hex) && /[0-9]{13,}/.test(hex);
}

/** `text` with every position flagged in `mask` replaced by '*'. */
function applyMask(text: string, mask: Uint8Array): string {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    let j = i;
    const flagged = mask[i] === 1;
    while (j < text.length && (mask[j] === 1) === flagged) j++;
    parts.push(flagged ? '*'.repeat(j - i) : text.slice(i, j));
    i = j;
  }
  return parts.join('');
}

function maskHexDump(hex: string): string {
  const mask = new Uint8Array(hex.length);
  // BCD PANs (tag 5A and friends) show up as plain digit runs inside the dump.
  const digitRun = /[0-9]{13,}/g;
  for (let m = digitRun.exec(hex); m !== null; m = digitRun.exec(hex)) {
    markLuhnWindows(m[0], mask, m.index);
  }
  // A PAN carried as ASCII text shows up as "3x" byte pairs; both alignments are tried since the
  // dump may start mid-byte.
  for (let parity = 0; parity < 2; parity++) {
    let start = -1;
    let digits = '';
    const flush = (): void => {
      if (digits.length >= PAN_MIN) {
        const byteMask = new Uint8Array(digits.length);
        markLuhnWindows(digits, byteMask, 0);
        byteMask.forEach((masked, i) => {
          if (masked === 1) mask.fill(1, start + 2 * i, start + 2 * i + 2);
        });
      }
      start = -1;
      digits = '';
    };
    for (let i = parity; i + 1 < hex.length; i += 2) {
      const lo = hex.charCodeAt(i + 1);
      if (hex.charCodeAt(i) === 0x33 && lo >= 48 && lo <= 57) {
        if (start < 0) start = i;
        digits += String.fromCharCode(lo);
      } else if (start >= 0) {
        flush();
      }
    }
    flush();
  }
  return mask.includes(1) ? applyMask(hex, mask) : hex;
}

// ---- PANs in text ------------------------------------------------------------------------------

// Digit groups joined by single spaces or dashes ("4970 1012 3456 7890", "4970-1012-...").
const DIGIT_RUN_RE = /[0-9]+(?:[ -][0-9]+)*/g;

function maskDigitRun(run: string): string {
  const groups: Array<{ start: number; digits: string }> = [];
  const groupRe = /[0-9]+/g;
  for (let m = groupRe.exec(run); m !== null; m = groupRe.exec(run)) groups.push({ start: m.index, digits: m[0] });
  const allDigits = groups.length === 1 ? groups[0]!.digits : groups.map((g) => g.digits).join('');
  // Masks are over the digits only; separators are put back in place at the end.
  const mask = new Uint8Array(allDigits.length);
  const groupFirstDigit: number[] = [];
  let count = 0;
  for (const g of groups) {
    groupFirstDigit.push(count);
    count += g.digits.length;
  }

  // A PAN is delimited by non-digits or separators: any whole sequence of groups of PAN length
  // is a candidate (this catches "qty 2 4970 1012 3456 7890" as well as the bare number).
  for (let i = 0; i < groups.length; i++) {
    let len = 0;
    for (let j = i; j < groups.length; j++) {
      len += groups[j]!.digits.length;
      if (len > PAN_MAX) break;
      if (len < PAN_MIN) continue;
      const first = groupFirstDigit[i]!;
      if (luhnValid(allDigits.slice(first, first + len))) mask.fill(1, first + 6, first + len - 4);
    }
  }
  // A single group longer than any PAN has no visible boundaries: every window is a candidate.
  groups.forEach((g, gi) => {
    if (g.digits.length > PAN_MAX) markLuhnWindows(g.digits, mask, groupFirstDigit[gi]!);
  });

  if (!mask.includes(1)) return run;
  if (groups.length === 1) return applyMask(run, mask);
  const runMask = new Uint8Array(run.length);
  groups.forEach((g, gi) => {
    runMask.set(mask.subarray(groupFirstDigit[gi]!, groupFirstDigit[gi]! + g.digits.length), g.start);
  });
  return applyMask(run, runMask);
}

/**
 * Masks card data in free text: Luhn-valid PANs of 13–19 digits (optionally grouped with single
 * spaces or dashes) keep their first 6 and last 4 digits; track 1/track 2 data (ASCII '=' form
 * and the hex-nibble 'D' form) become the masked PAN followed by "=****" ("^****" for track 1);
 * hex dumps (32+ hex characters, or 16+ mixing letters with a 13+ digit run) have every embedded
 * Luhn-valid PAN window starred, as BCD digits or as ASCII "3x" bytes.
 */
export function redactText(s: string): string {
  if (!/[0-9]/.test(s)) return s;
  let out = maskTracks(s);
  out = out.replace(HEX_RUN_RE, (hex) => (looksLikeHexDump(hex) ? maskHexDump(hex) : hex));
  out = out.replace(DIGIT_RUN_RE, (run) => (run.replace(/[ -]/g, '').length >= PAN_MIN ? maskDigitRun(run) : run));
  return out;
}

// ---- structured values ------------------------------------------------------------------------

function redactString(s: string): string {
  // Masking before cutting: a PAN straddling the cut is still recognised whole. The margin is
  // larger than any PAN, so a run cut at the margin is still long enough to be window-scanned.
  const head = s.length > MAX_STRING_CHARS ? s.slice(0, MAX_STRING_CHARS + 64) : s;
  const masked = redactText(head);
  if (s.length <= MAX_STRING_CHARS) return masked;
  return `${masked.slice(0, MAX_STRING_CHARS)}…[truncated ${s.length - MAX_STRING_CHARS} chars]`;
}

function redactNumber(n: number): RedactedValue {
  // NaN and ±Infinity would become null in JSON and break audit hashes on re-verification.
  if (!Number.isFinite(n)) return String(n);
  // A PAN stored as a number (parsed from BCD, say) is masked like its decimal text.
  if (Number.isInteger(n) && Math.abs(n) >= 1e12) {
    const text = String(n);
    const masked = redactText(text);
    if (masked !== text) return masked;
  }
  return n;
}

function byteLength(v: ArrayBuffer | ArrayBufferView): number {
  return v.byteLength;
}

function defineOwn(target: { [key: string]: RedactedValue }, key: string, value: RedactedValue): void {
  // defineProperty, not assignment: a field named "__proto__" must stay a plain field.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

interface WalkState {
  nodes: number;
  readonly maxDepth: number;
  readonly stack: Set<object>;
}

function walk(v: unknown, depth: number, state: WalkState): RedactedValue {
  state.nodes++;
  if (state.nodes > MAX_NODES) return TRUNCATED;
  switch (typeof v) {
    case 'string':
      return redactString(v);
    case 'number':
      return redactNumber(v);
    case 'boolean':
      return v;
    case 'bigint':
      return redactText(v.toString());
    case 'undefined':
      return null;
    case 'symbol':
      return '[symbol]';
    case 'function':
      return '[function]';
    default:
      break;
  }
  if (v === null) return null;
  const obj = v as object;
  if (obj instanceof ArrayBuffer || ArrayBuffer.isView(obj)) return `<${byteLength(obj)} bytes>`;
  if (typeof SharedArrayBuffer !== 'undefined' && obj instanceof SharedArrayBuffer) return `<${obj.byteLength} bytes>`;
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
  if (depth >= state.maxDepth) return TRUNCATED;
  if (state.stack.has(obj)) return '[circular]';
  state.stack.add(obj);
  try {
    if (Array.isArray(obj)) {
      const out: RedactedValue[] = [];
      const n = Math.min(obj.length, MAX_ARRAY_ITEMS);
      for (let i = 0; i < n; i++) out.push(walk(obj[i], depth + 1, state));
      if (obj.length > n) out.push(`[${obj.length - n} more items]`);
      return out;
    }
    if (obj instanceof Map) {
      return walkEntries(
        Array.from(obj.entries()).map(([k, val]): [string, unknown] => [String(k), val]),
        depth,
        state,
      );
    }
    if (obj instanceof Set) return walk(Array.from(obj), depth, state);
    if (obj instanceof Error) {
      const entries: Array<[string, unknown]> = [
        ['name', obj.name],
        ['message', obj.message],
      ];
      const code = (obj as { code?: unknown }).code;
      if (code !== undefined) entries.push(['code', code]);
      if (obj.cause !== undefined) entries.push(['cause', obj.cause]);
      return walkEntries(entries, depth, state);
    }
    return walkEntries(
      Object.keys(obj).map((k): [string, unknown] => [k, (obj as Record<string, unknown>)[k]]),
      depth,
      state,
    );
  } catch (err) {
    // Proxies and throwing getters: the value cannot be read, so nothing of it is written.
    return `[unreadable: ${err instanceof Error ? err.name : 'error'}]`;
  } finally {
    state.stack.delete(obj);
  }
}

function walkEntries(entries: Array<[string, unknown]>, depth: number, state: WalkState): RedactedValue {
  const out: { [key: string]: RedactedValue } = {};
  const n = Math.min(entries.length, MAX_OBJECT_KEYS);
  for (let i = 0; i < n; i++) {
    const [rawKey, value] = entries[i]!;
    // Keys are text too: a store key such as "card:4970…" must not leak the PAN.
    let key = redactString(rawKey);
    while (Object.prototype.hasOwnProperty.call(out, key)) key += '#';
    defineOwn(out, key, isSecretKey(rawKey) ? REDACTED : walk(value, depth + 1, state));
  }
  if (entries.length > n) defineOwn(out, '[truncated keys]', entries.length - n);
  return out;
}

/**
 * A JSON-safe deep copy with secrets removed: secret-named fields become "[redacted]", strings are
 * masked by `redactText` and cut to MAX_STRING_CHARS, bytes become "<N bytes>", objects deeper
 * than `maxDepth` become "[truncated]", and cycles, functions and symbols become markers.
 */
export function redactFields(v: unknown, maxDepth: number = DEFAULT_MAX_DEPTH): RedactedValue {
  const depth = Number.isInteger(maxDepth) && maxDepth >= 0 ? maxDepth : DEFAULT_MAX_DEPTH;
  return walk(v, 0, { nodes: 0, maxDepth: depth, stack: new Set<object>() });
}

/** Message and stack of a thrown value, masked, for error and crash output. */
export function redactError(err: unknown): string {
  if (err instanceof Error) return redactText(err.stack ?? `${err.name}: ${err.message}`);
  return redactText(String(err));
}
