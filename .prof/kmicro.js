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
  attach(domain, policy2) {
    this.gates.set(domain, { policy: policy2, inFlight: /* @__PURE__ */ new Map(), tokens: policy2.limits.ratePerSecond, refilledAt: this.now() });
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

// platform/kernel/capabilities/args.ts
var bad = (op, key, want) => new KernelError("E_ARGS", `${op}: argument ${key} must be ${want}`);
function str(op, args, key, opts) {
  const v = args[key];
  if (v === void 0 && opts.optional) return void 0;
  if (typeof v !== "string" || v.length > opts.max || opts.pattern && !opts.pattern.test(v)) {
    throw bad(op, key, `a string of at most ${opts.max} characters${opts.pattern ? ` matching ${opts.pattern}` : ""}`);
  }
  return v;
}
function int(op, args, key, opts) {
  const v = args[key];
  if (v === void 0 && opts.optional) return void 0;
  if (typeof v !== "number" || !Number.isInteger(v) || v < opts.min || v > opts.max) {
    throw bad(op, key, `an integer from ${opts.min} to ${opts.max}`);
  }
  return v;
}
function bytes(op, args, key, opts) {
  const v = args[key];
  if (!(v instanceof Uint8Array) || v.length > opts.max) throw bad(op, key, `a Uint8Array of at most ${opts.max} bytes`);
  return v;
}

// platform/kernel/capabilities/slots.ts
var TOKEN = /^[0-9a-f]{64}$/;
function slotOps(k) {
  return {
    "slots.acquire": async (ctx, args) => {
      const slot = int("slots.acquire", args, "slot", { min: 0, max: 15 });
      const timeoutMs = int("slots.acquire", args, "timeoutMs", { min: 0, max: 6e4, optional: true }) ?? 5e3;
      const lease2 = await k.broker.acquire(ctx.domain, slot, timeoutMs);
      k.audit.append("lease.acquire", ctx.domain, { slot, cardClass: lease2.cardClass });
      return { slot: lease2.slot, token: lease2.token, cardClass: lease2.cardClass, atr: lease2.atr };
    },
    "slots.list": async (ctx) => k.broker.cardsFor(ctx.domain).map((c) => ({ slot: c.slot, cardClass: c.cardClass, atr: c.atr })),
    "lease.transmit": async (ctx, args) => {
      const token = str("lease.transmit", args, "token", { max: 64, pattern: TOKEN });
      const apdu = bytes("lease.transmit", args, "apdu", { max: 65544 });
      return k.broker.transmit(ctx.domain, token, apdu);
    },
    "lease.reset": async (ctx, args) => k.broker.reset(ctx.domain, str("lease.reset", args, "token", { max: 64, pattern: TOKEN })),
    "lease.release": async (ctx, args) => {
      await k.broker.release(ctx.domain, str("lease.release", args, "token", { max: 64, pattern: TOKEN }));
      return null;
    }
  };
}

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
function hex2(n) {
  return n.toString(16).toUpperCase().padStart(2, "0");
}
function checkByte(name, v) {
  if (!Number.isInteger(v) || v < 0 || v > 255) {
    throw new ApduError(`${name} must be an integer 0..255, got ${String(v)}`);
  }
}
function checkHeaderValues(cla, ins) {
  if (cla === 255) throw new ApduError("CLA FF is invalid (reserved for PPS by ISO 7816-3)");
  const hi = ins & 240;
  if (hi === 96 || hi === 144) {
    throw new ApduError(`INS ${hex2(ins)} is invalid (INS 6X and 9X are T=0 procedure bytes)`);
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
      `short Lc ${hex2(nc)} announces ${nc} data bytes, so the body after the header must be ${1 + nc} (case 3S) or ${2 + nc} (case 4S) bytes, but it is ${bodyLen}`
    );
  }
  if (bodyLen === 2) {
    throw new ApduError("body is 00 followed by one byte: short Lc 00 is invalid and an extended length needs 2 bytes");
  }
  const n = bytes3[5] << 8 | bytes3[6];
  if (bodyLen === 3) {
    return { ...head, data: empty, le: n === 0 ? MAX_EXTENDED_NE : n, case: 2, extended: true };
  }
  if (n === 0) {
    throw new ApduError(`extended Lc 0000 is invalid (body of ${bodyLen} bytes after the header)`);
  }
  if (bodyLen === 3 + n) {
    return { ...head, data: bytes3.slice(7, 7 + n), le: null, case: 3, extended: true };
  }
  if (bodyLen === 5 + n) {
    const le = bytes3[7 + n] << 8 | bytes3[8 + n];
    return {
      ...head,
      data: bytes3.slice(7, 7 + n),
      le: le === 0 ? MAX_EXTENDED_NE : le,
      case: 4,
      extended: true
    };
  }
  throw new ApduError(
    `extended Lc ${n} announces ${n} data bytes, so the body after the header must be ${3 + n} (case 3E) or ${5 + n} (case 4E) bytes, but it is ${bodyLen}`
  );
}

