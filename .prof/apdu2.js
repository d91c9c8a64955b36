// .prof/apdu2.ts
import { mkdtempSync, readFileSync as readFileSync8, rmSync as rmSync3 } from "node:fs";
import { tmpdir } from "node:os";
import { join as join9 } from "node:path";

// platform/kernel/kernel.ts
import { createHash as createHash4 } from "node:crypto";
import { existsSync as existsSync5, mkdirSync as mkdirSync6, readdirSync as readdirSync2, readFileSync as readFileSync6 } from "node:fs";
import { join as join7, basename } from "node:path";

// platform/kernel/audit.ts
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync
} from "node:fs";
import { dirname, resolve } from "node:path";

// platform/kernel/redact.ts
var REDACTED = "[redacted]";
var TRUNCATED = "[truncated]";
var MAX_STRING_CHARS = 2e3;
var DEFAULT_MAX_DEPTH = 8;
var MAX_ARRAY_ITEMS = 200;
var MAX_OBJECT_KEYS = 200;
var MAX_NODES = 5e3;
var PAN_MIN = 13;
var PAN_MAX = 19;
var TRACK2_PAN_MIN = 12;
var HEX_DUMP_MIN = 32;
var SHORT_HEX_DUMP_MIN = 16;
var SECRET_KEYS = /* @__PURE__ */ new Set([
  "pin",
  "pins",
  "pinblock",
  "pincode",
  "puk",
  "newpin",
  "oldpin",
  "track1",
  "track2",
  "cvv",
  "cvv2",
  "cvc",
  "cvc2",
  "icvv",
  "cryptogram",
  "password",
  "passphrase",
  "secret",
  "privatekey"
]);
function isSecretKey(key) {
  return SECRET_KEYS.has(key.toLowerCase().replace(/[_-]/g, ""));
}
function luhnValid(digits) {
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
function maskPan(pan) {
  if (pan.length <= 10) return "*".repeat(pan.length);
  return pan.slice(0, 6) + "*".repeat(pan.length - 10) + pan.slice(-4);
}
function markLuhnWindows(digits, mask, offset) {
  const n2 = digits.length;
  if (n2 < PAN_MIN) return;
  const plain0 = new Int32Array(n2 + 1);
  const plain1 = new Int32Array(n2 + 1);
  const dbl0 = new Int32Array(n2 + 1);
  const dbl1 = new Int32Array(n2 + 1);
  for (let i = 0; i < n2; i++) {
    const d = digits.charCodeAt(i) - 48;
    const dd = d * 2 > 9 ? d * 2 - 9 : d * 2;
    const odd = i & 1;
    plain0[i + 1] = plain0[i] + (odd ? 0 : d);
    plain1[i + 1] = plain1[i] + (odd ? d : 0);
    dbl0[i + 1] = dbl0[i] + (odd ? 0 : dd);
    dbl1[i + 1] = dbl1[i] + (odd ? dd : 0);
  }
  for (let start = 0; start + PAN_MIN <= n2; start++) {
    for (let len = PAN_MIN; len <= PAN_MAX && start + len <= n2; len++) {
      const end = start + len;
      const sum = end - 1 & 1 ? plain1[end] - plain1[start] + dbl0[end] - dbl0[start] : plain0[end] - plain0[start] + dbl1[end] - dbl1[start];
      if (sum % 10 === 0) mask.fill(1, offset + start + 6, offset + end - 4);
    }
  }
}
var TRACK2_RE = /(?<![0-9])([0-9]{12,})([=Dd])([0-9]{4,})([Ff]?)/g;
var TRACK1_RE = /(?<![A-Za-z0-9])([Bb])([0-9]{12,19})\^([^^\r\n]{0,26})\^([0-9]*)/g;
function splitTrack2Pan(run) {
  if (run.length <= PAN_MAX) return { lead: "", pan: run };
  for (let len = PAN_MAX; len >= TRACK2_PAN_MIN; len--) {
    const pan = run.slice(run.length - len);
    if (luhnValid(pan)) return { lead: run.slice(0, run.length - len), pan };
  }
  return { lead: run.slice(0, run.length - PAN_MAX), pan: run.slice(run.length - PAN_MAX) };
}
function maskTracks(s) {
  let out = s.replace(TRACK1_RE, (_m, b, pan) => `${b}${maskPan(pan)}^****`);
  out = out.replace(TRACK2_RE, (_m, run) => {
    const { lead, pan } = splitTrack2Pan(run);
    if (pan.length < TRACK2_PAN_MIN) return _m;
    return `${lead}${maskPan(pan)}=****`;
  });
  return out;
}
var HEX_RUN_RE = new RegExp(`[0-9A-Fa-f]{${SHORT_HEX_DUMP_MIN},}`, "g");
function looksLikeHexDump(hex) {
  if (hex.length >= HEX_DUMP_MIN) return true;
  return /[A-Fa-f]/.test(hex) && /[0-9]{13,}/.test(hex);
}
function applyMask(text, mask) {
  const parts = [];
  let i = 0;
  while (i < text.length) {
    let j = i;
    const flagged = mask[i] === 1;
    while (j < text.length && mask[j] === 1 === flagged) j++;
    parts.push(flagged ? "*".repeat(j - i) : text.slice(i, j));
    i = j;
  }
  return parts.join("");
}
function maskHexDump(hex) {
  const mask = new Uint8Array(hex.length);
  const digitRun = /[0-9]{13,}/g;
  for (let m = digitRun.exec(hex); m !== null; m = digitRun.exec(hex)) {
    markLuhnWindows(m[0], mask, m.index);
  }
  for (let parity = 0; parity < 2; parity++) {
    let start = -1;
    let digits = "";
    const flush = () => {
      if (digits.length >= PAN_MIN) {
        const byteMask = new Uint8Array(digits.length);
        markLuhnWindows(digits, byteMask, 0);
        byteMask.forEach((masked, i) => {
          if (masked === 1) mask.fill(1, start + 2 * i, start + 2 * i + 2);
        });
      }
      start = -1;
      digits = "";
    };
    for (let i = parity; i + 1 < hex.length; i += 2) {
      const lo = hex.charCodeAt(i + 1);
      if (hex.charCodeAt(i) === 51 && lo >= 48 && lo <= 57) {
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
var DIGIT_RUN_RE = /[0-9]+(?:[ -][0-9]+)*/g;
function maskDigitRun(run) {
  const groups = [];
  const groupRe = /[0-9]+/g;
  for (let m = groupRe.exec(run); m !== null; m = groupRe.exec(run)) groups.push({ start: m.index, digits: m[0] });
  const allDigits = groups.length === 1 ? groups[0].digits : groups.map((g) => g.digits).join("");
  const mask = new Uint8Array(allDigits.length);
  const groupFirstDigit = [];
  let count = 0;
  for (const g of groups) {
    groupFirstDigit.push(count);
    count += g.digits.length;
  }
  for (let i = 0; i < groups.length; i++) {
    let len = 0;
    for (let j = i; j < groups.length; j++) {
      len += groups[j].digits.length;
      if (len > PAN_MAX) break;
      if (len < PAN_MIN) continue;
      const first = groupFirstDigit[i];
      if (luhnValid(allDigits.slice(first, first + len))) mask.fill(1, first + 6, first + len - 4);
    }
  }
  groups.forEach((g, gi) => {
    if (g.digits.length > PAN_MAX) markLuhnWindows(g.digits, mask, groupFirstDigit[gi]);
  });
  if (!mask.includes(1)) return run;
  if (groups.length === 1) return applyMask(run, mask);
  const runMask = new Uint8Array(run.length);
  groups.forEach((g, gi) => {
    runMask.set(mask.subarray(groupFirstDigit[gi], groupFirstDigit[gi] + g.digits.length), g.start);
  });
  return applyMask(run, runMask);
}
function redactText(s) {
  if (!/[0-9]/.test(s)) return s;
  let out = maskTracks(s);
  out = out.replace(HEX_RUN_RE, (hex) => looksLikeHexDump(hex) ? maskHexDump(hex) : hex);
  out = out.replace(DIGIT_RUN_RE, (run) => run.replace(/[ -]/g, "").length >= PAN_MIN ? maskDigitRun(run) : run);
  return out;
}
function redactString(s) {
  const head = s.length > MAX_STRING_CHARS ? s.slice(0, MAX_STRING_CHARS + 64) : s;
  const masked = redactText(head);
  if (s.length <= MAX_STRING_CHARS) return masked;
  return `${masked.slice(0, MAX_STRING_CHARS)}\u2026[truncated ${s.length - MAX_STRING_CHARS} chars]`;
}
function redactNumber(n2) {
  if (!Number.isFinite(n2)) return String(n2);
  if (Number.isInteger(n2) && Math.abs(n2) >= 1e12) {
    const text = String(n2);
    const masked = redactText(text);
    if (masked !== text) return masked;
  }
  return n2;
}
function byteLength(v) {
  return v.byteLength;
}
function defineOwn(target, key, value) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
function walk(v, depth, state) {
  state.nodes++;
  if (state.nodes > MAX_NODES) return TRUNCATED;
  switch (typeof v) {
    case "string":
      return redactString(v);
    case "number":
      return redactNumber(v);
    case "boolean":
      return v;
    case "bigint":
      return redactText(v.toString());
    case "undefined":
      return null;
    case "symbol":
      return "[symbol]";
    case "function":
      return "[function]";
    default:
      break;
  }
  if (v === null) return null;
  const obj2 = v;
  if (obj2 instanceof ArrayBuffer || ArrayBuffer.isView(obj2)) return `<${byteLength(obj2)} bytes>`;
  if (typeof SharedArrayBuffer !== "undefined" && obj2 instanceof SharedArrayBuffer) return `<${obj2.byteLength} bytes>`;
  if (obj2 instanceof Date) return Number.isNaN(obj2.getTime()) ? "Invalid Date" : obj2.toISOString();
  if (depth >= state.maxDepth) return TRUNCATED;
  if (state.stack.has(obj2)) return "[circular]";
  state.stack.add(obj2);
  try {
    if (Array.isArray(obj2)) {
      const out = [];
      const n2 = Math.min(obj2.length, MAX_ARRAY_ITEMS);
      for (let i = 0; i < n2; i++) out.push(walk(obj2[i], depth + 1, state));
      if (obj2.length > n2) out.push(`[${obj2.length - n2} more items]`);
      return out;
    }
    if (obj2 instanceof Map) {
      return walkEntries(
        Array.from(obj2.entries()).map(([k, val]) => [String(k), val]),
        depth,
        state
      );
    }
    if (obj2 instanceof Set) return walk(Array.from(obj2), depth, state);
    if (obj2 instanceof Error) {
      const entries = [
        ["name", obj2.name],
        ["message", obj2.message]
      ];
      const code = obj2.code;
      if (code !== void 0) entries.push(["code", code]);
      if (obj2.cause !== void 0) entries.push(["cause", obj2.cause]);
      return walkEntries(entries, depth, state);
    }
    return walkEntries(
      Object.keys(obj2).map((k) => [k, obj2[k]]),
      depth,
      state
    );
  } catch (err) {
    return `[unreadable: ${err instanceof Error ? err.name : "error"}]`;
  } finally {
    state.stack.delete(obj2);
  }
}
function walkEntries(entries, depth, state) {
  const out = {};
  const n2 = Math.min(entries.length, MAX_OBJECT_KEYS);
  for (let i = 0; i < n2; i++) {
    const [rawKey, value] = entries[i];
    let key = redactString(rawKey);
    while (Object.prototype.hasOwnProperty.call(out, key)) key += "#";
    defineOwn(out, key, isSecretKey(rawKey) ? REDACTED : walk(value, depth + 1, state));
  }
  if (entries.length > n2) defineOwn(out, "[truncated keys]", entries.length - n2);
  return out;
}
function redactFields(v, maxDepth = DEFAULT_MAX_DEPTH) {
  const depth = Number.isInteger(maxDepth) && maxDepth >= 0 ? maxDepth : DEFAULT_MAX_DEPTH;
  return walk(v, 0, { nodes: 0, maxDepth: depth, stack: /* @__PURE__ */ new Set() });
}

// platform/kernel/audit.ts
var GENESIS_HASH = "0".repeat(64);
var EVENT_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
var DOMAIN_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
var HEX64_RE = /^[0-9a-f]{64}$/;
var ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
var ENTRY_KEYS = ["seq", "ts", "domain", "event", "fields", "prev", "hash"];
var openPaths = /* @__PURE__ */ new Set();
function canonicalJson(v) {
  if (v === null || typeof v !== "object") {
    const s = JSON.stringify(v);
    if (s === void 0) throw new TypeError(`audit: value of type ${typeof v} has no JSON form`);
    return s;
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const obj2 = v;
  const keys = Object.keys(obj2).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj2[k])}`).join(",")}}`;
}
function serializeBody(e) {
  return `{"seq":${JSON.stringify(e.seq)},"ts":${JSON.stringify(e.ts)},"domain":${JSON.stringify(e.domain)},"event":${JSON.stringify(e.event)},"fields":${canonicalJson(e.fields)},"prev":${JSON.stringify(e.prev)}`;
}
function computeEntryHash(e) {
  return createHash("sha256").update(`${serializeBody(e)}}`, "utf8").digest("hex");
}
function serializeEntry(e) {
  return `${serializeBody(e)},"hash":${JSON.stringify(e.hash)}}`;
}
function isPlainObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function parseLine(line) {
  let raw;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return { ok: false, badJson: true, reason: `not valid JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  if (!isPlainObject(raw)) return { ok: false, badJson: false, reason: "not a JSON object" };
  const keys = Object.keys(raw);
  const extra = keys.filter((k) => !ENTRY_KEYS.includes(k));
  if (extra.length > 0) return { ok: false, badJson: false, reason: `unexpected field(s) ${extra.join(", ")}` };
  const missing = ENTRY_KEYS.filter((k) => !keys.includes(k));
  if (missing.length > 0) return { ok: false, badJson: false, reason: `missing field(s) ${missing.join(", ")}` };
  const { seq, ts, domain, event, fields: fields2, prev, hash } = raw;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) return bad(`seq ${JSON.stringify(seq)} is not a positive integer`);
  if (typeof ts !== "string" || !ISO_RE.test(ts) || Number.isNaN(Date.parse(ts))) return bad(`ts ${JSON.stringify(ts)} is not an ISO 8601 UTC time`);
  if (domain !== null && typeof domain !== "string") return bad("domain is neither a string nor null");
  if (typeof event !== "string" || event.length === 0) return bad("event is not a non-empty string");
  if (!isPlainObject(fields2)) return bad("fields is not an object");
  if (typeof prev !== "string" || !HEX64_RE.test(prev)) return bad("prev is not 64 lowercase hex digits");
  if (typeof hash !== "string" || !HEX64_RE.test(hash)) return bad("hash is not 64 lowercase hex digits");
  return {
    ok: true,
    entry: { seq, ts, domain, event, fields: fields2, prev, hash }
  };
}
function bad(reason) {
  return { ok: false, badJson: false, reason };
}
function splitLines(text) {
  if (text.length === 0) return { lines: [], complete: true };
  const complete = text.endsWith("\n");
  const lines = text.split("\n");
  if (complete) lines.pop();
  return { lines, complete };
}
function fsyncDir(dir) {
  let fd;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
  } finally {
    if (fd !== void 0) closeSync(fd);
  }
}
function readTail(fd, size, maxBytes) {
  const len = Math.min(size, maxBytes);
  const buf = Buffer.alloc(len);
  let read = 0;
  while (read < len) {
    const n2 = readSync(fd, buf, read, len - read, size - len + read);
    if (n2 === 0) break;
    read += n2;
  }
  return buf.subarray(0, read);
}
function writeAll(fd, data) {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}
var MAX_TAIL_BYTES = 4 * 1024 * 1024;
var AuditLog = class _AuditLog {
  path;
  fd;
  size;
  seq;
  headHash;
  broken;
  listeners = /* @__PURE__ */ new Set();
  now;
  constructor(path, fd, size, last, now) {
    this.path = path;
    this.fd = fd;
    this.size = size;
    this.seq = last?.seq ?? 0;
    this.headHash = last?.hash ?? GENESIS_HASH;
    this.now = now;
  }
  /**
   * Opens (creating directories and file as needed) and continues the chain from the last entry.
   * Throws, naming the line, when the last entry is malformed or torn (see `repairTornTail`).
   * Only the tail is read: the full chain is checked by `verifyAuditFile`.
   */
  static open(path, options = {}) {
    const abs = resolve(path);
    if (openPaths.has(abs)) throw new Error(`audit log ${abs} is already open for writing in this process`);
    const dir = dirname(abs);
    mkdirSync(dir, { recursive: true, mode: 448 });
    const created = !existsSync(abs);
    const fd = openSync(abs, "a+", 384);
    let log;
    try {
      if (created) fsyncDir(dir);
      const size = fstatSync(fd).size;
      const tail = readTail(fd, size, MAX_TAIL_BYTES);
      const { last, goodSize, tornLine } = _AuditLog.readHead(abs, tail, size);
      log = new _AuditLog(abs, fd, size, last, options.now ?? (() => /* @__PURE__ */ new Date()));
      if (tornLine !== void 0) {
        if (!options.repairTornTail) {
          throw new Error(
            `audit log ${abs}: line ${tornLine} is a torn write (incomplete last line left by a crash); refusing to continue the chain; run \`di audit verify\`, then reopen with repairTornTail to set it aside`
          );
        }
        log.repairTail(goodSize, tornLine);
      } else if (size > 0 && tail[tail.length - 1] !== 10) {
        writeAll(fd, Buffer.from("\n"));
        fsyncSync(fd);
        log.size += 1;
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    openPaths.add(abs);
    return log;
  }
  static readHead(path, tail, size) {
    if (size === 0) return { goodSize: 0 };
    if (size > tail.length && !tail.subarray(0, tail.length - 1).includes(10)) {
      throw new Error(`audit log ${path}: the last line is longer than ${MAX_TAIL_BYTES} bytes; refusing to continue the chain`);
    }
    const complete = tail[tail.length - 1] === 10;
    const body = complete ? tail.subarray(0, tail.length - 1) : tail;
    const lastNl = body.lastIndexOf(10);
    const lineNumber = (offsetInTail) => {
      const before = size - tail.length + offsetInTail;
      if (before === 0) return 1;
      return countNewlinesBefore(path, before) + 1;
    };
    const lastLine = body.subarray(lastNl + 1).toString("utf8");
    const parsed = lastLine.length === 0 ? bad("empty line") : parseLine(lastLine);
    const valid = parsed.ok && computeEntryHash(parsed.entry) === parsed.entry.hash && serializeEntry(parsed.entry) === lastLine;
    if (!valid) {
      const line = lineNumber(lastNl + 1);
      if (!complete) {
        const goodSize = size - tail.length + lastNl + 1;
        if (lastNl >= 0) {
          const prevStart = lastNl > 0 ? body.lastIndexOf(10, lastNl - 1) + 1 : 0;
          const prevLine = body.subarray(prevStart, lastNl).toString("utf8");
          const prevParsed = parseLine(prevLine);
          if (!prevParsed.ok || computeEntryHash(prevParsed.entry) !== prevParsed.entry.hash) {
            throw new Error(`audit log ${path}: line ${line - 1} is malformed (${prevParsed.ok ? "hash mismatch" : prevParsed.reason}); refusing to continue the chain`);
          }
          return { last: prevParsed.entry, goodSize, tornLine: line };
        }
        return { goodSize, tornLine: line };
      }
      const reason = parsed.ok ? "hash mismatch or non-canonical form" : parsed.reason;
      throw new Error(`audit log ${path}: last entry at line ${line} is malformed (${redactText(reason)}); refusing to continue the chain`);
    }
    return { last: parsed.entry, goodSize: size };
  }
  repairTail(goodSize, tornLine) {
    const fd = this.requireFd();
    const tornBytes = this.size - goodSize;
    const torn = readTail(fd, this.size, tornBytes);
    const aside = `${this.path}.torn-${this.now().toISOString().replace(/[:.]/g, "-")}`;
    writeFileSync(aside, torn, { mode: 384, flush: true });
    ftruncateSync(fd, goodSize);
    fsyncSync(fd);
    this.size = goodSize;
    this.append("audit.torn-tail-repaired", null, { line: tornLine, bytes: tornBytes, savedTo: aside });
  }
  requireFd() {
    if (this.fd === void 0) throw new Error(`audit log ${this.path} is closed`);
    return this.fd;
  }
  get lastSeq() {
    return this.seq;
  }
  /** The chain head, to be anchored outside the file. */
  get head() {
    return { seq: this.seq, hash: this.headHash };
  }
  /**
   * Appends one entry and returns once it is on disk (write + fsync). `fields` are redacted here,
   * so callers cannot forget to. Throws on a bad event or domain name, or after an I/O failure
   * (the log then refuses further appends rather than risk a forked or torn chain).
   */
  append(event, domain, fields2 = {}) {
    const fd = this.requireFd();
    if (this.broken !== void 0) throw new Error(`audit log ${this.path} refuses appends after a write failure: ${this.broken}`);
    if (typeof event !== "string" || !EVENT_RE.test(event)) {
      throw new Error(`audit: event name ${redactText(JSON.stringify(String(event)).slice(0, 140))} must match ${EVENT_RE}`);
    }
    if (domain !== null && (typeof domain !== "string" || !DOMAIN_RE.test(domain))) {
      throw new Error(`audit: domain ${redactText(JSON.stringify(String(domain)).slice(0, 80))} must be null or match ${DOMAIN_RE}`);
    }
    const redacted = redactFields(fields2);
    const safeFields = typeof redacted === "object" && redacted !== null && !Array.isArray(redacted) ? redacted : { value: redacted };
    const body = {
      seq: this.seq + 1,
      ts: this.now().toISOString(),
      domain,
      event,
      fields: safeFields,
      prev: this.headHash
    };
    const entry = { ...body, hash: computeEntryHash(body) };
    const data = Buffer.from(`${serializeEntry(entry)}
`, "utf8");
    try {
      writeAll(fd, data);
      fsyncSync(fd);
    } catch (err) {
      const why = err.code ?? String(err);
      try {
        ftruncateSync(fd, this.size);
        fsyncSync(fd);
      } catch {
        this.broken = `write failed (${why}) and the partial line could not be removed`;
        throw new Error(`audit log ${this.path}: ${this.broken}`);
      }
      throw new Error(`audit log ${this.path}: append of '${event}' failed (${why}); nothing was written`);
    }
    this.size += data.length;
    this.seq = entry.seq;
    this.headHash = entry.hash;
    for (const listener of this.listeners) {
      try {
        listener(entry);
      } catch (err) {
        process.emitWarning(`audit listener failed on seq ${entry.seq}: ${redactText(String(err))}`);
      }
    }
    return entry;
  }
  /** Entries with seq greater than `seq`, read back from the file. */
  entriesSince(seq) {
    this.requireFd();
    const text = readFileSync(this.path, "utf8");
    const out = [];
    const { lines } = splitLines(text);
    lines.forEach((line, i) => {
      const parsed = parseLine(line);
      if (!parsed.ok) throw new Error(`audit log ${this.path}: line ${i + 1} is malformed (${parsed.reason})`);
      if (parsed.entry.seq > seq) out.push(parsed.entry);
    });
    return out;
  }
  /** Called after each durable append; returns a function that unsubscribes. */
  onAppend(listener) {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
  close() {
    if (this.fd === void 0) return;
    closeSync(this.fd);
    this.fd = void 0;
    this.listeners.clear();
    openPaths.delete(this.path);
  }
};
function countNewlinesBefore(path, offset) {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(Math.min(offset, 1 << 20));
    let count = 0;
    let pos = 0;
    while (pos < offset) {
      const n2 = readSync(fd, buf, 0, Math.min(buf.length, offset - pos), pos);
      if (n2 === 0) break;
      for (let i = 0; i < n2; i++) if (buf[i] === 10) count++;
      pos += n2;
    }
    return count;
  } finally {
    closeSync(fd);
  }
}

// platform/kernel/store.ts
import Database from "better-sqlite3";
import { mkdirSync as mkdirSync2 } from "node:fs";
import { join, resolve as resolve2 } from "node:path";
import { Packr } from "msgpackr";
var StoreError = class extends Error {
  code;
  /** The key concerned, when there is one (unredacted: for the kernel's own logic only). */
  key;
  constructor(code, message, key) {
    super(message);
    this.name = "StoreError";
    this.code = code;
    this.key = key;
  }
};
var MAX_KEY_CHARS = 512;
var MAX_VALUE_BYTES = 1024 * 1024;
var MAX_TRANSACTION_OPS = 1e4;
var MAX_VALUE_DEPTH = 64;
var DOMAIN_RE2 = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
var CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
var LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
var openStores = /* @__PURE__ */ new Set();
function showKey(key) {
  const shown = key.length > 80 ? `${key.slice(0, 80)}\u2026` : key;
  return redactText(JSON.stringify(shown));
}
function codePointLength(s) {
  let n2 = 0;
  for (const _ of s) n2++;
  return n2;
}
function checkKey(key, what = "key") {
  if (typeof key !== "string") throw new StoreError("E_KEY", `store ${what} must be a string, got ${describeType(key)}`);
  const len = codePointLength(key);
  if (len < 1 || len > MAX_KEY_CHARS) {
    throw new StoreError("E_KEY", `store ${what} ${showKey(key)} must be 1\u2013${MAX_KEY_CHARS} characters long (is ${len})`, key);
  }
  if (CONTROL_RE.test(key)) throw new StoreError("E_KEY", `store ${what} ${showKey(key)} contains a control character`, key);
  if (LONE_SURROGATE_RE.test(key)) {
    throw new StoreError("E_KEY", `store ${what} ${showKey(key)} contains an unpaired UTF-16 surrogate (not valid Unicode)`, key);
  }
  return key;
}
function describeType(v) {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  const proto = Object.getPrototypeOf(v);
  const ctor = proto && typeof proto === "object" ? proto.constructor : void 0;
  return typeof ctor?.name === "string" && ctor.name.length > 0 ? ctor.name : "object";
}
function childPath(path, key) {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
function checkValue(key, value) {
  const ancestors = /* @__PURE__ */ new Set();
  const fail2 = (path, why) => {
    throw new StoreError("E_VALUE", `store value for key ${showKey(key)} at ${redactText(path)}: ${why}`, key);
  };
  const visit = (v, path, depth) => {
    switch (typeof v) {
      case "string":
        if (LONE_SURROGATE_RE.test(v)) fail2(path, "string contains an unpaired UTF-16 surrogate (not valid Unicode)");
        return;
      case "number":
      case "boolean":
        return;
      case "undefined":
        return fail2(path, "undefined is not Transferable (use null or omit the field)");
      case "function":
        return fail2(path, "a function is not Transferable");
      case "symbol":
        return fail2(path, "a symbol is not Transferable");
      case "bigint":
        return fail2(path, "a bigint is not Transferable (use a number or a string)");
      default:
        break;
    }
    if (v === null) return;
    const obj2 = v;
    if (obj2 instanceof Uint8Array) return;
    if (obj2 instanceof Date) return fail2(path, "a Date is not Transferable (store an ISO string or epoch milliseconds)");
    if (depth >= MAX_VALUE_DEPTH) return fail2(path, `nested deeper than ${MAX_VALUE_DEPTH} levels`);
    if (ancestors.has(obj2)) return fail2(path, "circular reference");
    ancestors.add(obj2);
    if (Array.isArray(obj2)) {
      if (Object.getPrototypeOf(obj2) !== Array.prototype) fail2(path, `${describeType(obj2)} is not a plain array`);
      for (let i = 0; i < obj2.length; i++) {
        if (!(i in obj2)) fail2(`${path}[${i}]`, "array hole is not Transferable");
        visit(obj2[i], `${path}[${i}]`, depth + 1);
      }
    } else {
      const proto = Object.getPrototypeOf(obj2);
      if (proto !== Object.prototype && proto !== null) {
        fail2(path, `${describeType(obj2)} instance is not Transferable (only plain objects, arrays, Uint8Array)`);
      }
      if (Object.getOwnPropertySymbols(obj2).length > 0) fail2(path, "symbol-keyed properties are not Transferable");
      const descriptors = Object.getOwnPropertyDescriptors(obj2);
      for (const k of Object.keys(descriptors)) {
        const d = descriptors[k];
        if (!d.enumerable) continue;
        if (k === "__proto__") fail2(childPath(path, k), 'the key "__proto__" is not allowed');
        if (d.get !== void 0 || d.set !== void 0) fail2(childPath(path, k), "accessor properties are not Transferable");
        visit(d.value, childPath(path, k), depth + 1);
      }
    }
    ancestors.delete(obj2);
  };
  visit(value, "$", 0);
}
var packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
function encode(key, value) {
  checkValue(key, value);
  let bytes3;
  try {
    bytes3 = packr.pack(value);
  } catch (err) {
    throw new StoreError("E_VALUE", `store value for key ${showKey(key)} cannot be encoded: ${redactText(String(err))}`, key);
  }
  if (bytes3.length > MAX_VALUE_BYTES) {
    throw new StoreError(
      "E_VALUE",
      `store value for key ${showKey(key)} is ${bytes3.length} bytes encoded, over the ${MAX_VALUE_BYTES}-byte limit per value`,
      key
    );
  }
  return Buffer.from(bytes3);
}
function toTransferable(v) {
  if (v === null || typeof v !== "object") return v;
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(toTransferable);
  const out = {};
  for (const [k, val] of Object.entries(v)) {
    Object.defineProperty(out, k, { value: toTransferable(val), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
function prefixUpperBound(prefix) {
  const cps = Array.from(prefix, (c2) => c2.codePointAt(0));
  while (cps.length > 0) {
    let last = cps.pop();
    if (last < 1114111) {
      last++;
      if (last >= 55296 && last <= 57343) last = 57344;
      cps.push(last);
      return String.fromCodePoint(...cps);
    }
  }
  return void 0;
}
function openDomainStore(options) {
  const { dataDir: dataDir2, domain, quotaBytes } = options;
  if (typeof domain !== "string" || !DOMAIN_RE2.test(domain)) {
    throw new StoreError("E_STORE", `store domain ${redactText(JSON.stringify(String(domain)))} must match ${DOMAIN_RE2}`);
  }
  if (typeof quotaBytes !== "number" || !Number.isSafeInteger(quotaBytes) || quotaBytes < 0) {
    throw new StoreError("E_STORE", `store quota for domain ${domain} must be a non-negative integer number of bytes, got ${String(quotaBytes)}`);
  }
  const dir = resolve2(dataDir2, "stores");
  const path = join(dir, `${domain}.sqlite`);
  if (openStores.has(path)) throw new StoreError("E_STORE", `store for domain ${domain} is already open (${path})`);
  mkdirSync2(dir, { recursive: true, mode: 448 });
  let db;
  try {
    db = new Database(path);
  } catch (err) {
    throw new StoreError("E_STORE", `store for domain ${domain}: cannot open ${path}: ${String(err)}`);
  }
  let stmts;
  let bytes3;
  let keys;
  try {
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (String(mode).toLowerCase() !== "wal") throw new Error(`journal_mode is ${String(mode)}, WAL was refused`);
    db.pragma("synchronous = FULL");
    const sync = db.pragma("synchronous", { simple: true });
    if (sync !== 2) throw new Error(`synchronous is ${String(sync)} after setting FULL (2)`);
    db.exec("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)");
    stmts = {
      get: db.prepare("SELECT value FROM kv WHERE key = ?"),
      size: db.prepare("SELECT length(CAST(key AS BLOB)) + length(value) AS size FROM kv WHERE key = ?"),
      upsert: db.prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      del: db.prepare("DELETE FROM kv WHERE key = ?"),
      listRange: db.prepare("SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?"),
      listFrom: db.prepare("SELECT key FROM kv WHERE key >= ? ORDER BY key LIMIT ?")
    };
    const row = db.prepare("SELECT COUNT(*) AS keys, COALESCE(SUM(length(CAST(key AS BLOB)) + length(value)), 0) AS bytes FROM kv").get();
    bytes3 = row.bytes;
    keys = row.keys;
  } catch (err) {
    db.close();
    throw new StoreError("E_STORE", `store for domain ${domain}: cannot prepare ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  openStores.add(path);
  let closed = false;
  const live = () => {
    if (closed) throw new StoreError("E_STORE", `store for domain ${domain} is closed`);
  };
  const dbError = (what, key, err) => {
    if (err instanceof StoreError) return err;
    const on = key === void 0 ? "" : ` for key ${showKey(key)}`;
    return new StoreError("E_STORE", `store ${domain}: ${what}${on} failed: ${redactText(err instanceof Error ? err.message : String(err))}`, key);
  };
  const quotaError = (attempted, key) => new StoreError(
    "E_QUOTA",
    `store ${domain}: ${key === void 0 ? "transaction" : `put of key ${showKey(key)}`} would use ${attempted} bytes, over the quota of ${quotaBytes} bytes`,
    key
  );
  const applyPut = (key, encoded) => {
    const old = stmts.size.get(key);
    stmts.upsert.run(key, encoded);
    const size = Buffer.byteLength(key, "utf8") + encoded.length;
    return old === void 0 ? { dBytes: size, dKeys: 1 } : { dBytes: size - old.size, dKeys: 0 };
  };
  const applyDelete = (key) => {
    const old = stmts.size.get(key);
    if (old === void 0) return { dBytes: 0, dKeys: 0 };
    stmts.del.run(key);
    return { dBytes: -old.size, dKeys: -1 };
  };
  const putTx = db.transaction((key, encoded) => {
    const d = applyPut(key, encoded);
    if (bytes3 + d.dBytes > quotaBytes && d.dBytes > 0) throw quotaError(bytes3 + d.dBytes, key);
    return d;
  });
  const batchTx = db.transaction((prepared) => {
    let dBytes = 0;
    let dKeys = 0;
    for (const p of prepared) {
      const d = p.op === "put" ? applyPut(p.key, p.encoded) : applyDelete(p.key);
      dBytes += d.dBytes;
      dKeys += d.dKeys;
    }
    if (bytes3 + dBytes > quotaBytes && dBytes > 0) throw quotaError(bytes3 + dBytes);
    return { dBytes, dKeys };
  });
  const store = {
    domain,
    path,
    quotaBytes,
    durability: { journalMode: "wal", synchronous: "full" },
    get(key) {
      live();
      checkKey(key);
      let row;
      try {
        row = stmts.get.get(key);
      } catch (err) {
        throw dbError("get", key, err);
      }
      if (row === void 0) return void 0;
      try {
        const decoded = packr.unpack(row.value);
        checkValue(key, decoded);
        return toTransferable(decoded);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new StoreError("E_STORE", `store ${domain}: value for key ${showKey(key)} cannot be decoded (corrupt row?): ${redactText(why)}`, key);
      }
    },
    put(key, value) {
      live();
      checkKey(key);
      const encoded = encode(key, value);
      let d;
      try {
        d = putTx.immediate(key, encoded);
      } catch (err) {
        throw dbError("put", key, err);
      }
      bytes3 += d.dBytes;
      keys += d.dKeys;
    },
    delete(key) {
      live();
      checkKey(key);
      let d;
      try {
        d = db.transaction(() => applyDelete(key)).immediate();
      } catch (err) {
        throw dbError("delete", key, err);
      }
      bytes3 += d.dBytes;
      keys += d.dKeys;
      return d.dKeys !== 0;
    },
    list(options2 = {}) {
      live();
      if (options2 === null || typeof options2 !== "object") throw new StoreError("E_VALUE", "store list options must be an object");
      const prefix = options2.prefix ?? "";
      if (prefix !== "") checkKey(prefix, "list prefix");
      const limit = options2.limit ?? -1;
      if (options2.limit !== void 0 && (!Number.isSafeInteger(limit) || limit < 1)) {
        throw new StoreError("E_VALUE", `store list limit must be a positive integer, got ${String(options2.limit)}`);
      }
      const upper = prefixUpperBound(prefix);
      try {
        const rows = upper === void 0 ? stmts.listFrom.all(prefix, limit) : stmts.listRange.all(prefix, upper, limit);
        return rows.map((r) => r.key);
      } catch (err) {
        throw dbError("list", void 0, err);
      }
    },
    transaction(ops) {
      live();
      if (!Array.isArray(ops)) throw new StoreError("E_VALUE", `store transaction takes an array of ops, got ${describeType(ops)}`);
      if (ops.length > MAX_TRANSACTION_OPS) {
        throw new StoreError("E_VALUE", `store transaction has ${ops.length} ops, over the limit of ${MAX_TRANSACTION_OPS}`);
      }
      const prepared = ops.map((op, i) => {
        if (op === null || typeof op !== "object") throw new StoreError("E_VALUE", `store transaction op #${i} is not an object`);
        const o = op;
        if (o.op === "put") {
          const key = checkKey(o.key, `key (transaction op #${i})`);
          if (!("value" in o)) throw new StoreError("E_VALUE", `store transaction op #${i} (put ${showKey(key)}) has no value`, key);
          return { op: "put", key, encoded: encode(key, o.value) };
        }
        if (o.op === "delete") return { op: "delete", key: checkKey(o.key, `key (transaction op #${i})`) };
        throw new StoreError("E_VALUE", `store transaction op #${i} has op ${redactText(JSON.stringify(String(o.op)))}; expected 'put' or 'delete'`);
      });
      if (prepared.length === 0) return;
      let d;
      try {
        d = batchTx.immediate(prepared);
      } catch (err) {
        throw dbError("transaction", void 0, err);
      }
      bytes3 += d.dBytes;
      keys += d.dKeys;
    },
    usage() {
      live();
      return { bytes: bytes3, keys };
    },
    close() {
      if (closed) return;
      closed = true;
      openStores.delete(path);
      db.close();
    }
  };
  return store;
}

// platform/kernel/policy/loader.ts
import { readFileSync as readFileSync2, readdirSync, statSync } from "node:fs";
import { Ajv } from "ajv";

// policies/policy.schema.json
var policy_schema_default = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://dispositif-integre.invalid/policies/policy.schema.json",
  title: "Domain policy",
  description: "What one applet domain may do. Nothing is granted unless listed. Semantic rules the schema cannot express (ATR value inside mask, unique names across policies, no VERIFY in allowlists, intent targets) are checked by platform/kernel/policy/loader.ts.",
  type: "object",
  additionalProperties: false,
  required: ["schemaVersion", "domain", "applet", "cardClasses", "store", "network", "intents", "ui"],
  properties: {
    $schema: { type: "string", description: "Editor hint only; ignored by the kernel." },
    schemaVersion: { const: 1 },
    domain: { $ref: "#/definitions/domainId" },
    description: { type: "string", maxLength: 2e3 },
    applet: {
      type: "object",
      additionalProperties: false,
      required: ["id"],
      properties: {
        id: { $ref: "#/definitions/appletId" }
      }
    },
    limits: {
      description: "Omitted fields take DEFAULT_LIMITS from platform/kernel/policy/types.ts (the defaults below mirror it).",
      type: "object",
      additionalProperties: false,
      properties: {
        memoryMb: { type: "integer", minimum: 8, maximum: 512, default: 64 },
        cpuMsPerCall: { type: "integer", minimum: 10, maximum: 6e4, default: 1e3 },
        wallMsPerCall: { type: "integer", minimum: 10, maximum: 12e4, default: 2e3 },
        handlerDeadlineMs: { type: "integer", minimum: 100, maximum: 36e5, default: 12e4 },
        queueLength: { type: "integer", minimum: 1, maximum: 4096, default: 64 },
        ratePerSecond: { type: "integer", minimum: 1, maximum: 1e5, default: 2e3 },
        maxMessageBytes: { type: "integer", minimum: 1024, maximum: 16777216, default: 262144 }
      }
    },
    cardClasses: {
      type: "array",
      maxItems: 32,
      items: { $ref: "#/definitions/cardClass" }
    },
    store: {
      type: "object",
      additionalProperties: false,
      required: ["quotaBytes"],
      properties: {
        quotaBytes: { type: "integer", minimum: 0, maximum: 17179869184 }
      }
    },
    network: {
      type: "object",
      additionalProperties: false,
      required: ["endpoints"],
      properties: {
        endpoints: { type: "array", maxItems: 32, items: { $ref: "#/definitions/endpoint" } }
      }
    },
    intents: {
      type: "object",
      additionalProperties: false,
      required: ["request", "handle"],
      properties: {
        request: { type: "array", maxItems: 32, items: { $ref: "#/definitions/intentGrant" } },
        handle: { type: "array", maxItems: 64, items: { $ref: "#/definitions/intentHandle" } }
      }
    },
    ui: {
      type: "object",
      additionalProperties: false,
      required: ["foreground", "pinEntry"],
      properties: {
        foreground: { type: "boolean" },
        pinEntry: { type: "boolean" }
      }
    }
  },
  definitions: {
    domainId: { type: "string", pattern: "^[a-z][a-z0-9-]{1,31}$" },
    appletId: { type: "string", pattern: "^[a-z][a-z0-9._-]{1,63}$" },
    name: { type: "string", pattern: "^[a-z][a-z0-9_-]{0,31}$" },
    hexByte: { type: "string", pattern: "^[0-9A-Fa-f]{2}$" },
    atrHex: { type: "string", pattern: "^([0-9A-Fa-f]{2}){1,33}$" },
    aidHex: { type: "string", pattern: "^([0-9A-Fa-f]{2}){5,16}$" },
    apduRule: {
      type: "object",
      additionalProperties: false,
      required: ["cla", "ins"],
      properties: {
        cla: { $ref: "#/definitions/hexByte" },
        ins: { $ref: "#/definitions/hexByte" },
        p1: { $ref: "#/definitions/hexByte" },
        p2: { $ref: "#/definitions/hexByte" },
        claMask: { $ref: "#/definitions/hexByte" },
        name: { type: "string", minLength: 1, maxLength: 64 }
      }
    },
    cardClass: {
      type: "object",
      additionalProperties: false,
      required: ["name", "atr", "aids", "apdu", "pinReferences"],
      properties: {
        name: { $ref: "#/definitions/name" },
        atr: {
          type: "object",
          additionalProperties: false,
          required: ["value", "mask"],
          properties: {
            value: { $ref: "#/definitions/atrHex" },
            mask: { $ref: "#/definitions/atrHex" }
          }
        },
        aids: { type: "array", maxItems: 16, items: { $ref: "#/definitions/aidHex" } },
        apdu: { type: "array", maxItems: 128, items: { $ref: "#/definitions/apduRule" } },
        pinReferences: {
          type: "array",
          maxItems: 8,
          items: { type: "integer", minimum: 0, maximum: 255 }
        },
        maxResponseBytes: { type: "integer", minimum: 1, maximum: 65536, default: 4096 }
      }
    },
    endpoint: {
      type: "object",
      additionalProperties: false,
      required: ["name", "kind", "host", "port"],
      properties: {
        name: { $ref: "#/definitions/name" },
        kind: { enum: ["smtp", "pop3", "http", "acquirer"] },
        host: { type: "string", pattern: "^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\\[[0-9A-Fa-f:.]+\\])$", maxLength: 253 },
        port: { type: "integer", minimum: 1, maximum: 65535 }
      }
    },
    intentGrant: {
      type: "object",
      additionalProperties: false,
      required: ["target", "actions"],
      properties: {
        target: { $ref: "#/definitions/domainId" },
        actions: { type: "array", minItems: 1, maxItems: 32, items: { $ref: "#/definitions/name" } }
      }
    },
    intentHandle: {
      type: "object",
      additionalProperties: false,
      required: ["action", "result"],
      properties: {
        action: { $ref: "#/definitions/name" },
        result: {
          type: "object",
          maxProperties: 32,
          propertyNames: { pattern: "^[A-Za-z][A-Za-z0-9_]{0,31}$" },
          additionalProperties: { enum: ["string", "number", "boolean"] }
        }
      }
    }
  }
};

// platform/kernel/policy/strict-json.ts
var JsonSyntaxError = class extends Error {
  constructor(line, column, pointer, detail) {
    super(`invalid JSON at line ${line}, column ${column}: ${detail}`);
    this.line = line;
    this.column = column;
    this.pointer = pointer;
    this.detail = detail;
    this.name = "JsonSyntaxError";
  }
  line;
  column;
  pointer;
  detail;
};
var MAX_DEPTH = 64;
function escapePointerToken(token) {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}
function parseStrictJson(text) {
  let pos = 0;
  const fail2 = (detail, pointer, at = pos) => {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at && i < text.length; i++) {
      if (text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    throw new JsonSyntaxError(line, at - lineStart + 1, pointer, detail);
  };
  const describe3 = (i) => {
    if (i >= text.length) return "end of file";
    const ch = text[i];
    return /[\x20-\x7e]/.test(ch) ? `'${ch}'` : `character U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
  };
  const skipWs = () => {
    while (pos < text.length) {
      const c2 = text.charCodeAt(pos);
      if (c2 === 32 || c2 === 9 || c2 === 10 || c2 === 13) pos++;
      else break;
    }
  };
  const readString = (pointer) => {
    const start = pos;
    pos++;
    while (pos < text.length) {
      const c2 = text.charCodeAt(pos);
      if (c2 === 34) {
        pos++;
        try {
          return JSON.parse(text.slice(start, pos));
        } catch {
          return fail2("invalid escape sequence in string", pointer, start);
        }
      }
      if (c2 === 92) {
        pos += 2;
        continue;
      }
      if (c2 < 32) fail2("control character inside a string (escape it)", pointer);
      pos++;
    }
    return fail2("unterminated string", pointer, start);
  };
  const readNumber = (pointer) => {
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(text.slice(pos, pos + 400));
    if (!m) return fail2(`unexpected ${describe3(pos)}`, pointer);
    pos += m[0].length;
    const n2 = Number(m[0]);
    if (!Number.isFinite(n2)) fail2("number out of range", pointer, pos - m[0].length);
    return n2;
  };
  const readValue = (pointer, depth) => {
    if (depth > MAX_DEPTH) fail2(`nesting deeper than ${MAX_DEPTH} levels`, pointer);
    skipWs();
    const c2 = text[pos];
    if (c2 === "{") {
      pos++;
      const obj2 = {};
      skipWs();
      if (text[pos] === "}") {
        pos++;
        return obj2;
      }
      for (; ; ) {
        skipWs();
        if (text[pos] !== '"') fail2(`expected a property name in double quotes, found ${describe3(pos)}`, pointer);
        const keyAt = pos;
        const key = readString(pointer);
        const childPointer = `${pointer}/${escapePointerToken(key)}`;
        if (Object.prototype.hasOwnProperty.call(obj2, key)) fail2(`duplicate key "${key}"`, childPointer, keyAt);
        skipWs();
        if (text[pos] !== ":") fail2(`expected ':' after property name "${key}", found ${describe3(pos)}`, childPointer);
        pos++;
        const value2 = readValue(childPointer, depth + 1);
        Object.defineProperty(obj2, key, { value: value2, enumerable: true, writable: true, configurable: true });
        skipWs();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] === "}") {
          pos++;
          return obj2;
        }
        return fail2(`expected ',' or '}' after the value of "${key}", found ${describe3(pos)}`, childPointer);
      }
    }
    if (c2 === "[") {
      pos++;
      const arr = [];
      skipWs();
      if (text[pos] === "]") {
        pos++;
        return arr;
      }
      for (; ; ) {
        arr.push(readValue(`${pointer}/${arr.length}`, depth + 1));
        skipWs();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] === "]") {
          pos++;
          return arr;
        }
        return fail2(`expected ',' or ']' after array element ${arr.length - 1}, found ${describe3(pos)}`, pointer);
      }
    }
    if (c2 === '"') return readString(pointer);
    if (c2 === "-" || c2 !== void 0 && c2 >= "0" && c2 <= "9") return readNumber(pointer);
    for (const [word, value2] of [
      ["true", true],
      ["false", false],
      ["null", null]
    ]) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return value2;
      }
    }
    return fail2(`unexpected ${describe3(pos)}, expected a value`, pointer);
  };
  if (text.charCodeAt(0) === 65279) pos = 1;
  const value = readValue("", 0);
  skipWs();
  if (pos < text.length) fail2(`unexpected ${describe3(pos)} after the end of the document`, "");
  return value;
}

// platform/kernel/policy/types.ts
var DEFAULT_LIMITS = {
  memoryMb: 64,
  cpuMsPerCall: 1e3,
  wallMsPerCall: 2e3,
  handlerDeadlineMs: 12e4,
  queueLength: 64,
  ratePerSecond: 2e3,
  maxMessageBytes: 256 * 1024
};

// platform/kernel/policy/loader.ts
var PolicyError = class extends Error {
  constructor(file, field, reason) {
    super(`${file}: ${field === "" ? "/" : field}: ${reason}`);
    this.file = file;
    this.field = field;
    this.reason = reason;
    this.name = "PolicyError";
  }
  file;
  field;
  reason;
};
var MAX_POLICY_BYTES = 1024 * 1024;
var PIN_INSTRUCTIONS = {
  "20": "VERIFY",
  "21": "VERIFY (odd INS)",
  "24": "CHANGE REFERENCE DATA",
  "25": "CHANGE REFERENCE DATA (odd INS)",
  "2C": "RESET RETRY COUNTER",
  "2D": "RESET RETRY COUNTER (odd INS)"
};
var DEFAULT_MAX_RESPONSE_BYTES = 4096;
var ajv = new Ajv({ allErrors: false, strict: true, verbose: true });
var validateSchema = ajv.compile(policy_schema_default);
var PATTERN_HINTS = {
  "^[a-z][a-z0-9-]{1,31}$": 'must be a domain id: 2 to 32 characters, lowercase letters, digits and "-", starting with a letter',
  "^[a-z][a-z0-9._-]{1,63}$": 'must be an applet id: 2 to 64 characters, lowercase letters, digits, ".", "_" and "-", starting with a letter',
  "^[a-z][a-z0-9_-]{0,31}$": 'must be a name: 1 to 32 characters, lowercase letters, digits, "_" and "-", starting with a letter',
  "^[0-9A-Fa-f]{2}$": 'must be one byte written as 2 hex digits, e.g. "A4"',
  "^([0-9A-Fa-f]{2}){1,33}$": 'must be 1 to 33 bytes written as an even number of hex digits, e.g. "3B8F80"',
  "^([0-9A-Fa-f]{2}){5,16}$": "must be an AID: 5 to 16 bytes written as an even number of hex digits (10 to 32)",
  "^[A-Za-z][A-Za-z0-9_]{0,31}$": 'must be a field name: a letter then up to 31 letters, digits or "_"'
};
function describeType2(data) {
  if (data === null) return "null";
  if (Array.isArray(data)) return "an array";
  if (typeof data === "object") return "an object";
  if (typeof data === "string") return `a string (${JSON.stringify(data.length > 40 ? `${data.slice(0, 40)}\u2026` : data)})`;
  if (typeof data === "number") return Number.isInteger(data) ? `the integer ${data}` : `the number ${data}`;
  return `${typeof data} ${String(data)}`;
}
var TYPE_WORDS = {
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "true or false",
  object: "an object",
  array: "an array",
  null: "null"
};
function schemaErrorToPolicyError(source, e) {
  const at = e.instancePath;
  const p = e.params;
  switch (e.keyword) {
    case "required":
      return new PolicyError(source, `${at}/${String(p.missingProperty)}`, "is required but missing");
    case "additionalProperties": {
      const extra = String(p.additionalProperty);
      const parent = e.parentSchema;
      const allowed = parent?.properties ? Object.keys(parent.properties).filter((k) => k !== "$schema") : [];
      return new PolicyError(
        source,
        `${at}/${extra.replace(/~/g, "~0").replace(/\//g, "~1")}`,
        `unknown field "${extra}"${allowed.length ? ` (allowed here: ${allowed.join(", ")})` : ""}`
      );
    }
    case "type":
      return new PolicyError(source, at, `must be ${TYPE_WORDS[String(p.type)] ?? String(p.type)}, not ${describeType2(e.data)}`);
    case "pattern": {
      const hint = PATTERN_HINTS[String(p.pattern)] ?? `must match the pattern ${String(p.pattern)}`;
      return new PolicyError(source, at, `${hint}; got ${describeType2(e.data)}`);
    }
    case "const":
      return at === "/schemaVersion" ? new PolicyError(source, at, `must be 1 (the only policy schema version this kernel reads), not ${describeType2(e.data)}`) : new PolicyError(source, at, `must be ${JSON.stringify(p.allowedValue)}`);
    case "enum":
      return new PolicyError(
        source,
        at,
        `must be one of ${p.allowedValues.map((v) => JSON.stringify(v)).join(", ")}; got ${describeType2(e.data)}`
      );
    case "minimum":
    case "maximum":
      return new PolicyError(
        source,
        at,
        `must be ${e.keyword === "minimum" ? "at least" : "at most"} ${String(p.limit)}, not ${String(e.data)}`
      );
    case "minItems":
    case "maxItems":
      return new PolicyError(source, at, `must have ${e.keyword === "minItems" ? "at least" : "at most"} ${String(p.limit)} items`);
    case "minLength":
    case "maxLength":
      return new PolicyError(source, at, `must be ${e.keyword === "minLength" ? "at least" : "at most"} ${String(p.limit)} characters long`);
    case "maxProperties":
      return new PolicyError(source, at, `must have at most ${String(p.limit)} fields`);
    case "propertyNames":
      return new PolicyError(
        source,
        `${at}/${String(p.propertyName).replace(/~/g, "~0").replace(/\//g, "~1")}`,
        `${PATTERN_HINTS["^[A-Za-z][A-Za-z0-9_]{0,31}$"]}`
      );
    default:
      return new PolicyError(source, at, e.message ?? `fails the schema rule "${e.keyword}"`);
  }
}
function normalizeRule(r) {
  const out = { cla: r.cla.toUpperCase(), ins: r.ins.toUpperCase() };
  if (r.p1 !== void 0) out.p1 = r.p1.toUpperCase();
  if (r.p2 !== void 0) out.p2 = r.p2.toUpperCase();
  out.claMask = (r.claMask ?? "FF").toUpperCase();
  if (r.name !== void 0) out.name = r.name;
  return out;
}
function normalize(raw) {
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS)) {
    const v = raw.limits?.[key];
    if (v !== void 0) limits[key] = v;
  }
  const policy = {
    schemaVersion: 1,
    domain: raw.domain,
    ...raw.description !== void 0 ? { description: raw.description } : {},
    applet: { id: raw.applet.id },
    limits,
    cardClasses: raw.cardClasses.map((c2) => ({
      name: c2.name,
      atr: { value: c2.atr.value.toUpperCase(), mask: c2.atr.mask.toUpperCase() },
      aids: c2.aids.map((a) => a.toUpperCase()),
      apdu: c2.apdu.map(normalizeRule),
      pinReferences: [...c2.pinReferences],
      maxResponseBytes: c2.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
    })),
    store: { quotaBytes: raw.store.quotaBytes },
    network: { endpoints: raw.network.endpoints.map((e) => ({ name: e.name, kind: e.kind, host: e.host, port: e.port })) },
    intents: {
      request: raw.intents.request.map((g) => ({ target: g.target, actions: [...g.actions] })),
      handle: raw.intents.handle.map((h2) => ({ action: h2.action, result: { ...h2.result } }))
    },
    ui: { foreground: raw.ui.foreground, pinEntry: raw.ui.pinEntry }
  };
  return policy;
}
function deepFreeze(value) {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
var hexBytes = (hex) => {
  const out = [];
  for (let i = 0; i < hex.length; i += 2) out.push(parseInt(hex.slice(i, i + 2), 16));
  return out;
};
var hex2 = (n2) => n2.toString(16).toUpperCase().padStart(2, "0");
function atrPatternsOverlap(a, b) {
  const av = hexBytes(a.value);
  const am = hexBytes(a.mask);
  const bv = hexBytes(b.value);
  const bm = hexBytes(b.mask);
  const n2 = Math.min(av.length, bv.length);
  for (let i = 0; i < n2; i++) {
    if (((av[i] ^ bv[i]) & am[i] & bm[i]) !== 0) return false;
  }
  return true;
}
function checkCardClass(source, c2, at) {
  const value = hexBytes(c2.atr.value);
  const mask = hexBytes(c2.atr.mask);
  if (value.length !== mask.length) {
    throw new PolicyError(
      source,
      `${at}/atr/mask`,
      `must be the same length as value (${value.length} byte${value.length === 1 ? "" : "s"}), but is ${mask.length} byte${mask.length === 1 ? "" : "s"}`
    );
  }
  for (let i = 0; i < value.length; i++) {
    if ((value[i] & ~mask[i]) !== 0) {
      throw new PolicyError(
        source,
        `${at}/atr/value`,
        `has bits outside the mask at byte ${i} (value ${hex2(value[i])}, mask ${hex2(mask[i])}): no card's ATR could ever match; clear those bits or widen the mask`
      );
    }
  }
  const seenAids = /* @__PURE__ */ new Map();
  c2.aids.forEach((aid, j) => {
    const prev = seenAids.get(aid);
    if (prev !== void 0) throw new PolicyError(source, `${at}/aids/${j}`, `duplicates AID ${aid} already listed at ${at}/aids/${prev}`);
    seenAids.set(aid, j);
  });
  const seenRules = /* @__PURE__ */ new Map();
  c2.apdu.forEach((r, j) => {
    const ra = `${at}/apdu/${j}`;
    const pin = PIN_INSTRUCTIONS[r.ins];
    if (pin !== void 0) {
      throw new PolicyError(
        source,
        `${ra}/ins`,
        `INS ${r.ins} (${pin}) carries PIN digits and may not be allowlisted: PIN entry is a kernel function (platform.pin.verify with a reference from pinReferences)`
      );
    }
    const insHigh = parseInt(r.ins, 16) & 240;
    if (insHigh === 96 || insHigh === 144) {
      throw new PolicyError(source, `${ra}/ins`, `INS ${r.ins} is not a valid instruction code (6X and 9X are reserved by ISO 7816-3)`);
    }
    if (r.cla === "FF") {
      throw new PolicyError(source, `${ra}/cla`, "CLA FF is reserved (PPS and reader pseudo-APDUs) and never reaches a card application");
    }
    const mask2 = r.claMask ?? "FF";
    if ((parseInt(r.cla, 16) & ~parseInt(mask2, 16)) !== 0) {
      throw new PolicyError(
        source,
        `${ra}/cla`,
        `has bits outside claMask ${mask2} (CLA ${r.cla}): the rule could never match; clear those bits or widen claMask`
      );
    }
    const key = [r.cla, mask2, r.ins, r.p1 ?? "*", r.p2 ?? "*"].join(" ");
    const prev = seenRules.get(key);
    if (prev !== void 0) throw new PolicyError(source, ra, `duplicates the rule at ${at}/apdu/${prev}`);
    seenRules.set(key, j);
  });
  const seenRefs = /* @__PURE__ */ new Set();
  c2.pinReferences.forEach((ref, j) => {
    if (seenRefs.has(ref)) throw new PolicyError(source, `${at}/pinReferences/${j}`, `duplicates PIN reference ${ref} (0x${hex2(ref)})`);
    seenRefs.add(ref);
  });
}
function checkClassesTogether(classes, sourceOf) {
  const byName = /* @__PURE__ */ new Map();
  const byAid = /* @__PURE__ */ new Map();
  for (const lc of classes) {
    const at = `/cardClasses/${lc.index}`;
    const where = (o) => o.policy === lc.policy ? `/cardClasses/${o.index} of the same policy` : `domain "${o.policy.domain}" (${sourceOf(o.policy)})`;
    const prev = byName.get(lc.cls.name);
    if (prev) {
      throw new PolicyError(
        sourceOf(lc.policy),
        `${at}/name`,
        `card class "${lc.cls.name}" is already defined by ${where(prev)}; a card class belongs to exactly one domain`
      );
    }
    byName.set(lc.cls.name, lc);
    lc.cls.aids.forEach((aid, j) => {
      const other = byAid.get(aid);
      if (other) {
        throw new PolicyError(
          sourceOf(lc.policy),
          `${at}/aids/${j}`,
          `AID ${aid} is already claimed by card class "${other.at.cls.name}" of ${where(other.at)}; the broker could not tell which class a card belongs to`
        );
      }
      byAid.set(aid, { at: lc, j });
    });
  }
  for (let i = 0; i < classes.length; i++) {
    for (let k = 0; k < i; k++) {
      const a = classes[i];
      const b = classes[k];
      if (!atrPatternsOverlap(a.cls.atr, b.cls.atr)) continue;
      if (a.cls.aids.length === 0 || b.cls.aids.length === 0) {
        const bare = a.cls.aids.length === 0 ? a : b;
        const other = bare === a ? b : a;
        throw new PolicyError(
          sourceOf(bare.policy),
          `/cardClasses/${bare.index}/aids`,
          `card class "${bare.cls.name}" lists no AIDs, but its ATR pattern overlaps that of card class "${other.cls.name}" (domain "${other.policy.domain}"); list AIDs so the broker can tell them apart, or make the ATR patterns disjoint`
        );
      }
    }
  }
}
function checkPolicySemantics(source, p) {
  p.cardClasses.forEach((c2, i) => checkCardClass(source, c2, `/cardClasses/${i}`));
  checkClassesTogether(
    p.cardClasses.map((cls, index) => ({ policy: p, index, cls })),
    () => source
  );
  const withPins = p.cardClasses.findIndex((c2) => c2.pinReferences.length > 0);
  if (withPins >= 0 && !p.ui.pinEntry) {
    throw new PolicyError(
      source,
      "/ui/pinEntry",
      `must be true: card class "${p.cardClasses[withPins].name}" lists pinReferences, which only the kernel's secure PIN entry can use`
    );
  }
  if (p.limits.cpuMsPerCall > p.limits.wallMsPerCall) {
    throw new PolicyError(
      source,
      "/limits/cpuMsPerCall",
      `(${p.limits.cpuMsPerCall} ms) exceeds wallMsPerCall (${p.limits.wallMsPerCall} ms); CPU time cannot exceed wall time, so the CPU budget would never apply`
    );
  }
  if (p.limits.handlerDeadlineMs < p.limits.wallMsPerCall) {
    throw new PolicyError(
      source,
      "/limits/handlerDeadlineMs",
      `(${p.limits.handlerDeadlineMs} ms) is shorter than wallMsPerCall (${p.limits.wallMsPerCall} ms); the deadline covers the whole call and must be at least as long`
    );
  }
  const endpoints = /* @__PURE__ */ new Map();
  p.network.endpoints.forEach((e, i) => {
    const prev = endpoints.get(e.name);
    if (prev !== void 0) {
      throw new PolicyError(source, `/network/endpoints/${i}/name`, `endpoint name "${e.name}" is already used by /network/endpoints/${prev}`);
    }
    endpoints.set(e.name, i);
  });
  const targets = /* @__PURE__ */ new Map();
  p.intents.request.forEach((g, i) => {
    if (g.target === p.domain) {
      throw new PolicyError(source, `/intents/request/${i}/target`, `a domain cannot request intents from itself ("${g.target}")`);
    }
    const prev = targets.get(g.target);
    if (prev !== void 0) {
      throw new PolicyError(source, `/intents/request/${i}/target`, `target "${g.target}" is already granted at /intents/request/${prev}; merge the actions`);
    }
    targets.set(g.target, i);
    const actions = /* @__PURE__ */ new Set();
    g.actions.forEach((a, j) => {
      if (actions.has(a)) throw new PolicyError(source, `/intents/request/${i}/actions/${j}`, `duplicates action "${a}"`);
      actions.add(a);
    });
  });
  const handled = /* @__PURE__ */ new Map();
  p.intents.handle.forEach((h2, i) => {
    const prev = handled.get(h2.action);
    if (prev !== void 0) {
      throw new PolicyError(source, `/intents/handle/${i}/action`, `action "${h2.action}" is already handled at /intents/handle/${prev}`);
    }
    handled.set(h2.action, i);
  });
}
var sources = /* @__PURE__ */ new WeakMap();
function policySource(policy) {
  return sources.get(policy) ?? `policy of domain "${policy.domain}"`;
}
function validatePolicy(json, source) {
  let ok2;
  try {
    ok2 = validateSchema(json);
  } catch (err) {
    throw new PolicyError(source, "", `is not plain JSON data (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!ok2) {
    const first = validateSchema.errors?.[0];
    throw first ? schemaErrorToPolicyError(source, first) : new PolicyError(source, "", "does not match the policy schema");
  }
  const policy = normalize(json);
  checkPolicySemantics(source, policy);
  deepFreeze(policy);
  sources.set(policy, source);
  return policy;
}
function parsePolicyBytes(bytes3, source) {
  if (bytes3.byteLength > MAX_POLICY_BYTES) {
    throw new PolicyError(source, "", `is ${bytes3.byteLength} bytes; policies are limited to ${MAX_POLICY_BYTES} bytes`);
  }
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes3);
  } catch {
    throw new PolicyError(source, "", "is not valid UTF-8 text");
  }
  let json;
  try {
    json = parseStrictJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new PolicyError(source, err.pointer, err.message);
    throw err;
  }
  return validatePolicy(json, source);
}
function loadPolicyFile(path) {
  let bytes3;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new PolicyError(path, "", "is not a regular file");
    if (st.size > MAX_POLICY_BYTES) {
      throw new PolicyError(path, "", `is ${st.size} bytes; policies are limited to ${MAX_POLICY_BYTES} bytes`);
    }
    bytes3 = readFileSync2(path);
  } catch (err) {
    if (err instanceof PolicyError) throw err;
    const code = err.code;
    throw new PolicyError(path, "", code === "ENOENT" ? "cannot be read: no such file" : `cannot be read (${code ?? String(err)})`);
  }
  return parsePolicyBytes(bytes3, path);
}
function checkPolicySet(policies) {
  const byDomain = /* @__PURE__ */ new Map();
  for (const p of policies) {
    const prev = byDomain.get(p.domain);
    if (prev) {
      throw new PolicyError(policySource(p), "/domain", `domain "${p.domain}" is already defined by ${policySource(prev)}; domain ids must be unique`);
    }
    byDomain.set(p.domain, p);
  }
  checkClassesTogether(
    policies.flatMap((policy) => policy.cardClasses.map((cls, index) => ({ policy, index, cls }))),
    policySource
  );
  for (const p of policies) {
    p.intents.request.forEach((g, i) => {
      const target = byDomain.get(g.target);
      if (!target) {
        throw new PolicyError(
          policySource(p),
          `/intents/request/${i}/target`,
          `no policy for domain "${g.target}" is loaded (loaded: ${[...byDomain.keys()].join(", ") || "none"})`
        );
      }
      const handles = new Set(target.intents.handle.map((h2) => h2.action));
      g.actions.forEach((a, j) => {
        if (!handles.has(a)) {
          throw new PolicyError(
            policySource(p),
            `/intents/request/${i}/actions/${j}`,
            `domain "${g.target}" does not handle action "${a}" (its policy ${policySource(target)} handles: ${[...handles].join(", ") || "nothing"})`
          );
        }
      });
    });
  }
}
function nothingPolicy(domain) {
  return validatePolicy(
    {
      schemaVersion: 1,
      domain,
      description: "Built-in policy that grants nothing.",
      applet: { id: domain },
      cardClasses: [],
      store: { quotaBytes: 0 },
      network: { endpoints: [] },
      intents: { request: [], handle: [] },
      ui: { foreground: false, pinEntry: false }
    },
    `built-in nothing policy for "${domain}"`
  );
}

// platform/kernel/packages/verify.ts
import { readFileSync as readFileSync4, statSync as statSync2 } from "node:fs";
import { join as join3 } from "node:path";
import * as asn1js2 from "asn1js";
import * as pkijs2 from "pkijs";

// platform/kernel/packages/keys.ts
import { mkdirSync as mkdirSync3, readFileSync as readFileSync3, renameSync, rmSync, writeFileSync as writeFileSync2, existsSync as existsSync2 } from "node:fs";
import { join as join2 } from "node:path";
import { randomBytes, webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
var KeyError = class extends Error {
  constructor(file, reason) {
    super(`${file}: ${reason}`);
    this.file = file;
    this.reason = reason;
    this.name = "KeyError";
  }
  file;
  reason;
};
var OID = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  ecPublicKey: "1.2.840.10045.2.1",
  rsaEncryption: "1.2.840.113549.1.1.1",
  p256: "1.2.840.10045.3.1.7",
  p384: "1.3.132.0.34",
  p521: "1.3.132.0.35"
};
var CURVES = { [OID.p256]: "P-256", [OID.p384]: "P-384", [OID.p521]: "P-521" };
var engine;
function cryptoEngine() {
  if (!engine) {
    engine = new pkijs.CryptoEngine({ name: "node-webcrypto", crypto: webcrypto });
    pkijs.setEngine("node-webcrypto", engine);
  }
  return engine;
}
function toPem(label, der) {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString("base64");
  return `-----BEGIN ${label}-----
${b64.replace(/.{1,64}/g, "$&\n")}-----END ${label}-----
`;
}
function fromPem(text) {
  const out = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ label: m[1], der: new Uint8Array(Buffer.from(m[2].replace(/\s+/g, ""), "base64")) });
  }
  return out;
}
var toArrayBuffer = (u) => u.slice().buffer;
function parseCertificateDer(der, source) {
  cryptoEngine();
  try {
    return pkijs.Certificate.fromBER(toArrayBuffer(der));
  } catch (err) {
    throw new KeyError(source, `is not a valid X.509 certificate (${err instanceof Error ? err.message : String(err)})`);
  }
}
function parseCertificatesPem(text, source) {
  const blocks = fromPem(text).filter((b) => b.label === "CERTIFICATE");
  if (blocks.length === 0) throw new KeyError(source, 'contains no "BEGIN CERTIFICATE" PEM block');
  return blocks.map((b) => parseCertificateDer(b.der, source));
}
function certificateToPem(cert) {
  return toPem("CERTIFICATE", cert.toSchema().toBER(false));
}
function subjectString(cert) {
  const names = { [OID.commonName]: "CN", [OID.organization]: "O", "2.5.4.6": "C", "2.5.4.11": "OU" };
  return cert.subject.typesAndValues.map((tv) => `${names[tv.type] ?? tv.type}=${String(tv.value.valueBlock.value)}`).join(", ");
}
function loadTrustAnchors(paths) {
  return paths.flatMap((p) => {
    let text;
    try {
      text = readFileSync3(p, "utf8");
    } catch (err) {
      throw new KeyError(p, `trust anchor cannot be read (${err.code ?? String(err)})`);
    }
    return parseCertificatesPem(text, p);
  });
}
function sec1ToPkcs8(sec1, curveOid) {
  const info = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      new asn1js.Sequence({
        value: [new asn1js.ObjectIdentifier({ value: OID.ecPublicKey }), new asn1js.ObjectIdentifier({ value: curveOid })]
      }),
      new asn1js.OctetString({ valueHex: toArrayBuffer(sec1) })
    ]
  });
  return new Uint8Array(info.toBER(false));
}
function algorithmFor(cert, source) {
  const spki = cert.subjectPublicKeyInfo.algorithm;
  if (spki.algorithmId === OID.ecPublicKey) {
    const curveOid = spki.algorithmParams instanceof asn1js.ObjectIdentifier ? spki.algorithmParams.valueBlock.toString() : "";
    const namedCurve = CURVES[curveOid];
    if (!namedCurve) throw new KeyError(source, `uses an unsupported elliptic curve (${curveOid || "unnamed"}); use P-256`);
    return { name: "ECDSA", namedCurve };
  }
  if (spki.algorithmId === OID.rsaEncryption) return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  throw new KeyError(source, `has an unsupported public key algorithm (${spki.algorithmId}); use ECDSA P-256 or RSA`);
}
function curveOidOf(cert) {
  const p = cert.subjectPublicKeyInfo.algorithm.algorithmParams;
  return p instanceof asn1js.ObjectIdentifier ? p.valueBlock.toString() : OID.p256;
}
async function loadSigner(keyPem, certPem, source = "signing key") {
  const crypto = cryptoEngine();
  const chain = certPem.flatMap((pem, i) => parseCertificatesPem(pem, `${source} certificate ${i + 1}`));
  const leaf = chain[0];
  if (!leaf) throw new KeyError(source, "no signing certificate given");
  const block = fromPem(keyPem).find((b) => b.label === "PRIVATE KEY" || b.label === "EC PRIVATE KEY" || b.label === "ENCRYPTED PRIVATE KEY");
  if (!block) throw new KeyError(source, 'contains no "BEGIN PRIVATE KEY" or "BEGIN EC PRIVATE KEY" PEM block');
  if (block.label === "ENCRYPTED PRIVATE KEY") {
    throw new KeyError(source, "is encrypted; decrypt it first (openssl pkcs8 -in key.pem -out plain.pem) and keep the result protected");
  }
  const algorithm = algorithmFor(leaf, source);
  const pkcs8 = block.label === "EC PRIVATE KEY" ? sec1ToPkcs8(block.der, curveOidOf(leaf)) : block.der;
  let privateKey;
  try {
    privateKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, algorithm, false, ["sign"]);
  } catch (err) {
    throw new KeyError(source, `private key cannot be imported as ${algorithm.name} (${err instanceof Error ? err.message : String(err)})`);
  }
  const probe = new Uint8Array(randomBytes(32));
  const sigParams = await crypto.getSignatureParameters(privateKey, "SHA-256");
  const sig = await crypto.signWithPrivateKey(probe, privateKey, sigParams.parameters);
  const ok2 = await crypto.verifyWithPublicKey(
    toArrayBuffer(probe),
    new asn1js.BitString({ valueHex: sig }),
    leaf.subjectPublicKeyInfo,
    sigParams.signatureAlgorithm,
    "SHA-256"
  ).catch(() => false);
  if (!ok2) throw new KeyError(source, `private key does not match the signing certificate (${subjectString(leaf)})`);
  return { chain, privateKey };
}
function name(cn) {
  const rdn = (type, value) => new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type, value: new asn1js.Utf8String({ value }) }).toSchema()] });
  const der = new asn1js.Sequence({ value: [rdn(OID.organization, "Dispositif Integre (development)"), rdn(OID.commonName, cn)] }).toBER(false);
  return new pkijs.RelativeDistinguishedNames({ schema: asn1js.fromBER(der).result });
}
function keyUsage(bits) {
  let byte = 0;
  if (bits.digitalSignature) byte |= 128;
  if (bits.keyCertSign) byte |= 4;
  if (bits.cRLSign) byte |= 2;
  let unused = 0;
  while (unused < 7 && (byte & 1 << unused) === 0) unused++;
  const value = new asn1js.BitString({ valueHex: new Uint8Array([byte]).buffer, unusedBits: unused });
  return new pkijs.Extension({ extnID: OID.keyUsage, critical: true, extnValue: value.toBER(false), parsedValue: value });
}
async function keyIdentifier(publicKeyInfo) {
  return webcrypto.subtle.digest("SHA-1", publicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
}
async function issueCertificate(req) {
  const crypto = cryptoEngine();
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = new Uint8Array(randomBytes(16));
  serial[0] = serial[0] & 127 | 1;
  cert.serialNumber = new asn1js.Integer({ valueHex: serial.buffer });
  cert.subject = name(req.subjectCN);
  cert.issuer = req.issuer ? req.issuer.certificate.subject : name(req.subjectCN);
  const notBefore = req.notBefore ?? new Date(Date.now() - 5 * 6e4);
  cert.notBefore.value = notBefore;
  cert.notAfter.value = req.notAfter ?? new Date(notBefore.getTime() + (req.ca ? 20 : 5) * 365 * 864e5);
  await cert.subjectPublicKeyInfo.importKey(req.publicKey, crypto);
  const ski = await keyIdentifier(cert.subjectPublicKeyInfo);
  const aki = req.issuer ? await keyIdentifier(req.issuer.certificate.subjectPublicKeyInfo) : ski;
  const basic = new pkijs.BasicConstraints({ cA: req.ca });
  const extensions = [
    new pkijs.Extension({ extnID: OID.basicConstraints, critical: true, extnValue: basic.toSchema().toBER(false), parsedValue: basic }),
    req.ca ? keyUsage({ keyCertSign: true, cRLSign: true }) : keyUsage({ digitalSignature: true }),
    new pkijs.Extension({ extnID: OID.subjectKeyId, extnValue: new asn1js.OctetString({ valueHex: ski }).toBER(false) }),
    new pkijs.Extension({
      extnID: OID.authorityKeyId,
      extnValue: new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: aki }) }).toSchema().toBER(false)
    })
  ];
  if (req.codeSigning) {
    const eku = new pkijs.ExtKeyUsage({ keyPurposes: [OID.codeSigning] });
    extensions.push(new pkijs.Extension({ extnID: OID.extKeyUsage, extnValue: eku.toSchema().toBER(false), parsedValue: eku }));
  }
  cert.extensions = extensions;
  const signingKey = req.issuer?.privateKey ?? req.selfKey;
  if (!signingKey) throw new Error("issueCertificate: a self-signed certificate needs selfKey");
  await cert.sign(signingKey, "SHA-256", crypto);
  return pkijs.Certificate.fromBER(cert.toSchema(true).toBER(false));
}
async function generateP256() {
  return webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
}
async function privateKeyToPem(key) {
  return toPem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", key));
}
var DEV_FILES = {
  rootCert: "dev-root-ca.pem",
  rootKey: "dev-root-ca.key.pem",
  signerCert: "dev-signer.pem",
  signerKey: "dev-signer.key.pem"
};
function devKeysDir(dataDir2) {
  return join2(dataDir2, "keys");
}
async function createDevKeys(dir) {
  const rootKeys = await generateP256();
  const root = await issueCertificate({ subjectCN: "DI Development Root CA", publicKey: rootKeys.publicKey, selfKey: rootKeys.privateKey, ca: true });
  const signerKeys = await generateP256();
  const signer = await issueCertificate({
    subjectCN: "DI Development Applet Signer",
    publicKey: signerKeys.publicKey,
    issuer: { certificate: root, privateKey: rootKeys.privateKey },
    ca: false,
    codeSigning: true
  });
  writeFileSync2(join2(dir, DEV_FILES.rootCert), certificateToPem(root), { mode: 420 });
  writeFileSync2(join2(dir, DEV_FILES.signerCert), certificateToPem(signer), { mode: 420 });
  writeFileSync2(join2(dir, DEV_FILES.rootKey), await privateKeyToPem(rootKeys.privateKey), { mode: 384 });
  writeFileSync2(join2(dir, DEV_FILES.signerKey), await privateKeyToPem(signerKeys.privateKey), { mode: 384 });
}
async function loadOrCreateDevKeys(dataDir2) {
  const dir = devKeysDir(dataDir2);
  let created = false;
  if (!existsSync2(join2(dir, DEV_FILES.signerKey))) {
    mkdirSync3(dataDir2, { recursive: true });
    const staging = join2(dataDir2, `.keys-${process.pid}-${randomBytes(4).toString("hex")}`);
    mkdirSync3(staging, { mode: 448 });
    try {
      await createDevKeys(staging);
      renameSync(staging, dir);
      created = true;
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      const code = err.code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
      if (!existsSync2(join2(dir, DEV_FILES.signerKey))) {
        throw new KeyError(dir, `exists but holds no ${DEV_FILES.signerKey}; remove the directory to regenerate the development keys`);
      }
    }
  }
  const read = (f) => readFileSync3(join2(dir, f), "utf8");
  const signer = await loadSigner(read(DEV_FILES.signerKey), [read(DEV_FILES.signerCert)], join2(dir, DEV_FILES.signerKey));
  const root = parseCertificatesPem(read(DEV_FILES.rootCert), join2(dir, DEV_FILES.rootCert))[0];
  return { signer, root, rootPath: join2(dir, DEV_FILES.rootCert), created };
}
async function loadOrCreateDevSigner(dataDir2) {
  return (await loadOrCreateDevKeys(dataDir2)).signer;
}

// platform/kernel/packages/manifest.ts
import { createHash as createHash2 } from "node:crypto";
import { Ajv as Ajv2 } from "ajv";
var PACKAGE_FILES = {
  script: "applet.js",
  policy: "policy.json",
  manifest: "manifest.json",
  signature: "signature.p7s"
};
var PackageError = class extends Error {
  constructor(code, packageDir, reason) {
    super(`${code}: ${packageDir}: ${reason}`);
    this.code = code;
    this.packageDir = packageDir;
    this.reason = reason;
    this.name = "PackageError";
  }
  code;
  packageDir;
  reason;
};
var APPLET_ID_PATTERN = "^[a-z][a-z0-9._-]{1,63}$";
var DOMAIN_PATTERN = "^[a-z][a-z0-9-]{1,31}$";
var VERSION_PATTERN = "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]{1,32})?$";
var sha256Field = { type: "string", pattern: "^[0-9a-f]{64}$" };
var manifestSchema = {
  type: "object",
  additionalProperties: false,
  required: ["format", "id", "version", "domain", "script", "policy", "createdAt"],
  properties: {
    format: { const: 1 },
    id: { type: "string", pattern: APPLET_ID_PATTERN },
    version: { type: "string", pattern: VERSION_PATTERN },
    domain: { type: "string", pattern: DOMAIN_PATTERN },
    script: {
      type: "object",
      additionalProperties: false,
      required: ["file", "sha256"],
      properties: { file: { const: PACKAGE_FILES.script }, sha256: sha256Field }
    },
    policy: {
      type: "object",
      additionalProperties: false,
      required: ["file", "sha256"],
      properties: { file: { const: PACKAGE_FILES.policy }, sha256: sha256Field }
    },
    createdAt: { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$" }
  }
};
var ajv2 = new Ajv2({ allErrors: false, strict: true });
var validateManifestSchema = ajv2.compile(manifestSchema);
function manifestProblem(value) {
  if (validateManifestSchema(value)) return null;
  const e = validateManifestSchema.errors?.[0];
  if (!e) return { field: "/", reason: "does not match the manifest format" };
  const p = e.params;
  if (e.keyword === "required") return { field: `${e.instancePath}/${String(p.missingProperty)}`, reason: "is required but missing" };
  if (e.keyword === "additionalProperties") {
    return { field: `${e.instancePath}/${String(p.additionalProperty)}`, reason: "is not a manifest field" };
  }
  if (e.keyword === "const") return { field: e.instancePath, reason: `must be ${JSON.stringify(p.allowedValue)}` };
  if (e.keyword === "pattern") {
    const hints = {
      [APPLET_ID_PATTERN]: 'must be an applet id (lowercase letters, digits, ".", "_", "-"; starts with a letter)',
      [DOMAIN_PATTERN]: 'must be a domain id (lowercase letters, digits, "-"; starts with a letter)',
      [VERSION_PATTERN]: "must be a semantic version such as 1.2.3",
      [sha256Field.pattern]: "must be a SHA-256 digest as 64 lowercase hex digits"
    };
    return { field: e.instancePath, reason: hints[String(p.pattern)] ?? "must be an ISO 8601 UTC time such as 2024-01-31T12:00:00Z" };
  }
  return { field: e.instancePath || "/", reason: e.message ?? `fails rule "${e.keyword}"` };
}
function sha256Hex(bytes3) {
  return createHash2("sha256").update(bytes3).digest("hex");
}
function serializeManifest(m) {
  const ordered = {
    format: m.format,
    id: m.id,
    version: m.version,
    domain: m.domain,
    script: { file: m.script.file, sha256: m.script.sha256 },
    policy: { file: m.policy.file, sha256: m.policy.sha256 },
    createdAt: m.createdAt
  };
  return new TextEncoder().encode(`${JSON.stringify(ordered, null, 2)}
`);
}

// platform/kernel/packages/verify.ts
var MAX_FILE_BYTES = {
  [PACKAGE_FILES.manifest]: 64 * 1024,
  [PACKAGE_FILES.signature]: 256 * 1024,
  [PACKAGE_FILES.policy]: 1024 * 1024,
  [PACKAGE_FILES.script]: 32 * 1024 * 1024
};
var OID2 = {
  signedData: "1.2.840.113549.1.7.2",
  data: "1.2.840.113549.1.7.1",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  basicConstraints: "2.5.29.19",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  anyExtendedKeyUsage: "2.5.29.37.0",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3"
};
function readPackageFile(packageDir, file, missingCode) {
  const path = join3(packageDir, file);
  let size;
  try {
    const st = statSync2(path);
    if (!st.isFile()) throw new PackageError(missingCode, packageDir, `${file} is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof PackageError) throw err;
    const code = err.code;
    if (code === "ENOENT") {
      throw missingCode === "E_UNSIGNED" ? new PackageError("E_UNSIGNED", packageDir, `${file} is missing: the package is not signed`) : new PackageError("E_MISSING_FILE", packageDir, `${file} is missing`);
    }
    throw new PackageError(missingCode, packageDir, `${file} cannot be read (${code ?? String(err)})`);
  }
  const limit = MAX_FILE_BYTES[file] ?? 1024 * 1024;
  if (size > limit) {
    throw new PackageError(missingCode === "E_UNSIGNED" ? "E_SIGNATURE_FORMAT" : "E_MANIFEST", packageDir, `${file} is ${size} bytes, over the ${limit}-byte limit`);
  }
  return new Uint8Array(readFileSync4(path));
}
var toArrayBuffer2 = (u) => u.slice().buffer;
function parseSignedData(packageDir, der) {
  const bad3 = (why) => {
    throw new PackageError("E_SIGNATURE_FORMAT", packageDir, `${PACKAGE_FILES.signature} ${why}`);
  };
  const asn1 = asn1js2.fromBER(toArrayBuffer2(der));
  if (asn1.offset === -1) return bad3(`is not DER-encoded ASN.1 (${asn1.result.error || "cannot be decoded"})`);
  if (asn1.offset !== der.byteLength) bad3(`has ${der.byteLength - asn1.offset} trailing bytes after the CMS structure`);
  let contentInfo;
  try {
    contentInfo = new pkijs2.ContentInfo({ schema: asn1.result });
  } catch {
    return bad3("is ASN.1 but not a CMS ContentInfo");
  }
  if (contentInfo.contentType !== OID2.signedData) bad3(`holds CMS content type ${contentInfo.contentType}, not SignedData`);
  let signedData;
  try {
    signedData = new pkijs2.SignedData({ schema: contentInfo.content });
  } catch {
    return bad3("is not a well-formed CMS SignedData");
  }
  if (signedData.signerInfos.length !== 1) bad3(`must have exactly one signer, has ${signedData.signerInfos.length}`);
  if (signedData.encapContentInfo.eContent) bad3("embeds its content; the signature must be detached (over manifest.json as stored)");
  const digestOid = signedData.signerInfos[0].digestAlgorithm.algorithmId;
  if (digestOid !== OID2.sha256 && digestOid !== OID2.sha384 && digestOid !== OID2.sha512) {
    bad3(`uses digest algorithm ${digestOid}; only SHA-256, SHA-384 and SHA-512 are accepted`);
  }
  if (!signedData.certificates?.some((c2) => c2 instanceof pkijs2.Certificate)) {
    bad3("includes no certificate; the signing certificate (and its chain) must be included");
  }
  return signedData;
}
function extension(cert, oid) {
  return cert.extensions?.find((e) => e.extnID === oid);
}
function signingCertificateProblem(cert) {
  const bc = extension(cert, OID2.basicConstraints);
  if (bc && bc.parsedValue instanceof pkijs2.BasicConstraints && bc.parsedValue.cA) {
    return "it is a CA certificate; packages must be signed by an end-entity certificate issued by the CA";
  }
  const ku = extension(cert, OID2.keyUsage);
  if (ku) {
    const bits = ku.parsedValue instanceof asn1js2.BitString ? new Uint8Array(ku.parsedValue.valueBlock.valueHexView) : new Uint8Array();
    if (((bits[0] ?? 0) & 128) === 0) return "its keyUsage does not include digitalSignature";
  }
  const eku = extension(cert, OID2.extKeyUsage);
  if (eku && eku.parsedValue instanceof pkijs2.ExtKeyUsage) {
    const purposes = eku.parsedValue.keyPurposes;
    if (!purposes.includes(OID2.codeSigning) && !purposes.includes(OID2.anyExtendedKeyUsage)) {
      return `its extendedKeyUsage (${purposes.join(", ")}) does not include codeSigning`;
    }
  }
  return null;
}
function findSignerCertificate(signedData) {
  const sid = signedData.signerInfos[0].sid;
  if (!(sid instanceof pkijs2.IssuerAndSerialNumber)) return void 0;
  return signedData.certificates?.find(
    (c2) => c2 instanceof pkijs2.Certificate && c2.issuer.isEqual(sid.issuer) && c2.serialNumber.isEqual(sid.serialNumber)
  );
}
async function checkChain(packageDir, signerCert, signedData, anchors, now) {
  const who = subjectString(signerCert);
  const refuse = (why) => {
    throw new PackageError("E_UNKNOWN_SIGNER", packageDir, `signer "${who}" ${why}`);
  };
  if (anchors.length === 0) refuse("cannot be trusted: no trust anchor is configured");
  if (signerCert.notBefore.value > now) refuse(`has a certificate not valid before ${signerCert.notBefore.value.toISOString()}`);
  if (signerCert.notAfter.value < now) refuse(`has a certificate that expired on ${signerCert.notAfter.value.toISOString()}`);
  const problem = signingCertificateProblem(signerCert);
  if (problem) refuse(`may not sign packages: ${problem}`);
  const intermediates = (signedData.certificates ?? []).filter(
    (c2) => c2 instanceof pkijs2.Certificate && c2 !== signerCert
  );
  const engine2 = new pkijs2.CertificateChainValidationEngine({
    trustedCerts: anchors,
    certs: [...intermediates, signerCert],
    checkDate: now
  });
  let result;
  try {
    result = await engine2.verify({}, cryptoEngine());
  } catch (err) {
    const msg = err.resultMessage ?? (err instanceof Error ? err.message : String(err));
    return refuse(`does not chain to any trusted anchor (${msg})`);
  }
  if (!result.result) refuse(`does not chain to any trusted anchor (${result.resultMessage ?? "chain validation failed"})`);
  const path = result.certificatePath ?? [];
  for (const issuer of path.slice(1)) {
    const bc = extension(issuer, OID2.basicConstraints);
    if (!(bc && bc.parsedValue instanceof pkijs2.BasicConstraints && bc.parsedValue.cA)) {
      refuse(`is issued through "${subjectString(issuer)}", which is not a CA certificate`);
    }
  }
}
async function verifyPackage(packageDir, options) {
  cryptoEngine();
  const now = options.now ?? /* @__PURE__ */ new Date();
  const manifestBytes = readPackageFile(packageDir, PACKAGE_FILES.manifest, "E_MISSING_FILE");
  const signatureBytes = readPackageFile(packageDir, PACKAGE_FILES.signature, "E_UNSIGNED");
  const signedData = parseSignedData(packageDir, signatureBytes);
  const signerCert = findSignerCertificate(signedData);
  if (!signerCert) {
    throw new PackageError("E_SIGNATURE_FORMAT", packageDir, `${PACKAGE_FILES.signature} does not include the certificate its signer names`);
  }
  let verified;
  try {
    const r = await signedData.verify({ signer: 0, data: toArrayBuffer2(manifestBytes), checkChain: false, extendedMode: true }, cryptoEngine());
    verified = r.signatureVerified === true;
  } catch {
    verified = false;
  }
  if (!verified) {
    throw new PackageError(
      "E_BAD_SIGNATURE",
      packageDir,
      `${PACKAGE_FILES.signature} does not verify over ${PACKAGE_FILES.manifest}: the manifest was changed after signing, or the signature was made over other content`
    );
  }
  await checkChain(packageDir, signerCert, signedData, options.trustAnchors, now);
  let manifestJson;
  try {
    manifestJson = parseStrictJson(new TextDecoder("utf-8", { fatal: true }).decode(manifestBytes));
  } catch (err) {
    throw new PackageError("E_MANIFEST", packageDir, `${PACKAGE_FILES.manifest}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const problem = manifestProblem(manifestJson);
  if (problem) throw new PackageError("E_MANIFEST", packageDir, `${PACKAGE_FILES.manifest}: ${problem.field}: ${problem.reason}`);
  const manifest = manifestJson;
  const scriptBytes = readPackageFile(packageDir, PACKAGE_FILES.script, "E_MISSING_FILE");
  const policyBytes = readPackageFile(packageDir, PACKAGE_FILES.policy, "E_MISSING_FILE");
  for (const [file, bytes3, expected] of [
    [PACKAGE_FILES.script, scriptBytes, manifest.script.sha256],
    [PACKAGE_FILES.policy, policyBytes, manifest.policy.sha256]
  ]) {
    const actual = sha256Hex(bytes3);
    if (actual !== expected) {
      throw new PackageError(
        "E_HASH_MISMATCH",
        packageDir,
        `${file} has SHA-256 ${actual.slice(0, 16)}\u2026 but the signed manifest says ${expected.slice(0, 16)}\u2026: the file was changed after signing`
      );
    }
  }
  let script;
  try {
    script = new TextDecoder("utf-8", { fatal: true }).decode(scriptBytes);
  } catch {
    throw new PackageError("E_MANIFEST", packageDir, `${PACKAGE_FILES.script} is not valid UTF-8 text`);
  }
  let policy;
  try {
    policy = parsePolicyBytes(policyBytes, join3(packageDir, PACKAGE_FILES.policy));
  } catch (err) {
    if (err instanceof PolicyError) throw new PackageError("E_POLICY", packageDir, err.message);
    throw err;
  }
  if (policy.domain !== manifest.domain) {
    throw new PackageError("E_POLICY", packageDir, `${PACKAGE_FILES.policy}: /domain: is "${policy.domain}" but the manifest's domain is "${manifest.domain}"`);
  }
  if (policy.applet.id !== manifest.id) {
    throw new PackageError("E_POLICY", packageDir, `${PACKAGE_FILES.policy}: /applet/id: is "${policy.applet.id}" but the manifest's id is "${manifest.id}"`);
  }
  return {
    manifest: Object.freeze({ ...manifest, script: Object.freeze({ ...manifest.script }), policy: Object.freeze({ ...manifest.policy }) }),
    script,
    policy,
    policyBytes,
    signerSubject: subjectString(signerCert)
  };
}

// platform/kernel/packages/pack.ts
import { existsSync as existsSync3, mkdirSync as mkdirSync4, readFileSync as readFileSync5, realpathSync, rmSync as rmSync2, writeFileSync as writeFileSync3 } from "node:fs";
import { isAbsolute, join as join4, relative, resolve as resolve3 } from "node:path";
import { fileURLToPath } from "node:url";
import { webcrypto as webcrypto2 } from "node:crypto";
import * as asn1js3 from "asn1js";
import * as pkijs3 from "pkijs";
import { build } from "esbuild";
var OID_DATA = "1.2.840.113549.1.7.1";
var OID_SIGNED_DATA = "1.2.840.113549.1.7.2";
var OID_CONTENT_TYPE = "1.2.840.113549.1.9.3";
var OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4";
var OID_SIGNING_TIME = "1.2.840.113549.1.9.5";
function defaultSdkDir() {
  const candidates = [new URL("../../sdk/", import.meta.url), new URL("../platform/sdk/", import.meta.url)];
  for (const c2 of candidates) {
    const p = fileURLToPath(c2);
    if (existsSync3(join4(p, "api.ts"))) return p;
  }
  return fileURLToPath(candidates[0]);
}
function readAppletJson(dir) {
  const file = join4(dir, "applet.json");
  const fail2 = (field, reason) => {
    throw new PackageError("E_PACK", dir, `applet.json: ${field}: ${reason}`);
  };
  let text;
  try {
    text = readFileSync5(file, "utf8");
  } catch (err) {
    return fail2("/", `cannot be read (${err.code ?? String(err)}); an applet directory needs an applet.json`);
  }
  let json;
  try {
    json = parseStrictJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) return fail2(err.pointer || "/", err.message);
    throw err;
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) return fail2("/", "must be a JSON object");
  const obj2 = json;
  const allowed = ["id", "version", "domain", "entry", "policy"];
  for (const k of Object.keys(obj2)) if (!allowed.includes(k)) fail2(`/${k}`, `unknown field (allowed: ${allowed.join(", ")})`);
  const str3 = (k, pattern, hint) => {
    const v = obj2[k];
    if (typeof v !== "string") return fail2(`/${k}`, v === void 0 ? "is required but missing" : "must be a string");
    if (pattern && !new RegExp(pattern).test(v)) return fail2(`/${k}`, `${hint}; got ${JSON.stringify(v)}`);
    return v;
  };
  const id2 = str3("id", APPLET_ID_PATTERN, 'must be an applet id (lowercase letters, digits, ".", "_", "-"; starts with a letter)');
  const version = str3("version", VERSION_PATTERN, "must be a semantic version such as 1.0.0");
  const domain = str3("domain", DOMAIN_PATTERN, 'must be a domain id (lowercase letters, digits, "-"; starts with a letter)');
  const entry = str3("entry", null, "");
  const policy = str3("policy", null, "");
  if (isAbsolute(entry) || entry.split(/[\\/]/).includes("..") || !/\.(ts|js|mts|mjs)$/.test(entry)) {
    fail2("/entry", `must be a .ts or .js file inside the applet directory, given relative to it; got ${JSON.stringify(entry)}`);
  }
  if (!policy.endsWith(".json")) fail2("/policy", `must be the path of the policy .json file, relative to the applet directory; got ${JSON.stringify(policy)}`);
  return { id: id2, version, domain, entry, policy };
}
function isInside(root, p) {
  const rel = relative(root, p);
  return rel === "" || !rel.startsWith("..") && !isAbsolute(rel);
}
function confinePlugin(appletDir, sdkDir) {
  const roots = [appletDir, sdkDir].map((r) => existsSync3(r) ? realpathSync(r) : resolve3(r));
  return {
    name: "applet-confinement",
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.confined) return void 0;
        if (args.kind === "entry-point") return void 0;
        const spec = args.path;
        const from = args.importer ? relative(appletDir, args.importer) || args.importer : "the entry";
        if (!spec.startsWith(".") && !isAbsolute(spec)) {
          return {
            errors: [
              {
                text: `"${spec}" (imported by ${from}) is a package or Node built-in; applets may import only files inside the applet directory and platform/sdk (the sandbox has no modules, file system or network)`
              }
            ]
          };
        }
        const r = await b.resolve(spec, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { confined: true } });
        if (r.errors.length > 0) return { errors: r.errors };
        const real = existsSync3(r.path) ? realpathSync(r.path) : r.path;
        if (!roots.some((root) => isInside(root, real))) {
          return {
            errors: [
              {
                text: `"${spec}" (imported by ${from}) resolves to ${real}, outside the applet directory and platform/sdk; copy what you need into the applet`
              }
            ]
          };
        }
        return r;
      });
    }
  };
}
function formatBuildErrors(errors) {
  return errors.slice(0, 5).map((e) => e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: ${e.text}` : e.text).join("; ");
}
async function bundleApplet(appletDir, entry, sdkDir = defaultSdkDir()) {
  const entryPath = join4(appletDir, entry);
  if (!existsSync3(entryPath)) throw new PackageError("E_PACK", appletDir, `entry ${entry} does not exist`);
  try {
    const result = await build({
      entryPoints: [entryPath],
      bundle: true,
      write: false,
      format: "iife",
      platform: "neutral",
      target: "es2022",
      minify: false,
      sourcemap: false,
      legalComments: "none",
      logLevel: "silent",
      // Relative to the applet so the script does not embed the packager's absolute paths.
      absWorkingDir: realpathSync(appletDir),
      plugins: [confinePlugin(appletDir, sdkDir)]
    });
    const out = result.outputFiles[0];
    if (!out) throw new PackageError("E_PACK", appletDir, "the bundler produced no output");
    return out.text;
  } catch (err) {
    if (err instanceof PackageError) throw err;
    const errors = err.errors;
    throw new PackageError(
      "E_PACK",
      appletDir,
      `cannot bundle ${entry}: ${errors && errors.length > 0 ? formatBuildErrors(errors) : err instanceof Error ? err.message : String(err)}`
    );
  }
}
async function signDetached(content, signer, now = /* @__PURE__ */ new Date()) {
  const crypto = cryptoEngine();
  const leaf = signer.chain[0];
  if (!leaf) throw new Error("signDetached: the signer has no certificate");
  const digest = await webcrypto2.subtle.digest("SHA-256", content);
  const signedData = new pkijs3.SignedData({
    version: 1,
    encapContentInfo: new pkijs3.EncapsulatedContentInfo({ eContentType: OID_DATA }),
    signerInfos: [
      new pkijs3.SignerInfo({
        version: 1,
        sid: new pkijs3.IssuerAndSerialNumber({ issuer: leaf.issuer, serialNumber: leaf.serialNumber }),
        signedAttrs: new pkijs3.SignedAndUnsignedAttributes({
          type: 0,
          attributes: [
            new pkijs3.Attribute({ type: OID_CONTENT_TYPE, values: [new asn1js3.ObjectIdentifier({ value: OID_DATA })] }),
            new pkijs3.Attribute({ type: OID_MESSAGE_DIGEST, values: [new asn1js3.OctetString({ valueHex: digest })] }),
            new pkijs3.Attribute({ type: OID_SIGNING_TIME, values: [new asn1js3.UTCTime({ valueDate: now })] })
          ]
        })
      })
    ],
    certificates: signer.chain
  });
  await signedData.sign(signer.privateKey, 0, "SHA-256", content.slice().buffer, crypto);
  const contentInfo = new pkijs3.ContentInfo({ contentType: OID_SIGNED_DATA, content: signedData.toSchema(true) });
  return new Uint8Array(contentInfo.toSchema().toBER(false));
}
async function packApplet(options) {
  const dir = resolve3(options.dir);
  const source = readAppletJson(dir);
  const policyPath = resolve3(dir, source.policy);
  let policyBytes;
  try {
    policyBytes = new Uint8Array(readFileSync5(policyPath));
  } catch (err) {
    throw new PackageError("E_POLICY", dir, `policy ${policyPath} (from applet.json /policy) cannot be read (${err.code ?? String(err)})`);
  }
  let policy;
  try {
    policy = parsePolicyBytes(policyBytes, policyPath);
  } catch (err) {
    if (err instanceof PolicyError) throw new PackageError("E_POLICY", dir, err.message);
    throw err;
  }
  if (policy.domain !== source.domain) {
    throw new PackageError("E_POLICY", dir, `${policyPath}: /domain: is "${policy.domain}" but applet.json says domain "${source.domain}"`);
  }
  if (policy.applet.id !== source.id) {
    throw new PackageError("E_POLICY", dir, `${policyPath}: /applet/id: is "${policy.applet.id}" but applet.json says id "${source.id}"`);
  }
  const script = await bundleApplet(dir, source.entry, options.sdkDir);
  const scriptBytes = new TextEncoder().encode(script);
  const manifest = {
    format: 1,
    id: source.id,
    version: source.version,
    domain: source.domain,
    script: { file: PACKAGE_FILES.script, sha256: sha256Hex(scriptBytes) },
    policy: { file: PACKAGE_FILES.policy, sha256: sha256Hex(policyBytes) },
    createdAt: (options.now ?? /* @__PURE__ */ new Date()).toISOString()
  };
  const manifestBytes = serializeManifest(manifest);
  let signature;
  try {
    signature = await signDetached(manifestBytes, options.signer, options.now);
  } catch (err) {
    throw new PackageError("E_PACK", dir, `signing failed (${err instanceof Error ? err.message : String(err)})`);
  }
  const packageDir = join4(resolve3(options.outDir), source.id);
  rmSync2(packageDir, { recursive: true, force: true });
  mkdirSync4(packageDir, { recursive: true });
  writeFileSync3(join4(packageDir, PACKAGE_FILES.script), scriptBytes);
  writeFileSync3(join4(packageDir, PACKAGE_FILES.policy), policyBytes);
  writeFileSync3(join4(packageDir, PACKAGE_FILES.manifest), manifestBytes);
  writeFileSync3(join4(packageDir, PACKAGE_FILES.signature), signature);
  return { packageDir, manifest };
}

// platform/kernel/terminal.ts
import { EventEmitter } from "node:events";

// platform/kernel/errors.ts
var KernelError = class extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
    this.name = "KernelError";
  }
  code;
};
function toWireError(err, redact) {
  if (err !== null && typeof err === "object" && "code" in err && typeof err.code === "string") {
    const e = err;
    return { code: e.code, message: redact(String(e.message ?? e.code)).slice(0, 1024) };
  }
  return { code: "E_INTERNAL", message: "internal kernel error (see the kernel log)" };
}

// platform/kernel/terminal.ts
var KEYS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "OK", "ANNULER", "CORR"];
var Terminal = class extends EventEmitter {
  view = { domain: null, screen: { title: "Dispositif Int\xE9gr\xE9", lines: ["D\xE9marrage\u2026"] }, question: null, pinEntry: null };
  backScreens = /* @__PURE__ */ new Map();
  owner = null;
  waiting = [];
  pin = null;
  asker = null;
  /** Keys typed ahead (scripted runs, tests): consumed by the next PIN entry or question. */
  typeAhead = [];
  current() {
    return structuredClone(this.view);
  }
  foreground() {
    return this.owner;
  }
  /** Shows a domain's screen: at once if it holds or may take the foreground, else when its turn comes. */
  show(domain, screen) {
    this.backScreens.set(domain, screen);
    if (this.owner === null || this.owner === domain) {
      if (this.pin && this.owner === domain) return;
      this.setView({ domain, screen, question: null, pinEntry: null });
    }
  }
  kernelScreen(screen) {
    if (this.owner === null) this.setView({ domain: null, screen, question: null, pinEntry: null });
  }
  /** Runs `fn` with the screen and keypad held for `domain`; callers queue FIFO. Starts at once when free. */
  withForeground(domain, signal, fn) {
    if (this.owner === domain) return fn();
    if (this.owner === null) {
      this.owner = domain;
      return this.runHeld(fn);
    }
    return this.acquire(domain, signal).then(() => this.runHeld(fn));
  }
  async runHeld(fn) {
    try {
      return await fn();
    } finally {
      this.releaseForeground();
    }
  }
  ask(domain, q, timeoutMs, signal) {
    return this.withForeground(
      domain,
      signal,
      () => new Promise((resolve6) => {
        const done = (choice) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          this.asker = null;
          this.setView({ ...this.view, question: null });
          resolve6(choice);
        };
        const timer = setTimeout(() => done(-1), timeoutMs);
        const onAbort = () => done(-1);
        signal?.addEventListener("abort", onAbort, { once: true });
        this.asker = { domain, choices: q.choices.length, finish: done };
        this.setView({ domain, screen: this.backScreens.get(domain) ?? { lines: [] }, question: q, pinEntry: null });
        this.drainTypeAhead();
      })
    );
  }
  /** The practitioner picked a choice on screen (web terminal, tests). */
  answer(choice) {
    const a = this.asker;
    if (!a || !Number.isInteger(choice) || choice < 0 || choice >= a.choices) return false;
    a.finish(choice);
    return true;
  }
  /**
   * Secure PIN entry. The digits land in a buffer the caller must zero once the VERIFY is built;
   * the screen only ever learns how many digits were typed.
   */
  readPin(domain, prompt, opts, signal) {
    return this.withForeground(
      domain,
      signal,
      () => new Promise((resolve6) => {
        const buf = new Uint8Array(opts.maxDigits);
        const finish = (r) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          const c2 = this.pin;
          this.pin = null;
          this.setView({ domain, screen: this.backScreens.get(domain) ?? { lines: [] }, question: null, pinEntry: null });
          if (r === "ok" && c2 && c2.len >= opts.minDigits) resolve6({ status: "ok", digits: buf, length: c2.len });
          else {
            buf.fill(0);
            resolve6({ status: r === "ok" ? "cancelled" : r });
          }
        };
        const timer = setTimeout(() => finish("timeout"), opts.timeoutMs);
        const onAbort = () => finish("cancelled");
        signal?.addEventListener("abort", onAbort, { once: true });
        this.pin = {
          buf,
          len: 0,
          finish: (r) => {
            if (r === "ok" && (this.pin?.len ?? 0) < opts.minDigits) return;
            finish(r);
          }
        };
        this.setView({ domain, screen: { title: "Code confidentiel", lines: [prompt] }, question: null, pinEntry: { prompt, digits: 0 } });
        this.drainTypeAhead();
      })
    );
  }
  /** A key on the physical (emulated) keypad. Returns false when nothing was waiting for a key. */
  press(key) {
    if (!KEYS.includes(key)) throw new KernelError("E_UI", `unknown key ${JSON.stringify(key)} (keys: ${KEYS.join(" ")})`);
    const pin = this.pin;
    if (pin) {
      if (key === "OK") pin.finish("ok");
      else if (key === "ANNULER") pin.finish("cancelled");
      else if (key === "CORR") {
        if (pin.len > 0) pin.buf[--pin.len] = 0;
      } else if (pin.len < pin.buf.length) pin.buf[pin.len++] = key.charCodeAt(0) - 48;
      if (this.pin === pin) this.setView({ ...this.view, pinEntry: { prompt: this.view.pinEntry?.prompt ?? "", digits: pin.len } });
      return true;
    }
    const a = this.asker;
    if (a) {
      if (key === "ANNULER") a.finish(-1);
      else if (key !== "OK" && key !== "CORR") {
        const n2 = Number(key) - 1;
        if (n2 >= 0 && n2 < a.choices) a.finish(n2);
      }
      return true;
    }
    return false;
  }
  /** Queue keys for the next PIN entry or question (scripted days, `di eval`, tests). */
  typeKeys(keys) {
    for (const k of keys) if (!KEYS.includes(k)) throw new KernelError("E_UI", `unknown key ${JSON.stringify(k)}`);
    this.typeAhead.push(...keys);
    this.drainTypeAhead();
  }
  drainTypeAhead() {
    while (this.typeAhead.length > 0 && (this.pin || this.asker)) {
      const k = this.typeAhead.shift();
      this.press(k);
    }
  }
  acquire(domain, signal) {
    return new Promise((resolve6, reject) => {
      const entry = {
        domain,
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve6();
        }
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new KernelError("E_UI", "gave up waiting for the screen"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
    });
  }
  releaseForeground() {
    const next = this.waiting.shift();
    this.owner = next?.domain ?? null;
    if (next) {
      const back = this.backScreens.get(next.domain);
      if (back) this.setView({ domain: next.domain, screen: back, question: null, pinEntry: null });
      next.grant();
    }
  }
  setView(v) {
    this.view = v;
    this.emit("view", this.current());
  }
};

// platform/kernel/router.ts
var ProtocolViolation = class extends Error {
};
var InFlightCall = class {
  constructor(onAbort) {
    this.onAbort = onAbort;
  }
  onAbort;
  controller = null;
  reason = void 0;
  aborted = false;
  get signal() {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }
  abort(reason) {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.onAbort(reason);
  }
};
var Router = class {
  constructor(opts) {
    this.opts = opts;
    this.now = opts.now ?? (() => performance.now());
  }
  opts;
  gates = /* @__PURE__ */ new Map();
  now;
  attach(domain, policy) {
    this.gates.set(domain, { policy, inFlight: /* @__PURE__ */ new Map(), tokens: policy.limits.ratePerSecond, refilledAt: this.now() });
  }
  /** Aborts everything in flight for a domain without replying (its isolate or process is gone). */
  cancelAll(domain) {
    const gate = this.gates.get(domain);
    if (!gate) return;
    const calls = [...gate.inFlight.values()];
    gate.inFlight.clear();
    for (const call of calls) call.abort(new KernelError("E_TERMINATED", "the caller was terminated"));
  }
  inFlight(domain) {
    return this.gates.get(domain)?.inFlight.size ?? 0;
  }
  /** Throws ProtocolViolation for a request the host could not honestly have sent. */
  dispatch(domain, msg, reply) {
    const gate = this.gates.get(domain);
    if (!gate) throw new ProtocolViolation(`request from unknown domain ${domain}`);
    if (gate.inFlight.has(msg.id)) throw new ProtocolViolation(`request id ${msg.id} reused while still in flight`);
    const refuse = (error) => {
      this.opts.onRefusal?.(domain, msg.op, error);
      reply(msg.id, { ok: false, error });
    };
    if (gate.inFlight.size >= gate.policy.limits.queueLength) {
      refuse({ code: "E_QUEUE", message: `too many platform calls in flight (limit ${gate.policy.limits.queueLength}); await earlier calls first` });
      return;
    }
    if (!this.take(gate)) {
      refuse({ code: "E_RATE", message: `rate limit exceeded (${gate.policy.limits.ratePerSecond} calls/s)` });
      return;
    }
    const op = msg.op;
    const handler = this.opts.ops[op];
    const deadline = this.opts.deadlineMs(op, msg.args, gate.policy);
    let settled = false;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (gate.inFlight.get(msg.id) !== call) return;
      gate.inFlight.delete(msg.id);
      if (!result.ok && (result.error.code === "E_POLICY" || result.error.code === "E_LEASE" || result.error.code === "E_APDU_DENIED")) {
        this.opts.onRefusal?.(domain, op, result.error);
      }
      reply(msg.id, result);
    };
    const fail2 = (err) => finish({ ok: false, error: toWireError(err, this.opts.redact) });
    const call = new InFlightCall(fail2);
    gate.inFlight.set(msg.id, call);
    const timer = setTimeout(() => call.abort(new KernelError("E_DEADLINE", `${op} did not complete within ${deadline} ms`)), deadline);
    const ctx = {
      domain,
      policy: gate.policy,
      get signal() {
        return call.signal;
      }
    };
    let pending;
    try {
      pending = handler(ctx, msg.args);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then((value) => finish({ ok: true, value }), fail2);
  }
  take(gate) {
    const now = this.now();
    const rate = gate.policy.limits.ratePerSecond;
    gate.tokens = Math.min(rate, gate.tokens + (now - gate.refilledAt) / 1e3 * rate);
    gate.refilledAt = now;
    if (gate.tokens < 1) return false;
    gate.tokens -= 1;
    return true;
  }
};

// platform/kernel/supervisor.ts
import { EventEmitter as EventEmitter3 } from "node:events";

// platform/kernel/host-process.ts
import { spawn } from "node:child_process";
import { EventEmitter as EventEmitter2 } from "node:events";

// platform/wire/frames.ts
import { Packr as Packr2 } from "msgpackr";
var DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
var HEADER_BYTES = 4;
var FrameError = class extends Error {
  name = "FrameError";
};
var packr2 = new Packr2({
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  mapsAsObjects: true,
  copyBuffers: true,
  bundleStrings: false,
  encodeUndefinedAsNil: false
});
function encodeFrame(msg, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
  let body;
  try {
    body = packr2.pack(msg);
  } catch (err) {
    throw new FrameError(`frame: cannot encode message: ${err.message}`);
  }
  if (body.length > maxFrameBytes) {
    throw new FrameError(`frame: body of ${body.length} bytes exceeds the ${maxFrameBytes}-byte limit`);
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, HEADER_BYTES);
  return frame;
}
var FrameDecoder = class {
  maxFrameBytes;
  chunks = [];
  buffered = 0;
  failed = false;
  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > 4294967295) {
      throw new RangeError("FrameDecoder: maxFrameBytes must be an integer in 1..2^32-1");
    }
    this.maxFrameBytes = maxFrameBytes;
  }
  /** Bytes held waiting for the rest of a frame. */
  get pendingBytes() {
    return this.buffered;
  }
  push(chunk) {
    if (this.failed) throw new FrameError("frame: decoder already failed");
    if (chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out = [];
    try {
      for (; ; ) {
        if (this.buffered < HEADER_BYTES) break;
        const length = this.peekLength();
        if (length > this.maxFrameBytes) {
          throw new FrameError(`frame: length prefix ${length} exceeds the ${this.maxFrameBytes}-byte limit`);
        }
        if (length === 0) throw new FrameError("frame: empty body");
        if (this.buffered < HEADER_BYTES + length) break;
        const frame = this.take(HEADER_BYTES + length);
        out.push(decodeBody(frame.subarray(HEADER_BYTES)));
      }
    } catch (err) {
      this.failed = true;
      this.chunks = [];
      this.buffered = 0;
      throw err;
    }
    return out;
  }
  peekLength() {
    const first = this.chunks[0];
    if (first !== void 0 && first.length >= HEADER_BYTES) return first.readUInt32BE(0);
    const head = Buffer.concat(this.chunks, HEADER_BYTES);
    return head.readUInt32BE(0);
  }
  take(n2) {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const frame = all.subarray(0, n2);
    const rest = all.subarray(n2);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
};
function decodeBody(body) {
  const view = new Uint8Array(body.buffer, body.byteOffset, body.length);
  try {
    return packr2.unpack(view);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new FrameError(`frame: undecodable body: ${detail.slice(0, 200)}`);
  }
}

// platform/wire/validate.ts
import { isProxy } from "node:util/types";

// platform/sdk/api.ts
var HANDLER_NAMES = ["main", "onStart", "onCardInserted", "onCardRemoved", "onIntent"];

// platform/wire/messages.ts
var REQUEST_OPS = [
  "slots.acquire",
  "slots.list",
  "lease.transmit",
  "lease.reset",
  "lease.release",
  "pin.verify",
  "ui.show",
  "ui.ask",
  "store.get",
  "store.put",
  "store.delete",
  "store.list",
  "store.transaction",
  "net.send",
  "net.fetch",
  "intents.request",
  "crypto.digest",
  "crypto.random",
  "clock.now",
  "log"
];

// platform/wire/validate.ts
var ProtocolError = class extends Error {
  name = "ProtocolError";
};
var MAX_WIRE_DEPTH = 32;
var MAX_WIRE_NODES = 1e4;
var MAX_ID = 2147483647;
var MAX_DETAIL_CHARS = 64 * 1024;
var FORBIDDEN_KEYS = /* @__PURE__ */ new Set(["__proto__", "constructor", "prototype"]);
var HANDLERS = new Set(HANDLER_NAMES);
var OPS = new Set(REQUEST_OPS);
var BREACH_KINDS = /* @__PURE__ */ new Set(["cpu", "wall", "memory", "deadline", "crash"]);
var ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;
function fail(path, what) {
  throw new ProtocolError(`${path}: ${what}`);
}
function describe(x) {
  if (x === null) return "null";
  if (isProxy(x)) return "proxy";
  if (Array.isArray(x)) return "array";
  if (x instanceof Uint8Array) return "Uint8Array";
  return typeof x;
}
function child(path, key) {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
function isPlainObject2(x) {
  if (typeof x !== "object" || x === null || isProxy(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}
function isBytes(x) {
  if (typeof x !== "object" || x === null || isProxy(x) || !(x instanceof Uint8Array)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Uint8Array.prototype || proto === Buffer.prototype;
}
function ownData(x, path) {
  const out = /* @__PURE__ */ Object.create(null);
  for (const key of Reflect.ownKeys(x)) {
    if (typeof key !== "string") fail(path, "symbol keys are not allowed");
    if (FORBIDDEN_KEYS.has(key)) fail(child(path, key), "forbidden key");
    const desc = Reflect.getOwnPropertyDescriptor(x, key);
    if (desc === void 0 || !("value" in desc)) fail(child(path, key), "accessor properties are not allowed");
    if (!desc.enumerable) fail(child(path, key), "non-enumerable property");
    out[key] = desc.value;
  }
  return out;
}
function checkWire(x, path, depth, budget) {
  if (++budget.nodes > MAX_WIRE_NODES) fail(path, `more than ${MAX_WIRE_NODES} values`);
  if (depth > MAX_WIRE_DEPTH) fail(path, `nested deeper than ${MAX_WIRE_DEPTH}`);
  switch (typeof x) {
    case "boolean":
    case "number":
    case "string":
      return;
    case "object":
      break;
    default:
      fail(path, `expected a wire value, got ${typeof x}`);
  }
  if (x === null) return;
  if (isBytes(x)) return;
  if (Array.isArray(x)) {
    if (isProxy(x) || Object.getPrototypeOf(x) !== Array.prototype) fail(path, "expected a plain array");
    const keys = Reflect.ownKeys(x);
    if (keys.length !== x.length + 1) fail(path, "array with holes or extra properties");
    for (let i = 0; i < x.length; i++) {
      const desc = Reflect.getOwnPropertyDescriptor(x, i);
      if (desc === void 0 || !("value" in desc)) fail(`${path}[${i}]`, "hole or accessor in array");
      checkWire(desc.value, `${path}[${i}]`, depth + 1, budget);
    }
    return;
  }
  if (!isPlainObject2(x)) fail(path, "expected a plain object, array, Uint8Array or primitive");
  const props = ownData(x, path);
  for (const key of Object.keys(props)) checkWire(props[key], child(path, key), depth + 1, budget);
}
function validateWireValue(x, path = "value") {
  checkWire(x, path, 0, { nodes: 0 });
  return x;
}
function fields(x, path, required, optional = []) {
  if (!isPlainObject2(x)) fail(path, `expected object, got ${describe(x)}`);
  const props = ownData(x, path);
  for (const key of Object.keys(props)) {
    if (required.includes(key)) continue;
    if (optional.includes(key)) {
      if (props[key] === void 0) delete props[key];
      continue;
    }
    fail(child(path, key), "unexpected field");
  }
  for (const key of required) {
    if (!(key in props)) fail(child(path, key), "missing field");
  }
  return props;
}
function str(v, path, max = MAX_DETAIL_CHARS) {
  if (typeof v !== "string") fail(path, `expected string, got ${describe(v)}`);
  if (v.length > max) fail(path, `string longer than ${max}`);
  return v;
}
function bool(v, path) {
  if (typeof v !== "boolean") fail(path, `expected boolean, got ${describe(v)}`);
  return v;
}
function id(v, path) {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_ID) {
    fail(path, "expected an integer id in 1..2^31-1");
  }
  return v;
}
function int(v, path, min, max) {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(path, `expected an integer in ${min}..${max}`);
  }
  return v;
}
function num(v, path, min, max) {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    fail(path, `expected a number in ${min}..${max}`);
  }
  return v;
}
function bytes(v, path) {
  if (!isBytes(v)) fail(path, `expected Uint8Array, got ${describe(v)}`);
  return v;
}
function oneOf(v, path, allowed) {
  if (typeof v !== "string" || !allowed.has(v)) fail(path, `expected one of ${[...allowed].join(", ")}`);
  return v;
}
function wireError(v, path) {
  const o = fields(v, path, ["code", "message"]);
  const code = str(o.code, `${path}.code`, 64);
  if (!ERROR_CODE.test(code)) fail(`${path}.code`, "expected an error code like E_POLICY");
  return { code, message: str(o.message, `${path}.message`) };
}
function outcome(o, path) {
  const ok2 = bool(o.ok, `${path}.ok`);
  const out = { ok: ok2 };
  if (ok2) {
    if ("error" in o) fail(`${path}.error`, "must be absent when ok is true");
    if ("value" in o) out.value = validateWireValue(o.value, `${path}.value`);
  } else {
    if ("value" in o) fail(`${path}.value`, "must be absent when ok is false");
    if (!("error" in o)) fail(`${path}.error`, "missing field");
    out.error = wireError(o.error, `${path}.error`);
  }
  return out;
}
function messageType(x, allowed) {
  if (!isPlainObject2(x)) fail("message", `expected object, got ${describe(x)}`);
  const desc = Reflect.getOwnPropertyDescriptor(x, "t");
  if (desc === void 0 || !("value" in desc)) fail("message.t", "missing field");
  const t = desc.value;
  if (typeof t !== "string" || !allowed.includes(t)) fail("message.t", `expected one of ${allowed.join(", ")}`);
  return t;
}
var SCRIPT_MAX_CHARS = 16 * 1024 * 1024;
function validateHostToKernel(x) {
  const t = messageType(x, ["ready", "req", "result", "breach", "fatal"]);
  switch (t) {
    case "ready": {
      const o = fields(x, "ready", ["t", "handlers"]);
      if (!isPlainArray(o.handlers)) fail("ready.handlers", `expected array, got ${describe(o.handlers)}`);
      const seen = /* @__PURE__ */ new Set();
      const handlers = o.handlers.map((h2, i) => {
        const name2 = oneOf(h2, `ready.handlers[${i}]`, HANDLERS);
        if (seen.has(name2)) fail(`ready.handlers[${i}]`, "duplicate handler");
        seen.add(name2);
        return name2;
      });
      const msg = { t: "ready", handlers };
      return msg;
    }
    case "req": {
      const o = fields(x, "req", ["t", "id", "op", "args"]);
      const op = oneOf(o.op, "req.op", OPS);
      if (!isPlainObject2(o.args)) fail("req.args", `expected object, got ${describe(o.args)}`);
      const args = validateWireValue(o.args, "req.args");
      validateRequestArgs(op, args);
      const msg = { t: "req", id: id(o.id, "req.id"), op, args };
      return msg;
    }
    case "result": {
      const o = fields(x, "result", ["t", "id", "ok"], ["value", "error"]);
      const msg = { t: "result", id: id(o.id, "result.id"), ...outcome(o, "result") };
      return msg;
    }
    case "breach": {
      const o = fields(x, "breach", ["t", "kind", "detail"], ["callId"]);
      const msg = {
        t: "breach",
        kind: oneOf(o.kind, "breach.kind", BREACH_KINDS),
        detail: str(o.detail, "breach.detail")
      };
      if ("callId" in o) msg.callId = id(o.callId, "breach.callId");
      return msg;
    }
    default: {
      const o = fields(x, "fatal", ["t", "detail"]);
      const msg = { t: "fatal", detail: str(o.detail, "fatal.detail") };
      return msg;
    }
  }
}
function isPlainArray(x) {
  return Array.isArray(x) && !isProxy(x) && Object.getPrototypeOf(x) === Array.prototype;
}
var PIN_FORMATS = /* @__PURE__ */ new Set(["ascii-ff", "bcd-ff", "emv-plaintext"]);
var LOG_LEVELS = /* @__PURE__ */ new Set(["debug", "info", "warn", "error"]);
var DIGESTS = /* @__PURE__ */ new Set(["SHA-1", "SHA-256", "SHA-384", "SHA-512"]);
var KEY_MAX = 1024;
var TOKEN_MAX = 256;
var NAME_MAX = 256;
var TEXT_MAX = 64 * 1024;
function stringList(v, path) {
  if (!isPlainArray(v)) fail(path, `expected array, got ${describe(v)}`);
  return v.map((s, i) => str(s, `${path}[${i}]`, TEXT_MAX));
}
function validateRequestArgs(op, args) {
  const p = "req.args";
  switch (op) {
    case "slots.acquire": {
      const o = fields(args, p, ["slot"], ["timeoutMs"]);
      int(o.slot, `${p}.slot`, 0, 65535);
      if ("timeoutMs" in o) num(o.timeoutMs, `${p}.timeoutMs`, 0, 864e5);
      return;
    }
    case "slots.list":
    case "clock.now":
      fields(args, p, []);
      return;
    case "lease.transmit": {
      const o = fields(args, p, ["token", "apdu"]);
      str(o.token, `${p}.token`, TOKEN_MAX);
      bytes(o.apdu, `${p}.apdu`);
      return;
    }
    case "lease.reset":
    case "lease.release": {
      const o = fields(args, p, ["token"]);
      str(o.token, `${p}.token`, TOKEN_MAX);
      return;
    }
    case "pin.verify": {
      const o = fields(args, p, ["token", "reference", "format"], ["prompt"]);
      str(o.token, `${p}.token`, TOKEN_MAX);
      int(o.reference, `${p}.reference`, 0, 255);
      oneOf(o.format, `${p}.format`, PIN_FORMATS);
      if ("prompt" in o) str(o.prompt, `${p}.prompt`, TEXT_MAX);
      return;
    }
    case "ui.show": {
      const o = fields(args, p, ["screen"]);
      const s = fields(o.screen, `${p}.screen`, ["lines"], ["title", "keys"]);
      if ("title" in s) str(s.title, `${p}.screen.title`, TEXT_MAX);
      stringList(s.lines, `${p}.screen.lines`);
      if ("keys" in s) stringList(s.keys, `${p}.screen.keys`);
      return;
    }
    case "ui.ask": {
      const o = fields(args, p, ["question"]);
      const q = fields(o.question, `${p}.question`, ["text", "choices"], ["title", "timeoutMs"]);
      if ("title" in q) str(q.title, `${p}.question.title`, TEXT_MAX);
      str(q.text, `${p}.question.text`, TEXT_MAX);
      stringList(q.choices, `${p}.question.choices`);
      if ("timeoutMs" in q) num(q.timeoutMs, `${p}.question.timeoutMs`, 0, 864e5);
      return;
    }
    case "store.get":
    case "store.delete": {
      const o = fields(args, p, ["key"]);
      str(o.key, `${p}.key`, KEY_MAX);
      return;
    }
    case "store.put": {
      const o = fields(args, p, ["key", "value"]);
      str(o.key, `${p}.key`, KEY_MAX);
      validateWireValue(o.value, `${p}.value`);
      return;
    }
    case "store.list": {
      const o = fields(args, p, [], ["prefix", "limit"]);
      if ("prefix" in o) str(o.prefix, `${p}.prefix`, KEY_MAX);
      if ("limit" in o) int(o.limit, `${p}.limit`, 0, MAX_ID);
      return;
    }
    case "store.transaction": {
      const o = fields(args, p, ["ops"]);
      if (!isPlainArray(o.ops)) fail(`${p}.ops`, `expected array, got ${describe(o.ops)}`);
      o.ops.forEach((entry, i) => {
        const ep = `${p}.ops[${i}]`;
        if (!isPlainObject2(entry)) fail(ep, `expected object, got ${describe(entry)}`);
        const kind = ownData(entry, ep).op;
        if (kind === "put") {
          const e = fields(entry, ep, ["op", "key", "value"]);
          str(e.key, `${ep}.key`, KEY_MAX);
          validateWireValue(e.value, `${ep}.value`);
        } else if (kind === "delete") {
          const e = fields(entry, ep, ["op", "key"]);
          str(e.key, `${ep}.key`, KEY_MAX);
        } else {
          fail(`${ep}.op`, "expected 'put' or 'delete'");
        }
      });
      return;
    }
    case "net.send": {
      const o = fields(args, p, ["endpoint", "message"]);
      str(o.endpoint, `${p}.endpoint`, NAME_MAX);
      validateWireValue(o.message, `${p}.message`);
      return;
    }
    case "net.fetch": {
      const o = fields(args, p, ["endpoint"], ["request"]);
      str(o.endpoint, `${p}.endpoint`, NAME_MAX);
      if ("request" in o) validateWireValue(o.request, `${p}.request`);
      return;
    }
    case "intents.request": {
      const o = fields(args, p, ["target", "payload"]);
      str(o.target, `${p}.target`, NAME_MAX);
      if (!isPlainObject2(o.payload)) fail(`${p}.payload`, `expected object, got ${describe(o.payload)}`);
      str(ownData(o.payload, `${p}.payload`).action, `${p}.payload.action`, NAME_MAX);
      validateWireValue(o.payload, `${p}.payload`);
      return;
    }
    case "crypto.digest": {
      const o = fields(args, p, ["alg", "data"]);
      oneOf(o.alg, `${p}.alg`, DIGESTS);
      bytes(o.data, `${p}.data`);
      return;
    }
    case "crypto.random": {
      const o = fields(args, p, ["n"]);
      int(o.n, `${p}.n`, 0, 1 << 20);
      return;
    }
    case "log": {
      const o = fields(args, p, ["level", "message"], ["fields"]);
      oneOf(o.level, `${p}.level`, LOG_LEVELS);
      str(o.message, `${p}.message`, TEXT_MAX);
      if ("fields" in o) {
        if (!isPlainObject2(o.fields)) fail(`${p}.fields`, `expected object, got ${describe(o.fields)}`);
        validateWireValue(o.fields, `${p}.fields`);
      }
      return;
    }
    default: {
      const never = op;
      fail("req.op", `unknown op ${String(never)}`);
    }
  }
}

// platform/kernel/paths.ts
import { existsSync as existsSync4 } from "node:fs";
import { dirname as dirname2, join as join5 } from "node:path";
import { fileURLToPath as fileURLToPath2 } from "node:url";
function repoRoot() {
  let dir = dirname2(fileURLToPath2(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync4(join5(dir, "package.json"))) return dir;
    dir = dirname2(dir);
  }
  throw new Error("cannot locate the project root (no package.json above " + fileURLToPath2(import.meta.url) + ")");
}
function hostEntry() {
  const p = join5(repoRoot(), "dist", "host.js");
  if (!existsSync4(p)) throw new Error(`domain host not built: ${p} is missing; run \`npm run build\``);
  return p;
}

