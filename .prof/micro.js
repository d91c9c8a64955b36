// platform/wire/frames.ts
import { Packr } from "msgpackr";
var DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
var HEADER_BYTES = 4;
var FrameError = class extends Error {
  name = "FrameError";
};
var packr = new Packr({
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
    body = packr.pack(msg);
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
  take(n) {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
};
function decodeBody(body) {
  const view = new Uint8Array(body.buffer, body.byteOffset, body.length);
  try {
    return packr.unpack(view);
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
function isPlainObject(x) {
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
  if (!isPlainObject(x)) fail(path, "expected a plain object, array, Uint8Array or primitive");
  const props = ownData(x, path);
  for (const key of Object.keys(props)) checkWire(props[key], child(path, key), depth + 1, budget);
}
function validateWireValue(x, path = "value") {
  checkWire(x, path, 0, { nodes: 0 });
  return x;
}
function fields(x, path, required, optional = []) {
  if (!isPlainObject(x)) fail(path, `expected object, got ${describe(x)}`);
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
function nonEmptyStr(v, path, max) {
  const s = str(v, path, max);
  if (s.length === 0) fail(path, "expected a non-empty string");
  return s;
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
  const ok = bool(o.ok, `${path}.ok`);
  const out = { ok };
  if (ok) {
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
  if (!isPlainObject(x)) fail("message", `expected object, got ${describe(x)}`);
  const desc = Reflect.getOwnPropertyDescriptor(x, "t");
  if (desc === void 0 || !("value" in desc)) fail("message.t", "missing field");
  const t = desc.value;
  if (typeof t !== "string" || !allowed.includes(t)) fail("message.t", `expected one of ${allowed.join(", ")}`);
  return t;
}
var SCRIPT_MAX_CHARS = 16 * 1024 * 1024;
function validateKernelToHost(x) {
  const t = messageType(x, ["init", "call", "reply"]);
  if (t === "init") {
    const o2 = fields(x, "init", ["t", "domain", "script", "filename", "limits", "clockGranularityMs"]);
    const l = fields(o2.limits, "init.limits", ["memoryMb", "cpuMsPerCall", "wallMsPerCall"]);
    const msg2 = {
      t: "init",
      domain: nonEmptyStr(o2.domain, "init.domain", 128),
      script: str(o2.script, "init.script", SCRIPT_MAX_CHARS),
      filename: nonEmptyStr(o2.filename, "init.filename", 512),
      limits: {
        // isolated-vm refuses less than 8 MB.
        memoryMb: int(l.memoryMb, "init.limits.memoryMb", 8, 8192),
        cpuMsPerCall: num(l.cpuMsPerCall, "init.limits.cpuMsPerCall", 1, 36e5),
        wallMsPerCall: num(l.wallMsPerCall, "init.limits.wallMsPerCall", 1, 864e5)
      },
      clockGranularityMs: int(o2.clockGranularityMs, "init.clockGranularityMs", 1, 36e5)
    };
    return msg2;
  }
  if (t === "call") {
    const o2 = fields(x, "call", ["t", "id", "handler", "args"]);
    if (!Array.isArray(o2.args)) fail("call.args", `expected array, got ${describe(o2.args)}`);
    const msg2 = {
      t: "call",
      id: id(o2.id, "call.id"),
      handler: oneOf(o2.handler, "call.handler", HANDLERS),
      args: validateWireValue(o2.args, "call.args")
    };
    return msg2;
  }
  const o = fields(x, "reply", ["t", "id", "ok"], ["value", "error"]);
  const msg = { t: "reply", id: id(o.id, "reply.id"), ...outcome(o, "reply") };
  return msg;
}
function validateHostToKernel(x) {
  const t = messageType(x, ["ready", "req", "result", "breach", "fatal"]);
  switch (t) {
    case "ready": {
      const o = fields(x, "ready", ["t", "handlers"]);
      if (!isPlainArray(o.handlers)) fail("ready.handlers", `expected array, got ${describe(o.handlers)}`);
      const seen = /* @__PURE__ */ new Set();
      const handlers = o.handlers.map((h, i) => {
        const name = oneOf(h, `ready.handlers[${i}]`, HANDLERS);
        if (seen.has(name)) fail(`ready.handlers[${i}]`, "duplicate handler");
        seen.add(name);
        return name;
      });
      const msg = { t: "ready", handlers };
      return msg;
    }
    case "req": {
      const o = fields(x, "req", ["t", "id", "op", "args"]);
      const op = oneOf(o.op, "req.op", OPS);
      if (!isPlainObject(o.args)) fail("req.args", `expected object, got ${describe(o.args)}`);
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
        if (!isPlainObject(entry)) fail(ep, `expected object, got ${describe(entry)}`);
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
      if (!isPlainObject(o.payload)) fail(`${p}.payload`, `expected object, got ${describe(o.payload)}`);
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
        if (!isPlainObject(o.fields)) fail(`${p}.fields`, `expected object, got ${describe(o.fields)}`);
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

// .prof/micro.ts
function bench(name, n, f) {
  for (let i = 0; i < n / 10; i++) f();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  console.log(name.padEnd(30), (Number(process.hrtime.bigint() - t0) / n / 1e3).toFixed(2), "us");
}
var apdu = new Uint8Array(22).fill(90);
var token = "ab".repeat(32);
var req = { t: "req", id: 12345, op: "lease.transmit", args: { token, apdu } };
var reply = { t: "reply", id: 12345, ok: true, value: new Uint8Array(18).fill(1) };
var N = 2e5;
bench("encode req", N, () => encodeFrame(req));
bench("encode reply", N, () => encodeFrame(reply));
var fr = encodeFrame(req);
var fp = encodeFrame(reply);
var dec = new FrameDecoder(1 << 20);
bench("decode req", N, () => dec.push(Buffer.from(fr)));
bench("decode reply", N, () => dec.push(Buffer.from(fp)));
var dreq = dec.push(Buffer.from(fr))[0];
var drep = dec.push(Buffer.from(fp))[0];
bench("validate req (decoded)", N, () => validateHostToKernel(dreq));
bench("validate req (host-made)", N, () => validateHostToKernel({ t: "req", id: 1, op: "lease.transmit", args: { token, apdu } }));
bench("validate reply", N, () => validateKernelToHost(drep));
bench("validate result", N, () => validateHostToKernel({ t: "result", id: 1, ok: true, value: { n: 1, sw: 36864 } }));
bench("Error()", N, () => new Error("x"));
bench("AbortController", N, () => {
  const ac = new AbortController();
  ac.signal.addEventListener("abort", () => 0, { once: true });
});
bench("setTimeout+clear", N, () => clearTimeout(setTimeout(() => 0, 1e3)));
