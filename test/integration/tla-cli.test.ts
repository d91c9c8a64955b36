/**
 * `di tla …` as the practice runs it (the built dist/cli.js in a child process) against a device in
 * this process: pair with the code on the screen, identify, date, load the sample day, sync (unload,
 * erase, transmit signed by the CPS) to the AMO, list; and the exit codes of the refusals.
 */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../platform/kernel/paths.js';
import { CONTEXT, type Billing } from '../support/billing.js';
import { bootTlaBilling, hostLinkOf, readPairingScreen, tempTlaDir, visitDay } from '../support/tla.js';

const root = repoRoot();

/** Asynchronous: the device answering the CLI runs in this very process. */
function di(args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--no-node-snapshot', join(root, 'dist', 'cli.js'), ...args], { cwd: root, timeout: 60_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | undefined) : 0;
      resolve({ status: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

describe('di tla (CLI)', { timeout: 120_000 }, () => {
  let b: Billing;
  const host = tempTlaDir();
  let device = '';
  let day: Awaited<ReturnType<typeof visitDay>>;

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root });
    b = await bootTlaBilling();
    const a = hostLinkOf(b.dk).address();
    device = `${a.host}:${a.port}`;
    day = await visitDay(b);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    host.remove();
  });

  it('before pairing: exit 5 and a message that says how to pair; an unreachable device: exit 3', async () => {
    const r = await di(['tla', 'identify', '--dir', host.dir, '--device', device]);
    expect(r.status, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/di tla pair/);
    const dead = await di(['tla', 'identify', '--dir', host.dir, '--device', '127.0.0.1:1']);
    expect(dead.status).toBe(3);
    expect(dead.stderr).toMatch(/injoignable/);
  });

  it('pair with the code read on the screen, then identify', async () => {
    hostLinkOf(b.dk).beginPairing();
    const screen = await readPairingScreen(b.dk);
    const r = await di(['tla', 'pair', '--code', screen.code, '--name', 'Poste accueil', '--dir', host.dir, '--device', device]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Associé à l'appareil ${hostLinkOf(b.dk).deviceId}`);
    expect(r.stdout).toContain(screen.fingerprint);
    const id = await di(['tla', 'identify', '--json', '--dir', host.dir, '--device', device]);
    expect(id.status, id.stderr).toBe(0);
    expect(JSON.parse(id.stdout)).toMatchObject({ ok: true, deviceId: hostLinkOf(b.dk).deviceId, hostName: 'Poste accueil', domain: 'sesam-vitale' });
  });

  it('load --sample', async () => {
    const r = await di(['tla', 'load', '--sample', '--json', '--dir', host.dir, '--device', device]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, patients: 1, situations: 1 });
  });

  it('sync: unload, erase and transmit signed by the CPS (PIN from the environment, never printed)', async () => {
    const r = await di(['tla', 'sync', '--cps', 'cps-medecin-generaliste', '--amo', `127.0.0.1:${b.amo.smtpPort}`, '--dir', host.dir, '--device', device], { DI_TLA_CPS_PIN: '1234' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('Factures : 4 reçue(s)');
    expect(r.stdout).toContain('3 envoyé(s)');
    expect(r.stdout + r.stderr).not.toContain('1234');
    await b.amo.whenIdle();
    const got = b.amo.files().flatMap((f) => f.invoices.map((i) => i.invoiceNo)).sort((x, y) => x - y);
    expect(got).toEqual(day.numbers.map((n) => n.invoiceNo));
    const list = await di(['tla', 'list', '--json', '--dir', host.dir]);
    expect(list.status, list.stderr).toBe(0);
    const l = JSON.parse(list.stdout) as { summary: { invoices: { total: number; sent: number }; files: { sent: number; ready: number } } };
    expect(l.summary.invoices).toMatchObject({ total: 4, sent: 4 });
    expect(l.summary.files).toMatchObject({ sent: 3, ready: 0 });
  });

  it('transmit: a wrong PIN is refused (tries left said, PIN never printed) and numbers nothing; the right one sends', async () => {
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    const f = await b.act('fse.create', { acts: [{ date: twoDaysAgo, code: 'G' }], context: CONTEXT, beneficiary: 0 });
    expect(f.ok, JSON.stringify(f)).toBe(true);
    const u = await di(['tla', 'unload', '--json', '--dir', host.dir, '--device', device]);
    expect(u.status, u.stderr).toBe(0);
    expect(JSON.parse(u.stdout)).toMatchObject({ ok: true, unload: { invoices: { added: 1 } }, erase: { invoices: { erased: 1 } } });

    const wrong = await di(['tla', 'transmit', '--cps', 'cps-medecin-generaliste', '--amo', `127.0.0.1:${b.amo.smtpPort}`, '--dir', host.dir], { DI_TLA_CPS_PIN: '9876' });
    expect(wrong.status).toBe(1);
    expect(wrong.stdout).toMatch(/code porteur CPS faux \(essais restants : 2\)/);
    expect(wrong.stdout + wrong.stderr).not.toContain('9876');
    // The refusal came before any number was spent.
    const list = JSON.parse((await di(['tla', 'list', '--json', '--dir', host.dir])).stdout) as { summary: { lots: { total: number }; invoices: { notInLot: number } } };
    expect(list.summary).toMatchObject({ lots: { total: 3 }, invoices: { notInLot: 1 } });

    const ok = await di(['tla', 'transmit', '--cps', 'cps-medecin-generaliste', '--amo', `127.0.0.1:${b.amo.smtpPort}`, '--dir', host.dir], { DI_TLA_CPS_PIN: '1234' });
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('1 envoyé(s)');
  });
});
