/**
 * The in-isolate half of the domain host: source text run with `context.evalClosure` in a fresh
 * context before the applet. It is the only code that holds the bridge to the host, so it is written
 * against an adversary who runs right after it, in the same realm:
 *
 * - it captures every intrinsic it needs before anything else runs and never looks a method up on
 *   an object at call time (no `.call`, no `for..of`, no `globalThis.X`), so later poisoning of
 *   globals cannot redirect it;
 * - the bridge and the request table live only in this closure; the applet gets methods that close
 *   over them, never the functions themselves, and every shim function is strict, so
 *   `fn.caller` / `arguments.callee.caller` / Error.prepareStackTrace callsites cannot reveal them;
 * - applet values are copied into fresh plain data here (getters and proxy traps run, but in this
 *   realm, before anything leaves); the host re-validates everything it receives;
 * - kernel errors become Errors constructed here, with `code` and `message` only.
 *
 * Arguments: $0 = bridge, an isolated-vm Callback in "ignored" mode: bridge(localId, op, args) queues
 * a request on the host's event loop; $1 = config (plain data, copied in).
 * Returns `ctl(kind, ...)`, which only the host holds (as a Reference):
 *   ctl('ready')                            -> names of the handlers the applet defined
 *   ctl('call', name, args)                 -> Promise<{ ok, hasValue, value } | { ok: false, message }>
 *   ctl('settle', id, ok, hasValue, value, code, message) -> resolves/rejects a pending platform call
 */

export interface ShimConfig {
  domain: string;
  clockGranularityMs: number;
  handlerNames: string[];
  maxInFlight: number;
  maxRequestBytes: number;
  maxErrorChars: number;
}

export const SHIM_FILENAME = 'platform-shim.js';

