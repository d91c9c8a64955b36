/**
 * Structural validation of decoded frames (messages.ts). Both ends run every decoded value through
 * these before acting on it; anything unexpected is a ProtocolError naming the offending path, and
 * the receiving side drops its peer.
 *
 * The checks never invoke code on the value: proxies are refused up front, properties are read
 * through their descriptors, and accessors are refused, so a hostile object handed in-process
 * (not just a decoded one) cannot run getters or traps here.
 */
import { isProxy } from 'node:util/types';
import { HANDLER_NAMES, type HandlerName } from '../sdk/api.js';
import { DEFAULT_MAX_FRAME_BYTES } from './frames.js';
import {
  REQUEST_OPS,
  type BreachMessage,
  type CallMessage,
  type FatalMessage,
  type HostToKernel,
  type InitMessage,
  type KernelToHost,
  type ReadyMessage,
  type ReplyMessage,
  type RequestMessage,
  type RequestOp,
  type ResultMessage,
  type WireError,
  type WireValue,
} from './messages.js';

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

export const MAX_WIRE_DEPTH = 32;
export const MAX_WIRE_NODES = 10_000;
export const MAX_ID = 0x7fffffff;
/** Longest accepted error message / breach detail, in UTF-16 units. */
export const MAX_DETAIL_CHARS = 64 * 1024;

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const HANDLERS: ReadonlySet<string> = new Set(HANDLER_NAMES);
const OPS: ReadonlySet<string> = new Set(REQUEST_OPS);
const BREACH_KINDS: ReadonlySet<string> = new Set(['cpu', 'wall', 'memory', 'deadline', 'crash']);
const ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

type Obj = Record<string, unknown>;

function fail(path: string, what: string): never {
  throw new ProtocolError(`${path}: ${what}`);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  // Before any instanceof: that would run a proxy's getPrototypeOf trap.
  if (isProxy(x)) return 'proxy';
  if (Array.isArray(x)) return 'array';
  if (x instanceof Uint8Array) return 'Uint8Array';
  return typeof x;
}