// platform/kernel/host-process.ts
var HostProcess = class extends EventEmitter2 {
  constructor(spec) {
    super();
    this.spec = spec;
  }
  spec;
  child = null;
  pipe = null;
  nextCallId = 1;
  calls = /* @__PURE__ */ new Map();
  startedAt = 0;
  readyHandlers = null;
  exited = false;
  get pid() {
    return this.child?.pid;
  }
  get handlers() {
    return this.readyHandlers ?? [];
  }
  get isReady() {
    return this.readyHandlers !== null && !this.exited;
  }
  /** Spawns the host and resolves once the applet has been loaded (first `ready`). */
  start() {
    const child2 = spawn(process.execPath, [...process.env.DI_HOST_PROF ? ["--cpu-prof", "--cpu-prof-dir=" + process.env.DI_HOST_PROF] : [], "--no-node-snapshot", this.spec.entry ?? hostEntry(), ...this.spec.args ?? []], {
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      // The host inherits nothing: no secrets or proxies through the environment.
      env: {},
      serialization: "json"
    });
    this.child = child2;
    this.startedAt = Date.now();
    const pipe = child2.stdio[3];
    this.pipe = pipe;
    const decoder = new FrameDecoder(this.spec.maxFrameBytes);
    for (const stream of [child2.stdout, child2.stderr]) {
      let buf = "";
      stream?.setEncoding("utf8");
      stream?.on("data", (chunk) => {
        buf += chunk;
        if (buf.length > 64 * 1024) buf = buf.slice(-64 * 1024);
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          this.emit("output", buf.slice(0, Math.min(nl, 4096)));
          buf = buf.slice(nl + 1);
        }
      });
    }
    pipe.on("data", (chunk) => {
      let messages;
      try {
        messages = decoder.push(chunk);
      } catch (e) {
        this.violate(`undecodable frame: ${e.message}`);
        return;
      }
      for (const raw of messages) {
        let msg;
        try {
          msg = validateHostToKernel(raw);
        } catch (e) {
          this.violate(`invalid message: ${e.message}`);
          return;
        }
        this.onMessage(msg);
        if (this.exited) return;
      }
    });
    pipe.on("error", () => {
    });
    const ready = new Promise((resolve6, reject) => {
      const timer = setTimeout(() => {
        reject(new KernelError("E_UNAVAILABLE", `host for ${this.spec.domain} did not become ready within ${this.spec.readyTimeoutMs} ms`));
        this.kill();
      }, this.spec.readyTimeoutMs);
      const onReady = (h2) => {
        clearTimeout(timer);
        this.off("exit", onExit);
        resolve6(h2);
      };
      const onExit = (info) => {
        clearTimeout(timer);
        this.off("ready", onReady);
        reject(new KernelError("E_UNAVAILABLE", `host for ${this.spec.domain} exited before ready (code ${info.code}, signal ${info.signal})`));
      };
      this.once("ready", onReady);
      this.once("exit", onExit);
    });
    child2.on("exit", (code, signal) => {
      this.exited = true;
      this.readyHandlers = null;
      for (const [, p] of this.calls) {
        clearTimeout(p.timer);
        p.reject(new KernelError("E_UNAVAILABLE", `host for ${this.spec.domain} exited during the call`));
      }
      this.calls.clear();
      this.emit("exit", { code, signal, uptimeMs: Date.now() - this.startedAt });
    });
    this.send({
      t: "init",
      domain: this.spec.domain,
      script: this.spec.script,
      filename: this.spec.filename,
      limits: this.spec.limits,
      clockGranularityMs: this.spec.clockGranularityMs
    });
    return ready;
  }
  /** Invokes a global handler of the applet; rejects on deadline, breach or host death. */
  call(handler, args, deadlineMs) {
    if (!this.isReady) return Promise.reject(new KernelError("E_UNAVAILABLE", `the ${this.spec.domain} applet is not running`));
    if (!this.handlers.includes(handler)) {
      return Promise.reject(new KernelError("E_UNAVAILABLE", `the ${this.spec.domain} applet defines no ${handler}() handler`));
    }
    const id2 = this.nextCallId++;
    return new Promise((resolve6, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(id2);
        reject(new KernelError("E_DEADLINE", `${this.spec.domain}.${handler}() did not finish within ${deadlineMs} ms`));
      }, deadlineMs);
      this.calls.set(id2, { resolve: resolve6, reject, timer });
      this.send({ t: "call", id: id2, handler, args });
    });
  }
  reply(id2, result) {
    if (this.exited) return;
    if (!result.ok) this.send({ t: "reply", id: id2, ok: false, error: result.error });
    else if (result.value === void 0) this.send({ t: "reply", id: id2, ok: true });
    else this.send({ t: "reply", id: id2, ok: true, value: result.value });
  }
  kill(signal = "SIGKILL") {
    if (this.child && !this.exited) this.child.kill(signal);
  }
  /** Closes the pipe (the host exits on EOF) and waits; kills if it lingers. */
  async stop(graceMs = 1e3) {
    const child2 = this.child;
    if (!child2 || this.exited) return;
    const exited = new Promise((r) => child2.once("exit", () => r()));
    this.pipe?.end();
    const t = setTimeout(() => this.kill(), graceMs);
    await exited;
    clearTimeout(t);
  }
  send(msg) {
    if (!this.pipe || this.exited || this.pipe.destroyed) return;
    this.pipe.write(encodeFrame(msg));
  }
  violate(reason) {
    if (this.exited) return;
    this.emit("violation", reason);
    this.kill();
  }
  onMessage(msg) {
    switch (msg.t) {
      case "ready":
        this.readyHandlers = msg.handlers;
        this.emit("ready", msg.handlers);
        return;
      case "req":
        this.emit("request", msg);
        return;
      case "result": {
        const p = this.calls.get(msg.id);
        if (!p) {
          if (msg.id >= this.nextCallId) this.violate(`result for call ${msg.id}, which the kernel never made`);
          return;
        }
        this.calls.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.value ?? null);
        else p.reject(new KernelError("E_APPLET", msg.error?.message ?? "the applet handler failed"));
        return;
      }
      case "breach": {
        this.readyHandlers = null;
        if (msg.callId !== void 0) {
          const p = this.calls.get(msg.callId);
          if (p) {
            this.calls.delete(msg.callId);
            clearTimeout(p.timer);
            p.reject(new KernelError("E_TERMINATED", `applet terminated: ${msg.kind} limit (${msg.detail})`));
          }
        }
        for (const [id2, p] of this.calls) {
          clearTimeout(p.timer);
          p.reject(new KernelError("E_TERMINATED", `applet terminated: ${msg.kind} limit`));
          this.calls.delete(id2);
        }
        this.emit("breach", msg);
        return;
      }
      case "fatal":
        this.emit("output", `fatal: ${msg.detail}`);
        this.kill();
        return;
    }
  }
};

