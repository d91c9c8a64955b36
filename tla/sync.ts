/**
 * Unload and erase: every page of invoices, then every page of beneficiaries, each page stored
 * durably (one transaction, INSERT OR IGNORE) before the next is asked; only then, erase on the
 * device what the store holds and the device has not confirmed erased.
 *
 * Why a cut anywhere is harmless: the unload always starts from the first page, and the device
 * keeps handing out what it holds for the host until it is erased, so a page lost in flight comes
 * again; a page stored twice adds nothing; an erase repeated after a cut answers `already`. The end
 * state (everything in the store once, erased once on the device) is the same however often it is
 * cut and restarted.
 */
import type { EraseResult } from '../platform/wire/hostlink.js';
import { TlaError, type TlaClient } from './client.js';

/** Items per page asked of the device (it may return fewer). */
export const DEFAULT_PAGE_SIZE = 20;
/** Refs per erase request: well within the frame limit. */
export const ERASE_CHUNK = 200;
const MAX_PAGES = 100_000;

export type UnloadKind = 'invoices' | 'beneficiaries';

export interface UnloadCounts {
  pages: number;
  received: number;
  added: number;
  already: number;
  /** Refs the store already holds with other bytes: kept as first stored, NOT erased on the device. */
  conflicts: string[];
  /** What the device said it still holds for the host, after the last page. */
  held: number;
}

export interface UnloadReport {
  invoices: UnloadCounts;
  beneficiaries: UnloadCounts;
}

export interface EraseCounts {
  asked: number;
  erased: number;
  already: number;
  refused: Array<{ ref: string; reason: string }>;
}

export interface EraseReport {
  invoices: EraseCounts;
  beneficiaries: EraseCounts;
}

export interface SyncOptions {
  pageSize?: number;
  /**
   * Called after each page is stored (before the next is asked): progress display, and the tests'
   * way to cut the link at a chosen point.
   */
  afterPage?: (kind: UnloadKind, page: number, counts: UnloadCounts) => void | Promise<void>;
  /** Called after each erase request was answered and recorded. */
  afterErase?: (kind: UnloadKind, result: EraseResult) => void | Promise<void>;
  /** The clock of the store's records (default Date.now). */
  now?: () => number;
}

export interface SyncReport {
  device: string;
  unload: UnloadReport;
  erase: EraseReport;
}

const emptyCounts = (): UnloadCounts => ({ pages: 0, received: 0, added: 0, already: 0, conflicts: [], held: 0 });

/** One page of one kind, stored in one transaction: the page's answer and what the store made of it. */
async function fetchAndStore(client: TlaClient, kind: UnloadKind, device: string, after: string | undefined, max: number, now: () => number) {
  if (kind === 'invoices') {
    const page = await client.unloadInvoicesPage(after, max);
    return { page, out: client.store.storeInvoicePage(device, page.items, now()) };
  }
  const page = await client.unloadBeneficiariesPage(after, max);
  return { page, out: client.store.storeBeneficiaryPage(device, page.items, now()) };
}

async function unloadKind(client: TlaClient, kind: UnloadKind, o: SyncOptions): Promise<UnloadCounts> {
  const c = emptyCounts();
  const now = o.now ?? Date.now;
  const device = client.deviceFingerprint;
  let after: string | undefined;
  for (;;) {
    if (c.pages >= MAX_PAGES) throw new TlaError('E_PROTOCOL', `plus de ${MAX_PAGES} pages : l'appareil ne termine pas son déchargement`);
    const { page, out } = await fetchAndStore(client, kind, device, after, o.pageSize ?? DEFAULT_PAGE_SIZE, now);
    c.pages++;
    c.received += page.items.length;
    c.added += out.added;
    c.already += out.already;
    c.conflicts.push(...out.conflicts);
    c.held = page.held;
    await o.afterPage?.(kind, c.pages, c);
    if (page.next === null) return c;
    if (page.next === after) throw new TlaError('E_PROTOCOL', `l'appareil renvoie le même curseur ${JSON.stringify(after)} : déchargement arrêté`);
    after = page.next;
  }
}

/** Every page of invoices, then of beneficiaries, stored page by page. Nothing is erased here. */
export async function unloadAll(client: TlaClient, o: SyncOptions = {}): Promise<UnloadReport> {
  const invoices = await unloadKind(client, 'invoices', o);
  const beneficiaries = await unloadKind(client, 'beneficiaries', o);
  return { invoices, beneficiaries };
}

/**
 * Erases on the device what the store holds from it and the device has not confirmed erased, except
 * `keep` (refs in conflict: the device's copy is not the one stored).
 */
export async function eraseStored(client: TlaClient, o: SyncOptions & { keep?: Set<string> } = {}): Promise<EraseReport> {
  const now = o.now ?? Date.now;
  const device = client.deviceFingerprint;
  const pending = client.store.toErase(device);
  const report: EraseReport = {
    invoices: { asked: 0, erased: 0, already: 0, refused: [] },
    beneficiaries: { asked: 0, erased: 0, already: 0, refused: [] },
  };
  for (const kind of ['invoices', 'beneficiaries'] as const) {
    const refs = pending[kind].filter((r) => !o.keep?.has(r));
    for (let i = 0; i < refs.length; i += ERASE_CHUNK) {
      const chunk = refs.slice(i, i + ERASE_CHUNK);
      const r = await client.erase(kind === 'invoices' ? { invoices: chunk } : { beneficiaries: chunk });
      const asked = new Set(chunk);
      const refused = new Map(r.refused.filter((x) => asked.has(x.ref)).map((x) => [x.ref, x.reason]));
      // Every ref not refused is recorded as erased, and only erased ones are transmitted from
      // here: an answer that does not account for each ref asked (erased, already or refused)
      // could make both the computer and the device send the same invoice.
      if (r.erased[kind] + r.already[kind] + refused.size !== chunk.length) {
        throw new TlaError(
          'E_PROTOCOL',
          `réponse de l'appareil invalide : effacement de ${chunk.length} référence(s), ${r.erased[kind]} effacée(s), ${r.already[kind]} déjà, ${refused.size} refusée(s) ; rien n'est enregistré comme effacé`,
        );
      }
      client.store.markErased(device, kind, chunk, refused, now());
      const k = report[kind];
      k.asked += chunk.length;
      k.erased += r.erased[kind];
      k.already += r.already[kind];
      k.refused.push(...r.refused);
      await o.afterErase?.(kind, r);
    }
  }
  return report;
}

/** Unload everything, store it, then erase it on the device. */
export async function syncDevice(client: TlaClient, o: SyncOptions = {}): Promise<SyncReport> {
  if (!client.paired) {
    throw new TlaError('E_NOT_PAIRED', "cet ordinateur n'est pas associé à cet appareil : associez-le d'abord (di tla pair)");
  }
  const unload = await unloadAll(client, o);
  const keep = new Set([...unload.invoices.conflicts, ...unload.beneficiaries.conflicts]);
  const erase = await eraseStored(client, { ...o, keep });
  return { device: client.deviceFingerprint, unload, erase };
}