function child(path: string, key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** An object literal (or null-prototype object): no proxy, array, class instance or msgpack extension. */
export function isPlainObject(x: unknown): x is Obj {
  if (typeof x !== 'object' || x === null || isProxy(x)) return false;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function isBytes(x: unknown): x is Uint8Array {
  if (typeof x !== 'object' || x === null || isProxy(x) || !(x instanceof Uint8Array)) return false;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Uint8Array.prototype || proto === Buffer.prototype;
}

/**
 * Own enumerable data properties of a plain object, as a null-prototype record. Refuses accessors,
 * symbols and prototype-polluting names so nothing downstream ever sees them.
 */
function ownData(x: Obj, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Reflect.ownKeys(x)) {
    if (typeof key !== 'string') fail(path, 'symbol keys are not allowed');
    if (FORBIDDEN_KEYS.has(key)) fail(child(path, key), 'forbidden key');
    const desc = Reflect.getOwnPropertyDescriptor(x, key);
    if (desc === undefined || !('value' in desc)) fail(child(path, key), 'accessor properties are not allowed');
    if (!desc.enumerable) fail(child(path, key), 'non-enumerable property');
    out[key] = desc.value;
  }
  return out;
}

interface Budget {
  nodes: number;
}

function checkWire(x: unknown, path: string, depth: number, budget: Budget): void {
  if (++budget.nodes > MAX_WIRE_NODES) fail(path, `more than ${MAX_WIRE_NODES} values`);
  if (depth > MAX_WIRE_DEPTH) fail(path, `nested deeper than ${MAX_WIRE_DEPTH}`);
  switch (typeof x) {
    case 'boolean':
    case 'number':
    case 'string':
      return;
    case 'object':
      break;
    default:
      fail(path, `expected a wire value, got ${typeof x}`);
  }
  if (x === null) return;
  if (isBytes(x)) return;
  if (Array.isArray(x)) {
    if (isProxy(x) || Object.getPrototypeOf(x) !== Array.prototype) fail(path, 'expected a plain array');
    const keys = Reflect.ownKeys(x);
    if (keys.length !== x.length + 1) fail(path, 'array with holes or extra properties');
    for (let i = 0; i < x.length; i++) {
      const desc = Reflect.getOwnPropertyDescriptor(x, i);
      if (desc === undefined || !('value' in desc)) fail(`${path}[${i}]`, 'hole or accessor in array');
      checkChild(desc.value, path, i, depth + 1, budget);
    }
    return;
  }
  if (!isPlainObject(x)) fail(path, 'expected a plain object, array, Uint8Array or primitive');
  const props = ownData(x, path);
  for (const key of Object.keys(props)) checkChild(props[key], path, key, depth + 1, budget);
}

/**
 * checkWire for one element or property. Leaves (the usual case: a token string, an APDU) are checked
 * here without building their path, which is only needed to name a failure; anything else gets the
 * full check with its path. Same rules as checkWire, same messages.
 */
function checkChild(v: unknown, path: string, key: string | number, depth: number, budget: Budget): void {
  const t = typeof v;
  if (
    budget.nodes < MAX_WIRE_NODES &&
    depth <= MAX_WIRE_DEPTH &&
    (t === 'string' || t === 'number' || t === 'boolean' || v === null || isBytes(v))
  ) {
    budget.nodes++;
    return;
  }
  checkWire(v, typeof key === 'number' ? `${path}[${key}]` : child(path, key), depth, budget);
}

/** Checks one WireValue tree (depth <= 32, <= 10 000 values, plain data only). */
export function validateWireValue(x: unknown, path = 'value'): WireValue {
  checkWire(x, path, 0, { nodes: 0 });
  return x as WireValue;
}

// ---- field helpers ----

function fields(x: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Obj {
  if (!isPlainObject(x)) fail(path, `expected object, got ${describe(x)}`);
  const props = ownData(x, path);
  for (const key of Object.keys(props)) {
    if (required.includes(key)) continue;
    if (optional.includes(key)) {
      // msgpack carries `undefined` as an extension; an explicitly-undefined optional field is absent.
      if (props[key] === undefined) delete props[key];
      continue;
    }
    fail(child(path, key), 'unexpected field');
  }
  for (const key of required) {
    if (!(key in props)) fail(child(path, key), 'missing field');
  }
  return props;
}

function str(v: unknown, path: string, max = MAX_DETAIL_CHARS): string {
  if (typeof v !== 'string') fail(path, `expected string, got ${describe(v)}`);
  if (v.length > max) fail(path, `string longer than ${max}`);
  return v;
}

function nonEmptyStr(v: unknown, path: string, max: number): string {
  const s = str(v, path, max);
  if (s.length === 0) fail(path, 'expected a non-empty string');
  return s;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, `expected boolean, got ${describe(v)}`);
  return v;
}

function id(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_ID) {
    fail(path, 'expected an integer id in 1..2^31-1');
  }
  return v;
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(path, `expected an integer in ${min}..${max}`);
  }
  return v;
}

function num(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    fail(path, `expected a number in ${min}..${max}`);
  }
  return v;
}

function bytes(v: unknown, path: string): Uint8Array {
  if (!isBytes(v)) fail(path, `expected Uint8Array, got ${describe(v)}`);
  return v;
}

function oneOf<T extends string>(v: unknown, path: string, allowed: ReadonlySet<string>): T {
  if (typeof v !== 'string' || !allowed.has(v)) fail(path, `expected one of ${[...allowed].join(', ')}`);
  return v as T;
}

function wireError(v: unknown, path: string): WireError {
  const o = fields(v, path, ['code', 'message']);
  const code = str(o.code, `${path}.code`, 64);
  if (!ERROR_CODE.test(code)) fail(`${path}.code`, 'expected an error code like E_POLICY');
  return { code, message: str(o.message, `${path}.message`) };
}

/** Shared by reply (kernel) and result (host): ok => optional value, !ok => error and no value. */
function outcome(o: Obj, path: string): { ok: boolean; value?: WireValue; error?: WireError } {
  const ok = bool(o.ok, `${path}.ok`);
  const out: { ok: boolean; value?: WireValue; error?: WireError } = { ok };
  if (ok) {
    if ('error' in o) fail(`${path}.error`, 'must be absent when ok is true');
    if ('value' in o) out.value = validateWireValue(o.value, `${path}.value`);
  } else {
    if ('value' in o) fail(`${path}.value`, 'must be absent when ok is false');
    if (!('error' in o)) fail(`${path}.error`, 'missing field');
    out.error = wireError(o.error, `${path}.error`);
  }
  return out;
}

