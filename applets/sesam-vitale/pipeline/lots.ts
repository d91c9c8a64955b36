/**
 * Lots and files. A lot groups secured invoices of one billing number, one destination and one kind
 * (at most MAX_INVOICES_PER_LOT, and at most LOT_MAX_BYTES so a stored lot stays well under the
 * store's 1 MB per value); a file groups signed lots of one destination (at most FILE_MAX_BYTES of
 * signed lots, so the mail fits the kernel's 1 MB message limit).
 * Crash safety: the lot number, the lot record (unsigned) and the invoices' move to 'in-lot' are one
 * transaction; the signature is stored afterwards, and a lot found unsigned is signed on the next
 * transmit. Likewise the file number, the file record and the lots' fileNo are one transaction.
 * Callers hold the lock.
 */
import type { FileRecord, InvoiceKind, InvoiceRecord, IsoDate, LotRecord } from '../model.js';
import type { StoreOp } from '../../../platform/sdk/api.js';
import { encodeLotBody, MAX_INVOICES_PER_LOT, type LotEntry } from '../formats/lot.js';
import { fileIdOf } from '../formats/file.js';
import { awaitsDeviceLot, withState } from './invoices.js';
import { keys, listAs, put } from './keys.js';
import { allocate, counterOp, readCounters } from './numbering.js';

export const LOT_MAX_BYTES = 320 * 1024;
export const FILE_MAX_BYTES = 640 * 1024;

/** What the applet stores for a lot: the model's record plus what the manifest needs, fixed once. */
export interface StoredLot extends LotRecord {
  kind: InvoiceKind;
  billingNumber: string;
  createdAt: IsoDate;
  /** Amount asked of the destination: the AMO part of FSEs, the AMC part of DREs. */
  amount: number;
}

/** The file record plus what its manifest needs, fixed once so a re-send is byte-identical. */
export interface StoredFile extends FileRecord {
  billingNumber: string;
  createdAt: IsoDate;
}

export type LotSigner = (body: Uint8Array) => Promise<Uint8Array>;

export function kindOfDestination(destination: string): InvoiceKind {
  return destination.startsWith('AMC-') ? 'DRE' : 'FSE';
}

function entryOf(r: InvoiceRecord): LotEntry {
  const e: LotEntry = { invoiceNo: r.data.invoiceNo, record: r.record ?? new Uint8Array(0), cpsSignature: r.cpsSignature ?? new Uint8Array(0) };
  if (r.vitaleAuth) e.vitaleAuth = r.vitaleAuth;
  if (r.vitaleCertDer) e.vitaleCertDer = r.vitaleCertDer;
  return e;
}

function entryBytes(e: LotEntry): number {
  return e.record.length + e.cpsSignature.length + (e.vitaleAuth?.length ?? 0) + (e.vitaleCertDer?.length ?? 0);
}

/** Secured invoices the device sends itself: those held for the practice computer never go in a device lot. */
export async function securedInvoices(billing: string): Promise<InvoiceRecord[]> {
  return (await listAs<InvoiceRecord>(keys.invoices(billing))).map((x) => x.value).filter((r) => awaitsDeviceLot(r) && r.record && r.cpsSignature);
}

export async function unsignedLots(billing: string): Promise<StoredLot[]> {
  return (await listAs<StoredLot>(keys.lots(billing))).map((x) => x.value).filter((l) => l.signed.length === 0);
}

/** Signs the lots a crash left unsigned, then builds and signs new ones. Returns the lots built. */
export async function buildLots(billing: string, today: IsoDate, sign: LotSigner): Promise<number> {
  for (const lot of await unsignedLots(billing)) {
    const signed = await sign(lot.body);
    await platform.store.transaction([put(keys.lot(billing, lot.lotNo), { ...lot, signed })]);
  }
  const groups = new Map<string, InvoiceRecord[]>();
  for (const r of await securedInvoices(billing)) {
    const g = `${r.destination}|${r.data.kind}`;
    groups.set(g, [...(groups.get(g) ?? []), r]);
  }
  let built = 0;
  for (const list of groups.values()) {
    list.sort((a, b) => a.data.invoiceNo - b.data.invoiceNo);
    let i = 0;
    while (i < list.length) {
      const chunk: InvoiceRecord[] = [];
      let bytes = 0;
      while (i < list.length && chunk.length < MAX_INVOICES_PER_LOT) {
        const size = entryBytes(entryOf(list[i]!));
        if (chunk.length > 0 && bytes + size > LOT_MAX_BYTES) break;
        chunk.push(list[i]!);
        bytes += size;
        i++;
      }
      const first = chunk[0]!;
      const c = await readCounters(billing);
      const lotNo = allocate(c, 'lot');
      const kind = first.data.kind;
      const body = encodeLotBody({ lotNo, kind, destination: first.destination, billingNumber: billing, createdAt: today }, chunk.map(entryOf));
      const now = await platform.clock.now();
      const lot: StoredLot = {
        lotNo,
        destination: first.destination,
        invoiceNos: chunk.map((r) => r.data.invoiceNo),
        body,
        signed: new Uint8Array(0),
        kind,
        billingNumber: billing,
        createdAt: today,
        amount: chunk.reduce((s, r) => s + (kind === 'DRE' ? r.data.pricing.totals.amc : r.data.pricing.totals.amo), 0),
      };
      const ops: StoreOp[] = [counterOp(billing, c), put(keys.lot(billing, lotNo), lot)];
      for (const r of chunk) ops.push(put(keys.invoice(billing, r.data.invoiceNo), { ...withState(r, 'in-lot', now, `lot ${lotNo}`), lotNo }));
      await platform.store.transaction(ops);
      built++;
      const signed = await sign(body);
      await platform.store.transaction([put(keys.lot(billing, lotNo), { ...lot, signed })]);
    }
  }
  return built;
}

/** Signed lots without a file, grouped by destination into new 'ready' files. */
export async function buildFiles(billing: string, today: IsoDate): Promise<number> {
  const lots = (await listAs<StoredLot>(keys.lots(billing))).map((x) => x.value).filter((l) => l.signed.length > 0 && l.fileNo === undefined);
  const groups = new Map<string, StoredLot[]>();
  for (const l of lots) groups.set(l.destination, [...(groups.get(l.destination) ?? []), l]);
  let built = 0;
  for (const [destination, list] of groups) {
    list.sort((a, b) => a.lotNo - b.lotNo);
    let i = 0;
    while (i < list.length) {
      const chunk: StoredLot[] = [];
      let bytes = 0;
      while (i < list.length) {
        const size = list[i]!.signed.length;
        if (chunk.length > 0 && bytes + size > FILE_MAX_BYTES) break;
        chunk.push(list[i]!);
        bytes += size;
        i++;
      }
      const c = await readCounters(billing);
      const fileNo = allocate(c, 'file');
      const file: StoredFile = {
        fileNo,
        fileId: fileIdOf(billing, fileNo),
        destination,
        lotNos: chunk.map((l) => l.lotNo),
        state: 'ready',
        attempts: 0,
        nextAttemptAt: 0,
        billingNumber: billing,
        createdAt: today,
      };
      const ops: StoreOp[] = [counterOp(billing, c), put(keys.file(billing, fileNo), file)];
      for (const l of chunk) ops.push(put(keys.lot(billing, l.lotNo), { ...l, fileNo }));
      await platform.store.transaction(ops);
      built++;
    }
  }
  return built;
}
