/**
 * Strict checks of what a host sends: the request envelope (wire/hostlink.ts HostRequest) and the
 * arguments of the kernel's own operations. Every failure names the field.
 */
import { DOMAIN_HOST_OPS, KERNEL_HOST_OPS, type HostLinkErrorCode, type HostLinkValue, type HostOp, type HostRequest } from '../../wire/hostlink.js';
import { isPlainObject, validateWireValue } from '../../wire/validate.js';

const ALL_HOST_OPS: readonly HostOp[] = [...KERNEL_HOST_OPS, ...DOMAIN_HOST_OPS];
const REQUEST_KEYS = ['v', 'id', 'op', 'args'] as const;
const MAX_REQUEST_ID = 0xffffffff;

export type RequestCheck =
  | { ok: true; request: HostRequest }
  | { ok: false; id: number | null; code: HostLinkErrorCode; message: string; field?: string; close: boolean };

function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (x instanceof Uint8Array) return 'bytes';
  if (x instanceof Date) return 'a date (msgpack timestamp)';
  if (typeof x === 'object') return isPlainObject(x) ? 'an object' : `a ${(x as object).constructor?.name ?? 'non-plain'} object (msgpack extension?)`;
  return typeof x;
}

const isUint32 = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= MAX_REQUEST_ID;

/** Checks a decoded frame as a HostRequest. Envelope faults close the link (E_FRAME); an unknown op does not (E_OP). */
export function checkHostRequest(x: unknown): RequestCheck {
  const frame = (message: string, field: string, id: number | null = null): RequestCheck => ({ ok: false, id, code: 'E_FRAME', message, field, close: true });
  if (!isPlainObject(x)) return frame(`request: expected an object { v, id, op, args }, got ${describeValue(x)}`, 'request');
  const id = isUint32(x.id) ? x.id : null;
  for (const key of Reflect.ownKeys(x)) {
    if (typeof key !== 'string') return frame('request: symbol keys are not allowed', 'request', id);
    if (!(REQUEST_KEYS as readonly string[]).includes(key)) {
      return frame(`request.${key.slice(0, 32)}: unexpected field (a request has exactly v, id, op, args)`, key.slice(0, 32), id);
    }
    const d = Reflect.getOwnPropertyDescriptor(x, key);
    if (!d || !('value' in d)) return frame(`request.${key}: not a data property`, key, id);
  }
  for (const key of REQUEST_KEYS) if (!(key in x)) return frame(`request.${key}: missing field`, key, id);
  if (x.v !== 1) return frame(`request.v: must be 1 (protocol di-tla/1), got ${describeValue(x.v)}${typeof x.v === 'number' ? ` ${x.v}` : ''}`, 'v', id);
  if (id === null) return frame(`request.id: must be an integer 0..${MAX_REQUEST_ID}, got ${describeValue(x.id)}${typeof x.id === 'number' ? ` ${x.id}` : ''}`, 'id');
  if (typeof x.op !== 'string') return frame(`request.op: must be a string naming the operation, got ${describeValue(x.op)}`, 'op', id);
  if (!isPlainObject(x.args)) return frame(`request.args: must be an object of arguments, got ${describeValue(x.args)}`, 'args', id);
  try {
    validateWireValue(x.args, 'request.args');
  } catch (e) {
    return frame(`${(e as Error).message.slice(0, 300)} (arguments are plain data only: no dates, extensions or undefined)`, 'args', id);
  }
  if (!(ALL_HOST_OPS as readonly string[]).includes(x.op)) {
    return { ok: false, id, code: 'E_OP', message: `no operation ${JSON.stringify(x.op.slice(0, 48))} (known: ${ALL_HOST_OPS.join(', ')})`, field: 'op', close: false };
  }
  return { ok: true, request: { v: 1, id, op: x.op as HostOp, args: x.args as { [k: string]: HostLinkValue } } };
}

export class ArgsError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** The arguments of a kernel op: exactly these keys (optional ones may be absent). */
export function exactArgs(op: string, args: Record<string, unknown>, required: readonly string[], optional: readonly string[] = []): void {
  for (const key of Object.keys(args)) {
    if (!required.includes(key) && !optional.includes(key)) {
      throw new ArgsError(key.slice(0, 32), `${op}: unexpected argument "${key.slice(0, 32)}" (${op} takes ${[...required, ...optional].join(', ') || 'none'})`);
    }
  }
  for (const key of required) if (!(key in args)) throw new ArgsError(key, `${op}: missing argument "${key}"`);
}
