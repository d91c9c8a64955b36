/**
 * pipeline/returns.ts with a fake `platform` (in-memory store with atomic transactions, a POP3
 * mailbox behind net.fetch): a corrupt ARL and an ARL naming a lot never sent are kept under
 * ret-bad/<uid> with their raw bytes and reason; a valid ARL moves the lot's invoices once (seen
 * again: no change); uids are deleted on the server only after their transaction.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoreOp, Transferable } from '../../../platform/sdk/api.js';
import type { InvoiceRecord } from '../../../applets/sesam-vitale/model.js';
import { fetchReturns } from '../../../applets/sesam-vitale/pipeline/returns.js';
import { keys } from '../../../applets/sesam-vitale/pipeline/keys.js';
import { encodeArl, type ArlReport } from '../../../applets/sesam-vitale/formats/arl.js';
import { arlAttachmentName, arlMailSubject } from '../../../applets/sesam-vitale/formats/mail.js';

const BILLING = '751990017';
const FILE_ID = `F${BILLING}000001`;

interface Fake {
  store: Map<string, Transferable>;
  mailbox: Map<string, { subject: string; attachments: Array<{ filename: string; contentType: string; content: Uint8Array }> }>;
  log: string[];
}

function install(): Fake {
  const f: Fake = { store: new Map(), mailbox: new Map(), log: [] };
  const platform = {
    store: {
      get: async (k: string) => f.store.get(k),
      list: async (o: { prefix?: string } = {}) => [...f.store.keys()].filter((k) => k.startsWith(o.prefix ?? '')).sort(),
      put: async (k: string, v: Transferable) => void f.store.set(k, v),
      transaction: async (ops: StoreOp[]) => {
        f.log.push(`tx:${ops.map((o) => o.key).join(',')}`);
        for (const o of ops) if (o.op === 'put') f.store.set(o.key, o.value);
        else f.store.delete(o.key);
      },
    },
    net: {
      fetch: async (endpoint: string, req: { type: string; uid?: string; uids?: string[] }) => {
        expect(endpoint).toBe('amo-pop3');
        if (req.type === 'list') return { type: 'list', messages: [...f.mailbox.keys()].map((uid) => ({ uid, size: 1 })) };
        if (req.type === 'retrieve') return { type: 'message', uid: req.uid, messageId: `<${req.uid}@amo.test>`, from: 'postmaster@amo.test', date: 0, text: '', ...f.mailbox.get(req.uid!)! };
        f.log.push(`delete:${req.uids!.join(',')}`);
        for (const u of req.uids!) f.mailbox.delete(u);
        return { type: 'deleted', count: req.uids!.length };
      },
    },
    clock: { now: async () => Date.UTC(2025, 0, 10, 9) },
    crypto: { digest: async (_alg: string, data: Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest()) },
  };
  (globalThis as unknown as { platform: unknown }).platform = platform;
  return f;
}

function invoice(no: number): InvoiceRecord {
  return { data: { invoiceNo: no } as InvoiceRecord['data'], state: 'sent', history: [{ state: 'sent', at: 1 }], destination: 'AMO-017519999', deadline: '2025-01-15', lotNo: 1 };
}

function arl(status: 'positive' | 'negative', lotNo = 1): ArlReport {
  return {
    fileId: FILE_ID,
    lotNo,
    billingNumber: BILLING,
    destination: 'AMO-017519999',
    date: '2025-01-10',
    status,
    invoices: [
      { invoiceNo: 1, status: 'accepted' },
      { invoiceNo: 2, status: 'rejected', code: 'F04', text: 'CLE DU NIR ERRONEE' },
    ],
  };
}

function mail(report: ArlReport, content = encodeArl(report)) {
  return { subject: arlMailSubject(report.fileId, report.lotNo), attachments: [{ filename: arlAttachmentName(report.fileId, report.lotNo), contentType: 'text/plain', content }] };
}

let f: Fake;
beforeEach(() => {
  f = install();
  f.store.set(keys.invoice(BILLING, 1), invoice(1) as unknown as Transferable);
  f.store.set(keys.invoice(BILLING, 2), invoice(2) as unknown as Transferable);
  f.store.set(keys.lot(BILLING, 1), { lotNo: 1, destination: 'AMO-017519999', invoiceNos: [1, 2], body: new Uint8Array([1]), signed: new Uint8Array([2]), fileNo: 1 });
  f.store.set(keys.file(BILLING, 1), { fileNo: 1, fileId: FILE_ID, destination: 'AMO-017519999', lotNos: [1], state: 'sent', attempts: 1, nextAttemptAt: 0, billingNumber: BILLING, createdAt: '2025-01-10' });
});
afterEach(() => {
  delete (globalThis as unknown as { platform?: unknown }).platform;
});

describe('returns.fetch', () => {
  it('applies an ARL once: invoice states, reject, lot and file acknowledged; deletes after the transaction', async () => {
    f.mailbox.set('u1', mail(arl('positive')));
    const r = await fetchReturns();
    expect(r).toMatchObject({ ok: true, arl: 1, rsp: 0, corrupt: [] });
    expect(r.rejects).toEqual([{ invoiceNo: 2, code: 'F04', text: 'CLE DU NIR ERRONEE', source: 'ARL' }]);
    expect((f.store.get(keys.invoice(BILLING, 1)) as unknown as InvoiceRecord).state).toBe('arl-positive');
    expect(f.store.get(keys.invoice(BILLING, 2))).toMatchObject({ state: 'arl-negative', reject: { code: 'F04', source: 'ARL' } });
    expect(f.store.get(keys.lot(BILLING, 1))).toMatchObject({ arl: 'positive' });
    expect(f.store.get(keys.file(BILLING, 1))).toMatchObject({ state: 'acknowledged' });
    expect(f.store.has(keys.ret('u1'))).toBe(true);
    const tx = f.log.findIndex((l) => l.startsWith('tx:') && l.includes('ret/u1'));
    expect(tx).toBeGreaterThanOrEqual(0);
    expect(f.log.indexOf('delete:u1')).toBeGreaterThan(tx);

    // The same ARL again (a re-sent file): counted, recorded, nothing changes.
    const before = JSON.stringify([...f.store.entries()].filter(([k]) => !k.startsWith('ret/')), (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v));
    f.mailbox.set('u2', mail(arl('positive')));
    const again = await fetchReturns();
    expect(again).toMatchObject({ ok: true, arl: 1, rejects: [] });
    expect(JSON.stringify([...f.store.entries()].filter(([k]) => !k.startsWith('ret/')), (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v))).toBe(before);
  });

  it('a corrupt ARL is kept under ret-bad with its raw bytes and the FormatError; nothing else moves', async () => {
    const good = encodeArl(arl('positive'));
    const bad = good.slice();
    bad[5] = 0x3f; // one byte changed inside a record
    f.mailbox.set('u3', mail(arl('positive'), bad));
    const r = await fetchReturns();
    expect(r.ok).toBe(true);
    expect(r.corrupt).toHaveLength(1);
    expect(r.corrupt[0]!.uid).toBe('u3');
    expect(r.corrupt[0]!.error).toMatch(/^ARL /);
    const kept = f.store.get(keys.retBad('u3')) as { raw: Uint8Array; error: string };
    expect(kept.raw).toEqual(bad);
    expect(kept.error).toBe(r.corrupt[0]!.error);
    expect((f.store.get(keys.invoice(BILLING, 1)) as unknown as InvoiceRecord).state).toBe('sent');
    expect(f.log).toContain('delete:u3');
  });

  it('an ARL for a lot never sent is kept under ret-bad, not applied', async () => {
    f.mailbox.set('u4', mail(arl('positive', 7)));
    const r = await fetchReturns();
    expect(r.corrupt).toEqual([{ uid: 'u4', error: expect.stringContaining('lot inconnu') }]);
    expect(r.arl).toBe(0);
    expect((f.store.get(keys.invoice(BILLING, 2)) as unknown as InvoiceRecord).state).toBe('sent');
  });

  it('a POP3 failure reports an error and deletes nothing', async () => {
    (globalThis as unknown as { platform: { net: { fetch: () => Promise<never> } } }).platform.net.fetch = async () => {
      throw Object.assign(new Error('connexion refusée'), { code: 'E_NET' });
    };
    const r = await fetchReturns();
    expect(r).toMatchObject({ ok: false, error: 'Relève impossible (E_NET)' });
  });
});
