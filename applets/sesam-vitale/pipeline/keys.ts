/**
 * Every store key of the applet, in one place, and the typed get/put around them. Numbers are
 * zero-padded so that `store.list` (code point order) lists records in number order.
 */
import type { StoreOp, Transferable } from '../../../platform/sdk/api.js';

export const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export const keys = {
  counter: (billing: string) => `counter/${billing}`,
  invoice: (billing: string, no: number) => `inv/${billing}/${pad(no, 9)}`,
  invoices: (billing?: string) => (billing ? `inv/${billing}/` : 'inv/'),
  lot: (billing: string, no: number) => `lot/${billing}/${pad(no, 6)}`,
  lots: (billing?: string) => (billing ? `lot/${billing}/` : 'lot/'),
  file: (billing: string, no: number) => `file/${billing}/${pad(no, 6)}`,
  files: (billing?: string) => (billing ? `file/${billing}/` : 'file/'),
  ret: (uid: string) => `ret/${uid}`,
  retBad: (uid: string) => `ret-bad/${uid}`,
  pay: (billing: string, no: number) => `pay/${billing}/${pad(no, 9)}`,
  pays: () => 'pay/',
  /** The day's data loaded by the practice computer (host link, tla/day-data.ts). */
  day: () => 'day/current',
  /** A Vitale read recorded for beneficiaries.unload: `seen/<readAt, 15 digits>-<card serial>`. */
  seen: (ref: string) => `seen/${ref}`,
  seens: () => 'seen/',
  /** An erased Vitale read, so a repeated erase is recognised (purged with the reads, after 30 days). */
  seenErased: (ref: string) => `seen-erased/${ref}`,
  seenErasedAll: () => 'seen-erased/',
} as const;

/** The billing number inside an `inv/`, `lot/`, `file/` or `pay/` key. */
export function billingOfKey(key: string): string {
  return key.split('/')[1] ?? '';
}

/**
 * The store refuses `undefined` (model types use optional fields): drop those keys, deeply.
 * Class instances other than Uint8Array do not occur in the model.
 */
export function toStored(v: unknown): Transferable {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : toStored(x)));
  if (typeof v === 'object') {
    const out: { [k: string]: Transferable } = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) out[k] = toStored(x);
    return out;
  }
  throw new TypeError(`not storable: ${typeof v}`);
}

export function put(key: string, value: unknown): StoreOp {
  return { op: 'put', key, value: toStored(value) };
}

export async function getAs<T>(key: string): Promise<T | undefined> {
  const v = await platform.store.get(key);
  return v === undefined ? undefined : (v as unknown as T);
}

/** All values under a prefix, in key order. */
export async function listAs<T>(prefix: string): Promise<Array<{ key: string; value: T }>> {
  const ks = await platform.store.list({ prefix });
  const out: Array<{ key: string; value: T }> = [];
  for (const key of ks) {
    const v = await platform.store.get(key);
    if (v !== undefined) out.push({ key, value: v as unknown as T });
  }
  return out;
}