// platform/kernel/supervisor.ts
var Supervisor = class extends EventEmitter3 {
  constructor(opts) {
    super();
    this.opts = opts;
  }
  opts;
  slots = /* @__PURE__ */ new Map();
  stopping = false;
  async startDomain(spec) {
    const slot = { spec, host: new HostProcess(spec), state: "starting", failures: 0, restarts: 0, timer: null, readyWaiters: [] };
    this.slots.set(spec.domain, slot);
    await this.launch(slot);
  }
  host(domain) {
    return this.slots.get(domain)?.host;
  }
  state(domain) {
    const s = this.slots.get(domain);
    return s && { state: s.state, restarts: s.restarts, pid: s.host.pid };
  }
  domains() {
    return [...this.slots.keys()];
  }
  /** Resolves when the domain's applet is loaded and ready to take calls (after a restart too). */
  waitReady(domain, timeoutMs) {
    const slot = this.slots.get(domain);
    if (!slot) return Promise.reject(new KernelError("E_UNAVAILABLE", `no domain ${domain}`));
    if (slot.state === "ready" && slot.host.isReady) return Promise.resolve();
    return new Promise((resolve6, reject) => {
      const t = setTimeout(() => reject(new KernelError("E_UNAVAILABLE", `${domain} not ready within ${timeoutMs} ms`)), timeoutMs);
      slot.readyWaiters.push(() => {
        clearTimeout(t);
        resolve6();
      });
    });
  }
  call(domain, handler, args, deadlineMs) {
    const slot = this.slots.get(domain);
    if (!slot) return Promise.reject(new KernelError("E_UNAVAILABLE", `no domain ${domain} is installed`));
    return slot.host.call(handler, args, deadlineMs);
  }
  async stopAll() {
    this.stopping = true;
    await Promise.all(
      [...this.slots.values()].map(async (s) => {
        if (s.timer) clearTimeout(s.timer);
        s.state = "stopped";
        await s.host.stop();
      })
    );
  }
  async launch(slot) {
    const host = slot.host;
    const domain = slot.spec.domain;
    host.on("request", (msg) => this.emit("request", domain, host, msg));
    host.on("output", (line) => this.emit("output", domain, line));
    host.on("violation", (reason) => this.emit("violation", domain, reason));
    host.on("ready", (handlers) => {
      slot.state = "ready";
      this.emit("ready", domain, handlers);
      for (const w of slot.readyWaiters.splice(0)) w();
    });
    host.on("breach", (msg) => {
      slot.state = "restarting";
      this.emit("breach", domain, msg);
      this.emit("down", domain, `watchdog: ${msg.kind}`);
    });
    host.on("exit", (info) => {
      if (this.stopping || slot.state === "stopped") {
        this.emit("exit", domain, { ...info, restartInMs: null });
        return;
      }
      slot.failures = info.uptimeMs >= this.opts.stableAfterMs ? 1 : slot.failures + 1;
      const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** (slot.failures - 1));
      slot.state = "restarting";
      this.emit("down", domain, `host exited (code ${info.code}, signal ${info.signal})`);
      this.emit("exit", domain, { ...info, restartInMs: delay });
      slot.timer = setTimeout(() => {
        slot.timer = null;
        if (this.stopping) return;
        slot.restarts++;
        slot.host = new HostProcess(slot.spec);
        this.launch(slot).catch(() => {
        });
      }, delay);
    });
    await host.start();
  }
};

