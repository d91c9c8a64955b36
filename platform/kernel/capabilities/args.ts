/**
 * Validation of platform-call arguments: the trust boundary between a domain and the kernel.
 * The host already checked frame shapes; these check meaning (types, ranges, lengths) per op.
 */
import type { WireValue } from '../../wire/messages.js';
import { KernelError } from '../errors.js';
import type { OpArgs } from '../router.js';

const bad = (op: string, key: string, want: string) => new KernelError('E_ARGS', `${op}: argument ${key} must be ${want}`);

export function str(op: string, args: OpArgs, key: string, opts: { max: number; optional?: false; pattern?: RegExp }): string;
export function str(op: string, args: OpArgs, key: string, opts: { max: number; optional: true; pattern?: RegExp }): string | undefined;
export function str(op: string, args: OpArgs, key: string, opts: { max: number; optional?: boolean; pattern?: RegExp }): string | undefined {
  const v = args[key];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'string' || v.length > opts.max || (opts.pattern && !opts.pattern.test(v))) {
    throw bad(op, key, `a string of at most ${opts.max} characters${opts.pattern ? ` matching ${opts.pattern}` : ''}`);
  }
  return v;
}

export function int(op: string, args: OpArgs, key: string, opts: { min: number; max: number; optional?: false }): number;
export function int(op: string, args: OpArgs, key: string, opts: { min: number; max: number; optional: true }): number | undefined;
export function int(op: string, args: OpArgs, key: string, opts: { min: number; max: number; optional?: boolean }): number | undefined {
  const v = args[key];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < opts.min || v > opts.max) {
    throw bad(op, key, `an integer from ${opts.min} to ${opts.max}`);
  }
  return v;
}

export function bytes(op: string, args: OpArgs, key: string, opts: { max: number }): Uint8Array {
  const v = args[key];
  if (!(v instanceof Uint8Array) || v.length > opts.max) throw bad(op, key, `a Uint8Array of at most ${opts.max} bytes`);
  return v;
}

export function obj(op: string, args: OpArgs, key: string): { [k: string]: WireValue } {
  const v = args[key];
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) throw bad(op, key, 'an object');
  return v;
}

export function strArray(op: string, v: WireValue | undefined, key: string, opts: { maxItems: number; maxLen: number }): string[] {
  if (!Array.isArray(v) || v.length > opts.maxItems || !v.every((s) => typeof s === 'string' && s.length <= opts.maxLen)) {
    throw bad(op, key, `an array of at most ${opts.maxItems} strings of at most ${opts.maxLen} characters`);
  }
  return v as string[];
}

/** Size of a wire value once encoded, approximately (for message-size caps). */
export function approxSize(v: WireValue, depth = 0): number {
  if (depth > 64) return Infinity;
  if (v === null || typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 9;
  if (typeof v === 'string') return v.length * 3 + 5;
  if (v instanceof Uint8Array) return v.length + 5;
  if (Array.isArray(v)) return v.reduce<number>((n, x) => n + approxSize(x, depth + 1), 5);
  return Object.entries(v).reduce<number>((n, [k, x]) => n + k.length + approxSize(x, depth + 1), 5);
}