// platform/slot-broker/hex.ts
function toHex(bytes3) {
  let s = "";
  for (const b of bytes3) s += b.toString(16).toUpperCase().padStart(2, "0");
  return s;
}
function byteHex(n) {
  return (n & 255).toString(16).toUpperCase().padStart(2, "0");
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
function ruleMatches(rule, c) {
  return (c.cla & rule.claMask) === (rule.cla & rule.claMask) && c.ins === rule.ins && (rule.p1 === null || c.p1 === rule.p1) && (rule.p2 === null || c.p2 === rule.p2);
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
  const c = parseOrRefuse(apdu, cls, maxCommandBytes, "applet APDU refused");
  const pinCommand = PIN_INS.get(c.ins);
  if (pinCommand !== void 0) {
    throw new BrokerError(
      "E_APDU_DENIED",
      `applet APDU refused: ${pinCommand} (INS ${byteHex(c.ins)}) to card class "${cls.name}" is never allowed from an applet, whatever the policy lists; PIN entry is a kernel function (use platform.pin.verify)`
    );
  }
  if (!cls.rules.some((r) => ruleMatches(r, c))) {
    throw new BrokerError(
      "E_APDU_DENIED",
      `applet APDU refused: ${describeHeader(c.cla, c.ins, c.p1, c.p2)} is not in the allowlist of card class "${cls.name}"`
    );
  }
  return c;
}
function checkPinVerify(apdu, cls, maxCommandBytes) {
  const c = parseOrRefuse(apdu, cls, maxCommandBytes, "PIN VERIFY refused");
  const head = describeHeader(c.cla, c.ins, c.p1, c.p2);
  if (c.cla !== 0 || c.ins !== 32 || c.p1 !== 0) {
    c.data.fill(0);
    throw new BrokerError("E_APDU_DENIED", `PIN VERIFY refused: ${head} is not 00 20 00 P2 (card class "${cls.name}")`);
  }
  if (!cls.pinReferences.has(c.p2)) {
    c.data.fill(0);
    const refs = [...cls.pinReferences].map(byteHex).join(", ") || "none";
    throw new BrokerError(
      "E_APDU_DENIED",
      `PIN VERIFY refused: reference P2 ${byteHex(c.p2)} is not a PIN reference of card class "${cls.name}" (allowed: ${refs})`
    );
  }
  if (c.case !== 1 && c.case !== 3) {
    c.data.fill(0);
    throw new BrokerError(
      "E_APDU_DENIED",
      `PIN VERIFY refused: ${head} is case ${c.case}; VERIFY carries no Le (case 1 or 3 only) (card class "${cls.name}")`
    );
  }
  return c;
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
import { randomBytes, timingSafeEqual } from "node:crypto";
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
      const lease2 = this.grant(domain, slot);
      if (lease2 !== null) return Promise.resolve(lease2);
      return Promise.reject(this.notRouted(domain, slot));
    }
    const wait = Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 0;
    if (wait === 0) return Promise.reject(busy(slot, wait));
    return new Promise((resolve2, reject) => {
      const waiter = { domain, resolve: resolve2, reject, timer: null };
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
  beginUse(lease2) {
    const rec = this.held.get(lease2.slot);
    if (rec === void 0 || rec !== lease2) return;
    rec.inFlight++;
    this.armIdle(rec);
  }
  endUse(lease2) {
    const rec = this.held.get(lease2.slot);
    if (rec === void 0 || rec !== lease2) return;
    rec.inFlight = Math.max(0, rec.inFlight - 1);
    this.armIdle(rec);
  }
  /**
   * Revoke `lease` now: its token stops working at once. The slot stays closed to new holders until
   * the broker calls free() after resetting the card. Returns false if the lease had already ended.
   */
  revoke(lease2) {
    const rec = this.held.get(lease2.slot);
    if (rec === void 0 || rec !== lease2 || !rec.active) return false;
    rec.active = false;
    if (rec.idleTimer !== null) clearTimeout(rec.idleTimer);
    if (rec.maxTimer !== null) clearTimeout(rec.maxTimer);
    rec.tokenBytes.fill(0);
    this.held.delete(lease2.slot);
    this.closing.add(lease2.slot);
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
      const lease2 = this.opts.routeOf(slot)?.domain === w.domain ? this.grant(w.domain, slot) : null;
      if (lease2 === null) w.reject(this.notRouted(w.domain, slot));
      else w.resolve(lease2);
    }
  }
  grant(domain, slot) {
    const route = this.opts.routeOf(slot);
    if (route === null || route.domain !== domain) return null;
    const tokenBytes = randomBytes(TOKEN_BYTES);
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
var DEFAULT_MAX_RESPONSE_BYTES = 4096;
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
      const maxResponseBytes = cc.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
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
  const names = candidates.map((c) => `"${c.name}"`).join(", ");
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
  let rounds = 0;
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
      if (++rounds > limits.maxRounds) {
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
      if (++rounds > limits.maxRounds) {
        throw fail2(`card kept answering 61xx after ${limits.maxRounds} rounds of GET RESPONSE`);
      }
      resent6C = false;
      current = { cla: 0, ins: 192, p1: 0, p2: 0, data: new Uint8Array(0), le: sw2 === 0 ? 256 : sw2, case: 2, extended: false };
      currentBytes = buffers.hold(buildApdu({ cla: 0, ins: 192, p1: 0, p2: 0, le: current.le ?? 256 }));
      continue;
    }
    const out = buffers.hold(new Uint8Array(dataBytes + 2));
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
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
      onExpire: (lease2) => void this.endLease(lease2, "timeout")
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
    const lease2 = await this.leases.acquire(domain, slot, timeoutMs);
    return { token: lease2.token, slot: lease2.slot, cardClass: lease2.cardClass, atr: lease2.atr };
  }
  checkLease(domain, token) {
    this.assertRunning();
    const lease2 = this.leases.validate(domain, token);
    return { token: lease2.token, slot: lease2.slot, cardClass: lease2.cardClass, atr: lease2.atr };
  }
  async transmit(domain, token, apdu) {
    this.assertRunning();
    const lease2 = this.leases.validate(domain, token);
    const route = this.routeOfLease(lease2);
    const command = apdu instanceof Uint8Array ? apdu.slice() : apdu;
    const parsed = checkAppletApdu(command, route, this.options.maxCommandBytes);
    return this.exchangeOnLease(lease2, route, command, parsed, false);
  }
  async transmitPinVerify(domain, token, apdu) {
    this.assertRunning();
    const lease2 = this.leases.validate(domain, token);
    const route = this.routeOfLease(lease2);
    const command = apdu instanceof Uint8Array ? apdu.slice() : apdu;
    let parsed = null;
    try {
      parsed = checkPinVerify(command, route, this.options.maxCommandBytes);
      return await this.exchangeOnLease(lease2, route, command, parsed, true);
    } finally {
      if (command instanceof Uint8Array) command.fill(0);
      parsed?.data.fill(0);
    }
  }
  async reset(domain, token) {
    this.assertRunning();
    const lease2 = this.leases.validate(domain, token);
    const slot = lease2.slot;
    const st = this.slotState(slot);
    const generation = st.generation;
    this.leases.beginUse(lease2);
    try {
      return await st.queue.run(async () => {
        this.checkStillHeld(lease2, generation);
        st.buffers.beginExchange();
        const atr = await this.driverCall(slot, "reset", () => this.driver.reset(slot), false);
        this.checkStillHeld(lease2, generation);
        return atr.slice();
      });
    } finally {
      this.leases.endUse(lease2);
    }
  }
  async release(domain, token) {
    this.assertRunning();
    const lease2 = this.leases.validate(domain, token);
    await this.endLease(lease2, "release");
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
  routeOfLease(lease2) {
    const route = this.slots[lease2.slot]?.route;
    if (route === null || route === void 0 || route.name !== lease2.cardClass) {
      throw new BrokerError("E_NO_CARD", `slot ${lease2.slot}: the leased card is no longer there`);
    }
    return route;
  }
  checkStillHeld(lease2, generation) {
    if (this.slots[lease2.slot].generation !== generation) {
      throw new BrokerError("E_NO_CARD", `slot ${lease2.slot}: card was removed`);
    }
    if (!lease2.active) {
      throw new BrokerError("E_LEASE", `slot ${lease2.slot}: the lease was revoked before the card answered`);
    }
  }
  async exchangeOnLease(lease2, route, command, parsed, sensitive) {
    const slot = lease2.slot;
    const st = this.slotState(slot);
    const generation = st.generation;
    this.leases.beginUse(lease2);
    try {
      return await st.queue.run(async () => {
        this.checkStillHeld(lease2, generation);
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
        this.checkStillHeld(lease2, generation);
        return response;
      });
    } finally {
      this.leases.endUse(lease2);
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
  async endLease(lease2, reason) {
    if (!this.leases.revoke(lease2)) return;
    const slot = lease2.slot;
    const st = this.slots[slot];
    this.emit({ type: "lease-revoked", slot, domain: lease2.domain, reason });
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
    const lease2 = this.leases.holder(slot);
    if (lease2 !== null) void this.endLease(lease2, "removal");
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
  constructor(reader2) {
    this.reader = reader2;
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
var realSleep = (ms, signal) => new Promise((resolve2, reject) => {
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
    resolve2();
  }, ms);
  signal.addEventListener("abort", onAbort, { once: true });
});
function describe(e) {
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
        return this.#mute(slot, s, guard, `card model threw on reset: ${describe(e)}`);
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
        return this.#mute(slot, s, guard, `card model threw: ${describe(e)}`);
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

// emulator/cards/test-card.ts
import { readFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

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
  let n = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const hi = hexValue(c);
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
    out[n++] = hi << 4 | lo;
    i += 2;
  }
  return out.slice(0, n);
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
function checkByte2(name, v) {
  if (v !== void 0 && (!Number.isInteger(v) || v < 0 || v > 255)) {
    throw new RangeError(`buildAtr: ${name} must be a byte, got ${String(v)}`);
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
  const t0 = atr[1];
  const k = t0 & 15;
  const result = {
    convention: ts === 59 ? "direct" : "inverse",
    ta: [],
    tb: [],
    tc: [],
    td: [],
    protocols: [],
    historical: new Uint8Array(0)
  };
  let y = t0 >> 4;
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
import { randomBytes as randomBytes2 } from "node:crypto";

// emulator/cards/framework/apdu.ts
function decodeCommandApdu(apdu) {
  const n = apdu.length;
  if (n < 4) return { ok: false, reason: `APDU of ${n} bytes is shorter than the 4-byte header` };
  const base = { cla: apdu[0], ins: apdu[1], p1: apdu[2], p2: apdu[3] };
  const empty = new Uint8Array(0);
  if (n === 4) return { ok: true, command: { ...base, data: empty, ne: null, neIsMax: false, isoCase: 1, extended: false } };
  const b4 = apdu[4];
  if (n === 5) {
    return { ok: true, command: { ...base, data: empty, ne: b4 === 0 ? 256 : b4, neIsMax: b4 === 0, isoCase: 2, extended: false } };
  }
  if (b4 !== 0) {
    const lc2 = b4;
    if (n === 5 + lc2) {
      return { ok: true, command: { ...base, data: apdu.slice(5), ne: null, neIsMax: false, isoCase: 3, extended: false } };
    }
    if (n === 6 + lc2) {
      const le = apdu[n - 1];
      return {
        ok: true,
        command: { ...base, data: apdu.slice(5, 5 + lc2), ne: le === 0 ? 256 : le, neIsMax: le === 0, isoCase: 4, extended: false }
      };
    }
    return { ok: false, reason: `short Lc ${lc2} does not match the ${n - 5} bytes after the header` };
  }
  if (n < 7) return { ok: false, reason: `extended APDU of ${n} bytes is too short for its 3-byte length field` };
  const l16 = apdu[5] << 8 | apdu[6];
  if (n === 7) {
    return {
      ok: true,
      command: { ...base, data: empty, ne: l16 === 0 ? 65536 : l16, neIsMax: l16 === 0, isoCase: 2, extended: true }
    };
  }
  const lc = l16;
  if (lc === 0) return { ok: false, reason: "extended Lc is 0000 but data follows" };
  if (n === 7 + lc) {
    return { ok: true, command: { ...base, data: apdu.slice(7), ne: null, neIsMax: false, isoCase: 3, extended: true } };
  }
  if (n === 9 + lc) {
    const le = apdu[n - 2] << 8 | apdu[n - 1];
    return {
      ok: true,
      command: { ...base, data: apdu.slice(7, 7 + lc), ne: le === 0 ? 65536 : le, neIsMax: le === 0, isoCase: 4, extended: true }
    };
  }
  return { ok: false, reason: `extended Lc ${lc} does not match the ${n - 7} bytes after the length field` };
}

// platform/sdk/tlv.ts
function tagBytes(tag) {
  if (!Number.isInteger(tag) || tag < 1 || tag > 16777215) {
    throw new RangeError(`BER-TLV tag ${String(tag)} is not a 1 to 3 byte tag number`);
  }
  const bytes3 = tag > 65535 ? [tag >> 16, tag >> 8 & 255, tag & 255] : tag > 255 ? [tag >> 8, tag & 255] : [tag];
  const name = `tag ${tag.toString(16).toUpperCase()}`;
  const first = bytes3[0];
  if (first === 255) throw new RangeError(`BER-TLV ${name}: first byte FF is not a valid tag byte`);
  const multi = (first & 31) === 31;
  if (multi !== bytes3.length > 1) {
    throw new RangeError(
      `BER-TLV ${name}: first byte ${multi ? "announces subsequent bytes but there are none" : "is complete but more bytes follow"}`
    );
  }
  for (let i = 1; i < bytes3.length; i++) {
    const last = i === bytes3.length - 1;
    if ((bytes3[i] & 128) !== 0 === last) {
      throw new RangeError(`BER-TLV ${name}: byte ${i + 1} has its continuation bit ${last ? "set on the last byte" : "clear before the end"}`);
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
  const parts = nodes.map((n) => encodeTlv(n.tag, n.children ?? n.value));
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
    return df.children?.find((c) => c.fid === fid);
  }
  efBySfi(df, sfi) {
    for (const c of df.children ?? []) {
      if (c.type !== "df" && c.sfi === sfi) return c;
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
    const size = node.type === "transparent" ? node.data.length : node.records.reduce((n, r) => n + r.length, 0);
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
var PIN_FORMATS = ["ascii-ff", "bcd-ff", "emv-plaintext"];
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
      throw new RangeError(`unknown PIN format ${String(format)}; expected one of ${PIN_FORMATS.join(", ")}`);
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
function swBytesAvailable(n) {
  return 24832 | Math.min(n, 256) & 255;
}
function swWrongLe(n) {
  return 27648 | Math.min(n, 256) & 255;
}
function swTriesLeft(n) {
  return 25536 | Math.max(0, Math.min(n, 15));
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
    this.#random = config.random ?? ((n) => new Uint8Array(randomBytes2(n)));
    this.register({ cla: 0, ins: 164, name: "SELECT", handler: (c) => this.select(c) });
    this.register({ cla: 0, ins: 176, name: "READ BINARY", handler: (c) => this.readBinary(c) });
    this.register({ cla: 0, ins: 178, name: "READ RECORD", handler: (c) => this.readRecord(c) });
    this.register({ cla: 0, ins: 32, name: "VERIFY", handler: (c) => this.verify(c) });
    this.register({ cla: 0, ins: 132, name: "GET CHALLENGE", handler: (c) => this.getChallenge(c) });
    for (const h of config.handlers ?? []) this.register(h);
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
    const c = condition ?? "always";
    if (c === "always") return true;
    if (c === "never") return false;
    return this.#verified.has(c.pin);
  }
  random(n) {
    return this.#random(n);
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
    for (const h of this.#handlers) {
      if ((cmd.cla & h.claMask) !== (h.cla & h.claMask)) continue;
      claKnown = true;
      if (h.ins !== cmd.ins) continue;
      return this.#shape(cmd, h.handler(cmd, this));
    }
    return withSw(EMPTY, claKnown ? SW.INS_NOT_SUPPORTED : SW.CLA_NOT_SUPPORTED);
  }
  /** Fit a handler's answer to the protocol and to Ne. */
  #shape(cmd, res) {
    const data = res.data ?? EMPTY;
    if (data.length === 0) return withSw(EMPTY, res.sw);
    if (this.protocol === "T=1") {
      if (cmd.ne === null) return withSw(EMPTY, res.sw);
      return this.#deliver(data, cmd.ne, res.sw);
    }
    if (cmd.isoCase === 2) {
      if (data.length === cmd.ne) return withSw(data, res.sw);
      if (data.length > 256 && cmd.neIsMax) return this.#deliver(data, 256, res.sw);
      return withSw(EMPTY, swWrongLe(data.length));
    }
    this.#pending = { data, sw: res.sw };
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
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
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
  return v.map((c, i) => convertFile(r, c, `${path}[${i}]`));
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
    if (!PIN_FORMATS.includes(o.format)) {
      r.fail(`${path}.format`, `must be one of ${PIN_FORMATS.join(", ")}, got ${JSON.stringify(o.format)}`);
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
  const here = dirname(fileURLToPath(import.meta.url));
  const dirs = [join(here, "profiles")];
  let cur = here;
  for (let i = 0; i < 6; i++) {
    dirs.push(join(cur, "emulator", "cards", "profiles"));
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return dirs;
}
function loadTestCardProfile(name = "test-card") {
  if (!PROFILE_NAME.test(name)) {
    throw new ProfileError(name, "$", "profile name must be lowercase letters, digits and dashes (no paths)");
  }
  const dirs = profileDirs();
  const file = dirs.map((d) => resolve(d, `${name}.json`)).find((f) => existsSync(f));
  if (!file) throw new ProfileError(name, "$", `no ${name}.json in ${dirs.join(", ")}`);
  let json;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ProfileError(file, "$", `not valid JSON: ${e.message}`);
  }
  cardConfigFromProfile(json, file);
  return json;
}
var TestCard = class extends IsoCard {
  constructor(config) {
    super(config);
    this.register({ cla: TEST_CARD_ECHO.cla, ins: TEST_CARD_ECHO.ins, name: "ECHO", handler: (c) => {
      if (c.p1 !== 0 || c.p2 !== 0) return status(SW.WRONG_P1P2);
      if (c.data.length === 0) return status(SW.WRONG_LENGTH);
      return ok(c.data);
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
function createCard(name) {
  const f = FACTORIES[name];
  if (!f) throw new Error(`unknown card profile ${JSON.stringify(name)}; known: ${Object.keys(FACTORIES).join(", ")}`);
  return f.create();
}

// platform/kernel/redact.ts
var SHORT_HEX_DUMP_MIN = 16;
var HEX_RUN_RE = new RegExp(`[0-9A-Fa-f]{${SHORT_HEX_DUMP_MIN},}`, "g");

// platform/kernel/audit.ts
var GENESIS_HASH = "0".repeat(64);
var MAX_TAIL_BYTES = 4 * 1024 * 1024;

// platform/kernel/store.ts
import Database from "better-sqlite3";
import { Packr } from "msgpackr";
var MAX_VALUE_BYTES = 1024 * 1024;
var packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });

// platform/kernel/policy/loader.ts
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
var DEFAULT_MAX_RESPONSE_BYTES2 = 4096;
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
function describeType(data) {
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
      return new PolicyError(source, at, `must be ${TYPE_WORDS[String(p.type)] ?? String(p.type)}, not ${describeType(e.data)}`);
    case "pattern": {
      const hint = PATTERN_HINTS[String(p.pattern)] ?? `must match the pattern ${String(p.pattern)}`;
      return new PolicyError(source, at, `${hint}; got ${describeType(e.data)}`);
    }
    case "const":
      return at === "/schemaVersion" ? new PolicyError(source, at, `must be 1 (the only policy schema version this kernel reads), not ${describeType(e.data)}`) : new PolicyError(source, at, `must be ${JSON.stringify(p.allowedValue)}`);
    case "enum":
      return new PolicyError(
        source,
        at,
        `must be one of ${p.allowedValues.map((v) => JSON.stringify(v)).join(", ")}; got ${describeType(e.data)}`
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
  const policy2 = {
    schemaVersion: 1,
    domain: raw.domain,
    ...raw.description !== void 0 ? { description: raw.description } : {},
    applet: { id: raw.applet.id },
    limits,
    cardClasses: raw.cardClasses.map((c) => ({
      name: c.name,
      atr: { value: c.atr.value.toUpperCase(), mask: c.atr.mask.toUpperCase() },
      aids: c.aids.map((a) => a.toUpperCase()),
      apdu: c.apdu.map(normalizeRule),
      pinReferences: [...c.pinReferences],
      maxResponseBytes: c.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES2
    })),
    store: { quotaBytes: raw.store.quotaBytes },
    network: { endpoints: raw.network.endpoints.map((e) => ({ name: e.name, kind: e.kind, host: e.host, port: e.port })) },
    intents: {
      request: raw.intents.request.map((g) => ({ target: g.target, actions: [...g.actions] })),
      handle: raw.intents.handle.map((h) => ({ action: h.action, result: { ...h.result } }))
    },
    ui: { foreground: raw.ui.foreground, pinEntry: raw.ui.pinEntry }
  };
  return policy2;
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
var hex22 = (n) => n.toString(16).toUpperCase().padStart(2, "0");
function atrPatternsOverlap(a, b) {
  const av = hexBytes(a.value);
  const am = hexBytes(a.mask);
  const bv = hexBytes(b.value);
  const bm = hexBytes(b.mask);
  const n = Math.min(av.length, bv.length);
  for (let i = 0; i < n; i++) {
    if (((av[i] ^ bv[i]) & am[i] & bm[i]) !== 0) return false;
  }
  return true;
}
function checkCardClass(source, c, at) {
  const value = hexBytes(c.atr.value);
  const mask = hexBytes(c.atr.mask);
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
        `has bits outside the mask at byte ${i} (value ${hex22(value[i])}, mask ${hex22(mask[i])}): no card's ATR could ever match; clear those bits or widen the mask`
      );
    }
  }
  const seenAids = /* @__PURE__ */ new Map();
  c.aids.forEach((aid, j) => {
    const prev = seenAids.get(aid);
    if (prev !== void 0) throw new PolicyError(source, `${at}/aids/${j}`, `duplicates AID ${aid} already listed at ${at}/aids/${prev}`);
    seenAids.set(aid, j);
  });
  const seenRules = /* @__PURE__ */ new Map();
  c.apdu.forEach((r, j) => {
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
  c.pinReferences.forEach((ref, j) => {
    if (seenRefs.has(ref)) throw new PolicyError(source, `${at}/pinReferences/${j}`, `duplicates PIN reference ${ref} (0x${hex22(ref)})`);
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
  p.cardClasses.forEach((c, i) => checkCardClass(source, c, `/cardClasses/${i}`));
  checkClassesTogether(
    p.cardClasses.map((cls, index) => ({ policy: p, index, cls })),
    () => source
  );
  const withPins = p.cardClasses.findIndex((c) => c.pinReferences.length > 0);
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
  p.intents.handle.forEach((h, i) => {
    const prev = handled.get(h.action);
    if (prev !== void 0) {
      throw new PolicyError(source, `/intents/handle/${i}/action`, `action "${h.action}" is already handled at /intents/handle/${prev}`);
    }
    handled.set(h.action, i);
  });
}
var sources = /* @__PURE__ */ new WeakMap();
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
  const policy2 = normalize(json);
  checkPolicySemantics(source, policy2);
  deepFreeze(policy2);
  sources.set(policy2, source);
  return policy2;
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
import * as asn1js2 from "asn1js";
import * as pkijs2 from "pkijs";

// platform/kernel/packages/keys.ts
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
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

// platform/kernel/packages/manifest.ts
import { Ajv as Ajv2 } from "ajv";
var PACKAGE_FILES = {
  script: "applet.js",
  policy: "policy.json",
  manifest: "manifest.json",
  signature: "signature.p7s"
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

// platform/kernel/packages/verify.ts
var MAX_FILE_BYTES = {
  [PACKAGE_FILES.manifest]: 64 * 1024,
  [PACKAGE_FILES.signature]: 256 * 1024,
  [PACKAGE_FILES.policy]: 1024 * 1024,
  [PACKAGE_FILES.script]: 32 * 1024 * 1024
};

// platform/kernel/packages/pack.ts
import * as asn1js3 from "asn1js";
import * as pkijs3 from "pkijs";
import { build } from "esbuild";

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
  const frame2 = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame2.writeUInt32BE(body.length, 0);
  body.copy(frame2, HEADER_BYTES);
  return frame2;
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
        const frame2 = this.take(HEADER_BYTES + length);
        out.push(decodeBody(frame2.subarray(HEADER_BYTES)));
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
    const frame2 = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame2;
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
function describe2(x) {
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
  if (!isPlainObject(x)) fail(path, `expected object, got ${describe2(x)}`);
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
function str2(v, path, max = MAX_DETAIL_CHARS) {
  if (typeof v !== "string") fail(path, `expected string, got ${describe2(v)}`);
  if (v.length > max) fail(path, `string longer than ${max}`);
  return v;
}
function bool(v, path) {
  if (typeof v !== "boolean") fail(path, `expected boolean, got ${describe2(v)}`);
  return v;
}
function id(v, path) {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_ID) {
    fail(path, "expected an integer id in 1..2^31-1");
  }
  return v;
}
function int2(v, path, min, max) {
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
function bytes2(v, path) {
  if (!isBytes(v)) fail(path, `expected Uint8Array, got ${describe2(v)}`);
  return v;
}
function oneOf(v, path, allowed) {
  if (typeof v !== "string" || !allowed.has(v)) fail(path, `expected one of ${[...allowed].join(", ")}`);
  return v;
}
function wireError(v, path) {
  const o = fields(v, path, ["code", "message"]);
  const code = str2(o.code, `${path}.code`, 64);
  if (!ERROR_CODE.test(code)) fail(`${path}.code`, "expected an error code like E_POLICY");
  return { code, message: str2(o.message, `${path}.message`) };
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
  if (!isPlainObject(x)) fail("message", `expected object, got ${describe2(x)}`);
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
      if (!isPlainArray(o.handlers)) fail("ready.handlers", `expected array, got ${describe2(o.handlers)}`);
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
      if (!isPlainObject(o.args)) fail("req.args", `expected object, got ${describe2(o.args)}`);
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
        detail: str2(o.detail, "breach.detail")
      };
      if ("callId" in o) msg.callId = id(o.callId, "breach.callId");
      return msg;
    }
    default: {
      const o = fields(x, "fatal", ["t", "detail"]);
      const msg = { t: "fatal", detail: str2(o.detail, "fatal.detail") };
      return msg;
    }
  }
}
function isPlainArray(x) {
  return Array.isArray(x) && !isProxy(x) && Object.getPrototypeOf(x) === Array.prototype;
}
var PIN_FORMATS2 = /* @__PURE__ */ new Set(["ascii-ff", "bcd-ff", "emv-plaintext"]);
var LOG_LEVELS = /* @__PURE__ */ new Set(["debug", "info", "warn", "error"]);
var DIGESTS = /* @__PURE__ */ new Set(["SHA-1", "SHA-256", "SHA-384", "SHA-512"]);
var KEY_MAX = 1024;
var TOKEN_MAX = 256;
var NAME_MAX = 256;
var TEXT_MAX = 64 * 1024;
function stringList(v, path) {
  if (!isPlainArray(v)) fail(path, `expected array, got ${describe2(v)}`);
  return v.map((s, i) => str2(s, `${path}[${i}]`, TEXT_MAX));
}
function validateRequestArgs(op, args) {
  const p = "req.args";
  switch (op) {
    case "slots.acquire": {
      const o = fields(args, p, ["slot"], ["timeoutMs"]);
      int2(o.slot, `${p}.slot`, 0, 65535);
      if ("timeoutMs" in o) num(o.timeoutMs, `${p}.timeoutMs`, 0, 864e5);
      return;
    }
    case "slots.list":
    case "clock.now":
      fields(args, p, []);
      return;
    case "lease.transmit": {
      const o = fields(args, p, ["token", "apdu"]);
      str2(o.token, `${p}.token`, TOKEN_MAX);
      bytes2(o.apdu, `${p}.apdu`);
      return;
    }
    case "lease.reset":
    case "lease.release": {
      const o = fields(args, p, ["token"]);
      str2(o.token, `${p}.token`, TOKEN_MAX);
      return;
    }
    case "pin.verify": {
      const o = fields(args, p, ["token", "reference", "format"], ["prompt"]);
      str2(o.token, `${p}.token`, TOKEN_MAX);
      int2(o.reference, `${p}.reference`, 0, 255);
      oneOf(o.format, `${p}.format`, PIN_FORMATS2);
      if ("prompt" in o) str2(o.prompt, `${p}.prompt`, TEXT_MAX);
      return;
    }
    case "ui.show": {
      const o = fields(args, p, ["screen"]);
      const s = fields(o.screen, `${p}.screen`, ["lines"], ["title", "keys"]);
      if ("title" in s) str2(s.title, `${p}.screen.title`, TEXT_MAX);
      stringList(s.lines, `${p}.screen.lines`);
      if ("keys" in s) stringList(s.keys, `${p}.screen.keys`);
      return;
    }
    case "ui.ask": {
      const o = fields(args, p, ["question"]);
      const q = fields(o.question, `${p}.question`, ["text", "choices"], ["title", "timeoutMs"]);
      if ("title" in q) str2(q.title, `${p}.question.title`, TEXT_MAX);
      str2(q.text, `${p}.question.text`, TEXT_MAX);
      stringList(q.choices, `${p}.question.choices`);
      if ("timeoutMs" in q) num(q.timeoutMs, `${p}.question.timeoutMs`, 0, 864e5);
      return;
    }
    case "store.get":
    case "store.delete": {
      const o = fields(args, p, ["key"]);
      str2(o.key, `${p}.key`, KEY_MAX);
      return;
    }
    case "store.put": {
      const o = fields(args, p, ["key", "value"]);
      str2(o.key, `${p}.key`, KEY_MAX);
      validateWireValue(o.value, `${p}.value`);
      return;
    }
    case "store.list": {
      const o = fields(args, p, [], ["prefix", "limit"]);
      if ("prefix" in o) str2(o.prefix, `${p}.prefix`, KEY_MAX);
      if ("limit" in o) int2(o.limit, `${p}.limit`, 0, MAX_ID);
      return;
    }
    case "store.transaction": {
      const o = fields(args, p, ["ops"]);
      if (!isPlainArray(o.ops)) fail(`${p}.ops`, `expected array, got ${describe2(o.ops)}`);
      o.ops.forEach((entry, i) => {
        const ep = `${p}.ops[${i}]`;
        if (!isPlainObject(entry)) fail(ep, `expected object, got ${describe2(entry)}`);
        const kind = ownData(entry, ep).op;
        if (kind === "put") {
          const e = fields(entry, ep, ["op", "key", "value"]);
          str2(e.key, `${ep}.key`, KEY_MAX);
          validateWireValue(e.value, `${ep}.value`);
        } else if (kind === "delete") {
          const e = fields(entry, ep, ["op", "key"]);
          str2(e.key, `${ep}.key`, KEY_MAX);
        } else {
          fail(`${ep}.op`, "expected 'put' or 'delete'");
        }
      });
      return;
    }
    case "net.send": {
      const o = fields(args, p, ["endpoint", "message"]);
      str2(o.endpoint, `${p}.endpoint`, NAME_MAX);
      validateWireValue(o.message, `${p}.message`);
      return;
    }
    case "net.fetch": {
      const o = fields(args, p, ["endpoint"], ["request"]);
      str2(o.endpoint, `${p}.endpoint`, NAME_MAX);
      if ("request" in o) validateWireValue(o.request, `${p}.request`);
      return;
    }
    case "intents.request": {
      const o = fields(args, p, ["target", "payload"]);
      str2(o.target, `${p}.target`, NAME_MAX);
      if (!isPlainObject(o.payload)) fail(`${p}.payload`, `expected object, got ${describe2(o.payload)}`);
      str2(ownData(o.payload, `${p}.payload`).action, `${p}.payload.action`, NAME_MAX);
      validateWireValue(o.payload, `${p}.payload`);
      return;
    }
    case "crypto.digest": {
      const o = fields(args, p, ["alg", "data"]);
      oneOf(o.alg, `${p}.alg`, DIGESTS);
      bytes2(o.data, `${p}.data`);
      return;
    }
    case "crypto.random": {
      const o = fields(args, p, ["n"]);
      int2(o.n, `${p}.n`, 0, 1 << 20);
      return;
    }
    case "log": {
      const o = fields(args, p, ["level", "message"], ["fields"]);
      oneOf(o.level, `${p}.level`, LOG_LEVELS);
      str2(o.message, `${p}.message`, TEXT_MAX);
      if ("fields" in o) {
        if (!isPlainObject(o.fields)) fail(`${p}.fields`, `expected object, got ${describe2(o.fields)}`);
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

// platform/kernel/domain-log.ts
var MAX_BYTES = 4 * 1024 * 1024;

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

// .prof/kmicro.ts
var policy = benchPolicy();
var reader = new EmulatedReader({ slots: 2 });
var broker = createSlotBroker(new EmulatedDriver(reader), { ...DEFAULT_BROKER_OPTIONS, routes: policy.cardClasses.map((cardClass) => ({ domain: "bench", cardClass })) });
await broker.start();
reader.insert(0, createCard("test-card"));
await new Promise((r) => setTimeout(r, 20));
var lease = await broker.acquire("bench", 0, 1e3);
var ops = slotOps({ broker });
var router = new Router({ ops, deadlineMs: () => 3e4, redact: (s) => s });
router.attach("bench", { ...policy, domain: "bench" });
var dec = new FrameDecoder(1 << 20);
var frame = encodeFrame({ t: "req", id: 1, op: "lease.transmit", args: { token: lease.token, apdu: ECHO_APDU } });
var id2 = 1;
var one = () => new Promise((resolve2) => {
  const f = Buffer.from(frame);
  f.writeUInt32BE(0, 0);
  const msg = validateHostToKernel(dec.push(frame)[0]);
  msg.id = id2++;
  router.dispatch("bench", msg, (_id, r) => {
    if (!r.ok) throw new Error(JSON.stringify(r));
    encodeFrame({ t: "reply", id: _id, ...r });
    resolve2();
  });
});
var mode = process.argv[2] ?? "full";
var one2 = mode === "broker" ? () => broker.transmit("bench", lease.token, ECHO_APDU).then(() => void 0) : mode === "reader" ? () => reader.transmit(0, ECHO_APDU).then(() => void 0) : one;
for (let i = 0; i < 5e3; i++) await one2();
for (let k = 0; k < 3; k++) {
  const N = 5e4;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await one2();
  console.log(mode, (Number(process.hrtime.bigint() - t0) / N / 1e3).toFixed(2), "us/APDU");
}
process.exit(0);