// platform/kernel/capabilities/args.ts
var bad2 = (op, key, want) => new KernelError("E_ARGS", `${op}: argument ${key} must be ${want}`);
function str2(op, args, key, opts) {
  const v = args[key];
  if (v === void 0 && opts.optional) return void 0;
  if (typeof v !== "string" || v.length > opts.max || opts.pattern && !opts.pattern.test(v)) {
    throw bad2(op, key, `a string of at most ${opts.max} characters${opts.pattern ? ` matching ${opts.pattern}` : ""}`);
  }
  return v;
}
function int2(op, args, key, opts) {
  const v = args[key];
  if (v === void 0 && opts.optional) return void 0;
  if (typeof v !== "number" || !Number.isInteger(v) || v < opts.min || v > opts.max) {
    throw bad2(op, key, `an integer from ${opts.min} to ${opts.max}`);
  }
  return v;
}
function bytes2(op, args, key, opts) {
  const v = args[key];
  if (!(v instanceof Uint8Array) || v.length > opts.max) throw bad2(op, key, `a Uint8Array of at most ${opts.max} bytes`);
  return v;
}
function obj(op, args, key) {
  const v = args[key];
  if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array) throw bad2(op, key, "an object");
  return v;
}
function strArray(op, v, key, opts) {
  if (!Array.isArray(v) || v.length > opts.maxItems || !v.every((s) => typeof s === "string" && s.length <= opts.maxLen)) {
    throw bad2(op, key, `an array of at most ${opts.maxItems} strings of at most ${opts.maxLen} characters`);
  }
  return v;
}
function approxSize(v, depth = 0) {
  if (depth > 64) return Infinity;
  if (v === null || typeof v === "boolean") return 1;
  if (typeof v === "number") return 9;
  if (typeof v === "string") return v.length * 3 + 5;
  if (v instanceof Uint8Array) return v.length + 5;
  if (Array.isArray(v)) return v.reduce((n2, x) => n2 + approxSize(x, depth + 1), 5);
  return Object.entries(v).reduce((n2, [k, x]) => n2 + k.length + approxSize(x, depth + 1), 5);
}