// Kept as plain text (not a TS function turned into a string) so that the bundler can never rewrite
// it: what is reviewed here is byte-for-byte what runs in the isolate.
export const SHIM_SOURCE = String.raw`'use strict';
const bridge = $0;
const config = $1;

// ---------------------------------------------------------------- captured intrinsics
const G = globalThis;
const ObjectC = Object;
const ObjectProto = Object.prototype;
const freeze = Object.freeze;
const isFrozen = Object.isFrozen;
const defineProperty = Object.defineProperty;
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const getPrototypeOf = Object.getPrototypeOf;
const objectCreate = Object.create;
const objectKeys = Object.keys;
const reflectApply = Reflect.apply;
const reflectConstruct = Reflect.construct;
const ownKeys = Reflect.ownKeys;
const isArray = Array.isArray;
const isInteger = Number.isInteger;
const isFiniteNumber = Number.isFinite;
const mathFloor = Math.floor;
const StringC = String;
const stringSlice = String.prototype.slice;
const PromiseC = Promise;
const ErrorC = Error;
const TypeErrorC = TypeError;
const RangeErrorC = RangeError;
const U8 = Uint8Array;
const TypedArrayProto = getPrototypeOf(Uint8Array.prototype);
const typedArrayTag = getOwnPropertyDescriptor(TypedArrayProto, Symbol.toStringTag).get;
const typedArrayByteLength = getOwnPropertyDescriptor(TypedArrayProto, 'byteLength').get;
const WeakSetC = WeakSet;
const weakSetHas = WeakSet.prototype.has;
const weakSetAdd = WeakSet.prototype.add;
const DateC = Date;
const dateNow = Date.now;
const dateToString = Date.prototype.toString;

const DOMAIN = StringC(config.domain);
const GRAN = config.clockGranularityMs;
const MAX_IN_FLIGHT = config.maxInFlight;
const MAX_REQUEST_BYTES = config.maxRequestBytes;
const MAX_ERROR_CHARS = config.maxErrorChars;
const MAX_DEPTH = 32;
const MAX_NODES = 10000;
const HANDLER_NAMES = [];
for (let i = 0; i < config.handlerNames.length; i++) HANDLER_NAMES[i] = StringC(config.handlerNames[i]);
freeze(HANDLER_NAMES);
if (typeof bridge !== 'function' || !isInteger(GRAN) || GRAN < 1) throw new TypeErrorC('shim: bad arguments');

// ---------------------------------------------------------------- ambient authority
// Everything that is not an ECMAScript built-in goes, whatever the embedder added (isolated-vm adds
// console; V8 adds SharedArrayBuffer, Atomics and WebAssembly). Unknown future globals are removed
// too: this is an allowlist. FinalizationRegistry and WeakRef go as well: they let code observe GC
// timing and (FinalizationRegistry) run outside any handler call.
const ALLOWED_GLOBALS = objectCreate(null);
const allowedNames = ['Object', 'Function', 'Array', 'Number', 'parseFloat', 'parseInt', 'Infinity', 'NaN',
  'undefined', 'Boolean', 'String', 'Symbol', 'Date', 'Promise', 'RegExp', 'Error', 'AggregateError',
  'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError', 'globalThis', 'JSON',
  'Math', 'Intl', 'ArrayBuffer', 'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array',
  'Int32Array', 'Float32Array', 'Float64Array', 'Uint8ClampedArray', 'BigUint64Array', 'BigInt64Array',
  'DataView', 'Map', 'BigInt', 'Set', 'WeakMap', 'WeakSet', 'Proxy', 'Reflect', 'decodeURI',
  'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'unescape', 'eval', 'isFinite', 'isNaN'];
for (let i = 0; i < allowedNames.length; i++) ALLOWED_GLOBALS[allowedNames[i]] = true;
{
  const present = ownKeys(G);
  for (let i = 0; i < present.length; i++) {
    const key = present[i];
    if (typeof key === 'string' && ALLOWED_GLOBALS[key] === true) continue;
    // Strict mode: a non-configurable intruder throws here and the host refuses to start.
    delete G[key];
  }
}

// ---------------------------------------------------------------- coarse clock
function coarseNow() {
  const t = dateNow();
  return t - (t % GRAN);
}
// A replacement constructor rather than a Proxy: Date.prototype is shared, its constructor link is
// re-pointed, and the original constructor stays reachable only from this closure.
const CoarseDate = function Date(...args) {
  if (new.target === undefined) return reflectApply(dateToString, new DateC(coarseNow()), []);
  return reflectConstruct(DateC, args.length === 0 ? [coarseNow()] : args, new.target);
};
defineProperty(CoarseDate, 'prototype', { value: DateC.prototype, writable: false, enumerable: false, configurable: false });
defineProperty(CoarseDate, 'length', { value: 7, writable: false, enumerable: false, configurable: true });
defineProperty(CoarseDate, 'now', { value: ({ now() { return coarseNow(); } }).now, writable: true, enumerable: false, configurable: true });
defineProperty(CoarseDate, 'parse', { value: DateC.parse, writable: true, enumerable: false, configurable: true });
defineProperty(CoarseDate, 'UTC', { value: DateC.UTC, writable: true, enumerable: false, configurable: true });
defineProperty(DateC.prototype, 'constructor', { value: CoarseDate, writable: true, enumerable: false, configurable: true });
defineProperty(G, 'Date', { value: CoarseDate, writable: true, enumerable: false, configurable: true });
// Intl.DateTimeFormat#format() and #formatToParts() with no argument read the precise clock.
if (typeof Intl === 'object' && Intl !== null && typeof Intl.DateTimeFormat === 'function') {
  const dtfProto = Intl.DateTimeFormat.prototype;
  const formatGetter = getOwnPropertyDescriptor(dtfProto, 'format').get;
  const formatToParts = dtfProto.formatToParts;
  defineProperty(dtfProto, 'format', {
    get: getOwnPropertyDescriptor({ get format() {
      const bound = reflectApply(formatGetter, this, []);
      return (date) => bound(date === undefined ? coarseNow() : date);
    } }, 'format').get,
    set: undefined, enumerable: false, configurable: true,
  });
  defineProperty(dtfProto, 'formatToParts', {
    value: ({ formatToParts(date) {
      return reflectApply(formatToParts, this, [date === undefined ? coarseNow() : date]);
    } }).formatToParts,
    writable: true, enumerable: false, configurable: true,
  });
}

// ---------------------------------------------------------------- errors
function makeError(code, message, Ctor) {
  const e = new (Ctor || ErrorC)(StringC(message));
  defineProperty(e, 'code', { value: StringC(code), writable: true, enumerable: true, configurable: true });
  return e;
}
function argError(path, what) {
  return makeError('E_ARGS', path + ': ' + what, TypeErrorC);
}
function protocolError(what) {
  return makeError('E_PROTOCOL', 'unexpected reply from the kernel: ' + what);
}
function rejected(err) {
  return new PromiseC((resolve, reject) => { reject(err); });
}
function truncate(s) {
  return s.length > MAX_ERROR_CHARS ? reflectApply(stringSlice, s, [0, MAX_ERROR_CHARS]) : s;
}
// What a thrown applet value says about itself; never lets an exception out.
function describeThrown(e) {
  try {
    if (typeof e === 'string') return truncate(e);
    if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
      const m = e.message;
      if (typeof m === 'string') return truncate(m);
      return 'non-Error value thrown';
    }
    if (typeof e === 'symbol') return 'symbol thrown';
    return truncate(StringC(e));
  } catch (_) {
    return 'unreadable thrown value';
  }
}

// ---------------------------------------------------------------- copying applet values out
function isBytes(v) {
  // The %TypedArray% toStringTag getter reads an internal slot: proxies and look-alikes get undefined.
  return typeof v === 'object' && v !== null && reflectApply(typedArrayTag, v, []) === 'Uint8Array';
}
function copyBytes(v, path, budget) {
  const n = reflectApply(typedArrayByteLength, v, []);
  budget.bytes += n + 5;
  if (budget.bytes > MAX_REQUEST_BYTES) throw makeError('E_QUOTA', path + ': request larger than ' + MAX_REQUEST_BYTES + ' bytes', RangeErrorC);
  // A fresh, exactly-sized array: never the applet's view (whose buffer may be larger, shared or
  // later mutated).
  return new U8(v);
}
function setData(o, key, value) {
  defineProperty(o, key, { value: value, writable: true, enumerable: true, configurable: true });
}
function toWire(v, path, budget, depth) {
  if (++budget.nodes > MAX_NODES) throw argError(path, 'more than ' + MAX_NODES + ' values');
  if (depth > MAX_DEPTH) throw argError(path, 'nested deeper than ' + MAX_DEPTH);
  if (v === null) return null;
  const t = typeof v;
  if (t === 'boolean') return v;
  if (t === 'number') { budget.bytes += 9; return v; }
  if (t === 'string') {
    budget.bytes += v.length * 3 + 5;
    if (budget.bytes > MAX_REQUEST_BYTES) throw makeError('E_QUOTA', path + ': request larger than ' + MAX_REQUEST_BYTES + ' bytes', RangeErrorC);
    return v;
  }
  if (t !== 'object') throw argError(path, 'cannot send a value of type ' + t);
  if (isBytes(v)) return copyBytes(v, path, budget);
  if (isArray(v)) {
    const n = v.length;
    if (!isInteger(n) || n < 0 || n > MAX_NODES) throw argError(path, 'bad array length');
    const out = [];
    for (let i = 0; i < n; i++) setData(out, i, toWire(v[i], path + '[' + i + ']', budget, depth + 1));
    return out;
  }
  const proto = getPrototypeOf(v);
  if (proto !== ObjectProto && proto !== null) throw argError(path, 'expected a plain object, array, Uint8Array or primitive');
  const keys = objectKeys(v);
  const out = {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') throw argError(path, 'forbidden key ' + k);
    budget.bytes += k.length * 3 + 5;
    const value = v[k];
    if (value === undefined) continue;
    setData(out, k, toWire(value, path + '.' + k, budget, depth + 1));
  }
  return out;
}
function newBudget() {
  return { nodes: 0, bytes: 0 };
}
function wire(v, path) {
  return toWire(v, path, newBudget(), 0);
}
function optionalWire(v, path) {
  return v === undefined ? undefined : wire(v, path);
}
function bytesArg(v, path) {
  if (!isBytes(v)) throw argError(path, 'expected Uint8Array');
  return copyBytes(v, path, newBudget());
}
function stringArg(v, path) {
  if (typeof v !== 'string') throw argError(path, 'expected string');
  return v;
}
function optionsArg(v, path) {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object') throw argError(path, 'expected an object');
  return v;
}
// Builds a request's args object, leaving out fields whose value is undefined.
function argsOf(pairs) {
  const out = {};
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i + 1] !== undefined) setData(out, pairs[i], pairs[i + 1]);
  return out;
}

// ---------------------------------------------------------------- requests
let initPhase = true;
let activeCalls = 0;
let nextId = 1;
let inFlight = 0;
const pending = objectCreate(null);

function request(op, args, post) {
  if (!initPhase && activeCalls === 0) {
    return rejected(makeError('E_STATE', op + ': platform calls are only accepted while a handler call is running'));
  }
  if (inFlight >= MAX_IN_FLIGHT) {
    return rejected(makeError('E_QUOTA', op + ': more than ' + MAX_IN_FLIGHT + ' platform calls in flight'));
  }
  const id = nextId++;
  let resolveP, rejectP;
  const p = new PromiseC((resolve, reject) => { resolveP = resolve; rejectP = reject; });
  pending[id] = { resolve: resolveP, reject: rejectP, post: post };
  inFlight++;
  try {
    bridge(id, op, args);
  } catch (e) {
    delete pending[id];
    inFlight--;
    return rejected(makeError('E_INTERNAL', op + ': could not reach the kernel'));
  }
  return p;
}
// Runs a method body so that argument errors (including ones thrown by applet getters/traps while
// reading arguments) come back as a rejected promise, like every other failure of an async API.
function guarded(body) {
  try {
    return body();
  } catch (e) {
    return rejected(e);
  }
}
function settle(id, ok, hasValue, value, code, message) {
  const rec = pending[id];
  if (rec === undefined) return;
  delete pending[id];
  inFlight--;
  if (!ok) {
    rec.reject(makeError(typeof code === 'string' ? code : 'E_INTERNAL', typeof message === 'string' ? message : 'platform call failed'));
    return;
  }
  let out;
  try {
    out = rec.post(hasValue === true, value);
  } catch (e) {
    rec.reject(e);
    return;
  }
  rec.resolve(out);
}

// ---------------------------------------------------------------- reply shapes
function postVoid() { return undefined; }
function postAny(has, v) { return has ? v : null; }
function postOptional(has, v) { return has ? v : undefined; }
function postBytes(has, v) {
  if (!has || !isBytes(v)) throw protocolError('expected bytes');
  return v;
}
function postBoolean(has, v) {
  if (typeof v !== 'boolean') throw protocolError('expected a boolean');
  return v;
}
function postClock(has, v) {
  if (typeof v !== 'number' || !isFiniteNumber(v)) throw protocolError('expected a number');
  return v - (v % GRAN);
}
function isRecord(v) {
  return v !== null && typeof v === 'object' && !isArray(v) && !isBytes(v);
}
function postStrings(has, v) {
  if (!isArray(v)) throw protocolError('expected a list');
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') throw protocolError('expected strings');
  return v;
}
function postSlots(has, v) {
  if (!isArray(v)) throw protocolError('expected a list');
  const out = [];
  for (let i = 0; i < v.length; i++) {
    const s = v[i];
    if (!isRecord(s) || typeof s.slot !== 'number' || typeof s.cardClass !== 'string' || typeof s.atr !== 'string') throw protocolError('bad slot entry');
    setData(out, i, { slot: s.slot, cardClass: s.cardClass, atr: s.atr });
  }
  return out;
}
function postChoice(has, v) {
  if (!isRecord(v) || typeof v.choice !== 'number') throw protocolError('expected { choice }');
  return { choice: v.choice };
}
function postPin(has, v) {
  if (!isRecord(v) || typeof v.ok !== 'boolean' || typeof v.blocked !== 'boolean' ||
      !(v.triesLeft === null || typeof v.triesLeft === 'number')) throw protocolError('expected a PIN result');
  const out = { ok: v.ok, triesLeft: v.triesLeft, blocked: v.blocked };
  if (v.aborted === 'cancelled' || v.aborted === 'timeout') setData(out, 'aborted', v.aborted);
  return out;
}
function postLease(has, v) {
  if (!isRecord(v) || typeof v.slot !== 'number' || typeof v.token !== 'string' ||
      typeof v.cardClass !== 'string' || typeof v.atr !== 'string') throw protocolError('expected a lease');
  return makeLease(v.slot, v.token, v.cardClass, v.atr);
}

// ---------------------------------------------------------------- the platform object
function freezeMethods(o) {
  const keys = ownKeys(o);
  for (let i = 0; i < keys.length; i++) {
    const v = getOwnPropertyDescriptor(o, keys[i]).value;
    if (typeof v === 'function') freeze(v);
  }
  return freeze(o);
}

function makeLease(slot, token, cardClass, atr) {
  // The token is closed over: a lease's methods always act for the lease the kernel issued, whatever
  // object they are later called on.
  return freezeMethods({
    slot: slot,
    token: token,
    cardClass: cardClass,
    atr: atr,
    transmit(apdu) {
      return guarded(() => request('lease.transmit', argsOf(['token', token, 'apdu', bytesArg(apdu, 'apdu')]), postBytes));
    },
    reset() {
      return guarded(() => request('lease.reset', argsOf(['token', token]), postBytes));
    },
    release() {
      return guarded(() => request('lease.release', argsOf(['token', token]), postVoid));
    },
  });
}

const platform = {
  domain: DOMAIN,
  slots: freezeMethods({
    acquire(slot, options) {
      return guarded(() => {
        const o = optionsArg(options, 'options');
        const timeoutMs = o === undefined ? undefined : o.timeoutMs;
        if (typeof slot !== 'number') throw argError('slot', 'expected a number');
        if (timeoutMs !== undefined && typeof timeoutMs !== 'number') throw argError('options.timeoutMs', 'expected a number');
        return request('slots.acquire', argsOf(['slot', slot, 'timeoutMs', timeoutMs]), postLease);
      });
    },
    list() {
      return guarded(() => request('slots.list', argsOf([]), postSlots));
    },
  }),
  pin: freezeMethods({
    verify(lease, options) {
      return guarded(() => {
        if (lease === null || (typeof lease !== 'object' && typeof lease !== 'function')) throw argError('lease', 'expected a Lease');
        // Read once and forwarded as-is: whether it names a live lease of this domain is the kernel's
        // decision, so forged lease objects are not filtered here.
        const token = lease.token;
        if (typeof token !== 'string') throw argError('lease.token', 'expected string');
        const o = optionsArg(options, 'options');
        if (o === undefined) throw argError('options', 'expected an object');
        const reference = o.reference;
        const format = o.format;
        const prompt = o.prompt;
        if (typeof reference !== 'number') throw argError('options.reference', 'expected a number');
        stringArg(format, 'options.format');
        if (prompt !== undefined) stringArg(prompt, 'options.prompt');
        return request('pin.verify', argsOf(['token', token, 'reference', reference, 'format', format, 'prompt', prompt]), postPin);
      });
    },
  }),
  ui: freezeMethods({
    show(screen) {
      return guarded(() => request('ui.show', argsOf(['screen', wire(screen, 'screen')]), postVoid));
    },
    ask(question) {
      return guarded(() => request('ui.ask', argsOf(['question', wire(question, 'question')]), postChoice));
    },
  }),
  store: freezeMethods({
    get(key) {
      return guarded(() => request('store.get', argsOf(['key', stringArg(key, 'key')]), postOptional));
    },
    put(key, value) {
      return guarded(() => {
        const k = stringArg(key, 'key');
        if (value === undefined) throw argError('value', 'cannot store undefined');
        return request('store.put', argsOf(['key', k, 'value', wire(value, 'value')]), postVoid);
      });
    },
    delete(key) {
      return guarded(() => request('store.delete', argsOf(['key', stringArg(key, 'key')]), postBoolean));
    },
    list(options) {
      return guarded(() => {
        const o = optionsArg(options, 'options');
        const args = o === undefined ? argsOf([]) : argsOf(['prefix', optionalWire(o.prefix, 'options.prefix'), 'limit', optionalWire(o.limit, 'options.limit')]);
        return request('store.list', args, postStrings);
      });
    },
    transaction(ops) {
      return guarded(() => request('store.transaction', argsOf(['ops', wire(ops, 'ops')]), postVoid));
    },
  }),
  net: freezeMethods({
    send(endpoint, message) {
      return guarded(() => request('net.send', argsOf(['endpoint', stringArg(endpoint, 'endpoint'), 'message', wire(message === undefined ? null : message, 'message')]), postAny));
    },
    fetch(endpoint, req) {
      return guarded(() => request('net.fetch', argsOf(['endpoint', stringArg(endpoint, 'endpoint'), 'request', optionalWire(req, 'request')]), postAny));
    },
  }),
  intents: freezeMethods({
    request(target, payload) {
      return guarded(() => request('intents.request', argsOf(['target', stringArg(target, 'target'), 'payload', wire(payload, 'payload')]), postAny));
    },
  }),
  crypto: freezeMethods({
    digest(alg, data) {
      return guarded(() => request('crypto.digest', argsOf(['alg', stringArg(alg, 'alg'), 'data', bytesArg(data, 'data')]), postBytes));
    },
    random(n) {
      return guarded(() => {
        if (typeof n !== 'number') throw argError('n', 'expected a number');
        return request('crypto.random', argsOf(['n', n]), postBytes);
      });
    },
  }),
  clock: freezeMethods({
    now() {
      return guarded(() => request('clock.now', argsOf([]), postClock));
    },
  }),
  log(level, message, fields) {
    return guarded(() => request('log', argsOf(['level', stringArg(level, 'level'), 'message', stringArg(message, 'message'), 'fields', optionalWire(fields, 'fields')]), postVoid));
  },
};
freezeMethods(platform);
defineProperty(G, 'platform', { value: platform, writable: false, enumerable: false, configurable: false });

// ---------------------------------------------------------------- hardening the primordials
// Freezing makes the intrinsics tamper-proof, but it triggers the "override mistake": assigning a
// property on an ordinary object fails (TypeError in strict code, silently in sloppy code) when an
// object up its prototype chain has a frozen data property of that name, e.g. 'obj.toString = f' or
// 'this.name = "MyError"' in an Error subclass constructor. For the handful of names ordinary code
// does assign this way, the data property is turned into an accessor whose setter defines an own
// property on the receiver (what SES calls override taming); every other inherited name keeps the
// mistake, so applets must use Object.defineProperty or class fields for those.
function tame(obj, name) {
  const desc = getOwnPropertyDescriptor(obj, name);
  if (desc === undefined || !('value' in desc)) return;
  const value = desc.value;
  const accessors = {
    get() { return value; },
    set(v) {
      if (this === obj) throw new TypeErrorC('Cannot assign to read only property of a frozen intrinsic');
      defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true });
    },
  };
  defineProperty(obj, name, {
    get: accessors.get,
    set: accessors.set,
    enumerable: desc.enumerable,
    configurable: false,
  });
}
{
  const objectNames = ['constructor', 'toString', 'valueOf', 'toLocaleString', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable'];
  for (let i = 0; i < objectNames.length; i++) tame(ObjectProto, objectNames[i]);
  const errorCtors = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError];
  for (let i = 0; i < errorCtors.length; i++) {
    tame(errorCtors[i].prototype, 'name');
    tame(errorCtors[i].prototype, 'message');
    tame(errorCtors[i].prototype, 'constructor');
  }
  tame(Error.prototype, 'toString');
  tame(Function.prototype, 'toString');
  tame(Function.prototype, 'constructor');
}

// Intrinsics that no global names directly.
const hiddenRoots = [
  getPrototypeOf(G),
  getPrototypeOf(function* () {}),
  getPrototypeOf(async function () {}),
  getPrototypeOf(async function* () {}),
  getPrototypeOf((function* () {})()),
  getPrototypeOf((async function* () {})()),
  getPrototypeOf([][Symbol.iterator]()),
  getPrototypeOf(new Map()[Symbol.iterator]()),
  getPrototypeOf(new Set()[Symbol.iterator]()),
  getPrototypeOf(''[Symbol.iterator]()),
  getPrototypeOf(/a/[Symbol.matchAll]('a')),
  getPrototypeOf(getPrototypeOf(Int8Array)),
];
// The prototypes of Intl Segments objects and of their iterators are reachable only from what
// Intl.Segmenter.prototype.segment() returns. Making one here to reach them would load ICU's
// break-iterator data, about 15 ms and most of the shim's cost, for applets that almost never
// segment text; instead segment() is wrapped (before the freeze below, so the wrapper is frozen
// too) and its first call freezes both prototypes before any object leading to them is returned.
if (typeof Intl === 'object' && Intl !== null && typeof Intl.Segmenter === 'function') {
  const segmenterProto = Intl.Segmenter.prototype;
  const segment = segmenterProto.segment;
  const iteratorSymbol = Symbol.iterator;
  let segmentsFrozen = false;
  defineProperty(segmenterProto, 'segment', {
    value: ({ segment(input) {
      const segments = reflectApply(segment, this, [input]);
      if (!segmentsFrozen) {
        // Still pristine: nothing could reach this prototype before this line.
        const segmentsProto = getPrototypeOf(segments);
        freezeReachable([segmentsProto, getPrototypeOf(reflectApply(segmentsProto[iteratorSymbol], segments, []))]);
        segmentsFrozen = true;
      }
      return segments;
    } }).segment,
    writable: true, enumerable: false, configurable: true,
  });
}

// Transitive freeze of everything reachable from the global object's properties and the hidden
// roots, through own property values, accessors and prototypes. The global object itself stays
// extensible: the applet defines its handlers there.
const seen = new WeakSetC();
function freezeReachable(roots) {
  const stack = [];
  for (let i = 0; i < roots.length; i++) stack[stack.length] = roots[i];
  while (stack.length > 0) {
    const o = stack[stack.length - 1];
    stack.length = stack.length - 1;
    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || o === G) continue;
    if (reflectApply(weakSetHas, seen, [o])) continue;
    reflectApply(weakSetAdd, seen, [o]);
    freeze(o);
    stack[stack.length] = getPrototypeOf(o);
    const keys = ownKeys(o);
    for (let i = 0; i < keys.length; i++) {
      const desc = getOwnPropertyDescriptor(o, keys[i]);
      if (desc === undefined) continue;
      stack[stack.length] = desc.value;
      stack[stack.length] = desc.get;
      stack[stack.length] = desc.set;
    }
  }
}
{
  const roots = [];
  const globals = ownKeys(G);
  for (let i = 0; i < globals.length; i++) {
    const desc = getOwnPropertyDescriptor(G, globals[i]);
    roots[roots.length] = desc.value;
    roots[roots.length] = desc.get;
    roots[roots.length] = desc.set;
  }
  for (let i = 0; i < hiddenRoots.length; i++) roots[roots.length] = hiddenRoots[i];
  freezeReachable(roots);
  const mustBeFrozen = [ObjectProto, Function.prototype, Array.prototype, PromiseC, PromiseC.prototype, platform,
    getPrototypeOf(async function () {}), DateC.prototype, CoarseDate];
  for (let i = 0; i < mustBeFrozen.length; i++) if (!isFrozen(mustBeFrozen[i])) throw new TypeErrorC('shim: intrinsic not frozen');
}

// ---------------------------------------------------------------- handlers
const handlers = objectCreate(null);
let handlerList = null;

function collectHandlers() {
  const names = [];
  for (let i = 0; i < HANDLER_NAMES.length; i++) {
    const name = HANDLER_NAMES[i];
    // Descriptor, not G[name]: a getter defined by the applet must not run (and could answer
    // differently at call time).
    const desc = getOwnPropertyDescriptor(G, name);
    if (desc !== undefined && 'value' in desc && typeof desc.value === 'function') {
      handlers[name] = desc.value;
      names[names.length] = name;
    }
  }
  return names;
}

async function runCall(name, args) {
  const fn = handlers[name];
  if (fn === undefined) return { ok: false, message: 'no handler ' + StringC(name) };
  activeCalls++;
  let value;
  try {
    value = await reflectApply(fn, undefined, args);
  } catch (e) {
    return { ok: false, message: describeThrown(e) };
  } finally {
    activeCalls--;
  }
  if (value === undefined) return { ok: true, hasValue: false, value: null };
  try {
    return { ok: true, hasValue: true, value: wire(value, 'result') };
  } catch (e) {
    return { ok: false, message: describeThrown(e) };
  }
}

function ctl(kind, a, b, c, d, e, f) {
  if (kind === 'settle') {
    settle(a, b, c, d, e, f);
    return undefined;
  }
  if (kind === 'call') return runCall(a, b);
  if (kind === 'ready') {
    if (handlerList === null) {
      initPhase = false;
      handlerList = collectHandlers();
    }
    return handlerList;
  }
  throw new TypeErrorC('shim: unknown control ' + StringC(kind));
}
return ctl;
`;
