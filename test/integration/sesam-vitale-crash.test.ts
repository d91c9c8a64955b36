/**
 * Crash tests (issue 4): the whole platform (kernel + the real sesam-vitale applet, in a child
 * process, test/fixtures/billing-crash/child.ts) bills FSEs, transmits and fetches returns, and is
 * SIGKILLed at random points of the pipeline (seeded: the seed is logged, CRASH_SEED replays it) and
 * at the worst point -- the moment the AMO has a file the applet has not yet recorded as sent. The
 * AMO emulator runs in this process, so it outlives every kill and counts what it receives. After
 * the kills a "resume" run finishes the work; then nothing acknowledged is lost, nothing is sent
 * twice as two different invoices, re-sends are whole files with the same fileId, numbers are never
 * reused, and every file ends acknowledged by its ARL (and paid).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appletBundle } from '../support/billing.js';
import { startAmo, type Amo } from '../../emulator/amo/server.js';
import { openDomainStore } from '../../platform/kernel/store.js';
import type { InvoiceRecord } from '../../applets/sesam-vitale/model.js';
import type { StoredFile, StoredLot } from '../../applets/sesam-vitale/pipeline/lots.js';

import { seededRandom } from '../../emulator/terminal/demo.js';

type R = Record<string, unknown>;


const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Where a run is killed: ms after READY (cards in), ms after spawn (during boot), or as the AMO gets a file. */
type Kill = { at: 'after-ready'; ms: number } | { at: 'boot'; ms: number } | { at: 'file-received' };

interface Run {
  lines: string[];
  acks: number[];
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** filesReceived when the kill was sent (file-received kills). */
  killedOnFile?: number;
  /** Killed by the safety timer, not by the plan. */
  timedOut: boolean;
}