// platform/kernel/capabilities/slots.ts
var TOKEN = /^[0-9a-f]{64}$/;
function slotOps(k) {
  return {
    "slots.acquire": async (ctx, args) => {
      const slot = int2("slots.acquire", args, "slot", { min: 0, max: 15 });
      const timeoutMs = int2("slots.acquire", args, "timeoutMs", { min: 0, max: 6e4, optional: true }) ?? 5e3;
      const lease = await k.broker.acquire(ctx.domain, slot, timeoutMs);
      k.audit.append("lease.acquire", ctx.domain, { slot, cardClass: lease.cardClass });
      return { slot: lease.slot, token: lease.token, cardClass: lease.cardClass, atr: lease.atr };
    },
    "slots.list": async (ctx) => k.broker.cardsFor(ctx.domain).map((c2) => ({ slot: c2.slot, cardClass: c2.cardClass, atr: c2.atr })),
    "lease.transmit": async (ctx, args) => {
      const token = str2("lease.transmit", args, "token", { max: 64, pattern: TOKEN });
      const apdu = bytes2("lease.transmit", args, "apdu", { max: 65544 });
      return k.broker.transmit(ctx.domain, token, apdu);
    },
    "lease.reset": async (ctx, args) => k.broker.reset(ctx.domain, str2("lease.reset", args, "token", { max: 64, pattern: TOKEN })),
    "lease.release": async (ctx, args) => {
      await k.broker.release(ctx.domain, str2("lease.release", args, "token", { max: 64, pattern: TOKEN }));
      return null;
    }
  };
}

// platform/kernel/pin-block.ts
var PIN_FORMATS2 = ["ascii-ff", "bcd-ff", "emv-plaintext"];
function buildVerify(reference, format, digits, length) {
  if (length < 4 || length > 12) throw new KernelError("E_PIN", `a PIN has 4 to 12 digits`);
  const block = new Uint8Array(8).fill(255);
  switch (format) {
    case "ascii-ff":
      if (length > 8) throw new KernelError("E_PIN", "format ascii-ff holds at most 8 digits");
      for (let i = 0; i < length; i++) block[i] = 48 + digits[i];
      break;
    case "bcd-ff":
      for (let i = 0; i < length; i++) setNibble(block, i, digits[i]);
      break;
    case "emv-plaintext":
      block[0] = 32 | length;
      for (let i = 0; i < length; i++) setNibble(block, i + 2, digits[i]);
      break;
  }
  const apdu = new Uint8Array(5 + 8);
  apdu.set([0, 32, 0, reference & 255, 8]);
  apdu.set(block, 5);
  block.fill(0);
  return apdu;
}
function setNibble(block, index, value) {
  const byte = index >> 1;
  const cur = block[byte];
  block[byte] = index % 2 === 0 ? value << 4 | cur & 15 : cur & 240 | value;
}

// platform/kernel/capabilities/pin.ts
function pinOps(k) {
  return {
    "pin.verify": async (ctx, args) => {
      const op = "pin.verify";
      if (!ctx.policy.ui.pinEntry) throw new KernelError("E_POLICY", `${op}: the ${ctx.domain} policy does not grant secure PIN entry (ui.pinEntry)`);
      const token = str2(op, args, "token", { max: 64, pattern: /^[0-9a-f]{64}$/ });
      const reference = int2(op, args, "reference", { min: 0, max: 255 });
      const format = str2(op, args, "format", { max: 20 });
      if (!PIN_FORMATS2.includes(format)) throw new KernelError("E_ARGS", `${op}: format must be one of ${PIN_FORMATS2.join(", ")}`);
      const prompt = str2(op, args, "prompt", { max: 80, optional: true }) ?? "Saisissez votre code puis OK";
      const lease = k.broker.checkLease(ctx.domain, token);
      const cardClass = ctx.policy.cardClasses.find((c2) => c2.name === lease.cardClass);
      if (!cardClass?.pinReferences.includes(reference)) {
        throw new KernelError("E_POLICY", `${op}: PIN reference ${reference} is not listed for card class ${lease.cardClass} in the ${ctx.domain} policy`);
      }
      const { minDigits, maxDigits, entryTimeoutMs } = k.config.pin;
      const read = await k.terminal.readPin(ctx.domain, prompt, { minDigits, maxDigits, timeoutMs: entryTimeoutMs }, ctx.signal);
      if (read.status !== "ok") {
        k.audit.append("pin.entry", ctx.domain, { result: read.status });
        return { ok: false, triesLeft: null, blocked: false, aborted: read.status };
      }
      let apdu = null;
      let resp;
      try {
        apdu = buildVerify(reference, format, read.digits, read.length);
      } finally {
        read.digits.fill(0);
      }
      try {
        resp = await k.broker.transmitPinVerify(ctx.domain, token, apdu);
      } finally {
        apdu.fill(0);
      }
      const sw = resp.length >= 2 ? resp[resp.length - 2] << 8 | resp[resp.length - 1] : 0;
      let result;
      if (sw === 36864) result = { ok: true, triesLeft: null, blocked: false };
      else if ((sw & 65520) === 25536) result = { ok: false, triesLeft: sw & 15, blocked: (sw & 15) === 0 };
      else if (sw === 27011 || sw === 27012) result = { ok: false, triesLeft: 0, blocked: true };
      else throw new KernelError("E_CARD", `${op}: the card answered VERIFY with status ${sw.toString(16).toUpperCase().padStart(4, "0")}`);
      k.audit.append("pin.verify", ctx.domain, { reference, ...result });
      return result;
    }
  };
}

// platform/kernel/capabilities/ui.ts
var LINE = 64;
function optTitle(op, v) {
  if (v === void 0) return void 0;
  if (typeof v !== "string" || v.length > LINE) throw new KernelError("E_ARGS", `${op}: title must be a string of at most ${LINE} characters`);
  return v;
}
function uiOps(k) {
  const granted = (op, ctx) => {
    if (!ctx.policy.ui.foreground) throw new KernelError("E_POLICY", `${op}: the ${ctx.domain} policy does not grant the screen (ui.foreground)`);
  };
  return {
    "ui.show": async (ctx, args) => {
      granted("ui.show", ctx);
      const s = obj("ui.show", args, "screen");
      const lines = strArray("ui.show", s.lines, "screen.lines", { maxItems: 12, maxLen: LINE });
      const keys = s.keys === void 0 ? void 0 : strArray("ui.show", s.keys, "screen.keys", { maxItems: 4, maxLen: 16 });
      const title = optTitle("ui.show", s.title);
      k.terminal.show(ctx.domain, { lines, ...title !== void 0 && { title }, ...keys && { keys } });
      return null;
    },
    "ui.ask": async (ctx, args) => {
      granted("ui.ask", ctx);
      const q = obj("ui.ask", args, "question");
      if (typeof q.text !== "string" || q.text.length > 4 * LINE) throw new KernelError("E_ARGS", `ui.ask: question.text must be a string of at most ${4 * LINE} characters`);
      const choices = strArray("ui.ask", q.choices, "question.choices", { maxItems: 9, maxLen: LINE });
      if (choices.length === 0) throw new KernelError("E_ARGS", "ui.ask: question.choices must not be empty");
      const timeoutMs = int2("ui.ask", q, "timeoutMs", { min: 100, max: 6e5, optional: true }) ?? 12e4;
      const title = optTitle("ui.ask", q.title);
      const choice = await k.terminal.ask(ctx.domain, { text: q.text, choices, ...title !== void 0 && { title } }, timeoutMs, ctx.signal);
      return { choice };
    }
  };
}

// platform/kernel/capabilities/store.ts
function storeOps(k) {
  const key = (op, args) => str2(op, args, "key", { max: 512 });
  return {
    "store.get": async (ctx, args) => {
      const v = k.store(ctx.domain).get(key("store.get", args));
      return v;
    },
    "store.put": async (ctx, args) => {
      if (!("value" in args)) throw new KernelError("E_ARGS", "store.put: argument value is missing");
      k.store(ctx.domain).put(key("store.put", args), args.value);
      return null;
    },
    "store.delete": async (ctx, args) => k.store(ctx.domain).delete(key("store.delete", args)),
    "store.list": async (ctx, args) => {
      const prefix = str2("store.list", args, "prefix", { max: 512, optional: true });
      const limit = int2("store.list", args, "limit", { min: 1, max: 1e4, optional: true });
      return k.store(ctx.domain).list({ ...prefix !== void 0 && { prefix }, ...limit !== void 0 && { limit } });
    },
    "store.transaction": async (ctx, args) => {
      const ops = args.ops;
      if (!Array.isArray(ops) || ops.length > 1e3) throw new KernelError("E_ARGS", "store.transaction: ops must be an array of at most 1000 operations");
      const checked = ops.map((o, i) => {
        if (o === null || typeof o !== "object" || Array.isArray(o) || o instanceof Uint8Array) {
          throw new KernelError("E_ARGS", `store.transaction: ops[${i}] must be an object`);
        }
        const kk = o.key;
        if (typeof kk !== "string") throw new KernelError("E_ARGS", `store.transaction: ops[${i}].key must be a string`);
        if (o.op === "put") {
          if (!("value" in o)) throw new KernelError("E_ARGS", `store.transaction: ops[${i}].value is missing`);
          return { op: "put", key: kk, value: o.value };
        }
        if (o.op === "delete") return { op: "delete", key: kk };
        throw new KernelError("E_ARGS", `store.transaction: ops[${i}].op must be "put" or "delete"`);
      });
      k.store(ctx.domain).transaction(checked);
      return null;
    }
  };
}

// platform/kernel/capabilities/net.ts
function netOps(k) {
  const resolve6 = (op, ctx, name2) => {
    const ep = ctx.policy.network.endpoints.find((e) => e.name === name2);
    if (!ep) throw new KernelError("E_POLICY", `${op}: endpoint ${JSON.stringify(name2)} is not in the ${ctx.domain} policy`);
    const t = k.transports.get(ep.kind);
    if (!t) throw new KernelError("E_NET", `${op}: this kernel has no ${ep.kind} transport configured for endpoint ${name2}`);
    return { ep, t };
  };
  return {
    "net.send": async (ctx, args) => {
      const name2 = str2("net.send", args, "endpoint", { max: 64 });
      const { ep, t } = resolve6("net.send", ctx, name2);
      k.audit.append("net.send", ctx.domain, { endpoint: name2, kind: ep.kind });
      return t.send(ep, args.message ?? null, ctx.signal);
    },
    "net.fetch": async (ctx, args) => {
      const name2 = str2("net.fetch", args, "endpoint", { max: 64 });
      const { ep, t } = resolve6("net.fetch", ctx, name2);
      return t.fetch(ep, args.request ?? null, ctx.signal);
    }
  };
}

// platform/kernel/capabilities/intents.ts
function intentOps(k) {
  return {
    "intents.request": async (ctx, args) => {
      const op = "intents.request";
      const target = str2(op, args, "target", { max: 32 });
      const payload = obj(op, args, "payload");
      const action = payload.action;
      if (typeof action !== "string" || action.length > 32) throw new KernelError("E_ARGS", `${op}: payload.action must be a string`);
      const grant = ctx.policy.intents.request.find((g) => g.target === target);
      if (!grant || !grant.actions.includes(action)) {
        throw new KernelError("E_POLICY", `${op}: the ${ctx.domain} policy does not allow asking ${target} for ${action}`);
      }
      const targetPolicy = k.policy(target);
      const handle = targetPolicy?.intents.handle.find((h2) => h2.action === action);
      if (!targetPolicy || !handle) throw new KernelError("E_POLICY", `${op}: ${target} does not offer ${action}`);
      if (approxSize(payload) > 16 * 1024) throw new KernelError("E_ARGS", `${op}: payload larger than 16 KiB`);
      const { action: _a, ...rest } = payload;
      k.audit.append("intent.request", ctx.domain, { target, action });
      const raw = await k.intents.deliver(ctx.domain, target, action, rest, ctx.signal);
      const result = {};
      if (raw !== null && typeof raw === "object" && !Array.isArray(raw) && !(raw instanceof Uint8Array)) {
        for (const [field, type] of Object.entries(handle.result)) {
          const v = raw[field];
          if (v !== void 0 && typeof v === type && (typeof v !== "string" || v.length <= 256)) result[field] = v;
        }
      }
      k.audit.append("intent.result", ctx.domain, { target, action, status: typeof result.status === "string" ? result.status : null });
      return result;
    }
  };
}

// platform/kernel/capabilities/basics.ts
import { createHash as createHash3, randomBytes as randomBytes2 } from "node:crypto";
var DIGESTS2 = { "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
var LEVELS = ["debug", "info", "warn", "error"];
function basicOps(k) {
  return {
    "crypto.digest": async (_ctx, args) => {
      const alg = str2("crypto.digest", args, "alg", { max: 16 });
      const node = DIGESTS2[alg];
      if (!node) throw new KernelError("E_ARGS", `crypto.digest: algorithm must be one of ${Object.keys(DIGESTS2).join(", ")}`);
      const data = bytes2("crypto.digest", args, "data", { max: 16 * 1024 * 1024 });
      return new Uint8Array(createHash3(node).update(data).digest());
    },
    "crypto.random": async (_ctx, args) => new Uint8Array(randomBytes2(int2("crypto.random", args, "n", { min: 1, max: 4096 }))),
    "clock.now": async () => {
      const g = k.config.clockGranularityMs;
      return Math.floor(Date.now() / g) * g;
    },
    log: async (ctx, args) => {
      const level = str2("log", args, "level", { max: 8 });
      if (!LEVELS.includes(level)) throw new KernelError("E_ARGS", `log: level must be one of ${LEVELS.join(", ")}`);
      const message = str2("log", args, "message", { max: 4096 });
      k.logger.write(ctx.domain, level, message, args.fields ?? null);
      return null;
    }
  };
}

// platform/kernel/capabilities/index.ts
function buildOpTable(k) {
  return { ...slotOps(k), ...pinOps(k), ...uiOps(k), ...storeOps(k), ...netOps(k), ...intentOps(k), ...basicOps(k) };
}
function deadlineFor(k) {
  return (op, args, policy) => {
    switch (op) {
      case "slots.acquire":
        return (typeof args.timeoutMs === "number" ? Math.min(args.timeoutMs, 6e4) : 5e3) + 2e3;
      case "pin.verify":
        return k.config.pin.entryTimeoutMs + 15e3;
      case "ui.ask":
        return 61e4;
      case "intents.request":
        return (k.policy(typeof args.target === "string" ? args.target : "")?.limits.handlerDeadlineMs ?? 6e4) + 5e3;
      case "net.send":
      case "net.fetch":
        return 6e4;
      case "lease.transmit":
      case "lease.reset":
        return 3e4;
      default:
        return Math.min(policy.limits.handlerDeadlineMs, 1e4);
    }
  };
}

// platform/kernel/domain-log.ts
import { appendFileSync, mkdirSync as mkdirSync5, statSync as statSync3, renameSync as renameSync2 } from "node:fs";
import { join as join6 } from "node:path";
var MAX_BYTES = 4 * 1024 * 1024;
var FileDomainLogger = class {
  constructor(dir) {
    this.dir = dir;
    mkdirSync5(dir, { recursive: true });
  }
  dir;
  write(domain, level, message, fields2) {
    this.append(`${domain}.log`, { ts: (/* @__PURE__ */ new Date()).toISOString(), level, message: redactText(message), fields: fields2 === null ? void 0 : redactFields(fields2) });
  }
  hostOutput(domain, line) {
    this.append(`host-${domain}.log`, { ts: (/* @__PURE__ */ new Date()).toISOString(), line: redactText(line) });
  }
  append(file, entry) {
    const path = join6(this.dir, file);
    try {
      if (statSync3(path).size > MAX_BYTES) renameSync2(path, path + ".1");
    } catch {
    }
    appendFileSync(path, JSON.stringify(entry) + "\n");
  }
};

// platform/slot-broker/driver.ts
var DriverError = class extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
    this.name = "DriverError";
  }
  code;
};

// platform/slot-broker/types.ts
var DEFAULT_BROKER_OPTIONS = {
  leaseIdleTimeoutMs: 3e4,
  leaseMaxMs: 10 * 6e4,
  maxTransportRounds: 32,
  maxResponseBytes: 65538,
  maxCommandBytes: 65544
};
var BrokerError = class extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
    this.name = "BrokerError";
  }
  code;
};

// platform/sdk/apdu.ts
var ApduError = class extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason;
    this.name = "ApduError";
  }
  reason;
};
var MAX_SHORT_NC = 255;
var MAX_SHORT_NE = 256;
var MAX_EXTENDED_NC = 65535;
var MAX_EXTENDED_NE = 65536;
function hex22(n2) {
  return n2.toString(16).toUpperCase().padStart(2, "0");
}
function checkByte(name2, v) {
  if (!Number.isInteger(v) || v < 0 || v > 255) {
    throw new ApduError(`${name2} must be an integer 0..255, got ${String(v)}`);
  }
}
function checkHeaderValues(cla, ins) {
  if (cla === 255) throw new ApduError("CLA FF is invalid (reserved for PPS by ISO 7816-3)");
  const hi = ins & 240;
  if (hi === 96 || hi === 144) {
    throw new ApduError(`INS ${hex22(ins)} is invalid (INS 6X and 9X are T=0 procedure bytes)`);
  }
}
function buildApdu(fields2) {
  const { cla, ins, p1, p2 } = fields2;
  checkByte("CLA", cla);
  checkByte("INS", ins);
  checkByte("P1", p1);
  checkByte("P2", p2);
  checkHeaderValues(cla, ins);
  const data = fields2.data ?? new Uint8Array(0);
  if (!(data instanceof Uint8Array)) throw new ApduError("data must be a Uint8Array");
  const nc = data.length;
  const ne = fields2.le ?? 0;
  if (!Number.isInteger(ne) || ne < 0 || ne > MAX_EXTENDED_NE) {
    throw new ApduError(`Le (Ne) must be an integer 0..65536, got ${String(fields2.le)}`);
  }
  if (nc > MAX_EXTENDED_NC) {
    throw new ApduError(`command data is ${nc} bytes; at most 65535 fit even in extended form`);
  }
  const extended = fields2.extended === true || nc > MAX_SHORT_NC || ne > MAX_SHORT_NE;
  const header = [cla, ins, p1, p2];
  if (nc === 0 && ne === 0) return Uint8Array.from(header);
  if (!extended) {
    const out2 = new Uint8Array(4 + (nc > 0 ? 1 + nc : 0) + (ne > 0 ? 1 : 0));
    out2.set(header, 0);
    let at2 = 4;
    if (nc > 0) {
      out2[at2++] = nc;
      out2.set(data, at2);
      at2 += nc;
    }
    if (ne > 0) out2[at2] = ne === MAX_SHORT_NE ? 0 : ne;
    return out2;
  }
  const out = new Uint8Array(4 + 1 + (nc > 0 ? 2 + nc : 0) + (ne > 0 ? 2 : 0));
  out.set(header, 0);
  out[4] = 0;
  let at = 5;
  if (nc > 0) {
    out[at++] = nc >> 8;
    out[at++] = nc & 255;
    out.set(data, at);
    at += nc;
  }
  if (ne > 0) {
    const enc = ne === MAX_EXTENDED_NE ? 0 : ne;
    out[at++] = enc >> 8;
    out[at] = enc & 255;
  }
  return out;
}
function parseCommandApdu(bytes3) {
  if (!(bytes3 instanceof Uint8Array)) throw new ApduError("command APDU must be a Uint8Array");
  if (bytes3.length < 4) {
    throw new ApduError(`command APDU is ${bytes3.length} bytes; the header CLA INS P1 P2 needs 4`);
  }
  const cla = bytes3[0];
  const ins = bytes3[1];
  const p1 = bytes3[2];
  const p2 = bytes3[3];
  checkHeaderValues(cla, ins);
  const head = { cla, ins, p1, p2 };
  const bodyLen = bytes3.length - 4;
  const empty = new Uint8Array(0);
  if (bodyLen === 0) return { ...head, data: empty, le: null, case: 1, extended: false };
  const b0 = bytes3[4];
  if (bodyLen === 1) {
    return { ...head, data: empty, le: b0 === 0 ? MAX_SHORT_NE : b0, case: 2, extended: false };
  }
  if (b0 !== 0) {
    const nc = b0;
    if (bodyLen === 1 + nc) {
      return { ...head, data: bytes3.slice(5, 5 + nc), le: null, case: 3, extended: false };
    }
    if (bodyLen === 2 + nc) {
      const le = bytes3[5 + nc];
      return { ...head, data: bytes3.slice(5, 5 + nc), le: le === 0 ? MAX_SHORT_NE : le, case: 4, extended: false };
    }
    throw new ApduError(
      `short Lc ${hex22(nc)} announces ${nc} data bytes, so the body after the header must be ${1 + nc} (case 3S) or ${2 + nc} (case 4S) bytes, but it is ${bodyLen}`
    );
  }
  if (bodyLen === 2) {
    throw new ApduError("body is 00 followed by one byte: short Lc 00 is invalid and an extended length needs 2 bytes");
  }
  const n2 = bytes3[5] << 8 | bytes3[6];
  if (bodyLen === 3) {
    return { ...head, data: empty, le: n2 === 0 ? MAX_EXTENDED_NE : n2, case: 2, extended: true };
  }
  if (n2 === 0) {
    throw new ApduError(`extended Lc 0000 is invalid (body of ${bodyLen} bytes after the header)`);
  }
  if (bodyLen === 3 + n2) {
    return { ...head, data: bytes3.slice(7, 7 + n2), le: null, case: 3, extended: true };
  }
  if (bodyLen === 5 + n2) {
    const le = bytes3[7 + n2] << 8 | bytes3[8 + n2];
    return {
      ...head,
      data: bytes3.slice(7, 7 + n2),
      le: le === 0 ? MAX_EXTENDED_NE : le,
      case: 4,
      extended: true
    };
  }
  throw new ApduError(
    `extended Lc ${n2} announces ${n2} data bytes, so the body after the header must be ${3 + n2} (case 3E) or ${5 + n2} (case 4E) bytes, but it is ${bodyLen}`
  );
}