function messageType(x: unknown, allowed: readonly string[]): string {
  if (!isPlainObject(x)) fail('message', `expected object, got ${describe(x)}`);
  const desc = Reflect.getOwnPropertyDescriptor(x, 't');
  if (desc === undefined || !('value' in desc)) fail('message.t', 'missing field');
  const t: unknown = desc.value;
  if (typeof t !== 'string' || !allowed.includes(t)) fail('message.t', `expected one of ${allowed.join(', ')}`);
  return t;
}

// ---- kernel -> host ----

const SCRIPT_MAX_CHARS = 16 * 1024 * 1024;

export function validateKernelToHost(x: unknown): KernelToHost {
  const t = messageType(x, ['init', 'call', 'reply']);
  if (t === 'init') {
    const o = fields(x, 'init', ['t', 'domain', 'script', 'filename', 'limits', 'clockGranularityMs'], ['maxFrameBytes']);
    const l = fields(o.limits, 'init.limits', ['memoryMb', 'cpuMsPerCall', 'wallMsPerCall']);
    const msg: InitMessage = {
      t: 'init',
      domain: nonEmptyStr(o.domain, 'init.domain', 128),
      script: str(o.script, 'init.script', SCRIPT_MAX_CHARS),
      filename: nonEmptyStr(o.filename, 'init.filename', 512),
      limits: {
        // isolated-vm refuses less than 8 MB.
        memoryMb: int(l.memoryMb, 'init.limits.memoryMb', 8, 8192),
        cpuMsPerCall: num(l.cpuMsPerCall, 'init.limits.cpuMsPerCall', 1, 3_600_000),
        wallMsPerCall: num(l.wallMsPerCall, 'init.limits.wallMsPerCall', 1, 86_400_000),
      },
      clockGranularityMs: int(o.clockGranularityMs, 'init.clockGranularityMs', 1, 3_600_000),
    };
    if ('maxFrameBytes' in o) msg.maxFrameBytes = int(o.maxFrameBytes, 'init.maxFrameBytes', 1024, DEFAULT_MAX_FRAME_BYTES);
    return msg;
  }
  if (t === 'call') {
    const o = fields(x, 'call', ['t', 'id', 'handler', 'args']);
    if (!Array.isArray(o.args)) fail('call.args', `expected array, got ${describe(o.args)}`);
    const msg: CallMessage = {
      t: 'call',
      id: id(o.id, 'call.id'),
      handler: oneOf<HandlerName>(o.handler, 'call.handler', HANDLERS),
      args: validateWireValue(o.args, 'call.args') as WireValue[],
    };
    return msg;
  }
  const o = fields(x, 'reply', ['t', 'id', 'ok'], ['value', 'error']);
  const msg: ReplyMessage = { t: 'reply', id: id(o.id, 'reply.id'), ...outcome(o, 'reply') };
  return msg;
}

// ---- host -> kernel ----

export function validateHostToKernel(x: unknown): HostToKernel {
  const t = messageType(x, ['ready', 'req', 'result', 'breach', 'fatal']);
  switch (t) {
    case 'ready': {
      const o = fields(x, 'ready', ['t', 'handlers']);
      if (!isPlainArray(o.handlers)) fail('ready.handlers', `expected array, got ${describe(o.handlers)}`);
      const seen = new Set<string>();
      const handlers = o.handlers.map((h, i) => {
        const name = oneOf<HandlerName>(h, `ready.handlers[${i}]`, HANDLERS);
        if (seen.has(name)) fail(`ready.handlers[${i}]`, 'duplicate handler');
        seen.add(name);
        return name;
      });
      const msg: ReadyMessage = { t: 'ready', handlers };
      return msg;
    }
    case 'req': {
      const o = fields(x, 'req', ['t', 'id', 'op', 'args']);
      const op = oneOf<RequestOp>(o.op, 'req.op', OPS);
      if (!isPlainObject(o.args)) fail('req.args', `expected object, got ${describe(o.args)}`);
      const args = validateWireValue(o.args, 'req.args') as { [key: string]: WireValue };
      validateRequestArgs(op, args);
      const msg: RequestMessage = { t: 'req', id: id(o.id, 'req.id'), op, args };
      return msg;
    }
    case 'result': {
      const o = fields(x, 'result', ['t', 'id', 'ok'], ['value', 'error']);
      const msg: ResultMessage = { t: 'result', id: id(o.id, 'result.id'), ...outcome(o, 'result') };
      return msg;
    }
    case 'breach': {
      const o = fields(x, 'breach', ['t', 'kind', 'detail'], ['callId']);
      const msg: BreachMessage = {
        t: 'breach',
        kind: oneOf<BreachMessage['kind']>(o.kind, 'breach.kind', BREACH_KINDS),
        detail: str(o.detail, 'breach.detail'),
      };
      if ('callId' in o) msg.callId = id(o.callId, 'breach.callId');
      return msg;
    }
    default: {
      const o = fields(x, 'fatal', ['t', 'detail']);
      const msg: FatalMessage = { t: 'fatal', detail: str(o.detail, 'fatal.detail') };
      return msg;
    }
  }
}

