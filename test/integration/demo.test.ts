/**
 * `di demo`: the scripted day on the real platform. runDemo's summary (computed from the device's
 * own status and its fse.* results) must agree with what the emulated AMO recorded by itself, lose
 * nothing, and carry one negative ARL line whose correction ends paid; the CLI prints exactly the
 * documented JSON keys.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../platform/kernel/paths.js';
import { runDemo, type DemoSummary } from '../../emulator/terminal/demo.js';
import type { AmoStats, ReceivedFile } from '../../emulator/amo/server.js';

const root = repoRoot();

describe('di demo: a practitioner’s day', () => {
  let summary: DemoSummary;
  let stats: AmoStats;
  let files: ReceivedFile[];
  let paidStates = 0;
  const progress: Array<[number, number, string]> = [];

  beforeAll(async () => {
    summary = await runDemo({
      patients: 6,
      seed: 7,
      onProgress: (d, t, l) => progress.push([d, t, l]),
      onEnd: async (p) => {
        await p.amo.whenIdle();
        stats = p.amo.stats();
        files = p.amo.files();
        const st = (await p.kernel.action('sesam-vitale', 'status', {})) as { byState: Record<string, number> };
        paidStates = st.byState.paid ?? 0;
      },
    });
  }, 90_000);

  it('the summary agrees with the AMO’s own counts, and nothing acknowledged is lost', () => {
    const invoices = files.flatMap((f) => f.invoices.map((i) => ({ ...i, billing: f.billingNumber })));
    expect(summary.lost).toBe(0);
    // Every invoice the device acknowledged reached the AMO once, and nothing else did.
    expect(summary.fse + summary.dre).toBe(invoices.length);
    expect(new Set(invoices.map((i) => `${i.billing}|${i.kind}|${i.invoiceNo}`)).size).toBe(invoices.length);
    expect(summary.fse).toBe(invoices.filter((i) => i.kind === 'FSE').length);
    expect(summary.dre).toBe(invoices.filter((i) => i.kind === 'DRE').length);
    expect(summary.filesSent).toBe(files.length);
    expect(stats.filesReceived - stats.duplicates).toBe(files.length);
    expect(stats.refused).toBe(0);
    expect(summary.lots).toBe(stats.lots);
    expect(summary.lots).toBe(files.reduce((n, f) => n + f.lots.length, 0));
    expect(summary.arlPositive).toBe(stats.invoicesAccepted);
    expect(summary.arlNegative).toBe(stats.invoicesRejected);
    expect(summary.paid).toBe(stats.paid);
    expect(summary.paid).toBe(paidStates);
    // Every accepted invoice was paid (the AMO pays at once): every file has its ARL, every accepted invoice its RSP.
    expect(summary.paid).toBe(stats.invoicesAccepted);
  });

  it('the day has its mix: DRE, one work accident rejected then corrected and paid, card payments both ways', () => {
    expect(summary.dre).toBeGreaterThanOrEqual(1);
    expect(summary.arlNegative).toBe(1);
    const rejected = files.flatMap((f) => f.invoices).filter((i) => i.status === 'rejected');
    expect(rejected).toEqual([expect.objectContaining({ kind: 'FSE', status: 'rejected', code: 'R01' })]);
    // 6 médecin patients + the nurse's series + the correction, each one FSE.
    expect(summary.fse).toBe(6 + 1 + 1);
    // Two billing numbers (médecin and infirmière) sent files.
    expect(new Set(files.map((f) => f.billingNumber)).size).toBe(2);
    expect(summary.payments.approved).toBeGreaterThanOrEqual(1);
    expect(summary.payments.declined).toBe(1);
    const text = summary.journal.join('\n');
    expect(text).toContain('Carte Vitale refusée');
    expect(text).toContain('Droits fermés');
    expect(text).toContain('FSE dégradée');
    expect(text).toMatch(/VG \+ MD \+ IK \d+ km/);
    expect(text).toMatch(/4 séances AMI \+ IFD \+ IK/);
    // No NIR in full in the journal (13 to 15 characters).
    expect(text).not.toMatch(/\b[0-9]{5}[0-9AB]{8,10}\b/);
  });

  it('progress goes up to its total, one call per step', () => {
    expect(progress.length).toBeGreaterThan(6);
    const total = progress[0]![1];
    expect(progress.every(([, t]) => t === total)).toBe(true);
    expect(progress.map(([d]) => d)).toEqual(progress.map((_, i) => i + 1));
    expect(progress[progress.length - 1]![0]).toBe(total);
  });

  it('`di demo --patients 3 --json` prints valid JSON with exactly the documented keys', () => {
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root });
    const r = spawnSync(process.execPath, ['--no-node-snapshot', join(root, 'dist', 'cli.js'), 'demo', '--patients', '3', '--json'], { encoding: 'utf8', cwd: root, timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['fse', 'dre', 'lots', 'filesSent', 'arlPositive', 'arlNegative', 'paid', 'payments', 'lost', 'durationMs']);
    expect(Object.keys(out.payments as object)).toEqual(['approved', 'declined']);
    expect(out.lost).toBe(0);
    expect(out.arlNegative).toBe(1);
    for (const k of ['fse', 'dre', 'lots', 'filesSent', 'arlPositive', 'arlNegative', 'paid', 'durationMs']) expect(Number.isInteger(out[k]), k).toBe(true);
    // Not a TTY: plain progress lines on stderr, nothing but the JSON on stdout.
    expect(r.stderr).toMatch(/^\[1\/\d+\] /m);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  }, 60_000);
});