// platform/slot-broker/hex.ts
function toHex(bytes3) {
  let s = "";
  for (const b of bytes3) s += b.toString(16).toUpperCase().padStart(2, "0");
  return s;
}
function byteHex(n2) {
  return (n2 & 255).toString(16).toUpperCase().padStart(2, "0");
}
function fromHex(hex, what) {
  const clean = hex.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new TypeError(`${what}: "${hex}" is not an even-length hex string`);
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
function hexByte(hex, what) {
  const b = fromHex(hex, what);
  if (b.length !== 1) throw new TypeError(`${what}: "${hex}" must be exactly one byte (2 hex digits)`);
  return b[0];
}

// platform/slot-broker/apdu-filter.ts
var PIN_INS = /* @__PURE__ */ new Map([
  [32, "VERIFY"],
  [33, "VERIFY"],
  [36, "CHANGE REFERENCE DATA"],
  [37, "CHANGE REFERENCE DATA"],
  [44, "RESET RETRY COUNTER"],
  [45, "RESET RETRY COUNTER"]
]);
function compileRules(cardClass, where) {
  return cardClass.apdu.map((r, i) => {
    const at = `${where} apdu[${i}]`;
    return {
      cla: hexByte(r.cla, `${at}.cla`),
      claMask: r.claMask === void 0 ? 255 : hexByte(r.claMask, `${at}.claMask`),
      ins: hexByte(r.ins, `${at}.ins`),
      p1: r.p1 === void 0 ? null : hexByte(r.p1, `${at}.p1`),
      p2: r.p2 === void 0 ? null : hexByte(r.p2, `${at}.p2`),
      name: r.name ?? null
    };
  });
}
function describeHeader(cla, ins, p1, p2) {
  return `CLA ${byteHex(cla)} INS ${byteHex(ins)} P1 ${byteHex(p1)} P2 ${byteHex(p2)}`;
}
function ruleMatches(rule, c2) {
  return (c2.cla & rule.claMask) === (rule.cla & rule.claMask) && c2.ins === rule.ins && (rule.p1 === null || c2.p1 === rule.p1) && (rule.p2 === null || c2.p2 === rule.p2);
}
function parseOrRefuse(apdu, cls, maxCommandBytes, who) {
  if (!(apdu instanceof Uint8Array)) {
    throw new BrokerError("E_APDU_MALFORMED", `${who}: the command for card class "${cls.name}" is not a byte array`);
  }
  if (apdu.length > maxCommandBytes) {
    throw new BrokerError(
      "E_APDU_MALFORMED",
      `${who}: command of ${apdu.length} bytes for card class "${cls.name}" exceeds the cap of ${maxCommandBytes} bytes`
    );
  }
  try {
    return parseCommandApdu(apdu);
  } catch (e) {
    if (e instanceof ApduError) {
      const head = apdu.length >= 4 ? ` (${describeHeader(apdu[0], apdu[1], apdu[2], apdu[3])}, ${apdu.length} bytes)` : "";
      throw new BrokerError(
        "E_APDU_MALFORMED",
        `${who}: malformed command for card class "${cls.name}"${head}: ${e.reason}`
      );
    }
    throw e;
  }
}
function checkAppletApdu(apdu, cls, maxCommandBytes) {
  const c2 = parseOrRefuse(apdu, cls, maxCommandBytes, "applet APDU refused");
  const pinCommand = PIN_INS.get(c2.ins);
  if (pinCommand !== void 0) {
    throw new BrokerError(
      "E_APDU_DENIED",
      `applet APDU refused: ${pinCommand} (INS ${byteHex(c2.ins)}) to card class "${cls.name}" is never allowed from an applet, whatever the policy lists; PIN entry is a kernel function (use platform.pin.verify)`
    );
  }
  if (!cls.rules.some((r) => ruleMatches(r, c2))) {
    throw new BrokerError(
      "E_APDU_DENIED",
      `applet APDU refused: ${describeHeader(c2.cla, c2.ins, c2.p1, c2.p2)} is not in the allowlist of card class "${cls.name}"`
    );
  }
  return c2;
}
function checkPinVerify(apdu, cls, maxCommandBytes) {
  const c2 = parseOrRefuse(apdu, cls, maxCommandBytes, "PIN VERIFY refused");
  const head = describeHeader(c2.cla, c2.ins, c2.p1, c2.p2);
  if (c2.cla !== 0 || c2.ins !== 32 || c2.p1 !== 0) {
    c2.data.fill(0);
    throw new BrokerError("E_APDU_DENIED", `PIN VERIFY refused: ${head} is not 00 20 00 P2 (card class "${cls.name}")`);
  }
  if (!cls.pinReferences.has(c2.p2)) {
    c2.data.fill(0);
    const refs = [...cls.pinReferences].map(byteHex).join(", ") || "none";
    throw new BrokerError(
      "E_APDU_DENIED",
      `PIN VERIFY refused: reference P2 ${byteHex(c2.p2)} is not a PIN reference of card class "${cls.name}" (allowed: ${refs})`
    );
  }
  if (c2.case !== 1 && c2.case !== 3) {
    c2.data.fill(0);
    throw new BrokerError(
      "E_APDU_DENIED",
      `PIN VERIFY refused: ${head} is case ${c2.case}; VERIFY carries no Le (case 1 or 3 only) (card class "${cls.name}")`
    );
  }
  return c2;
}

// platform/slot-broker/buffers.ts
var SlotBuffers = class {
  held = [];
  /** Keep `buf` under the broker's care until the next exchange or the end of the lease. */
  hold(buf) {
    this.held.push(buf);
    return buf;
  }
  /** A new exchange supersedes the previous one: its buffers are no longer needed. */
  beginExchange() {
    this.zeroAll();
  }
  zeroAll() {
    for (const b of this.held) b.fill(0);
    this.held = [];
  }
  /** Test-only view of the buffers currently held (the same objects, not copies). */
  inspect() {
    return [...this.held];
  }
};

// platform/slot-broker/leases.ts
import { randomBytes as randomBytes3, timingSafeEqual } from "node:crypto";
var TOKEN_BYTES = 32;
var TOKEN_PATTERN = /^[0-9a-f]{64}$/;
var LeaseTable = class {
  constructor(opts) {
    this.opts = opts;
  }
  opts;
  held = /* @__PURE__ */ new Map();
  /** Slots whose previous lease is being wound down (card reset in progress): not grantable yet. */
  closing = /* @__PURE__ */ new Set();
  waiters = /* @__PURE__ */ new Map();
  notRouted(domain, slot) {
    return new BrokerError("E_NOT_ROUTED", `slot ${slot} holds no card routed to domain "${domain}"`);
  }
  acquire(domain, slot, timeoutMs) {
    if (this.opts.routeOf(slot)?.domain !== domain) return Promise.reject(this.notRouted(domain, slot));
    const queue = this.waiters.get(slot) ?? [];
    if (!this.isBusy(slot) && queue.length === 0) {
      const lease = this.grant(domain, slot);
      if (lease !== null) return Promise.resolve(lease);
      return Promise.reject(this.notRouted(domain, slot));
    }
    const wait = Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 0;
    if (wait === 0) return Promise.reject(busy(slot, wait));
    return new Promise((resolve6, reject) => {
      const waiter = { domain, resolve: resolve6, reject, timer: null };
      waiter.timer = setTimeout(() => {
        this.dropWaiter(slot, waiter);
        reject(busy(slot, wait));
      }, wait);
      waiter.timer.unref?.();
      queue.push(waiter);
      this.waiters.set(slot, queue);
    });
  }
  /**
   * The lease `token` names, if it was issued to `domain` and is still active. Tokens are compared in
   * constant time against every live lease so that timing says nothing about how close a guess was.
   */
  validate(domain, token) {
    if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) throw invalidToken(domain);
    const candidate = Buffer.from(token, "hex");
    let found = null;
    for (const rec of this.held.values()) {
      if (timingSafeEqual(rec.tokenBytes, candidate) && rec.active) found = rec;
    }
    candidate.fill(0);
    if (found === null || found.domain !== domain) throw invalidToken(domain);
    return found;
  }
  holder(slot) {
    return this.held.get(slot) ?? null;
  }
  leasesOf(domain) {
    return [...this.held.values()].filter((l) => l.domain === domain);
  }
  all() {
    return [...this.held.values()];
  }
  /** An APDU (or reset) starts on the lease: it counts as activity, and the idle clock stops meanwhile. */
  beginUse(lease) {
    const rec = this.held.get(lease.slot);
    if (rec === void 0 || rec !== lease) return;
    rec.inFlight++;
    this.armIdle(rec);
  }
  endUse(lease) {
    const rec = this.held.get(lease.slot);
    if (rec === void 0 || rec !== lease) return;
    rec.inFlight = Math.max(0, rec.inFlight - 1);
    this.armIdle(rec);
  }
  /**
   * Revoke `lease` now: its token stops working at once. The slot stays closed to new holders until
   * the broker calls free() after resetting the card. Returns false if the lease had already ended.
   */
  revoke(lease) {
    const rec = this.held.get(lease.slot);
    if (rec === void 0 || rec !== lease || !rec.active) return false;
    rec.active = false;
    if (rec.idleTimer !== null) clearTimeout(rec.idleTimer);
    if (rec.maxTimer !== null) clearTimeout(rec.maxTimer);
    rec.tokenBytes.fill(0);
    this.held.delete(lease.slot);
    this.closing.add(lease.slot);
    return true;
  }
  /** The slot is clean again: hand it to the first waiter still entitled to it. */
  free(slot) {
    this.closing.delete(slot);
    this.grantNext(slot);
  }
  rejectWaiters(filter, err) {
    for (const [slot, queue] of this.waiters) {
      const keep = [];
      for (const w of queue) {
        if (filter(slot, w.domain)) {
          if (w.timer !== null) clearTimeout(w.timer);
          w.reject(err(slot));
        } else {
          keep.push(w);
        }
      }
      this.waiters.set(slot, keep);
    }
  }
  isBusy(slot) {
    return this.held.has(slot) || this.closing.has(slot);
  }
  grantNext(slot) {
    const queue = this.waiters.get(slot);
    while (queue !== void 0 && queue.length > 0 && !this.isBusy(slot)) {
      const w = queue.shift();
      if (w.timer !== null) clearTimeout(w.timer);
      const lease = this.opts.routeOf(slot)?.domain === w.domain ? this.grant(w.domain, slot) : null;
      if (lease === null) w.reject(this.notRouted(w.domain, slot));
      else w.resolve(lease);
    }
  }
  grant(domain, slot) {
    const route = this.opts.routeOf(slot);
    if (route === null || route.domain !== domain) return null;
    const tokenBytes = randomBytes3(TOKEN_BYTES);
    const rec = {
      slot,
      domain,
      token: tokenBytes.toString("hex"),
      cardClass: route.cardClass,
      atr: route.atr,
      active: true,
      tokenBytes,
      inFlight: 0,
      idleTimer: null,
      maxTimer: null
    };
    this.held.set(slot, rec);
    this.armIdle(rec);
    rec.maxTimer = setTimeout(() => this.expire(rec), this.opts.maxMs);
    rec.maxTimer.unref?.();
    return rec;
  }
  armIdle(rec) {
    if (rec.idleTimer !== null) clearTimeout(rec.idleTimer);
    rec.idleTimer = null;
    if (!rec.active || rec.inFlight > 0) return;
    rec.idleTimer = setTimeout(() => this.expire(rec), this.opts.idleTimeoutMs);
    rec.idleTimer.unref?.();
  }
  expire(rec) {
    if (rec.active) this.opts.onExpire(rec);
  }
  dropWaiter(slot, waiter) {
    const queue = this.waiters.get(slot);
    if (queue === void 0) return;
    const i = queue.indexOf(waiter);
    if (i >= 0) queue.splice(i, 1);
  }
};
function invalidToken(domain) {
  return new BrokerError(
    "E_LEASE",
    `lease token is not valid for domain "${domain}" (unknown, released, revoked or issued to another domain)`
  );
}
function busy(slot, waitedMs) {
  return new BrokerError("E_BUSY", `slot ${slot} is leased by another holder; gave up after waiting ${waitedMs} ms`);
}

// platform/slot-broker/queue.ts
var SerialQueue = class {
  tail = Promise.resolve();
  run(task) {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => void 0);
    return result;
  }
};

// platform/slot-broker/routing.ts
var DEFAULT_MAX_RESPONSE_BYTES2 = 4096;
var RouteConfigError = class extends Error {
  constructor(message) {
    super(message);
    this.name = "RouteConfigError";
  }
};
function compileRoutes(routes) {
  const seen = /* @__PURE__ */ new Map();
  return routes.map((route, i) => {
    const cc = route.cardClass;
    const where = `route ${i} (domain "${route.domain}", card class "${cc.name}")`;
    try {
      if (typeof route.domain !== "string" || route.domain === "") throw new TypeError("domain is empty");
      if (typeof cc.name !== "string" || cc.name === "") throw new TypeError("card class name is empty");
      const owner = seen.get(cc.name);
      if (owner !== void 0) {
        throw new TypeError(`card class name is already used by domain "${owner}"; a class belongs to one domain`);
      }
      seen.set(cc.name, route.domain);
      const atrValue = fromHex(cc.atr.value, "atr.value");
      const atrMask = fromHex(cc.atr.mask, "atr.mask");
      if (atrValue.length < 1 || atrValue.length > 33) {
        throw new TypeError(`atr.value is ${atrValue.length} bytes; a pattern has 1..33 bytes (an ATR at most 33)`);
      }
      if (atrMask.length !== atrValue.length) {
        throw new TypeError(`atr.mask is ${atrMask.length} bytes but atr.value is ${atrValue.length}`);
      }
      const aids = cc.aids.map((a, j) => {
        const aid = fromHex(a, `aids[${j}]`);
        if (aid.length < 5 || aid.length > 16) throw new TypeError(`aids[${j}] is ${aid.length} bytes; an AID has 5..16`);
        return aid;
      });
      const maxResponseBytes = cc.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES2;
      if (!Number.isInteger(maxResponseBytes) || maxResponseBytes < 0 || maxResponseBytes > 65536) {
        throw new TypeError(`maxResponseBytes ${String(cc.maxResponseBytes)} is not an integer 0..65536`);
      }
      const pinReferences = /* @__PURE__ */ new Set();
      for (const ref of cc.pinReferences) {
        if (!Number.isInteger(ref) || ref < 0 || ref > 255) throw new TypeError(`pinReferences entry ${String(ref)} is not a byte`);
        pinReferences.add(ref);
      }
      return {
        domain: route.domain,
        name: cc.name,
        atrValue,
        atrMask,
        aids,
        maxResponseBytes,
        pinReferences,
        rules: compileRules(cc, "card class")
      };
    } catch (e) {
      throw new RouteConfigError(`${where}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
}
function atrMatches(atr, route) {
  if (atr.length < route.atrValue.length) return false;
  for (let i = 0; i < route.atrValue.length; i++) {
    const m = route.atrMask[i];
    if ((atr[i] & m) !== (route.atrValue[i] & m)) return false;
  }
  return true;
}
function selectByAid(aid) {
  return buildApdu({ cla: 0, ins: 164, p1: 4, p2: 0, data: aid, le: 256 });
}
function selectSucceeded(response) {
  if (response.length < 2) return false;
  const sw1 = response[response.length - 2];
  const sw2 = response[response.length - 1];
  return sw1 === 144 && sw2 === 0 || sw1 === 97;
}
async function decideRoute(atr, routes, probe) {
  const candidates = routes.filter((r) => atrMatches(atr, r));
  if (candidates.length === 0) {
    return { kind: "refused", reason: "no card class of any policy matches this ATR", probed: false };
  }
  if (candidates.length === 1) return { kind: "routed", route: candidates[0], probed: false };
  let probed = false;
  for (const route of candidates) {
    for (const aid of route.aids) {
      probed = true;
      if (await probe(aid)) return { kind: "routed", route, probed };
    }
  }
  const names = candidates.map((c2) => `"${c2.name}"`).join(", ");
  return {
    kind: "refused",
    reason: `ATR matches card classes ${names} but the card answered none of their AIDs to SELECT`,
    probed
  };
}

// platform/slot-broker/transport.ts
async function exchange(command, parsed, ctx) {
  const { slot, cardClass, limits, buffers } = ctx;
  const what = `CLA ${byteHex(parsed.cla)} INS ${byteHex(parsed.ins)}`;
  const fail2 = (msg) => new BrokerError("E_CARD", `card in slot ${slot} (class "${cardClass}"), ${what}: ${msg}`);
  const chunks = [];
  let dataBytes = 0;
  let rounds2 = 0;
  let current = parsed;
  let currentBytes = command;
  let resent6C = false;
  for (; ; ) {
    const response = buffers.hold(await ctx.send(currentBytes));
    if (ctx.sensitive) currentBytes.fill(0);
    if (response.length < 2) {
      throw fail2(`answered ${response.length} byte(s); a response needs at least SW1 SW2`);
    }
    if (response.length > limits.maxCardDataBytes + 2) {
      throw fail2(
        `answered ${response.length - 2} data bytes, over the card class limit of ${limits.maxCardDataBytes}`
      );
    }
    const sw1 = response[response.length - 2];
    const sw2 = response[response.length - 1];
    if (sw1 === 108) {
      if (resent6C) {
        throw fail2(`answered 6C${byteHex(sw2)} again after the re-send with the Le it asked for`);
      }
      if (++rounds2 > limits.maxRounds) {
        throw fail2(`still asking for a re-send (6C${byteHex(sw2)}) after ${limits.maxRounds} rounds`);
      }
      resent6C = true;
      current = { ...current, le: sw2 === 0 ? 256 : sw2 };
      currentBytes = buffers.hold(
        buildApdu({ cla: current.cla, ins: current.ins, p1: current.p1, p2: current.p2, data: current.data, le: current.le ?? 0, extended: current.extended })
      );
      continue;
    }
    const data = response.subarray(0, response.length - 2);
    dataBytes += data.length;
    if (dataBytes > limits.maxCardDataBytes) {
      throw fail2(`assembled response data reached ${dataBytes} bytes, over the card class limit of ${limits.maxCardDataBytes}`);
    }
    if (dataBytes + 2 > limits.maxAssembledBytes) {
      throw fail2(`assembled response reached ${dataBytes + 2} bytes, over the broker limit of ${limits.maxAssembledBytes}`);
    }
    if (data.length > 0) chunks.push(data);
    if (sw1 === 97) {
      if (++rounds2 > limits.maxRounds) {
        throw fail2(`card kept answering 61xx after ${limits.maxRounds} rounds of GET RESPONSE`);
      }
      resent6C = false;
      current = { cla: 0, ins: 192, p1: 0, p2: 0, data: new Uint8Array(0), le: sw2 === 0 ? 256 : sw2, case: 2, extended: false };
      currentBytes = buffers.hold(buildApdu({ cla: 0, ins: 192, p1: 0, p2: 0, le: current.le ?? 256 }));
      continue;
    }
    const out = buffers.hold(new Uint8Array(dataBytes + 2));
    let at = 0;
    for (const c2 of chunks) {
      out.set(c2, at);
      at += c2.length;
    }
    out[at] = sw1;
    out[at + 1] = sw2;
    return out.slice();
  }
}

// platform/slot-broker/broker.ts
var inspectors = /* @__PURE__ */ new WeakMap();
function checkOptions(o) {
  const positive = [
    "leaseIdleTimeoutMs",
    "leaseMaxMs",
    "maxTransportRounds",
    "maxResponseBytes",
    "maxCommandBytes"
  ];
  for (const k of positive) {
    const v = o[k];
    if (!Number.isInteger(v) || v <= 0) throw new TypeError(`broker option ${k} must be a positive integer, got ${String(v)}`);
  }
  if (o.maxResponseBytes < 2) throw new TypeError("broker option maxResponseBytes must leave room for SW1 SW2 (>= 2)");
  if (o.maxCommandBytes < 4) throw new TypeError("broker option maxCommandBytes must allow a 4-byte header (>= 4)");
}
var Broker = class {
  constructor(driver, options) {
    this.driver = driver;
    this.options = options;
    checkOptions(options);
    this.routes = compileRoutes(options.routes);
    if (!Number.isInteger(driver.slotCount) || driver.slotCount < 0) {
      throw new TypeError(`driver "${driver.name}" reports an invalid slot count ${String(driver.slotCount)}`);
    }
    this.slots = Array.from({ length: driver.slotCount }, () => ({
      generation: 0,
      atr: null,
      atrHex: null,
      route: null,
      queue: new SerialQueue(),
      buffers: new SlotBuffers()
    }));
    this.leases = new LeaseTable({
      idleTimeoutMs: options.leaseIdleTimeoutMs,
      maxMs: options.leaseMaxMs,
      routeOf: (slot) => {
        const s = this.slots[slot];
        if (s === void 0 || s.route === null || s.atrHex === null) return null;
        return { domain: s.route.domain, cardClass: s.route.name, atr: s.atrHex };
      },
      onExpire: (lease) => void this.endLease(lease, "timeout")
    });
    inspectors.set(this, (slot) => this.slots[slot]?.buffers.inspect() ?? []);
  }
  driver;
  options;
  routes;
  slots;
  leases;
  listeners = /* @__PURE__ */ new Set();
  state = "new";
  async start() {
    if (this.state !== "new") throw new BrokerError("E_SLOT", `slot broker already ${this.state}; create a new one`);
    this.state = "running";
    await this.driver.start((e) => this.onDriverEvent(e));
  }
  async stop() {
    if (this.state === "stopped") return;
    const wasRunning = this.state === "running";
    this.state = "stopped";
    this.leases.rejectWaiters(
      () => true,
      (slot) => new BrokerError("E_SLOT", `slot broker stopped while waiting for slot ${slot}`)
    );
    await Promise.all(this.leases.all().map((l) => this.endLease(l, "shutdown")));
    for (const s of this.slots) s.buffers.zeroAll();
    if (wasRunning) await this.driver.stop();
  }
  onEvent(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  cardsFor(domain) {
    const out = [];
    this.slots.forEach((s, slot) => {
      if (s.route !== null && s.route.domain === domain && s.atrHex !== null) {
        out.push({ slot, cardClass: s.route.name, atr: s.atrHex });
      }
    });
    return out;
  }
  async acquire(domain, slot, timeoutMs) {
    this.assertRunning();
    this.slotState(slot);
    const lease = await this.leases.acquire(domain, slot, timeoutMs);
    return { token: lease.token, slot: lease.slot, cardClass: lease.cardClass, atr: lease.atr };
  }
  checkLease(domain, token) {
    this.assertRunning();
    const lease = this.leases.validate(domain, token);
    return { token: lease.token, slot: lease.slot, cardClass: lease.cardClass, atr: lease.atr };
  }
  async transmit(domain, token, apdu) {
    this.assertRunning();
    const lease = this.leases.validate(domain, token);
    const route = this.routeOfLease(lease);
    const command = apdu instanceof Uint8Array ? apdu.slice() : apdu;
    const parsed = checkAppletApdu(command, route, this.options.maxCommandBytes);
    return this.exchangeOnLease(lease, route, command, parsed, false);
  }
  async transmitPinVerify(domain, token, apdu) {
    this.assertRunning();
    const lease = this.leases.validate(domain, token);
    const route = this.routeOfLease(lease);
    const command = apdu instanceof Uint8Array ? apdu.slice() : apdu;
    let parsed = null;
    try {
      parsed = checkPinVerify(command, route, this.options.maxCommandBytes);
      return await this.exchangeOnLease(lease, route, command, parsed, true);
    } finally {
      if (command instanceof Uint8Array) command.fill(0);
      parsed?.data.fill(0);
    }
  }
  async reset(domain, token) {
    this.assertRunning();
    const lease = this.leases.validate(domain, token);
    const slot = lease.slot;
    const st = this.slotState(slot);
    const generation = st.generation;
    this.leases.beginUse(lease);
    try {
      return await st.queue.run(async () => {
        this.checkStillHeld(lease, generation);
        st.buffers.beginExchange();
        const atr = await this.driverCall(slot, "reset", () => this.driver.reset(slot), false);
        this.checkStillHeld(lease, generation);
        return atr.slice();
      });
    } finally {
      this.leases.endUse(lease);
    }
  }
  async release(domain, token) {
    this.assertRunning();
    const lease = this.leases.validate(domain, token);
    await this.endLease(lease, "release");
  }
  async revokeDomain(domain, reason) {
    this.leases.rejectWaiters(
      (_slot, d) => d === domain,
      (slot) => new BrokerError("E_LEASE", `domain "${domain}" lost its leases (${reason}) while waiting for slot ${slot}`)
    );
    await Promise.all(this.leases.leasesOf(domain).map((l) => this.endLease(l, reason)));
  }
  // ---- internals ----
  emit(e) {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
      }
    }
  }
  assertRunning() {
    if (this.state !== "running") {
      throw new BrokerError("E_SLOT", `slot broker is ${this.state === "new" ? "not started" : "stopped"}`);
    }
  }
  slotState(slot) {
    const st = Number.isInteger(slot) ? this.slots[slot] : void 0;
    if (st === void 0) {
      throw new BrokerError(
        "E_SLOT",
        `slot ${String(slot)} does not exist; driver "${this.driver.name}" has slots 0..${this.slots.length - 1}`
      );
    }
    return st;
  }
  routeOfLease(lease) {
    const route = this.slots[lease.slot]?.route;
    if (route === null || route === void 0 || route.name !== lease.cardClass) {
      throw new BrokerError("E_NO_CARD", `slot ${lease.slot}: the leased card is no longer there`);
    }
    return route;
  }
  checkStillHeld(lease, generation) {
    if (this.slots[lease.slot].generation !== generation) {
      throw new BrokerError("E_NO_CARD", `slot ${lease.slot}: card was removed`);
    }
    if (!lease.active) {
      throw new BrokerError("E_LEASE", `slot ${lease.slot}: the lease was revoked before the card answered`);
    }
  }
  async exchangeOnLease(lease, route, command, parsed, sensitive) {
    const slot = lease.slot;
    const st = this.slotState(slot);
    const generation = st.generation;
    this.leases.beginUse(lease);
    try {
      return await st.queue.run(async () => {
        this.checkStillHeld(lease, generation);
        st.buffers.beginExchange();
        const held = sensitive ? command : st.buffers.hold(command);
        const response = await exchange(held, parsed, {
          slot,
          cardClass: route.name,
          buffers: st.buffers,
          sensitive,
          limits: {
            maxRounds: this.options.maxTransportRounds,
            maxAssembledBytes: this.options.maxResponseBytes,
            maxCardDataBytes: route.maxResponseBytes
          },
          send: (bytes3) => this.driverCall(slot, `command INS ${byteHex(bytes3[1] ?? 0)}`, () => this.driver.transmit(slot, bytes3), true)
        });
        this.checkStillHeld(lease, generation);
        return response;
      });
    } finally {
      this.leases.endUse(lease);
    }
  }
  /**
   * One driver call with its failures put in broker terms. A mute card or I/O error leaves the card in
   * an unknown state (perhaps mid-command), so the slot is reset before anyone sends to it again.
   */
  async driverCall(slot, what, call, recover) {
    let result;
    try {
      result = await call();
    } catch (e) {
      const code = e instanceof DriverError ? e.code : "E_IO";
      const detail = e instanceof Error ? e.message : String(e);
      if (code === "E_NO_CARD" || code === "E_CARD_REMOVED") {
        throw new BrokerError("E_NO_CARD", `slot ${slot}: no card (${what} failed: ${detail})`);
      }
      if (code === "E_SLOT") throw new BrokerError("E_SLOT", `slot ${slot}: ${what} failed: ${detail}`);
      let recovered = "no reset attempted";
      if (recover) {
        try {
          await this.driver.reset(slot);
          recovered = "the card was reset";
        } catch {
          recovered = "resetting the card failed too";
        }
      }
      const why = code === "E_MUTE" ? "card did not answer (mute)" : `driver error: ${detail}`;
      throw new BrokerError("E_CARD", `slot ${slot}: ${what}: ${why}; ${recovered}`);
    }
    if (!(result instanceof Uint8Array)) {
      throw new BrokerError("E_CARD", `slot ${slot}: ${what}: driver "${this.driver.name}" returned no byte array`);
    }
    return result;
  }
  /**
   * End a lease for any reason. The token dies at once; the card is reset (so no verified PIN or
   * selected application carries over), every buffer kept for the slot is wiped, and only then is
   * the slot handed to the next waiter.
   */
  async endLease(lease, reason) {
    if (!this.leases.revoke(lease)) return;
    const slot = lease.slot;
    const st = this.slots[slot];
    this.emit({ type: "lease-revoked", slot, domain: lease.domain, reason });
    const generation = st.generation;
    let resetFailed = false;
    if (reason !== "removal") {
      resetFailed = !await st.queue.run(() => this.resetQuietly(slot));
    }
    st.buffers.zeroAll();
    if (resetFailed && st.generation === generation && st.route !== null) {
      const domain = st.route.domain;
      st.route = null;
      st.generation++;
      this.emit({ type: "removed", slot, domain });
    }
    this.leases.free(slot);
  }
  async resetQuietly(slot) {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.driver.reset(slot);
        return true;
      } catch (e) {
        if (e instanceof DriverError && (e.code === "E_NO_CARD" || e.code === "E_CARD_REMOVED")) return true;
      }
    }
    return false;
  }
  onDriverEvent(e) {
    if (this.state !== "running") return;
    const st = this.slots[e.slot];
    if (st === void 0) return;
    if (e.type === "remove") {
      this.onRemove(e.slot, st);
      return;
    }
    if (st.atr !== null) this.onRemove(e.slot, st);
    st.generation++;
    st.atr = e.atr.slice();
    st.atrHex = toHex(st.atr);
    st.route = null;
    void this.routeInsertion(e.slot, st, st.generation, st.atr, st.atrHex);
  }
  onRemove(slot, st) {
    const domain = st.route?.domain ?? null;
    st.generation++;
    st.route = null;
    st.atr = null;
    st.atrHex = null;
    this.leases.rejectWaiters(
      (s) => s === slot,
      (s) => new BrokerError("E_NOT_ROUTED", `card in slot ${s} was removed while waiting for it`)
    );
    const lease = this.leases.holder(slot);
    if (lease !== null) void this.endLease(lease, "removal");
    st.buffers.zeroAll();
    this.emit({ type: "removed", slot, domain });
  }
  async routeInsertion(slot, st, generation, atr, atrHex) {
    let decision;
    try {
      decision = await st.queue.run(async () => {
        const d = await decideRoute(atr, this.routes, (aid) => this.probe(slot, st, generation, aid));
        if (d.probed && st.generation === generation && !await this.resetQuietly(slot)) {
          return { kind: "refused", reason: "the card could not be reset after AID probing", probed: true };
        }
        return d;
      });
    } catch (e) {
      decision = { kind: "refused", reason: `routing failed: ${e instanceof Error ? e.message : String(e)}`, probed: false };
    }
    if (st.generation !== generation || this.state !== "running") return;
    if (decision.kind === "routed") {
      st.route = decision.route;
      this.emit({ type: "offered", slot, domain: decision.route.domain, cardClass: decision.route.name, atr: atrHex });
    } else {
      this.emit({ type: "refused", slot, atr: atrHex, reason: decision.reason });
    }
  }
  async probe(slot, st, generation, aid) {
    if (st.generation !== generation) throw new BrokerError("E_NO_CARD", `slot ${slot}: card removed during routing`);
    const command = selectByAid(aid);
    try {
      const response = await this.driverCall(slot, "SELECT by AID (routing probe)", () => this.driver.transmit(slot, command), false);
      const ok2 = selectSucceeded(response);
      response.fill(0);
      return ok2;
    } catch (e) {
      if (e instanceof BrokerError && e.code === "E_NO_CARD") throw e;
      return false;
    }
  }
};
function createSlotBroker(driver, options) {
  return new Broker(driver, options);
}

// emulator/reader/types.ts
var ReaderError = class extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
    this.name = "ReaderError";
  }
  code;
};

// platform/slot-broker/drivers/emulated.ts
var EmulatedDriver = class {
  constructor(reader) {
    this.reader = reader;
  }
  reader;
  name = "emulated";
  listener = null;
  get slotCount() {
    return this.reader.slotCount;
  }
  async start(onEvent) {
    if (this.listener !== null) throw new DriverError("E_SLOT", "emulated driver already started");
    this.listener = (e) => {
      onEvent(e.type === "insert" ? { type: "insert", slot: e.slot, atr: e.atr.slice() } : { type: "remove", slot: e.slot });
    };
    this.reader.on("event", this.listener);
    for (let slot = 0; slot < this.reader.slotCount; slot++) {
      if (!this.reader.present(slot)) continue;
      try {
        const atr = await this.reader.reset(slot);
        onEvent({ type: "insert", slot, atr: atr.slice() });
      } catch (e) {
        if (!(e instanceof ReaderError)) throw mapError(e, slot, "power-up");
      }
    }
  }
  async reset(slot) {
    try {
      return (await this.reader.reset(slot)).slice();
    } catch (e) {
      throw mapError(e, slot, "reset");
    }
  }
  async transmit(slot, apdu) {
    try {
      return (await this.reader.transmit(slot, apdu)).slice();
    } catch (e) {
      throw mapError(e, slot, "transmit");
    }
  }
  async stop() {
    if (this.listener !== null) this.reader.off("event", this.listener);
    this.listener = null;
  }
};
function mapError(e, slot, op) {
  if (e instanceof DriverError) return e;
  if (e instanceof ReaderError) {
    const code = e.code === "E_RESPONSE_TOO_LONG" ? "E_IO" : e.code;
    return new DriverError(code, `emulated reader, slot ${slot}, ${op}: ${e.message}`);
  }
  return new DriverError("E_IO", `emulated reader, slot ${slot}, ${op}: ${e instanceof Error ? e.message : String(e)}`);
}

// emulator/reader/timing.ts
var ETU_PER_BYTE = 12;
var DEFAULT_BAUD_RATE = 9600;
var ISO_BAUD_RATES = [9600, 19200, 38400, 57600, 115200];
var DEFAULT_TIMING = Object.freeze({
  baudRate: DEFAULT_BAUD_RATE,
  processingScale: 1,
  enabled: false
});
function isIsoBaudRate(bps) {
  return ISO_BAUD_RATES.includes(bps);
}
function makeTimingModel(partial = {}) {
  const model = { ...DEFAULT_TIMING, ...partial };
  if (!isIsoBaudRate(model.baudRate)) {
    throw new RangeError(`timing.baudRate ${String(model.baudRate)} is not one of ${ISO_BAUD_RATES.join(", ")} bps`);
  }
  if (typeof model.processingScale !== "number" || !Number.isFinite(model.processingScale) || model.processingScale < 0) {
    throw new RangeError(`timing.processingScale must be a finite number >= 0, got ${String(model.processingScale)}`);
  }
  if (typeof model.enabled !== "boolean") {
    throw new RangeError(`timing.enabled must be a boolean, got ${String(model.enabled)}`);
  }
  return model;
}
function transferMs(bytes3, baudRate) {
  return bytes3 * ETU_PER_BYTE * 1e3 / baudRate;
}
function exchangeTiming(commandBytes, responseBytes, cardProcessingMs, baudRate, processingScale) {
  const commandMs = transferMs(commandBytes, baudRate);
  const processingMs = Math.max(0, cardProcessingMs) * processingScale;
  const responseMs = transferMs(responseBytes, baudRate);
  return { commandMs, processingMs, responseMs, totalMs: commandMs + processingMs + responseMs };
}
function atrMs(atrBytes) {
  return transferMs(atrBytes, DEFAULT_BAUD_RATE);
}

// emulator/reader/reader.ts
var MAX_SLOTS = 16;
var realSleep = (ms, signal) => new Promise((resolve6, reject) => {
  if (signal.aborted) {
    reject(signal.reason);
    return;
  }
  const onAbort = () => {
    clearTimeout(timer);
    reject(signal.reason);
  };
  const timer = setTimeout(() => {
    signal.removeEventListener("abort", onAbort);
    resolve6();
  }, ms);
  signal.addEventListener("abort", onAbort, { once: true });
});
function describe2(e) {
  return e instanceof Error ? e.message : String(e);
}
var EmulatedReader = class {
  slotCount;
  #timing;
  #muteTimeoutMs;
  #maxResponseBytes;
  #sleep;
  #slots;
  #listeners = /* @__PURE__ */ new Set();
  #cardTimeMs = 0;
  constructor(options = {}) {
    const slots = options.slots ?? 2;
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) {
      throw new RangeError(`EmulatedReader: slots must be an integer in 1..${MAX_SLOTS}, got ${String(slots)}`);
    }
    this.slotCount = slots;
    this.#timing = makeTimingModel(options.timing);
    this.#muteTimeoutMs = options.muteTimeoutMs ?? 1e3;
    if (!Number.isFinite(this.#muteTimeoutMs) || this.#muteTimeoutMs < 0) {
      throw new RangeError(`EmulatedReader: muteTimeoutMs must be >= 0, got ${String(options.muteTimeoutMs)}`);
    }
    this.#maxResponseBytes = options.maxResponseBytes ?? 65538;
    this.#sleep = options.sleep ?? realSleep;
    this.#slots = Array.from({ length: slots }, () => ({
      card: null,
      generation: 0,
      removal: new AbortController(),
      baudRate: this.#timing.baudRate,
      queue: Promise.resolve()
    }));
  }
  get cardTimeMs() {
    return this.#cardTimeMs;
  }
  get timing() {
    return { ...this.#timing };
  }
  /** Change the timing model; slots keep their negotiated rate until their next reset. */
  setTiming(partial) {
    this.#timing = makeTimingModel({ ...this.#timing, ...partial });
  }
  #slot(slot) {
    const s = Number.isInteger(slot) ? this.#slots[slot] : void 0;
    if (!s) throw new ReaderError("E_SLOT", `slot ${String(slot)} does not exist (reader has slots 0..${this.slotCount - 1})`);
    return s;
  }
  #emit(event) {
    let first = null;
    for (const l of [...this.#listeners]) {
      try {
        l(event);
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== null) throw first;
  }
  insert(slot, card) {
    const s = this.#slot(slot);
    if (s.card) throw new ReaderError("E_SLOT", `slot ${slot} already holds a card (${s.card.kind}); remove it first`);
    const atr = card.reset().slice();
    s.card = card;
    s.generation++;
    s.removal = new AbortController();
    s.baudRate = this.#timing.baudRate;
    this.#emit({ type: "insert", slot, atr });
  }
  remove(slot) {
    const s = this.#slot(slot);
    if (!s.card) throw new ReaderError("E_NO_CARD", `slot ${slot} has no card to remove`);
    s.card = null;
    s.generation++;
    s.removal.abort(new ReaderError("E_CARD_REMOVED", `slot ${slot}: card removed during the exchange`));
    this.#emit({ type: "remove", slot });
  }
  present(slot) {
    return this.#slot(slot).card !== null;
  }
  /** PPS: switch the slot's line to `bps` until the next reset or removal. */
  setBaudRate(slot, bps) {
    const s = this.#slot(slot);
    if (!s.card) throw new ReaderError("E_NO_CARD", `slot ${slot}: PPS needs a card`);
    if (!isIsoBaudRate(bps)) {
      throw new RangeError(`slot ${slot}: ${String(bps)} bps is not a PPS rate (use one of ${ISO_BAUD_RATES.join(", ")})`);
    }
    s.baudRate = bps;
  }
  baudRate(slot) {
    return this.#slot(slot).baudRate;
  }
  reset(slot) {
    return this.#enqueue(slot, async (s, card, guard) => {
      let atr;
      try {
        atr = card.reset().slice();
      } catch (e) {
        return this.#mute(slot, s, guard, `card model threw on reset: ${describe2(e)}`);
      }
      s.baudRate = this.#timing.baudRate;
      if (atr.length === 0) return this.#mute(slot, s, guard, "no ATR");
      await this.#lineWait(atrMs(atr.length), s, guard);
      return atr;
    });
  }
  transmit(slot, apdu) {
    const command = apdu.slice();
    return this.#enqueue(slot, async (s, card, guard) => {
      let processing = 0;
      if (this.#timing.enabled && card.processingMs) {
        try {
          processing = card.processingMs(command);
        } catch {
          processing = 0;
        }
      }
      const t = exchangeTiming(command.length, 0, processing, s.baudRate, this.#timing.processingScale);
      await this.#lineWait(t.commandMs + t.processingMs, s, guard);
      let response;
      try {
        response = card.process(command);
      } catch (e) {
        return this.#mute(slot, s, guard, `card model threw: ${describe2(e)}`);
      }
      if (response === null) return this.#mute(slot, s, guard, "no answer");
      if (response.length > this.#maxResponseBytes) {
        throw new ReaderError(
          "E_RESPONSE_TOO_LONG",
          `slot ${slot}: response of ${response.length} bytes exceeds the ${this.#maxResponseBytes}-byte limit`
        );
      }
      if (response.length < 2) return this.#mute(slot, s, guard, `answer of ${response.length} byte(s) has no status word`);
      const out = response.slice();
      await this.#lineWait(transferMs(out.length, s.baudRate), s, guard);
      return out;
    });
  }
  #enqueue(slot, run) {
    let s;
    try {
      s = this.#slot(slot);
    } catch (e) {
      return Promise.reject(e);
    }
    const card = s.card;
    if (!card) return Promise.reject(new ReaderError("E_NO_CARD", `slot ${slot} has no card`));
    const generation = s.generation;
    const guard = () => {
      if (s.generation !== generation) throw new ReaderError("E_CARD_REMOVED", `slot ${slot}: card removed during the exchange`);
    };
    const result = s.queue.then(() => {
      guard();
      return run(s, card, guard);
    });
    s.queue = result.catch(() => void 0);
    return result;
  }
  async #lineWait(ms, s, guard) {
    if (this.#timing.enabled && ms > 0) {
      this.#cardTimeMs += ms;
      try {
        await this.#sleep(ms, s.removal.signal);
      } catch (e) {
        guard();
        throw e;
      }
    } else {
      await Promise.resolve();
    }
    guard();
  }
  async #mute(slot, s, guard, why) {
    try {
      await this.#sleep(this.#muteTimeoutMs, s.removal.signal);
    } catch (e) {
      guard();
      throw e;
    }
    guard();
    throw new ReaderError("E_MUTE", `slot ${slot}: card mute (${why}) after ${this.#muteTimeoutMs} ms`);
  }
  on(event, listener) {
    if (event !== "event") throw new TypeError(`EmulatedReader.on: unknown event ${String(event)}`);
    this.#listeners.add(listener);
  }
  off(event, listener) {
    if (event !== "event") throw new TypeError(`EmulatedReader.off: unknown event ${String(event)}`);
    this.#listeners.delete(listener);
  }
};

