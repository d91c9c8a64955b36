/**
 * Vitale reads kept for the practice computer (`beneficiaries.unload`): each read records the card's
 * insured and beneficiaries under `seen/<readAt>-<serial>`. NIRs are stored (the computer needs them)
 * and never logged. Entries (and the tombstones of erased ones) older than 30 days are purged at
 * start and by the retry timer, unloaded or not.
 */
import type { VitaleRead } from '../model.js';
import type { StoreOp } from '../../../platform/sdk/api.js';
import { keys, put } from '../pipeline/keys.js';
import { seenRef, type SeenEntry } from './unload.js';

export const SEEN_KEEP_MS = 30 * 24 * 3600 * 1000;
/** Keys deleted by one purge at most (the next tick goes on). */
const PURGE_MAX = 500;

export async function recordVitaleRead(read: VitaleRead): Promise<void> {
  const readAt = await platform.clock.now();
  const entry: SeenEntry = { readAt, vitaleSerial: read.serialNumber, insured: read.insured, beneficiaries: read.beneficiaries };
  await platform.store.transaction([put(keys.seen(seenRef(readAt, read.serialNumber)), entry)]);
}

/** Deletes reads and tombstones older than 30 days. Returns how many keys went. Caller holds the lock. */
export async function purgeSeen(): Promise<number> {
  const limit = (await platform.clock.now()) - SEEN_KEEP_MS;
  const ops: StoreOp[] = [];
  for (const prefix of [keys.seens(), keys.seenErasedAll()]) {
    // At most PURGE_MAX keys a run: only the oldest are listed (this runs on every timer tick).
    const room = PURGE_MAX - ops.length;
    if (room <= 0) break;
    for (const key of await platform.store.list({ prefix, limit: room })) {
      // Keys start with the read time, zero-padded: the first recent one ends the walk.
      const readAt = Number(key.slice(prefix.length, prefix.length + 15));
      if (!(readAt < limit)) break;
      ops.push({ op: 'delete', key });
    }
  }
  if (ops.length > 0) await platform.store.transaction(ops);
  return ops.length;
}