describe('sesam-vitale applet: SIGKILL anywhere in the pipeline loses and duplicates nothing', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  // Bundled next to node_modules so that the externals (better-sqlite3, isolated-vm, ...) resolve.
  const outDir = join(root, 'node_modules', '.cache', 'di-billing-crash');
  const tag = `${process.pid}-${Date.now()}`;
  const childFile = join(outDir, `child-${tag}.mjs`);
  const appletFile = join(outDir, `applet-${tag}.js`);
  const dirs: string[] = [];
  const amos: Amo[] = [];
  const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));

  beforeAll(async () => {
    console.log(`sesam-vitale crash test: seed ${seed} (CRASH_SEED=${seed} replays the kill points)`);
    mkdirSync(outDir, { recursive: true });
    await build({
      entryPoints: [join(root, 'test', 'fixtures', 'billing-crash', 'child.ts')],
      outfile: childFile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'error',
    });
    // Bundled once here (as `di applet pack` does) and read by every child boot.
    writeFileSync(appletFile, await appletBundle('sesam-vitale'));
  }, 60_000);

  afterAll(async () => {
    for (const a of amos) await a.close();
    rmSync(childFile, { force: true });
    rmSync(appletFile, { force: true });
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  interface World {
    dataDir: string;
    amoDir: string;
    amo: Amo;
    vitale: string;
  }

  async function world(vitale: string): Promise<World> {
    const dataDir = mkdtempSync(join(tmpdir(), 'di-crash-'));
    const amoDir = mkdtempSync(join(tmpdir(), 'di-crash-amo-'));
    dirs.push(dataDir, amoDir);
    const amo = await startAmo({ smtpPort: 0, pop3Port: 0, dataDir: amoDir, payment: 'immediate' });
    amos.push(amo);
    return { dataDir, amoDir, amo, vitale };
  }

  function runChild(w: World, mode: 'run' | 'resume', kill?: Kill): Promise<Run> {
    const { amo } = w;
    const child = spawn(process.execPath, ['--no-node-snapshot', childFile, w.dataDir, String(amo.smtpPort), String(amo.pop3Port), appletFile, mode, w.vitale], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: Run = { lines: [], acks: [], stderr: '', code: null, signal: null, timedOut: false };
    const timers: NodeJS.Timeout[] = [];
    const killNow = () => child.kill('SIGKILL');
    // Nothing may hang the suite: a run that neither exits nor gets killed in time fails below.
    timers.push(
      setTimeout(() => {
        run.timedOut = true;
        killNow();
      }, 45_000),
    );
    if (kill?.at === 'boot') timers.push(setTimeout(killNow, kill.ms));
    const armFileKill = () => {
      const base = amo.stats().filesReceived;
      // The AMO answers 250 only after processing, in this very process and after many awaits:
      // polling every millisecond sees the count move well before the child can record 'sent'.
      const iv = setInterval(() => {
        const n = amo.stats().filesReceived;
        if (n > base) {
          killNow();
          run.killedOnFile = n;
          clearInterval(iv);
        }
      }, 1);
      timers.push(iv);
    };
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        run.lines.push(line);
        const m = /^ACK (\d+)$/.exec(line);
        if (m) run.acks.push(Number(m[1]));
        if (line !== 'READY') continue;
        if (kill?.at === 'after-ready') timers.push(setTimeout(killNow, kill.ms));
        // Armed once the cards are in, i.e. after onStart's retries: the file is a fresh transmit.
        if (kill?.at === 'file-received') armFileKill();
      }
    });
    child.stderr.on('data', (d: Buffer) => (run.stderr += d.toString()));
    return new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        for (const t of timers) clearTimeout(t);
        run.code = code;
        run.signal = signal;
        resolve(run);
      }),
    );
  }

  /** The applet's records, read from its store file while no platform runs. */
  function readStore(dataDir: string): { invoices: InvoiceRecord[]; lots: StoredLot[]; files: StoredFile[]; counter: R } {
    const store = openDomainStore({ dataDir, domain: 'sesam-vitale', quotaBytes: 1 << 30 });
    try {
      const all = <T,>(prefix: string) => store.list({ prefix }).map((k) => store.get(k) as unknown as T);
      return { invoices: all<InvoiceRecord>('inv/'), lots: all<StoredLot>('lot/'), files: all<StoredFile>('file/'), counter: all<R>('counter/')[0] ?? {} };
    } finally {
      store.close();
    }
  }

  async function scenario(vitale: string, plan: Kill[]): Promise<void> {
    const w = await world(vitale);
    const { amo, amoDir, dataDir } = w;
    const acks: number[] = [];
    let fileKills = 0;
    for (const [i, kill] of plan.entries()) {
      const r = await runChild(w, 'run', kill);
      const what = `${vitale} cycle ${i} (${JSON.stringify(kill)}, seed ${seed}); stdout tail ${JSON.stringify(r.lines.slice(-5))}; stderr ${r.stderr.slice(-2000)}`;
      expect({ code: r.code, signal: r.signal, timedOut: r.timedOut }, what).toEqual({ code: null, signal: 'SIGKILL', timedOut: false });
      if (kill.at === 'file-received') {
        expect(r.killedOnFile, `the AMO got no file before the kill: ${what}`).toBeDefined();
        fileKills++;
      }
      acks.push(...r.acks);
      // Let the AMO finish what the dead child sent before the next boot.
      await amo.whenIdle();
      if (kill.at === 'file-received') {
        // The window was hit: the AMO holds the file, the applet still has it 'ready' (not sent).
        const newest = [...amo.files()].sort((a, b) => a.receivedAt - b.receivedAt).at(-1)!;
        const mine = readStore(dataDir).files.find((f) => f.fileId === newest.fileId);
        expect(mine?.state, `${what}: file ${newest.fileId}`).toBe('ready');
      }
      console.log(`${vitale} cycle ${i} ${JSON.stringify(kill)}: ${r.acks.length} ACK (last ${r.acks.at(-1) ?? '-'}), ${r.lines.filter((l) => l.startsWith('TX')).length} transmits done, AMO ${JSON.stringify(amo.stats())}`);
    }
    expect(acks.length, `seed ${seed}: the kills left no acknowledged invoice to check`).toBeGreaterThan(0);
    // Acknowledged numbers only ever grow: none is handed out twice, across every crash.
    for (let i = 1; i < acks.length; i++) expect(acks[i]!, `seed ${seed}: ACK order ${JSON.stringify(acks)}`).toBeGreaterThan(acks[i - 1]!);

    const seenBefore = new Set(amo.files().flatMap((f) => f.invoices.map((x) => x.invoiceNo)));
    const r = await runChild(w, 'resume');
    expect({ code: r.code, signal: r.signal }, `resume: stdout ${JSON.stringify(r.lines.slice(-5))}; stderr ${r.stderr.slice(-3000)}`).toEqual({ code: 0, signal: null });
    await amo.whenIdle();
    const statusLine = (p: string): R => JSON.parse(r.lines.find((l) => l.startsWith(`${p} `))!.slice(p.length + 1)) as R;
    const status0 = statusLine('STATUS0');
    const status = statusLine('STATUS');

    // What the kills left numbered but unsigned: never acknowledged, never at the AMO before being secured.
    const leftCreated = status0.toSecure as number[];
    console.log(`${vitale}: ${acks.length} acknowledged, left 'created' by the kills: ${JSON.stringify(leftCreated)}`);
    for (const no of leftCreated) {
      expect(acks, `seed ${seed}: invoice ${no} was acknowledged yet left 'created'`).not.toContain(no);
      expect(seenBefore.has(no), `seed ${seed}: invoice ${no} reached the AMO while unsigned`).toBe(false);
    }
    expect((status0.byState as R).created).toBe(leftCreated.length);

    // The applet's store, read directly once the platform is down.
    const { invoices, lots, files, counter } = readStore(dataDir);
    const numbers = invoices.map((x) => x.data.invoiceNo);
    // Contiguous from 1: a number is stored with its counter, so even a kill leaves no hole and no reuse.
    expect(numbers, `seed ${seed}`).toEqual(numbers.map((_, i) => i + 1));
    expect(counter.invoice).toBe(numbers.length);
    for (const no of acks) expect(numbers, `seed ${seed}: acknowledged invoice ${no} lost`).toContain(no);
    for (const x of invoices) expect(x.state, `seed ${seed}: invoice ${x.data.invoiceNo} history ${JSON.stringify(x.history)}`).toBe('paid');
    const byNo = new Map(invoices.map((x) => [x.data.invoiceNo, x]));
    // Under AMC tiers payant each FSE has exactly one DRE: a crash never makes it a second one.
    const fses = invoices.filter((x) => x.data.kind === 'FSE');
    const dres = invoices.filter((x) => x.data.kind === 'DRE');
    if (vitale === 'vitale-amc-tiers-payant') {
      expect(dres.map((d) => d.data.relatedNo).sort((a, b) => a! - b!), `seed ${seed}`).toEqual(fses.map((f) => f.data.invoiceNo));
    } else expect(dres).toEqual([]);

    // The AMO saw every invoice exactly once, accepted, with the very bytes the applet stored.
    const amoFiles = amo.files();
    const amoInvoices = amoFiles.flatMap((f) => f.invoices);
    expect(amoInvoices.map((x) => x.invoiceNo).sort((a, b) => a - b), `seed ${seed}`).toEqual(numbers);
    for (const x of amoInvoices) expect(x, `seed ${seed}`).toMatchObject({ kind: byNo.get(x.invoiceNo)!.data.kind, status: 'accepted' });
    const db = new Database(join(amoDir, 'amo.sqlite'), { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT kind, invoice_no, record_sha256, lot_no FROM invoices').all() as Array<{ kind: string; invoice_no: number; record_sha256: string; lot_no: number }>;
      expect(rows).toHaveLength(numbers.length);
      for (const row of rows) {
        const mine = byNo.get(row.invoice_no)!;
        expect(row.record_sha256, `seed ${seed}: invoice ${row.invoice_no} reached the AMO with other content`).toBe(sha256(mine.record!));
        expect([row.kind, row.lot_no]).toEqual([mine.data.kind, mine.lotNo]);
      }
      // Every message the AMO got is a file: the first copy processed, any other a duplicate of it.
      const messages = db.prepare('SELECT id, file_id, outcome, raw FROM messages ORDER BY id').all() as Array<{ id: number; file_id: string | null; outcome: string; raw: Buffer }>;
      const copies = new Map<string, string[]>();
      for (const m of messages) {
        expect(['processed', 'duplicate'], `seed ${seed}: message ${m.id} ${m.outcome}`).toContain(m.outcome);
        const parsed = await simpleParser(m.raw);
        const content = JSON.stringify([parsed.messageId, parsed.attachments.map((a) => [a.filename, sha256(a.content)])]);
        copies.set(m.file_id!, [...(copies.get(m.file_id!) ?? []), `${m.outcome}:${content}`]);
      }
      for (const [fileId, list] of copies) {
        expect(list[0]!.startsWith('processed:'), `seed ${seed}: ${fileId}`).toBe(true);
        // A re-send after a crash is the whole file again: same Message-ID, manifest and signed lots, byte for byte.
        for (const c of list.slice(1)) expect(c, `seed ${seed}: ${fileId}`).toBe(`duplicate:${list[0]!.slice('processed:'.length)}`);
      }
      const stats = amo.stats();
      expect(stats, `seed ${seed}`).toMatchObject({ refused: 0, invoicesRejected: 0, invoicesAccepted: numbers.length, paid: numbers.length });
      expect(stats.filesReceived).toBe(messages.length);
      expect(stats.duplicates).toBe(messages.length - copies.size);
      // Each worst-point kill left a file the AMO had but the applet had not recorded as sent: re-sent whole.
      expect(stats.duplicates, `seed ${seed}`).toBeGreaterThanOrEqual(fileKills);
      console.log(`${vitale}: ${numbers.length} invoices, ${copies.size} files, ${stats.duplicates} duplicate copies`);
    } finally {
      db.close();
    }

    // Lots and files on the applet's side: each invoice in one lot, each lot in one file, all acknowledged.
    expect(lots.flatMap((l) => l.invoiceNos).sort((a, b) => a - b), `seed ${seed}`).toEqual(numbers);
    for (const l of lots) expect(l, `seed ${seed}: lot ${l.lotNo}`).toMatchObject({ arl: 'positive' });
    expect(files.map((f) => f.fileId).sort(), `seed ${seed}`).toEqual(amoFiles.map((f) => f.fileId).sort());
    expect(files.flatMap((f) => f.lotNos).sort((a, b) => a - b)).toEqual(lots.map((l) => l.lotNo));
    for (const f of files) expect(f.state, `seed ${seed}: file ${f.fileId}`).toBe('acknowledged');
    for (const f of amoFiles) {
      expect(f.status).toBe('processed');
      for (const l of f.lots) expect(l.status, `seed ${seed}: ${f.fileId} lot ${l.lotNo}`).toBe('positive');
    }

    expect(status, `seed ${seed}`).toMatchObject({ toSecure: [], lotsPending: 0, filesWaiting: [], rejectsToRedo: [], paid: { count: numbers.length } });
  }

  it('FSEs: random kills, a kill during boot and two at the worst point, then a resume: every acknowledged FSE reaches the AMO exactly once, identical', async () => {
    const random = seededRandom(seed);
    const after = (): Kill => ({ at: 'after-ready', ms: Math.floor(random() * 2500) });
    await scenario('vitale-assure-seul', [after(), { at: 'file-received' }, after(), { at: 'boot', ms: 300 + Math.floor(random() * 1500) }, after(), { at: 'file-received' }]);
  }, 120_000);

  it('FSE + DRE under AMC tiers payant (two files per transmit): random and worst-point kills lose and duplicate nothing', async () => {
    const random = seededRandom(seed ^ 0x5eed);
    const after = (): Kill => ({ at: 'after-ready', ms: Math.floor(random() * 2500) });
    await scenario('vitale-amc-tiers-payant', [after(), { at: 'file-received' }, after()]);
  }, 120_000);
});