// platform/kernel/kernel.ts
var Kernel = class _Kernel {
  constructor(config, audit, reader, logger, supervisor, broker, router) {
    this.config = config;
    this.audit = audit;
    this.reader = reader;
    this.logger = logger;
    this.supervisor = supervisor;
    this.broker = broker;
    this.router = router;
  }
  config;
  audit;
  reader;
  logger;
  supervisor;
  broker;
  router;
  terminal = new Terminal();
  policies = /* @__PURE__ */ new Map();
  refused = [];
  handlers = /* @__PURE__ */ new Map();
  stores = /* @__PURE__ */ new Map();
  transports = /* @__PURE__ */ new Map();
  stopped = false;
  static async boot(opts) {
    const config = opts.config;
    mkdirSync6(config.dataDir, { recursive: true });
    const audit = AuditLog.open(join7(config.dataDir, "audit.log"), { repairTornTail: true });
    audit.append("kernel.boot", null, { pid: process.pid, dev: Boolean(opts.devApplets) });
    const reader = opts.reader ?? new EmulatedReader({ slots: config.reader.slots, timing: { enabled: config.reader.timing, baudRate: config.reader.baudRate, processingScale: 1 } });
    const logger = new FileDomainLogger(join7(config.dataDir, "logs"));
    const supervisor = new Supervisor(config.supervisor);
    let kernel2;
    const services = {
      config,
      get broker() {
        return kernel2.broker;
      },
      terminal: null,
      audit,
      store: (domain) => kernel2.store(domain),
      policy: (domain) => kernel2.policies.get(domain),
      get transports() {
        return kernel2.transports;
      },
      logger,
      intents: {
        deliver: (from, target, action, payload, signal) => kernel2.deliverIntent(from, target, action, payload, signal)
      }
    };
    const router = new Router({
      ops: buildOpTable(services),
      deadlineMs: deadlineFor(services),
      redact: redactText,
      onRefusal: (domain, op, error) => audit.append("call.refused", domain, { op, code: error.code, reason: error.message })
    });
    kernel2 = new _Kernel(config, audit, reader, logger, supervisor, null, router);
    services.terminal = kernel2.terminal;
    const applets = opts.devApplets ? kernel2.acceptDevApplets(opts.devApplets) : await kernel2.loadInstalledApplets();
    kernel2.broker = createSlotBroker(new EmulatedDriver(reader), {
      ...DEFAULT_BROKER_OPTIONS,
      leaseIdleTimeoutMs: config.broker.leaseIdleTimeoutMs,
      leaseMaxMs: config.broker.leaseMaxMs,
      routes: applets.flatMap((a) => a.policy.cardClasses.map((cardClass) => ({ domain: a.policy.domain, cardClass })))
    });
    kernel2.broker.onEvent((e) => kernel2.onBrokerEvent(e));
    kernel2.wireSupervisor();
    for (const a of applets) router.attach(a.policy.domain, a.policy);
    await Promise.all(
      applets.map(async (a) => {
        try {
          await supervisor.startDomain({
            domain: a.policy.domain,
            script: a.script,
            filename: a.filename,
            limits: { memoryMb: a.policy.limits.memoryMb, cpuMsPerCall: a.policy.limits.cpuMsPerCall, wallMsPerCall: a.policy.limits.wallMsPerCall },
            clockGranularityMs: config.clockGranularityMs,
            maxFrameBytes: a.policy.limits.maxMessageBytes,
            readyTimeoutMs: config.supervisor.readyTimeoutMs
          });
        } catch (e) {
          audit.append("host.start-failed", a.policy.domain, { reason: e.message });
        }
      })
    );
    await kernel2.broker.start();
    kernel2.terminal.kernelScreen({ title: "Dispositif Int\xE9gr\xE9", lines: ["Pr\xEAt", "Ins\xE9rez une carte"] });
    audit.append("kernel.ready", null, { domains: [...kernel2.policies.keys()], refused: kernel2.refused.length });
    return kernel2;
  }
  store(domain) {
    let s = this.stores.get(domain);
    if (!s) {
      const policy = this.policies.get(domain);
      if (!policy) throw new KernelError("E_INTERNAL", `no policy for ${domain}`);
      s = openDomainStore({ dataDir: this.config.dataDir, domain, quotaBytes: policy.store.quotaBytes });
      this.stores.set(domain, s);
    }
    return s;
  }
  /** Calls an applet handler (kernel-initiated: card events, intents, `di eval`'s main). */
  call(domain, handler, args = [], deadlineMs) {
    const policy = this.policies.get(domain);
    if (!policy) return Promise.reject(new KernelError("E_UNAVAILABLE", `no domain ${domain} is running`));
    return this.supervisor.call(domain, handler, args, deadlineMs ?? policy.limits.handlerDeadlineMs).catch((e) => {
      if (e instanceof KernelError) throw new KernelError(e.code, redactText(e.message));
      throw e;
    });
  }
  insertCard(slot, card) {
    this.reader.insert(slot, card);
  }
  removeCard(slot) {
    this.reader.remove(slot);
  }
  status() {
    return {
      domains: [...this.policies.keys()].map((d) => {
        const s = this.supervisor.state(d);
        return { domain: d, state: s?.state ?? "not started", restarts: s?.restarts ?? 0, pid: s?.pid };
      }),
      refused: [...this.refused],
      foreground: this.terminal.foreground()
    };
  }
  async shutdown() {
    if (this.stopped) return;
    this.stopped = true;
    await this.supervisor.stopAll();
    await this.broker.stop();
    for (const s of this.stores.values()) s.close();
    this.audit.append("kernel.stop", null, {});
    this.audit.close();
  }
  acceptDevApplets(devApplets) {
    checkPolicySet(devApplets.map((a) => a.policy));
    for (const a of devApplets) {
      this.policies.set(a.policy.domain, a.policy);
      this.audit.append("package.unsigned", a.policy.domain, { filename: a.filename, warning: "development mode: unsigned applet, not for production" });
    }
    return devApplets;
  }
  /** Installed policies + their signed packages. A domain whose policy or package fails is refused, the rest boot. */
  async loadInstalledApplets() {
    const cfg = this.config;
    const files = readdirSync2(cfg.policyDir).filter((f) => f.endsWith(".json") && f !== "policy.schema.json").sort();
    const loaded = [];
    for (const f of files) {
      const file = join7(cfg.policyDir, f);
      try {
        const policy = loadPolicyFile(file);
        if (cfg.domains.length > 0 && !cfg.domains.includes(policy.domain)) continue;
        loaded.push({ policy, file });
      } catch (e) {
        this.refuse(file, e.message, "policy.refused");
      }
    }
    const names = new Set(loaded.map((l) => l.policy.domain));
    const forCheck = loaded.map(({ policy }) => {
      const dead = policy.intents.request.filter((g) => !names.has(g.target));
      for (const g of dead) this.audit.append("intent.inactive", policy.domain, { target: g.target, reason: "target domain not loaded" });
      return dead.length === 0 ? policy : { ...policy, intents: { ...policy.intents, request: policy.intents.request.filter((g) => names.has(g.target)) } };
    });
    try {
      checkPolicySet(forCheck);
    } catch (e) {
      this.refuse(cfg.policyDir, e.message, "policy.refused");
      return [];
    }
    const anchors = cfg.trustAnchors.length > 0 ? cfg.trustAnchors : [(await loadOrCreateDevKeys(cfg.dataDir)).rootPath];
    const trustAnchors = loadTrustAnchors(anchors);
    const out = [];
    for (const { policy, file } of loaded) {
      const pkgDir = join7(cfg.packageDir, policy.applet.id);
      try {
        if (!existsSync5(pkgDir)) await this.devPack(policy, pkgDir);
        const pkg = await verifyPackage(pkgDir, { trustAnchors });
        const installed = sha256(readFileSync6(file));
        if (sha256(pkg.policyBytes) !== installed) {
          throw new Error(`the installed policy ${basename(file)} differs from the policy signed in the package (re-pack the applet or restore the policy)`);
        }
        this.audit.append("package.verified", policy.domain, { id: pkg.manifest.id, version: pkg.manifest.version, signer: pkg.signerSubject });
        this.policies.set(policy.domain, pkg.policy);
        out.push({ policy: pkg.policy, script: pkg.script, filename: `${pkg.manifest.id}/applet.js` });
      } catch (e) {
        this.refuse(pkgDir, e.message, "package.refused", policy.domain);
      }
    }
    return out;
  }
  /** Development convenience: pack a bundled applet with the development key on first boot. */
  async devPack(policy, pkgDir) {
    const src = join7(this.config.appletSourceDir, policy.applet.id);
    if (!existsSync5(join7(src, "applet.json"))) throw new Error(`no package at ${pkgDir} and no applet source at ${src}`);
    const signer = await loadOrCreateDevSigner(this.config.dataDir);
    await packApplet({ dir: src, outDir: this.config.packageDir, signer });
    this.audit.append("package.devpack", policy.domain, { source: src, note: "signed with the development key" });
  }
  refuse(source, reason, event, domain = null) {
    this.refused.push({ source, reason });
    this.audit.append(event, domain, { source, reason });
  }
  wireSupervisor() {
    const { supervisor, router, audit } = this;
    supervisor.on("request", (domain, host, msg) => {
      try {
        router.dispatch(domain, msg, (id2, result) => host.reply(id2, result));
      } catch (e) {
        if (!(e instanceof ProtocolViolation)) throw e;
        audit.append("host.violation", domain, { reason: e.message });
        host.kill();
      }
    });
    supervisor.on("ready", (domain, handlers) => {
      this.handlers.set(domain, handlers);
      audit.append("host.ready", domain, { handlers });
      if (handlers.includes("onStart")) this.call(domain, "onStart").catch(() => void 0);
    });
    supervisor.on("down", (domain, reason) => {
      router.cancelAll(domain);
      audit.append("host.down", domain, { reason });
      this.broker?.revokeDomain(domain, "host-death").catch(() => void 0);
    });
    supervisor.on("breach", (domain, msg) => audit.append("watchdog.breach", domain, { kind: msg.kind, detail: msg.detail }));
    supervisor.on("violation", (domain, reason) => audit.append("host.violation", domain, { reason }));
    supervisor.on("exit", (domain, info) => audit.append("host.exit", domain, { code: info.code, signal: info.signal, uptimeMs: info.uptimeMs, restartInMs: info.restartInMs }));
    supervisor.on("output", (domain, line) => this.logger.hostOutput(domain, line));
  }
  onBrokerEvent(e) {
    switch (e.type) {
      case "offered":
        this.audit.append("card.offered", e.domain, { slot: e.slot, cardClass: e.cardClass });
        if (this.handlers.get(e.domain)?.includes("onCardInserted")) {
          this.call(e.domain, "onCardInserted", [{ slot: e.slot, cardClass: e.cardClass, atr: e.atr }]).catch(() => void 0);
        }
        return;
      case "refused":
        this.audit.append("card.refused", null, { slot: e.slot, atr: e.atr, reason: e.reason });
        return;
      case "removed":
        this.audit.append("card.removed", e.domain, { slot: e.slot });
        if (e.domain && this.handlers.get(e.domain)?.includes("onCardRemoved")) {
          this.call(e.domain, "onCardRemoved", [{ slot: e.slot }]).catch(() => void 0);
        }
        return;
      case "lease-revoked":
        this.audit.append("lease.revoked", e.domain, { slot: e.slot, reason: e.reason });
        return;
    }
  }
  async deliverIntent(from, target, action, payload, signal) {
    if (!this.handlers.get(target)?.includes("onIntent")) throw new KernelError("E_UNAVAILABLE", `${target} is not running or handles no intents`);
    const deadline = this.policies.get(target)?.limits.handlerDeadlineMs ?? 6e4;
    return this.terminal.withForeground(target, signal, () => this.call(target, "onIntent", [{ from, action, payload }], deadline));
  }
};
function sha256(b) {
  return createHash4("sha256").update(b).digest("hex");
}

// platform/kernel/config.ts
import { resolve as resolve4 } from "node:path";
function defaultConfig(dataDir2 = resolve4(process.cwd(), ".di-data")) {
  const root = repoRoot();
  return {
    dataDir: dataDir2,
    policyDir: resolve4(root, "policies"),
    packageDir: resolve4(dataDir2, "packages"),
    appletSourceDir: resolve4(root, "applets"),
    trustAnchors: [],
    domains: [],
    reader: { driver: "emulated", slots: 2, timing: false, baudRate: 9600 },
    clockGranularityMs: 100,
    supervisor: { backoffInitialMs: 100, backoffMaxMs: 1e4, stableAfterMs: 3e4, readyTimeoutMs: 1e4 },
    broker: { leaseIdleTimeoutMs: 3e4, leaseMaxMs: 10 * 6e4 },
    pin: { entryTimeoutMs: 6e4, minDigits: 4, maxDigits: 12 }
  };
}

// emulator/cards/test-card.ts
import { readFileSync as readFileSync7, existsSync as existsSync6 } from "node:fs";
import { dirname as dirname3, join as join8, resolve as resolve5 } from "node:path";
import { fileURLToPath as fileURLToPath3 } from "node:url";

