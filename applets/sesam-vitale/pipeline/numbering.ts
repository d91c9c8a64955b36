/**
 * Invoice, lot and file numbers: per billing number, start at 1, monotonic, never reused. A number
 * is allocated by writing the counter in the same transaction as the record it numbers, so a crash
 * either keeps both or neither (and the next allocation cannot collide with a stored record).
 */
import type { StoreOp } from '../../../platform/sdk/api.js';
import { getAs, keys, put } from './keys.js';

/**
 * The device numbers its lots and files below this; the practice computer (host link) numbers the
 * lots and files it builds for the same billing number from it up, so fileIds never collide.
 */
export const DEVICE_NUMBER_LIMIT = 500_000;

export interface Counters {
  invoice: number;
  lot: number;
  file: number;
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
}

export async function readCounters(billing: string): Promise<Counters> {
  const c = await getAs<Partial<Counters>>(keys.counter(billing));
  return { invoice: count(c?.invoice), lot: count(c?.lot), file: count(c?.file) };
}

/** Bumps one counter in `c` (the caller's working copy) and returns the new number. */
export function allocate(c: Counters, which: keyof Counters): number {
  c[which] += 1;
  if (which === 'invoice' && c.invoice > 999_999_999) throw new RangeError('numéros de facture épuisés pour ce numéro de facturation');
  if (which !== 'invoice' && c[which] >= DEVICE_NUMBER_LIMIT) {
    throw new RangeError(`numéros de ${which === 'lot' ? 'lot' : 'fichier'} de l’appareil épuisés (limite ${DEVICE_NUMBER_LIMIT - 1}) : transmettez depuis l’ordinateur du cabinet`);
  }
  return c[which];
}

export function counterOp(billing: string, c: Counters): StoreOp {
  return put(keys.counter(billing), { ...c });
}
