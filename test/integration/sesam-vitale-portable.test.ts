/**
 * Portable mode (issue 8): a day without network. The whole platform runs in a child process
 * (test/fixtures/billing-crash/child.ts, mode `offline`) with nothing listening on the AMO's ports:
 * FSEs are made and secured, each transmit builds a lot and a file that waits, the status and the home
 * screen say "Hors réseau — mode portable" with what waits and the nearest deadline, and the back-off
 * for want of network stays under the retry timer's minute. The child is SIGKILLed while everything is
 * queued; then the AMO comes up and a resume run sends everything: each invoice reaches the AMO
 * exactly once, the files in the order they were built, with the very bytes stored on the device.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appletBundle } from '../support/billing.js';
import { startAmo, type Amo } from '../../emulator/amo/server.js';
import { openDomainStore } from '../../platform/kernel/store.js';
import { addWorkingDays } from '../../applets/sesam-vitale/rules/dates.js';
import type { InvoiceRecord } from '../../applets/sesam-vitale/model.js';
import type { StoredFile } from '../../applets/sesam-vitale/pipeline/lots.js';

type R = Record<string, unknown>;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('sesam-vitale applet: a day in portable mode, a SIGKILL while queued, then everything sent once, in order', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const outDir = join(root, 'node_modules', '.cache', 'di-billing-portable');
  const tag = `${process.pid}-${Date.now()}`;
  const childFile = join(outDir, `child-${tag}.mjs`);
  const appletFile = join(outDir, `applet-${tag}.js`);
  const dirs: string[] = [];
  let amo: Amo | undefined;

  beforeAll(async () => {
    mkdirSync(outDir, { recursive: true });
    await build({ entryPoints: [join(root, 'test', 'fixtures', 'billing-crash', 'child.ts')], outfile: childFile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error' });
    writeFileSync(appletFile, await appletBundle('sesam-vitale'));
  }, 60_000);

  afterAll(async () => {
    await amo?.close();
    rmSync(childFile, { force: true });
    rmSync(appletFile, { force: true });
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** Runs the child; `killOn` SIGKILLs it as soon as that line is printed. */
  function runChild(dataDir: string, smtpPort: number, pop3Port: number, mode: 'offline' | 'resume', killOn?: string): Promise<{ lines: string[]; stderr: string; code: number | null; signal: NodeJS.Signals | null }> {
    const child = spawn(process.execPath, ['--no-node-snapshot', childFile, dataDir, String(smtpPort), String(pop3Port), appletFile, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    let buffered = '';
    const safety = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (killOn !== undefined && line === killOn) child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        clearTimeout(safety);
        resolve({ lines, stderr, code, signal });
      }),
    );
  }

  function readStore(dataDir: string): { invoices: InvoiceRecord[]; files: StoredFile[] } {
    const store = openDomainStore({ dataDir, domain: 'sesam-vitale', quotaBytes: 1 << 30 });
    try {
      const all = <T,>(prefix: string) => store.list({ prefix }).map((k) => store.get(k) as unknown as T);
      return { invoices: all<InvoiceRecord>('inv/'), files: all<StoredFile>('file/') };
    } finally {
      store.close();
    }
  }

  it('offline day -> queued, shown, deadlines; SIGKILL; AMO up -> each invoice once, files in build order, same bytes', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'di-portable-'));
    const amoDir = mkdtempSync(join(tmpdir(), 'di-portable-amo-'));
    dirs.push(dataDir, amoDir);
    const smtpPort = await freePort();
    const pop3Port = await freePort();
    const today = new Date().toISOString().slice(0, 10);

    // The day without network, killed while everything waits.
    const off = await runChild(dataDir, smtpPort, pop3Port, 'offline', 'QUEUED');
    expect({ code: off.code, signal: off.signal }, `stderr ${off.stderr.slice(-2000)}; stdout ${JSON.stringify(off.lines.slice(-5))}`).toEqual({ code: null, signal: 'SIGKILL' });
    const acks = off.lines.filter((l) => l.startsWith('ACK ')).map((l) => Number(l.slice(4)));
    expect(acks).toEqual([1, 2, 3, 4, 5, 6]);
    const offline = JSON.parse(off.lines.find((l) => l.startsWith('OFFLINE '))!.slice(8)) as { now: number; status: R };
    const st = offline.status;
    const deadline = addWorkingDays(today, 3);
    expect(st.portable).toMatchObject({ offline: true, filesWaiting: 3, invoicesWaiting: 6, nextDeadline: deadline });
    expect(typeof (st.portable as R).since).toBe('number');
    expect(st.byState).toMatchObject({ 'in-lot': 6, sent: 0 });
    const waiting = st.filesWaiting as Array<{ fileId: string; attempts: number; nextAttemptAt: number; lastError: string }>;
    expect(waiting.map((w) => w.fileId)).toEqual([...waiting.map((w) => w.fileId)].sort());
    // Strictly in order: only the oldest file was tried (1 transmit + 3 forced), the others wait behind it.
    expect(waiting.map((w) => w.attempts)).toEqual([4, 0, 0]);
    expect(waiting[0]!.lastError).toMatch(/^E_NET/);
    // 4 failures would mean 30 s x 2^3 = 4 min of back-off; for want of network it stays under the retry timer's minute.
    expect(waiting[0]!.nextAttemptAt - offline.now).toBeLessThanOrEqual(50_000);
    const screen = JSON.parse(off.lines.find((l) => l.startsWith('SCREEN '))!.slice(7)) as string[];
    expect(screen.some((l) => l.startsWith('Hors réseau — mode portable'))).toBe(true);
    expect(screen).toContain('3 fichier(s) / 6 facture(s) en attente');
    expect(screen.some((l) => l.includes(`${deadline.slice(8, 10)}/${deadline.slice(5, 7)}/${deadline.slice(0, 4)}`))).toBe(true);
    const before = readStore(dataDir);
    expect(before.files.map((f) => f.state)).toEqual(['ready', 'ready', 'ready']);

    // Back in network: the AMO is up on the same ports; the resume run sends and fetches until all is paid.
    amo = await startAmo({ smtpPort, pop3Port, dataDir: amoDir, payment: 'immediate' });
    const res = await runChild(dataDir, smtpPort, pop3Port, 'resume');
    expect({ code: res.code, signal: res.signal }, `stderr ${res.stderr.slice(-3000)}; stdout ${JSON.stringify(res.lines.slice(-5))}`).toEqual({ code: 0, signal: null });
    await amo.whenIdle();

    const after = readStore(dataDir);
    const db = new Database(join(amoDir, 'amo.sqlite'), { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT invoice_no, record_sha256 FROM invoices ORDER BY invoice_no').all() as Array<{ invoice_no: number; record_sha256: string }>;
      // Each invoice exactly once, with the bytes the device signed.
      expect(rows.map((r) => r.invoice_no)).toEqual([1, 2, 3, 4, 5, 6]);
      for (const r of rows) {
        const mine = after.invoices.find((x) => x.data.invoiceNo === r.invoice_no)!;
        expect(r.record_sha256).toBe(createHash('sha256').update(mine.record!).digest('hex'));
      }
      // Files received in the order they were built, each once.
      const received = (db.prepare("SELECT file_id FROM messages WHERE outcome = 'processed' ORDER BY id").all() as Array<{ file_id: string }>).map((m) => m.file_id);
      expect(received).toEqual(before.files.map((f) => f.fileId));
      expect(amo.stats()).toMatchObject({ duplicates: 0, refused: 0, invoicesAccepted: 6, paid: 6 });
    } finally {
      db.close();
    }
    expect(after.files.map((f) => f.state)).toEqual(['acknowledged', 'acknowledged', 'acknowledged']);
    const status = JSON.parse(res.lines.find((l) => l.startsWith('STATUS '))!.slice(7)) as R;
    expect(status).toMatchObject({ filesWaiting: [], portable: { offline: false, filesWaiting: 0, invoicesWaiting: 0, nextDeadline: null }, paid: { count: 6 } });
  }, 120_000);
});