// platform/sdk/hex.ts
var HEX_DIGITS = "0123456789ABCDEF";
var HexError = class extends Error {
  constructor(input, offset, message) {
    super(message);
    this.input = input;
    this.offset = offset;
    this.name = "HexError";
  }
  input;
  offset;
};
function toHex2(bytes3) {
  let out = "";
  for (let i = 0; i < bytes3.length; i++) {
    const b = bytes3[i];
    out += HEX_DIGITS[b >> 4] + HEX_DIGITS[b & 15];
  }
  return out;
}
function hexValue(code) {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 65 + 10;
  if (code >= 97 && code <= 102) return code - 97 + 10;
  return -1;
}
function isSpace(code) {
  return code === 32 || code === 9 || code === 10 || code === 13;
}
function excerpt(s) {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 61)}...` : s);
}
function fromHex2(s) {
  if (typeof s !== "string") {
    throw new HexError(String(s), 0, `fromHex: expected a string, got ${typeof s}`);
  }
  const out = new Uint8Array(s.length >> 1);
  let n2 = 0;
  let i = 0;
  while (i < s.length) {
    const c2 = s.charCodeAt(i);
    if (isSpace(c2)) {
      i++;
      continue;
    }
    const hi = hexValue(c2);
    if (hi < 0) {
      throw new HexError(s, i, `fromHex: invalid hex character ${JSON.stringify(s[i])} at offset ${i} in ${excerpt(s)}`);
    }
    if (i + 1 >= s.length || isSpace(s.charCodeAt(i + 1))) {
      throw new HexError(s, i, `fromHex: odd number of hex digits (lone digit at offset ${i}) in ${excerpt(s)}`);
    }
    const lo = hexValue(s.charCodeAt(i + 1));
    if (lo < 0) {
      throw new HexError(
        s,
        i + 1,
        `fromHex: invalid hex character ${JSON.stringify(s[i + 1])} at offset ${i + 1} in ${excerpt(s)}`
      );
    }
    out[n2++] = hi << 4 | lo;
    i += 2;
  }
  return out.slice(0, n2);
}
function concatBytes(...parts) {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

// emulator/cards/framework/atr.ts
var AtrError = class extends Error {
  constructor(offset, message) {
    super(message);
    this.offset = offset;
    this.name = "AtrError";
  }
  offset;
};
function checkByte2(name2, v) {
  if (v !== void 0 && (!Number.isInteger(v) || v < 0 || v > 255)) {
    throw new RangeError(`buildAtr: ${name2} must be a byte, got ${String(v)}`);
  }
}
function buildAtr(options) {
  const { protocol, historical, ta1, tc1 } = options;
  if (protocol !== "T=0" && protocol !== "T=1") {
    throw new RangeError(`buildAtr: protocol must be 'T=0' or 'T=1', got ${String(protocol)}`);
  }
  if (historical.length > 15) {
    throw new RangeError(`buildAtr: ${historical.length} historical bytes, at most 15 fit in T0`);
  }
  checkByte2("ta1", ta1);
  checkByte2("tc1", tc1);
  checkByte2("ifsc", options.ifsc);
  checkByte2("bwiCwi", options.bwiCwi);
  if (protocol === "T=0" && (options.ifsc !== void 0 || options.bwiCwi !== void 0)) {
    throw new RangeError("buildAtr: ifsc and bwiCwi are T=1 parameters but protocol is T=0");
  }
  const out = [59];
  const t1 = protocol === "T=1";
  out.push((ta1 !== void 0 ? 16 : 0) | (tc1 !== void 0 ? 64 : 0) | (t1 ? 128 : 0) | historical.length);
  if (ta1 !== void 0) out.push(ta1);
  if (tc1 !== void 0) out.push(tc1);
  if (t1) {
    out.push(129, 49, options.ifsc ?? 254, options.bwiCwi ?? 69);
  }
  out.push(...historical);
  if (t1) {
    let tck = 0;
    for (let i = 1; i < out.length; i++) tck ^= out[i];
    out.push(tck);
  }
  return Uint8Array.from(out);
}
function parseAtr(atr) {
  if (atr.length < 2) throw new AtrError(atr.length, `ATR of ${atr.length} bytes is shorter than TS T0`);
  if (atr.length > 33) throw new AtrError(33, `ATR of ${atr.length} bytes exceeds the 33-byte maximum`);
  const ts = atr[0];
  if (ts !== 59 && ts !== 63) {
    throw new AtrError(0, `TS ${ts.toString(16).toUpperCase()} is neither 3B (direct) nor 3F (inverse)`);
  }
  const t02 = atr[1];
  const k = t02 & 15;
  const result = {
    convention: ts === 59 ? "direct" : "inverse",
    ta: [],
    tb: [],
    tc: [],
    td: [],
    protocols: [],
    historical: new Uint8Array(0)
  };
  let y = t02 >> 4;
  let pos = 2;
  let i = 1;
  let tckNeeded = false;
  const take = (what) => {
    if (pos >= atr.length) throw new AtrError(pos, `ATR ends before ${what}${i}`);
    return atr[pos++];
  };
  for (; ; ) {
    if (y & 1) result.ta[i] = take("TA");
    if (y & 2) result.tb[i] = take("TB");
    if (y & 4) result.tc[i] = take("TC");
    if (!(y & 8)) break;
    const td = take("TD");
    result.td[i] = td;
    const t = td & 15;
    if (t !== 0) tckNeeded = true;
    if (!result.protocols.includes(t)) result.protocols.push(t);
    y = td >> 4;
    i++;
  }
  if (result.protocols.length === 0) result.protocols.push(0);
  if (pos + k > atr.length) throw new AtrError(pos, `ATR announces ${k} historical bytes but only ${atr.length - pos} remain`);
  result.historical = atr.slice(pos, pos + k);
  pos += k;
  if (tckNeeded) {
    if (pos >= atr.length) throw new AtrError(pos, "ATR announces a protocol other than T=0 but has no TCK");
    result.tck = atr[pos++];
    let x = 0;
    for (let j = 1; j < pos; j++) x ^= atr[j];
    if (x !== 0) throw new AtrError(pos - 1, `ATR TCK ${result.tck.toString(16).toUpperCase()} is wrong (XOR T0..TCK = ${x.toString(16).toUpperCase()})`);
  }
  if (pos !== atr.length) throw new AtrError(pos, `ATR has ${atr.length - pos} unexpected bytes after the historical bytes`);
  return result;
}
function atrProtocol(atr) {
  const first = parseAtr(atr).protocols[0];
  if (first === 0) return "T=0";
  if (first === 1) return "T=1";
  throw new AtrError(0, `ATR announces T=${String(first)} first; the emulator only models T=0 and T=1`);
}

// emulator/cards/framework/iso-card.ts
import { randomBytes as randomBytes4 } from "node:crypto";

// emulator/cards/framework/apdu.ts
function decodeCommandApdu(apdu) {
  const n2 = apdu.length;
  if (n2 < 4) return { ok: false, reason: `APDU of ${n2} bytes is shorter than the 4-byte header` };
  const base = { cla: apdu[0], ins: apdu[1], p1: apdu[2], p2: apdu[3] };
  const empty = new Uint8Array(0);
  if (n2 === 4) return { ok: true, command: { ...base, data: empty, ne: null, neIsMax: false, isoCase: 1, extended: false } };
  const b4 = apdu[4];
  if (n2 === 5) {
    return { ok: true, command: { ...base, data: empty, ne: b4 === 0 ? 256 : b4, neIsMax: b4 === 0, isoCase: 2, extended: false } };
  }
  if (b4 !== 0) {
    const lc2 = b4;
    if (n2 === 5 + lc2) {
      return { ok: true, command: { ...base, data: apdu.slice(5), ne: null, neIsMax: false, isoCase: 3, extended: false } };
    }
    if (n2 === 6 + lc2) {
      const le = apdu[n2 - 1];
      return {
        ok: true,
        command: { ...base, data: apdu.slice(5, 5 + lc2), ne: le === 0 ? 256 : le, neIsMax: le === 0, isoCase: 4, extended: false }
      };
    }
    return { ok: false, reason: `short Lc ${lc2} does not match the ${n2 - 5} bytes after the header` };
  }
  if (n2 < 7) return { ok: false, reason: `extended APDU of ${n2} bytes is too short for its 3-byte length field` };
  const l16 = apdu[5] << 8 | apdu[6];
  if (n2 === 7) {
    return {
      ok: true,
      command: { ...base, data: empty, ne: l16 === 0 ? 65536 : l16, neIsMax: l16 === 0, isoCase: 2, extended: true }
    };
  }
  const lc = l16;
  if (lc === 0) return { ok: false, reason: "extended Lc is 0000 but data follows" };
  if (n2 === 7 + lc) {
    return { ok: true, command: { ...base, data: apdu.slice(7), ne: null, neIsMax: false, isoCase: 3, extended: true } };
  }
  if (n2 === 9 + lc) {
    const le = apdu[n2 - 2] << 8 | apdu[n2 - 1];
    return {
      ok: true,
      command: { ...base, data: apdu.slice(7, 7 + lc), ne: le === 0 ? 65536 : le, neIsMax: le === 0, isoCase: 4, extended: true }
    };
  }
  return { ok: false, reason: `extended Lc ${lc} does not match the ${n2 - 7} bytes after the length field` };
}

// platform/sdk/tlv.ts
function tagBytes(tag) {
  if (!Number.isInteger(tag) || tag < 1 || tag > 16777215) {
    throw new RangeError(`BER-TLV tag ${String(tag)} is not a 1 to 3 byte tag number`);
  }
  const bytes3 = tag > 65535 ? [tag >> 16, tag >> 8 & 255, tag & 255] : tag > 255 ? [tag >> 8, tag & 255] : [tag];
  const name2 = `tag ${tag.toString(16).toUpperCase()}`;
  const first = bytes3[0];
  if (first === 255) throw new RangeError(`BER-TLV ${name2}: first byte FF is not a valid tag byte`);
  const multi = (first & 31) === 31;
  if (multi !== bytes3.length > 1) {
    throw new RangeError(
      `BER-TLV ${name2}: first byte ${multi ? "announces subsequent bytes but there are none" : "is complete but more bytes follow"}`
    );
  }
  for (let i = 1; i < bytes3.length; i++) {
    const last = i === bytes3.length - 1;
    if ((bytes3[i] & 128) !== 0 === last) {
      throw new RangeError(`BER-TLV ${name2}: byte ${i + 1} has its continuation bit ${last ? "set on the last byte" : "clear before the end"}`);
    }
  }
  return Uint8Array.from(bytes3);
}
function encodeLength(length) {
  if (length < 128) return Uint8Array.of(length);
  if (length <= 255) return Uint8Array.of(129, length);
  if (length <= 65535) return Uint8Array.of(130, length >> 8, length & 255);
  if (length <= 16777215) return Uint8Array.of(131, length >> 16, length >> 8 & 255, length & 255);
  throw new RangeError(`BER-TLV value of ${length} bytes exceeds the 3-byte length limit (16777215)`);
}
function encodeNodes(nodes) {
  const parts = nodes.map((n2) => encodeTlv(n2.tag, n2.children ?? n2.value));
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
function encodeTlv(tag, value) {
  const t = tagBytes(tag);
  let v;
  if (Array.isArray(value)) {
    if ((t[0] & 32) === 0) {
      throw new RangeError(`BER-TLV tag ${toHex2(t)} is primitive and cannot hold child objects`);
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

// emulator/cards/framework/filesystem.ts
var MF_FID = 16128;
function fidHex(fid) {
  return fid.toString(16).toUpperCase().padStart(4, "0");
}
function cloneSpec(spec) {
  return structuredClone(spec);
}
var FileSystem = class {
  mf;
  #parents = /* @__PURE__ */ new Map();
  #applications = [];
  constructor(mf) {
    const root = cloneSpec(mf);
    if (root.type !== "df") throw new Error("file system root must be a DF (the MF)");
    if (root.fid !== void 0 && root.fid !== MF_FID) {
      throw new Error(`MF must have FID 3F00, got ${fidHex(root.fid)}`);
    }
    root.fid = MF_FID;
    root.children ??= [];
    this.mf = root;
    const aids = /* @__PURE__ */ new Set();
    this.#index(root, "MF", aids);
  }
  #index(df, path, aids) {
    if (df.aid) {
      if (df.aid.length < 5 || df.aid.length > 16) {
        throw new Error(`${path}: AID must be 5..16 bytes, got ${df.aid.length}`);
      }
      const key = toHex2(df.aid);
      if (aids.has(key)) throw new Error(`${path}: AID ${key} is used by two DFs`);
      aids.add(key);
      this.#applications.push(df);
    }
    const fids = /* @__PURE__ */ new Set();
    const sfis = /* @__PURE__ */ new Set();
    for (const child2 of df.children ?? []) {
      const where = `${path}/${child2.fid !== void 0 ? fidHex(child2.fid) : child2.label ?? "?"}`;
      if (child2.fid !== void 0) {
        if (!Number.isInteger(child2.fid) || child2.fid < 0 || child2.fid > 65535) {
          throw new Error(`${where}: FID must be 0000..FFFF`);
        }
        if (child2.fid === MF_FID || child2.fid === 65535) throw new Error(`${where}: FID ${fidHex(child2.fid)} is reserved`);
        if (fids.has(child2.fid)) throw new Error(`${where}: FID ${fidHex(child2.fid)} appears twice in ${path}`);
        fids.add(child2.fid);
      } else if (child2.type !== "df" || !child2.aid) {
        throw new Error(`${where}: an EF or a DF without AID needs a FID`);
      }
      this.#parents.set(child2, df);
      if (child2.type === "df") {
        child2.children ??= [];
        this.#index(child2, where, aids);
        continue;
      }
      if (child2.sfi !== void 0) {
        if (!Number.isInteger(child2.sfi) || child2.sfi < 1 || child2.sfi > 30) {
          throw new Error(`${where}: SFI must be 1..30, got ${String(child2.sfi)}`);
        }
        if (sfis.has(child2.sfi)) throw new Error(`${where}: SFI ${child2.sfi} appears twice in ${path}`);
        sfis.add(child2.sfi);
      }
      if (child2.type === "records" && child2.records.length > 254) {
        throw new Error(`${where}: at most 254 records can be addressed, got ${child2.records.length}`);
      }
    }
  }
  parentOf(node) {
    return this.#parents.get(node);
  }
  findByAid(aid) {
    const key = toHex2(aid);
    return this.#applications.find((df) => df.aid !== void 0 && toHex2(df.aid) === key);
  }
  child(df, fid) {
    return df.children?.find((c2) => c2.fid === fid);
  }
  efBySfi(df, sfi) {
    for (const c2 of df.children ?? []) {
      if (c2.type !== "df" && c2.sfi === sfi) return c2;
    }
    return void 0;
  }
  /** SELECT by FID with P1=00: the MF, the current DF, its children, its parent and the parent's children. */
  resolveFid(current, fid) {
    if (fid === MF_FID) return this.mf;
    const own = this.child(current, fid);
    if (own) return own;
    if (current.fid === fid) return current;
    const parent = this.parentOf(current);
    if (parent) {
      if (parent.fid === fid) return parent;
      return this.child(parent, fid);
    }
    return void 0;
  }
  /** The application a node belongs to: nearest DF with an AID, else the MF. */
  applicationOf(node) {
    let cur = node;
    while (cur) {
      if (cur.type === "df" && cur.aid) return cur;
      cur = this.parentOf(cur);
    }
    return this.mf;
  }
  /** The FCP items (ISO 7816-4 table 12) without the 62 template. */
  #fcpItems(node) {
    const items = [];
    if (node.type === "df") {
      items.push(encodeTlv(130, Uint8Array.of(56)));
      if (node.fid !== void 0) items.push(encodeTlv(131, Uint8Array.of(node.fid >> 8, node.fid & 255)));
      if (node.aid) items.push(encodeTlv(132, node.aid));
      return items;
    }
    const size = node.type === "transparent" ? node.data.length : node.records.reduce((n2, r) => n2 + r.length, 0);
    items.push(encodeTlv(128, Uint8Array.of(size >> 8 & 255, size & 255)));
    items.push(encodeTlv(130, node.type === "transparent" ? Uint8Array.of(1) : Uint8Array.of(4, 33)));
    items.push(encodeTlv(131, Uint8Array.of(node.fid >> 8, node.fid & 255)));
    if (node.sfi !== void 0) items.push(encodeTlv(136, Uint8Array.of(node.sfi << 3)));
    return items;
  }
  fcp(node) {
    return encodeTlv(98, concatBytes(...this.#fcpItems(node)));
  }
  fci(node) {
    if (node.type === "df") {
      if (node.fci) return node.fci.slice();
      if (node.aid) {
        const items = [encodeTlv(132, node.aid)];
        if (node.fciProprietary) items.push(encodeTlv(165, node.fciProprietary));
        return encodeTlv(111, concatBytes(...items));
      }
    }
    return encodeTlv(111, concatBytes(...this.#fcpItems(node)));
  }
};

// emulator/cards/framework/pin.ts
import { inspect } from "node:util";
var PIN_FORMATS3 = ["ascii-ff", "bcd-ff", "emv-plaintext"];
var BLOCK_LENGTH = 8;
function encodePinBlock(digits, format) {
  if (!/^[0-9]{4,12}$/.test(digits)) {
    throw new RangeError(`PIN must be 4 to 12 decimal digits (got ${digits.length} characters)`);
  }
  const block = new Uint8Array(BLOCK_LENGTH).fill(255);
  const nibbles = [];
  switch (format) {
    case "ascii-ff":
      for (let i = 0; i < digits.length; i++) {
        if (i >= BLOCK_LENGTH) throw new RangeError(`PIN of ${digits.length} digits does not fit an ascii-ff block of 8 bytes`);
        block[i] = digits.charCodeAt(i);
      }
      return block;
    case "bcd-ff":
      for (const ch of digits) nibbles.push(ch.charCodeAt(0) - 48);
      break;
    case "emv-plaintext":
      nibbles.push(2, digits.length);
      for (const ch of digits) nibbles.push(ch.charCodeAt(0) - 48);
      break;
    default:
      throw new RangeError(`unknown PIN format ${String(format)}; expected one of ${PIN_FORMATS3.join(", ")}`);
  }
  for (let i = 0; i < nibbles.length; i++) {
    const byte = i >> 1;
    const cur = block[byte];
    block[byte] = i % 2 === 0 ? nibbles[i] << 4 | cur & 15 : cur & 240 | nibbles[i];
  }
  return block;
}
var PinObject = class {
  reference;
  format;
  maxTries;
  #block;
  #tries;
  constructor(spec) {
    if (!Number.isInteger(spec.reference) || spec.reference < 0 || spec.reference > 255) {
      throw new RangeError(`PIN reference must be a byte (P2 of VERIFY), got ${String(spec.reference)}`);
    }
    if (!Number.isInteger(spec.maxTries) || spec.maxTries < 1 || spec.maxTries > 15) {
      throw new RangeError(`PIN reference ${spec.reference}: maxTries must be 1..15 (63Cx), got ${String(spec.maxTries)}`);
    }
    const tries = spec.triesLeft ?? spec.maxTries;
    if (!Number.isInteger(tries) || tries < 0 || tries > spec.maxTries) {
      throw new RangeError(`PIN reference ${spec.reference}: triesLeft must be 0..${spec.maxTries}, got ${String(spec.triesLeft)}`);
    }
    this.reference = spec.reference;
    this.format = spec.format;
    this.maxTries = spec.maxTries;
    this.#block = encodePinBlock(spec.value, spec.format);
    this.#tries = tries;
  }
  get triesLeft() {
    return this.#tries;
  }
  get blocked() {
    return this.#tries === 0;
  }
  /** Compare in constant time; a wrong length is refused without spending a try. */
  check(candidate) {
    if (this.#tries === 0) return "blocked";
    if (candidate.length !== this.#block.length) return "wrong-length";
    let diff = 0;
    for (let i = 0; i < candidate.length; i++) diff |= candidate[i] ^ this.#block[i];
    if (diff === 0) {
      this.#tries = this.maxTries;
      return "ok";
    }
    this.#tries--;
    return "wrong";
  }
  /** Unblock (as after a PUK) and optionally set a new value. */
  resetRetryCounter(newValue) {
    if (newValue !== void 0) this.#block = encodePinBlock(newValue, this.format);
    this.#tries = this.maxTries;
  }
  change(newValue) {
    this.#block = encodePinBlock(newValue, this.format);
  }
  toString() {
    return `PIN ref ${this.reference.toString(16).toUpperCase().padStart(2, "0")} (${this.format}, ${this.#tries}/${this.maxTries} tries)`;
  }
  toJSON() {
    return { reference: this.reference, format: this.format, maxTries: this.maxTries, triesLeft: this.#tries };
  }
  [inspect.custom]() {
    return this.toString();
  }
};

// emulator/cards/framework/status.ts
var SW = {
  OK: 36864,
  /** End of file or record reached before reading Ne bytes. */
  END_OF_DATA: 25218,
  WRONG_LENGTH: 26368,
  INCOMPATIBLE_FILE: 27009,
  SECURITY_NOT_SATISFIED: 27010,
  AUTH_BLOCKED: 27011,
  CONDITIONS_NOT_SATISFIED: 27013,
  NO_CURRENT_EF: 27014,
  WRONG_DATA: 27264,
  FILE_NOT_FOUND: 27266,
  RECORD_NOT_FOUND: 27267,
  WRONG_P1P2: 27270,
  REFERENCE_NOT_FOUND: 27272,
  WRONG_OFFSET: 27392,
  INS_NOT_SUPPORTED: 27904,
  CLA_NOT_SUPPORTED: 28160,
  NO_PRECISE_DIAGNOSIS: 28416
};
function swBytesAvailable(n2) {
  return 24832 | Math.min(n2, 256) & 255;
}
function swWrongLe(n2) {
  return 27648 | Math.min(n2, 256) & 255;
}
function swTriesLeft(n2) {
  return 25536 | Math.max(0, Math.min(n2, 15));
}

// emulator/cards/framework/iso-card.ts
var EMPTY = new Uint8Array(0);
function withSw(data, sw) {
  const out = new Uint8Array(data.length + 2);
  out.set(data, 0);
  out[data.length] = sw >> 8;
  out[data.length + 1] = sw & 255;
  return out;
}
function status(sw) {
  return { sw };
}
function ok(data) {
  return data ? { sw: SW.OK, data } : { sw: SW.OK };
}
var IsoCard = class {
  kind;
  protocol;
  fs;
  pins = /* @__PURE__ */ new Map();
  #atr;
  #handlers = [];
  #processing;
  #random;
  #verified = /* @__PURE__ */ new Set();
  #currentDf;
  #currentEf = null;
  #pending = null;
  constructor(config) {
    this.kind = config.kind;
    this.#atr = config.atr instanceof Uint8Array ? config.atr.slice() : buildAtr(config.atr);
    const announced = atrProtocol(this.#atr);
    this.protocol = config.protocol ?? announced;
    this.fs = new FileSystem(config.fileSystem);
    this.#currentDf = this.fs.mf;
    for (const spec of config.pins ?? []) {
      if (this.pins.has(spec.reference)) throw new Error(`${config.kind}: PIN reference ${spec.reference} defined twice`);
      this.pins.set(spec.reference, new PinObject(spec));
    }
    this.#processing = config.processing ?? {};
    this.#random = config.random ?? ((n2) => new Uint8Array(randomBytes4(n2)));
    this.register({ cla: 0, ins: 164, name: "SELECT", handler: (c2) => this.select(c2) });
    this.register({ cla: 0, ins: 176, name: "READ BINARY", handler: (c2) => this.readBinary(c2) });
    this.register({ cla: 0, ins: 178, name: "READ RECORD", handler: (c2) => this.readRecord(c2) });
    this.register({ cla: 0, ins: 32, name: "VERIFY", handler: (c2) => this.verify(c2) });
    this.register({ cla: 0, ins: 132, name: "GET CHALLENGE", handler: (c2) => this.getChallenge(c2) });
    for (const h2 of config.handlers ?? []) this.register(h2);
  }
  /** Later registrations win, so a model can replace a default command as well as add one. */
  register(registration) {
    const claMask = registration.claMask ?? 255;
    for (const [field, v] of [["cla", registration.cla], ["claMask", claMask], ["ins", registration.ins]]) {
      if (!Number.isInteger(v) || v < 0 || v > 255) {
        throw new RangeError(`${this.kind}: handler ${registration.name ?? "?"} has ${field} ${String(v)}, not a byte`);
      }
    }
    this.#handlers.unshift({ ...registration, claMask });
    return this;
  }
  // ---- state visible to handlers -------------------------------------------------------------
  get currentDf() {
    return this.#currentDf;
  }
  get currentEf() {
    return this.#currentEf;
  }
  isVerified(reference) {
    return this.#verified.has(reference);
  }
  /** For models with other authentication paths (e.g. a PUK flow) that grant the same status. */
  setVerified(reference, verified) {
    if (verified) this.#verified.add(reference);
    else this.#verified.delete(reference);
  }
  canRead(condition) {
    const c2 = condition ?? "always";
    if (c2 === "always") return true;
    if (c2 === "never") return false;
    return this.#verified.has(c2.pin);
  }
  random(n2) {
    return this.#random(n2);
  }
  /** Make `node` current; leaving the current application drops its security status. */
  selectNode(node) {
    const before = this.fs.applicationOf(this.#currentDf);
    if (node.type === "df") {
      this.#currentDf = node;
      this.#currentEf = null;
    } else {
      const parent = this.fs.parentOf(node);
      if (!parent) throw new Error(`${this.kind}: EF ${node.fid.toString(16)} is not in this card's file system`);
      this.#currentDf = parent;
      this.#currentEf = node;
    }
    if (this.fs.applicationOf(this.#currentDf) !== before) this.#verified.clear();
  }
  // ---- CardModel --------------------------------------------------------------------------------
  get atr() {
    return this.#atr.slice();
  }
  reset() {
    this.#currentDf = this.fs.mf;
    this.#currentEf = null;
    this.#verified.clear();
    this.#pending = null;
    this.onReset();
    return this.#atr.slice();
  }
  /** Hook for models with more volatile state (MSE environment, GENERATE AC sequence, ...). */
  onReset() {
  }
  processingMs(apdu) {
    const ins = apdu[1];
    const byIns = ins !== void 0 ? this.#processing.byIns?.[ins] : void 0;
    return byIns ?? this.#processing.defaultMs ?? 0;
  }
  process(apdu) {
    try {
      return this.#process(apdu);
    } catch {
      this.#pending = null;
      return withSw(EMPTY, SW.NO_PRECISE_DIAGNOSIS);
    }
  }
  #process(apdu) {
    const pending = this.#pending;
    this.#pending = null;
    const decoded = decodeCommandApdu(apdu);
    if (!decoded.ok) return withSw(EMPTY, SW.WRONG_LENGTH);
    const cmd = decoded.command;
    if (cmd.extended && this.protocol === "T=0") return withSw(EMPTY, SW.WRONG_LENGTH);
    if (cmd.cla === 0 && cmd.ins === 192) return this.#getResponse(cmd, pending);
    let claKnown = false;
    for (const h2 of this.#handlers) {
      if ((cmd.cla & h2.claMask) !== (h2.cla & h2.claMask)) continue;
      claKnown = true;
      if (h2.ins !== cmd.ins) continue;
      return this.#shape(cmd, h2.handler(cmd, this));
    }
    return withSw(EMPTY, claKnown ? SW.INS_NOT_SUPPORTED : SW.CLA_NOT_SUPPORTED);
  }
  /** Fit a handler's answer to the protocol and to Ne. */
  #shape(cmd, res2) {
    const data = res2.data ?? EMPTY;
    if (data.length === 0) return withSw(EMPTY, res2.sw);
    if (this.protocol === "T=1") {
      if (cmd.ne === null) return withSw(EMPTY, res2.sw);
      return this.#deliver(data, cmd.ne, res2.sw);
    }
    if (cmd.isoCase === 2) {
      if (data.length === cmd.ne) return withSw(data, res2.sw);
      if (data.length > 256 && cmd.neIsMax) return this.#deliver(data, 256, res2.sw);
      return withSw(EMPTY, swWrongLe(data.length));
    }
    this.#pending = { data, sw: res2.sw };
    return withSw(EMPTY, swBytesAvailable(data.length));
  }
  #deliver(data, ne, sw) {
    if (data.length <= ne) return withSw(data, sw);
    const rest = data.slice(ne);
    this.#pending = { data: rest, sw };
    return withSw(data.subarray(0, ne), swBytesAvailable(rest.length));
  }
  #getResponse(cmd, pending) {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) return withSw(EMPTY, SW.WRONG_P1P2);
    if (!pending) return withSw(EMPTY, SW.CONDITIONS_NOT_SATISFIED);
    if (cmd.ne === null || cmd.data.length > 0) {
      this.#pending = pending;
      return withSw(EMPTY, SW.WRONG_LENGTH);
    }
    const available = pending.data.length;
    if (this.protocol === "T=0" && cmd.ne > available && !cmd.neIsMax) {
      this.#pending = pending;
      return withSw(EMPTY, swWrongLe(available));
    }
    return this.#deliver(pending.data, cmd.ne, pending.sw);
  }
  // ---- default commands -------------------------------------------------------------------------
  select(cmd) {
    const { p1, p2, data } = cmd;
    if ((p2 & 3) !== 0) return status(SW.WRONG_P1P2);
    const answer = p2 & 252;
    if (answer !== 0 && answer !== 4 && answer !== 12) return status(SW.WRONG_P1P2);
    let target;
    const fid = data.length === 2 ? data[0] << 8 | data[1] : -1;
    switch (p1) {
      case 0:
        if (data.length === 0) target = this.fs.mf;
        else if (data.length !== 2) return status(SW.WRONG_LENGTH);
        else target = this.fs.resolveFid(this.#currentDf, fid);
        break;
      case 1:
      case 2: {
        if (data.length !== 2) return status(SW.WRONG_LENGTH);
        const child2 = this.fs.child(this.#currentDf, fid);
        if (child2 && child2.type === "df" === (p1 === 1)) target = child2;
        break;
      }
      case 3:
        if (data.length !== 0) return status(SW.WRONG_LENGTH);
        target = this.fs.parentOf(this.#currentDf);
        break;
      case 4:
        if (data.length < 1 || data.length > 16) return status(SW.WRONG_LENGTH);
        target = this.fs.findByAid(data);
        break;
      default:
        return status(SW.WRONG_P1P2);
    }
    if (!target) return status(SW.FILE_NOT_FOUND);
    this.selectNode(target);
    if (answer === 12) return status(SW.OK);
    return ok(answer === 4 ? this.fs.fcp(target) : this.fs.fci(target));
  }
  readBinary(cmd) {
    let ef;
    let offset;
    if (cmd.p1 & 128) {
      if (cmd.p1 & 96) return status(SW.WRONG_P1P2);
      const sfi = cmd.p1 & 31;
      if (sfi === 0 || sfi === 31) return status(SW.WRONG_P1P2);
      ef = this.fs.efBySfi(this.#currentDf, sfi);
      if (!ef) return status(SW.FILE_NOT_FOUND);
      offset = cmd.p2;
    } else {
      ef = this.#currentEf;
      if (!ef) return status(SW.NO_CURRENT_EF);
      offset = cmd.p1 << 8 | cmd.p2;
    }
    if (ef.type !== "transparent") return status(SW.INCOMPATIBLE_FILE);
    if (!this.canRead(ef.read)) return status(SW.SECURITY_NOT_SATISFIED);
    if (cmd.ne === null || cmd.data.length > 0) return status(SW.WRONG_LENGTH);
    if (offset > 0 && offset >= ef.data.length) return status(SW.WRONG_OFFSET);
    this.selectNode(ef);
    const chunk = ef.data.slice(offset, offset + cmd.ne);
    return { sw: chunk.length < cmd.ne && !cmd.neIsMax ? SW.END_OF_DATA : SW.OK, data: chunk };
  }
  readRecord(cmd) {
    const sfi = cmd.p2 >> 3;
    if ((cmd.p2 & 7) !== 4 || cmd.p1 === 0 || cmd.p1 === 255 || sfi === 31) return status(SW.WRONG_P1P2);
    let ef;
    if (sfi === 0) {
      ef = this.#currentEf;
      if (!ef) return status(SW.NO_CURRENT_EF);
    } else {
      ef = this.fs.efBySfi(this.#currentDf, sfi);
      if (!ef) return status(SW.FILE_NOT_FOUND);
    }
    if (ef.type !== "records") return status(SW.INCOMPATIBLE_FILE);
    if (!this.canRead(ef.read)) return status(SW.SECURITY_NOT_SATISFIED);
    if (cmd.ne === null || cmd.data.length > 0) return status(SW.WRONG_LENGTH);
    this.selectNode(ef);
    const record = ef.records[cmd.p1 - 1];
    if (!record) return status(SW.RECORD_NOT_FOUND);
    return { sw: record.length < cmd.ne && !cmd.neIsMax ? SW.END_OF_DATA : SW.OK, data: record.slice() };
  }
  verify(cmd) {
    if (cmd.ne !== null) return status(SW.WRONG_LENGTH);
    const pin = this.pins.get(cmd.p2);
    if (cmd.p1 === 255) {
      if (!pin) return status(SW.REFERENCE_NOT_FOUND);
      if (cmd.data.length > 0) return status(SW.WRONG_LENGTH);
      this.#verified.delete(cmd.p2);
      return status(SW.OK);
    }
    if (cmd.p1 !== 0) return status(SW.WRONG_P1P2);
    if (!pin) return status(SW.REFERENCE_NOT_FOUND);
    if (cmd.data.length === 0) {
      if (pin.blocked) return status(SW.AUTH_BLOCKED);
      return status(this.#verified.has(pin.reference) ? SW.OK : swTriesLeft(pin.triesLeft));
    }
    switch (pin.check(cmd.data)) {
      case "ok":
        this.#verified.add(pin.reference);
        return status(SW.OK);
      case "wrong":
        this.#verified.delete(pin.reference);
        return status(swTriesLeft(pin.triesLeft));
      case "blocked":
        this.#verified.delete(pin.reference);
        return status(SW.AUTH_BLOCKED);
      case "wrong-length":
        return status(SW.WRONG_LENGTH);
    }
  }
  getChallenge(cmd) {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) return status(SW.WRONG_P1P2);
    if (cmd.ne === null || cmd.data.length > 0 || cmd.ne > 256) return status(SW.WRONG_LENGTH);
    return ok(this.random(cmd.ne));
  }
  toString() {
    return `${this.kind} (${this.protocol}, ${this.pins.size} PIN reference(s))`;
  }
};

// emulator/cards/framework/profile.ts
var ProfileError = class extends Error {
  constructor(source, path, message) {
    super(`card profile ${source}: ${path}: ${message}`);
    this.source = source;
    this.path = path;
    this.name = "ProfileError";
  }
  source;
  path;
};
var Reader = class {
  constructor(source) {
    this.source = source;
  }
  source;
  fail(path, message) {
    throw new ProfileError(this.source, path, message);
  }
  obj(v, path) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(path, "must be an object");
    return v;
  }
  str(v, path) {
    if (typeof v !== "string") this.fail(path, `must be a string, got ${typeof v}`);
    return v;
  }
  int(v, path, min, max) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.fail(path, `must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  hex(v, path) {
    const s = this.str(v, path);
    try {
      return fromHex2(s);
    } catch (e) {
      return this.fail(path, e.message);
    }
  }
  ascii(v, path) {
    const s = this.str(v, path);
    if (!/^[\x20-\x7e]*$/.test(s)) this.fail(path, "must be printable ASCII");
    return Uint8Array.from(s, (c2) => c2.charCodeAt(0));
  }
  fid(v, path) {
    const b = this.hex(v, path);
    if (b.length !== 2) this.fail(path, `FID must be 2 bytes of hex, got ${b.length}`);
    return b[0] << 8 | b[1];
  }
  byteHex(v, path) {
    const b = this.hex(v, path);
    if (b.length !== 1) this.fail(path, `must be 1 byte of hex, got ${b.length}`);
    return b[0];
  }
  access(v, path) {
    if (v === "always" || v === "never") return v;
    const o = this.obj(v, path);
    return { pin: this.int(o.pin, `${path}.pin`, 0, 255) };
  }
};
function convertFile(r, v, path) {
  const o = r.obj(v, path);
  const label = o.label === void 0 ? void 0 : r.str(o.label, `${path}.label`);
  switch (o.type) {
    case "df": {
      const df = { type: "df" };
      if (o.fid !== void 0) df.fid = r.fid(o.fid, `${path}.fid`);
      if (o.aid !== void 0) df.aid = r.hex(o.aid, `${path}.aid`);
      if (label !== void 0) df.label = label;
      if (o.fciHex !== void 0) df.fci = r.hex(o.fciHex, `${path}.fciHex`);
      if (o.fciProprietaryHex !== void 0) df.fciProprietary = r.hex(o.fciProprietaryHex, `${path}.fciProprietaryHex`);
      df.children = convertChildren(r, o.children ?? [], `${path}.children`);
      return df;
    }
    case "transparent": {
      if (o.dataHex === void 0 === (o.dataAscii === void 0)) r.fail(path, "needs exactly one of dataHex, dataAscii");
      const data = o.dataHex !== void 0 ? r.hex(o.dataHex, `${path}.dataHex`) : r.ascii(o.dataAscii, `${path}.dataAscii`);
      const ef = { type: "transparent", fid: r.fid(o.fid, `${path}.fid`), data };
      if (o.sfi !== void 0) ef.sfi = r.int(o.sfi, `${path}.sfi`, 1, 30);
      if (o.read !== void 0) ef.read = r.access(o.read, `${path}.read`);
      if (label !== void 0) ef.label = label;
      return ef;
    }
    case "records": {
      if (!Array.isArray(o.recordsHex)) r.fail(`${path}.recordsHex`, "must be an array of hex strings");
      const records = o.recordsHex.map((rec, i) => r.hex(rec, `${path}.recordsHex[${i}]`));
      const ef = { type: "records", fid: r.fid(o.fid, `${path}.fid`), records };
      if (o.sfi !== void 0) ef.sfi = r.int(o.sfi, `${path}.sfi`, 1, 30);
      if (o.read !== void 0) ef.read = r.access(o.read, `${path}.read`);
      if (label !== void 0) ef.label = label;
      return ef;
    }
    default:
      return r.fail(`${path}.type`, `must be "df", "transparent" or "records", got ${JSON.stringify(o.type)}`);
  }
}
function convertChildren(r, v, path) {
  if (!Array.isArray(v)) r.fail(path, "must be an array");
  return v.map((c2, i) => convertFile(r, c2, `${path}[${i}]`));
}
function convertAtr(r, v) {
  const o = r.obj(v, "atr");
  if (o.hex !== void 0) return r.hex(o.hex, "atr.hex");
  if (o.protocol !== "T=0" && o.protocol !== "T=1") r.fail("atr.protocol", `must be "T=0" or "T=1", got ${JSON.stringify(o.protocol)}`);
  if (o.historicalHex !== void 0 && o.historicalAscii !== void 0) {
    r.fail("atr", "give historicalHex or historicalAscii, not both");
  }
  const historical = o.historicalHex !== void 0 ? r.hex(o.historicalHex, "atr.historicalHex") : o.historicalAscii !== void 0 ? r.ascii(o.historicalAscii, "atr.historicalAscii") : new Uint8Array(0);
  if (historical.length > 15) r.fail("atr", `at most 15 historical bytes, got ${historical.length}`);
  const atr = { protocol: o.protocol, historical };
  if (o.ta1 !== void 0) atr.ta1 = r.byteHex(o.ta1, "atr.ta1");
  if (o.tc1 !== void 0) atr.tc1 = r.byteHex(o.tc1, "atr.tc1");
  return atr;
}
function convertPins(r, v) {
  if (!Array.isArray(v)) r.fail("pins", "must be an array");
  return v.map((p, i) => {
    const path = `pins[${i}]`;
    const o = r.obj(p, path);
    const value = r.str(o.value, `${path}.value`);
    if (!/^[0-9]{4,12}$/.test(value)) r.fail(`${path}.value`, "must be 4 to 12 decimal digits");
    if (!PIN_FORMATS3.includes(o.format)) {
      r.fail(`${path}.format`, `must be one of ${PIN_FORMATS3.join(", ")}, got ${JSON.stringify(o.format)}`);
    }
    const format = o.format;
    if (format === "ascii-ff" && value.length > 8) r.fail(`${path}.value`, "ascii-ff holds at most 8 digits");
    const maxTries = r.int(o.maxTries, `${path}.maxTries`, 1, 15);
    const spec = { reference: r.int(o.reference, `${path}.reference`, 0, 255), value, format, maxTries };
    if (o.triesLeft !== void 0) spec.triesLeft = r.int(o.triesLeft, `${path}.triesLeft`, 0, maxTries);
    return spec;
  });
}
function convertProcessing(r, v) {
  const o = r.obj(v, "processingMs");
  const out = {};
  if (o.default !== void 0) out.defaultMs = r.int(o.default, "processingMs.default", 0, 6e4);
  if (o.byIns !== void 0) {
    const byIns = {};
    for (const [k, ms] of Object.entries(r.obj(o.byIns, "processingMs.byIns"))) {
      const ins = r.byteHex(k, `processingMs.byIns key ${JSON.stringify(k)}`);
      byIns[ins] = r.int(ms, `processingMs.byIns.${k}`, 0, 6e4);
    }
    out.byIns = byIns;
  }
  return out;
}
function cardConfigFromProfile(profile, source = "profile") {
  const r = new Reader(source);
  const o = r.obj(profile, "$");
  const kind = r.str(o.kind, "kind");
  const fsObj = r.obj(o.fileSystem, "fileSystem");
  const config = {
    kind,
    atr: convertAtr(r, o.atr),
    fileSystem: { type: "df", children: convertChildren(r, fsObj.children ?? [], "fileSystem.children") }
  };
  if (o.pins !== void 0) config.pins = convertPins(r, o.pins);
  if (o.processingMs !== void 0) config.processing = convertProcessing(r, o.processingMs);
  return config;
}

// emulator/cards/test-card.ts
var TEST_CARD_AID = fromHex2("F0 44 49 54 45 53 54 01");
var TEST_CARD_PIN_REFERENCE = 1;
var TEST_CARD_ECHO = { cla: 128, ins: 238 };
var PROFILE_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
function profileDirs() {
  const here = dirname3(fileURLToPath3(import.meta.url));
  const dirs = [join8(here, "profiles")];
  let cur = here;
  for (let i = 0; i < 6; i++) {
    dirs.push(join8(cur, "emulator", "cards", "profiles"));
    const up = dirname3(cur);
    if (up === cur) break;
    cur = up;
  }
  return dirs;
}
function loadTestCardProfile(name2 = "test-card") {
  if (!PROFILE_NAME.test(name2)) {
    throw new ProfileError(name2, "$", "profile name must be lowercase letters, digits and dashes (no paths)");
  }
  const dirs = profileDirs();
  const file = dirs.map((d) => resolve5(d, `${name2}.json`)).find((f) => existsSync6(f));
  if (!file) throw new ProfileError(name2, "$", `no ${name2}.json in ${dirs.join(", ")}`);
  let json;
  try {
    json = JSON.parse(readFileSync7(file, "utf8"));
  } catch (e) {
    throw new ProfileError(file, "$", `not valid JSON: ${e.message}`);
  }
  cardConfigFromProfile(json, file);
  return json;
}
var TestCard = class extends IsoCard {
  constructor(config) {
    super(config);
    this.register({ cla: TEST_CARD_ECHO.cla, ins: TEST_CARD_ECHO.ins, name: "ECHO", handler: (c2) => {
      if (c2.p1 !== 0 || c2.p2 !== 0) return status(SW.WRONG_P1P2);
      if (c2.data.length === 0) return status(SW.WRONG_LENGTH);
      return ok(c2.data);
    } });
  }
};
function createTestCard(options = {}) {
  const profile = typeof options.profile === "object" ? options.profile : loadTestCardProfile(options.profile ?? "test-card");
  const config = cardConfigFromProfile(profile, typeof options.profile === "string" ? options.profile : profile.kind);
  if (options.atr) {
    config.atr = options.atr;
  } else if (options.protocol) {
    if (config.atr instanceof Uint8Array) {
      config.atr = buildAtr({ protocol: options.protocol, historical: parseAtr(config.atr).historical });
    } else {
      config.atr = { ...config.atr, protocol: options.protocol };
    }
  }
  if (options.protocol) config.protocol = options.protocol;
  if (options.pinTriesLeft !== void 0) {
    const pin = config.pins?.find((p) => p.reference === TEST_CARD_PIN_REFERENCE);
    if (!pin) throw new Error(`createTestCard: profile has no PIN reference ${TEST_CARD_PIN_REFERENCE} for pinTriesLeft`);
    pin.triesLeft = options.pinTriesLeft;
  }
  if (options.random) config.random = options.random;
  return new TestCard(config);
}

// emulator/cards/profiles.ts
var FACTORIES = {
  "test-card": { describe: "generic ISO 7816 test card, T=1 (application F0444954455354 01, PIN 1234)", create: () => createTestCard() },
  "test-card-t0": { describe: "the same test card speaking T=0 (61xx / 6Cxx behaviours)", create: () => createTestCard({ protocol: "T=0" }) }
};
function createCard(name2) {
  const f = FACTORIES[name2];
  if (!f) throw new Error(`unknown card profile ${JSON.stringify(name2)}; known: ${Object.keys(FACTORIES).join(", ")}`);
  return f.create();
}

// bench/platform.ts
var ECHO_APDU = Uint8Array.from([128, 238, 0, 0, 16, ...new Array(16).fill(90), 0]);
var BENCH_APPLET = `
globalThis.main = async () => {
  const lease = await platform.slots.acquire(0, { timeoutMs: 2000 });
  const apdu = new Uint8Array(${JSON.stringify([...ECHO_APDU])});
  for (let i = 0; i < 200; i++) await lease.transmit(apdu);
  await lease.release();
  return 'warm';
};
globalThis.onIntent = async (req) => {
  const n = req.payload.n;
  const lease = await platform.slots.acquire(0, { timeoutMs: 2000 });
  const apdu = new Uint8Array(${JSON.stringify([...ECHO_APDU])});
  let last;
  for (let i = 0; i < n; i++) last = await lease.transmit(apdu);
  await lease.release();
  return { n, sw: last[last.length - 2] * 256 + last[last.length - 1] };
};
`;
function benchPolicy() {
  const base = nothingPolicy("bench");
  return {
    ...base,
    limits: { ...base.limits, ratePerSecond: 1e6, cpuMsPerCall: 6e4, wallMsPerCall: 6e4, handlerDeadlineMs: 12e4 },
    cardClasses: [
      {
        name: "bench-card",
        atr: { value: "3B", mask: "FF" },
        aids: [],
        apdu: [{ cla: "80", ins: "EE", name: "ECHO" }],
        pinReferences: []
      }
    ],
    intents: { request: [], handle: [{ action: "run", result: { n: "number", sw: "number" } }] }
  };
}

// .prof/apdu2.ts
var per = Number(process.argv[2] ?? 2e3);
var rounds = Number(process.argv[3] ?? 5);
function hostCpuMs(pid2) {
  const f = readFileSync8(`/proc/${pid2}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}
var dataDir = mkdtempSync(join9(tmpdir(), "di-prof-"));
var kernel = await Kernel.boot({ config: defaultConfig(dataDir), devApplets: [{ policy: benchPolicy(), script: BENCH_APPLET, filename: "bench.js" }] });
kernel.insertCard(0, createCard("test-card"));
await new Promise((r) => setTimeout(r, 50));
await kernel.call("bench", "main", [], 6e4);
var pid = kernel.supervisor.state("bench").pid;
var c0 = process.cpuUsage();
var h0 = hostCpuMs(pid);
var t0 = process.hrtime.bigint();
var res = [];
for (let i = 0; i < rounds; i++) {
  const s = process.hrtime.bigint();
  await kernel.call("bench", "onIntent", [{ from: "bench", action: "run", payload: { n: per } }], 12e4);
  res.push(Number(process.hrtime.bigint() - s) / 1e3 / per);
}
var n = per * rounds;
var c = process.cpuUsage(c0);
var h = hostCpuMs(pid) - h0;
var unsorted = [...res];
res.sort((a, b) => a - b);
console.log(JSON.stringify({ medianUs: res[res.length >> 1].toFixed(1), all: unsorted.map((x) => x.toFixed(0)).join(","), kernelCpuUs: ((c.user + c.system) / n).toFixed(1), kUser: (c.user / n).toFixed(1), kSys: (c.system / n).toFixed(1), hostCpuUs: (h * 1e3 / n).toFixed(1) }));
await kernel.shutdown();
rmSync3(dataDir, { recursive: true, force: true });