function isPlainArray(x: unknown): x is unknown[] {
  return Array.isArray(x) && !isProxy(x) && Object.getPrototypeOf(x) === Array.prototype;
}

// ---- per-op argument shapes ----

const PIN_FORMATS: ReadonlySet<string> = new Set(['ascii-ff', 'bcd-ff', 'emv-plaintext']);
const LOG_LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);
const DIGESTS: ReadonlySet<string> = new Set(['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512']);
const KEY_MAX = 1024;
const TOKEN_MAX = 256;
const NAME_MAX = 256;
const TEXT_MAX = 64 * 1024;

function stringList(v: unknown, path: string): string[] {
  if (!isPlainArray(v)) fail(path, `expected array, got ${describe(v)}`);
  return v.map((s, i) => str(s, `${path}[${i}]`, TEXT_MAX));
}

/**
 * Shape of `req.args` for each op (what the `platform` shim sends; the kernel's router may call this
 * too). The value checks that need policy (slot ownership, endpoints, quotas, token validity) are
 * the kernel's.
 *
 *   slots.acquire     { slot: int>=0, timeoutMs?: number>=0 }
 *   slots.list        {}
 *   lease.transmit    { token: string, apdu: Uint8Array }
 *   lease.reset       { token }
 *   lease.release     { token }
 *   pin.verify        { token, reference: int 0..255, format: PinFormat, prompt?: string }
 *   ui.show           { screen: { title?: string, lines: string[], keys?: string[] } }
 *   ui.ask            { question: { title?: string, text: string, choices: string[], timeoutMs?: number } }
 *   store.get         { key: string }
 *   store.put         { key, value: WireValue }
 *   store.delete      { key }
 *   store.list        { prefix?: string, limit?: int>=0 }
 *   store.transaction { ops: ({ op: 'put', key, value } | { op: 'delete', key })[] }
 *   net.send          { endpoint: string, message: WireValue }
 *   net.fetch         { endpoint: string, request?: WireValue }
 *   intents.request   { target: string, payload: { action: string, ...WireValue } }
 *   crypto.digest     { alg: DigestAlgorithm, data: Uint8Array }
 *   crypto.random     { n: int>=0 }
 *   clock.now         {}
 *   log               { level: LogLevel, message: string, fields?: { [k]: WireValue } }
 */
