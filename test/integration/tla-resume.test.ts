/**
 * Issue 8: an unload cut in the middle (the link dies after the first page, then again right after
 * the erase was answered) and resumed: every invoice ends in the computer's store once, the device
 * erases each once, and repeating the whole thing changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TlaError } from '../../tla/client.js';
import { syncDevice } from '../../tla/sync.js';
import type { Billing } from '../support/billing.js';
import { bootTlaBilling, connectPaired, pairFromScreen, tempTlaDir, visitDay } from '../support/tla.js';

describe('interrupted unload, resumed (TLA)', () => {
  let b: Billing;
  const host = tempTlaDir();
  let day: Awaited<ReturnType<typeof visitDay>>;

  beforeAll(async () => {
    b = await bootTlaBilling();
    b.dk.kernel.network.setOnline(false);
    day = await visitDay(b);
    const { client } = await pairFromScreen(b.dk, host.dir);
    client.close();
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    host.remove();
  });

  it('a cut after the first page: the page is stored, nothing is erased, the device holds the rest', async () => {
    const client = await connectPaired(b.dk, host.dir);
    try {
      const cut = syncDevice(client, {
        pageSize: 1,
        afterPage: (kind, page) => {
          if (kind === 'invoices' && page === 1) client.destroy();
        },
      });
      await expect(cut).rejects.toBeInstanceOf(TlaError);
      await expect(cut).rejects.toMatchObject({ code: 'E_CLOSED' });
      const stored = client.store.invoices();
      expect(stored.map((i) => i.ref)).toEqual([day.refs[0]]);
      expect(stored[0]!.erasedAt).toBeNull();
    } finally {
      client.close();
    }
    // The device erased nothing: all four are still there, secured (the first one held for the computer).
    expect((await b.act('status')).byState).toMatchObject({ secured: 4, unloaded: 0 });
  });

  it('a second cut, right after the device answered the erase, and the computer crashed before recording it', async () => {
    const client = await connectPaired(b.dk, host.dir);
    const erased: number[] = [];
    try {
      const cut = syncDevice(client, {
        pageSize: 2,
        afterErase: (kind, r) => {
          if (kind !== 'invoices') return;
          erased.push(r.erased.invoices);
          client.destroy();
        },
      });
      await expect(cut).rejects.toMatchObject({ code: 'E_CLOSED' });
      expect(client.store.invoices().map((i) => i.ref)).toEqual(day.refs);
      // As if the computer died between the device's answer and its own commit.
      client.store.db.prepare('UPDATE invoices SET erased_at = NULL').run();
    } finally {
      client.close();
    }
    expect(erased).toEqual([4]);
    expect((await b.act('status')).byState).toMatchObject({ secured: 0, unloaded: 4 });
  });

  it('resumed: every invoice stored exactly once, each erased once on the device; a repeat changes nothing', async () => {
    const client = await connectPaired(b.dk, host.dir);
    try {
      const r = await syncDevice(client, { pageSize: 1 });
      // Erased ones are not unloaded again; nothing new, nothing duplicated.
      expect(r.unload.invoices).toMatchObject({ received: 0, added: 0, conflicts: [] });
      // The erase the computer did not record is asked again: the device says it was already done.
      expect(r.erase.invoices).toMatchObject({ asked: 4, erased: 0, already: 4, refused: [] });
      const stored = client.store.invoices();
      expect(stored.map((i) => i.ref)).toEqual(day.refs);
      expect(new Set(stored.map((i) => i.ref)).size).toBe(stored.length);
      expect(stored.every((i) => i.erasedAt !== null)).toBe(true);
      // A further sync asks nothing; erasing them again directly: all 'already', none erased twice.
      const idle = await syncDevice(client, { pageSize: 1 });
      expect(idle.erase.invoices).toMatchObject({ asked: 0, erased: 0 });
      const again = await client.erase({ invoices: day.refs });
      expect(again).toMatchObject({ erased: { invoices: 0 }, already: { invoices: 4 }, refused: [] });
      const page = await client.unloadInvoicesPage();
      expect(page).toMatchObject({ items: [], next: null, held: 0 });
    } finally {
      client.close();
    }
    expect((await b.act('status')).byState).toMatchObject({ secured: 0, unloaded: 4 });
  });
});