export function validateRequestArgs(op: RequestOp, args: unknown): void {
  const p = 'req.args';
  switch (op) {
    case 'slots.acquire': {
      const o = fields(args, p, ['slot'], ['timeoutMs']);
      int(o.slot, `${p}.slot`, 0, 0xffff);
      if ('timeoutMs' in o) num(o.timeoutMs, `${p}.timeoutMs`, 0, 86_400_000);
      return;
    }
    case 'slots.list':
    case 'clock.now':
      fields(args, p, []);
      return;
    case 'lease.transmit': {
      const o = fields(args, p, ['token', 'apdu']);
      str(o.token, `${p}.token`, TOKEN_MAX);
      bytes(o.apdu, `${p}.apdu`);
      return;
    }
    case 'lease.reset':
    case 'lease.release': {
      const o = fields(args, p, ['token']);
      str(o.token, `${p}.token`, TOKEN_MAX);
      return;
    }
    case 'pin.verify': {
      const o = fields(args, p, ['token', 'reference', 'format'], ['prompt']);
      str(o.token, `${p}.token`, TOKEN_MAX);
      int(o.reference, `${p}.reference`, 0, 255);
      oneOf(o.format, `${p}.format`, PIN_FORMATS);
      if ('prompt' in o) str(o.prompt, `${p}.prompt`, TEXT_MAX);
      return;
    }
    case 'ui.show': {
      const o = fields(args, p, ['screen']);
      const s = fields(o.screen, `${p}.screen`, ['lines'], ['title', 'keys']);
      if ('title' in s) str(s.title, `${p}.screen.title`, TEXT_MAX);
      stringList(s.lines, `${p}.screen.lines`);
      if ('keys' in s) stringList(s.keys, `${p}.screen.keys`);
      return;
    }
    case 'ui.ask': {
      const o = fields(args, p, ['question']);
      const q = fields(o.question, `${p}.question`, ['text', 'choices'], ['title', 'timeoutMs']);
      if ('title' in q) str(q.title, `${p}.question.title`, TEXT_MAX);
      str(q.text, `${p}.question.text`, TEXT_MAX);
      stringList(q.choices, `${p}.question.choices`);
      if ('timeoutMs' in q) num(q.timeoutMs, `${p}.question.timeoutMs`, 0, 86_400_000);
      return;
    }
    case 'store.get':
    case 'store.delete': {
      const o = fields(args, p, ['key']);
      str(o.key, `${p}.key`, KEY_MAX);
      return;
    }
    case 'store.put': {
      const o = fields(args, p, ['key', 'value']);
      str(o.key, `${p}.key`, KEY_MAX);
      validateWireValue(o.value, `${p}.value`);
      return;
    }
    case 'store.list': {
      const o = fields(args, p, [], ['prefix', 'limit']);
      if ('prefix' in o) str(o.prefix, `${p}.prefix`, KEY_MAX);
      if ('limit' in o) int(o.limit, `${p}.limit`, 0, MAX_ID);
      return;
    }
    case 'store.transaction': {
      const o = fields(args, p, ['ops']);
      if (!isPlainArray(o.ops)) fail(`${p}.ops`, `expected array, got ${describe(o.ops)}`);
      o.ops.forEach((entry, i) => {
        const ep = `${p}.ops[${i}]`;
        if (!isPlainObject(entry)) fail(ep, `expected object, got ${describe(entry)}`);
        const kind = ownData(entry, ep).op;
        if (kind === 'put') {
          const e = fields(entry, ep, ['op', 'key', 'value']);
          str(e.key, `${ep}.key`, KEY_MAX);
          validateWireValue(e.value, `${ep}.value`);
        } else if (kind === 'delete') {
          const e = fields(entry, ep, ['op', 'key']);
          str(e.key, `${ep}.key`, KEY_MAX);
        } else {
          fail(`${ep}.op`, "expected 'put' or 'delete'");
        }
      });
      return;
    }
    case 'net.send': {
      const o = fields(args, p, ['endpoint', 'message']);
      str(o.endpoint, `${p}.endpoint`, NAME_MAX);
      validateWireValue(o.message, `${p}.message`);
      return;
    }
    case 'net.fetch': {
      const o = fields(args, p, ['endpoint'], ['request']);
      str(o.endpoint, `${p}.endpoint`, NAME_MAX);
      if ('request' in o) validateWireValue(o.request, `${p}.request`);
      return;
    }
    case 'intents.request': {
      const o = fields(args, p, ['target', 'payload']);
      str(o.target, `${p}.target`, NAME_MAX);
      if (!isPlainObject(o.payload)) fail(`${p}.payload`, `expected object, got ${describe(o.payload)}`);
      str(ownData(o.payload, `${p}.payload`).action, `${p}.payload.action`, NAME_MAX);
      validateWireValue(o.payload, `${p}.payload`);
      return;
    }
    case 'crypto.digest': {
      const o = fields(args, p, ['alg', 'data']);
      oneOf(o.alg, `${p}.alg`, DIGESTS);
      bytes(o.data, `${p}.data`);
      return;
    }
    case 'crypto.random': {
      const o = fields(args, p, ['n']);
      int(o.n, `${p}.n`, 0, 1 << 20);
      return;
    }
    case 'log': {
      const o = fields(args, p, ['level', 'message'], ['fields']);
      oneOf(o.level, `${p}.level`, LOG_LEVELS);
      str(o.message, `${p}.message`, TEXT_MAX);
      if ('fields' in o) {
        if (!isPlainObject(o.fields)) fail(`${p}.fields`, `expected object, got ${describe(o.fields)}`);
        validateWireValue(o.fields, `${p}.fields`);
      }
      return;
    }
    default: {
      const never: never = op;
      fail('req.op', `unknown op ${String(never)}`);
    }
  }
}
