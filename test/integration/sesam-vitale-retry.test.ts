/**
 * The applet when the AMO is unreachable: the file waits with its attempt count, the E_NET reason and
 * a back-off time, is not retried before that time, and once the AMO is up a forced transmit sends
 * the very same file (same fileId) exactly once. Also: a wrong PIN shows the tries left (never a
 * digit) before the right one is accepted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, until, type DevKernel } from '../support/dev-kernel.js';
import { appletBundle, billingPolicy, paymentStandIn } from '../support/billing.js';
import type { TerminalView } from '../../platform/kernel/terminal.js';
import { loadCard } from '../../emulator/cards/profiles.js';
import { startAmo, type Amo } from '../../emulator/amo/server.js';

type R = Record<string, unknown>;


async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('sesam-vitale applet: transmission retries and PIN entry', () => {
  let dk: DevKernel;
  let amo: Amo | undefined;
  let amoDir: string;
  let smtpPort: number;
  let pop3Port: number;
  const views: TerminalView[] = [];
  const act = (action: string, payload: R = {}) => dk.kernel.action('sesam-vitale', action, payload) as Promise<R>;
  const today = new Date().toISOString().slice(0, 10);
  const context = { nature: 'maladie', aldRelated: false, parcours: 'traitant', tiersPayantAmo: false, tiersPayantAmc: false };

  beforeAll(async () => {
    amoDir = mkdtempSync(join(tmpdir(), 'di-amo-'));
    smtpPort = await freePort();
    pop3Port = await freePort();
    dk = await bootDev([{ policy: billingPolicy(smtpPort, pop3Port), script: await appletBundle('sesam-vitale'), filename: 'sesam-vitale/applet.js' }, paymentStandIn()]);
    dk.kernel.terminal.on('view', (v) => views.push(v));
    await until(() => dk.kernel.handlers.get('sesam-vitale')?.includes('onAction'), 15_000, 'applet ready');
  }, 60_000);

  afterAll(async () => {
    await dk?.close();
    await amo?.close();
    rmSync(amoDir, { recursive: true, force: true });
  });

  async function waitState(f: (s: R) => boolean): Promise<R> {
    const t0 = Date.now();
    for (;;) {
      const s = await act('session.state');
      if (f(s) || Date.now() - t0 > 20_000) return s;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('a wrong PIN shows the tries left, then the right PIN is accepted; no digit on any screen', async () => {
    dk.kernel.terminal.typeKeys(['2', '9', '9', '9', '9', 'OK', '1', '2', '3', '4', 'OK']);
    dk.kernel.insertCard(0, await loadCard('cps-medecin-generaliste'));
    const s = await waitState((x) => (x.cps as R | undefined)?.pinVerified === true);
    // '2' picked the second situation.
    expect(s.cps).toMatchObject({ situation: 1, pinVerified: true });
    const texts = views.filter((v) => v.domain === 'sesam-vitale').map((v) => [v.screen.title, ...v.screen.lines].join(' | '));
    expect(texts.some((t) => t.includes('Code porteur faux') && t.includes('Essais restants : 2'))).toBe(true);
    for (const t of texts) expect(t).not.toMatch(/9999|1234/);
  });

  it('SMTP down: the file waits with E_NET and a back-off; no early retry; then sent once with the same fileId', async () => {
    dk.kernel.insertCard(1, await loadCard('vitale-assure-seul'));
    await waitState((x) => x.vitale !== undefined);
    expect(await act('fse.create', { acts: [{ date: today, code: 'G' }], context })).toMatchObject({ ok: true, invoiceNo: 1 });
    const t1 = await act('transmit');
    expect(t1).toMatchObject({ ok: true, lotsBuilt: 1, filesSent: [] });
    const waiting = t1.filesWaiting as Array<R>;
    expect(waiting).toHaveLength(1);
    expect(waiting[0]).toMatchObject({ attempts: 1, lastError: expect.stringMatching(/^E_NET/) });
    const fileId = waiting[0]!.fileId as string;
    expect(fileId).toMatch(/^F[0-9]{9}000001$/);
    // Back-off: 30 s after the first failure, so an immediate transmit does not try again.
    expect(Number(waiting[0]!.nextAttemptAt) - Date.now()).toBeGreaterThan(20_000);
    const t2 = await act('transmit');
    expect((t2.filesWaiting as Array<R>)[0]).toMatchObject({ fileId, attempts: 1 });
    const st = await act('status');
    expect(st.filesWaiting).toEqual([expect.objectContaining({ fileId, attempts: 1 })]);
    expect(st.byState).toMatchObject({ 'in-lot': 1 });

    amo = await startAmo({ smtpPort, pop3Port, dataDir: amoDir, payment: 'manual' });
    // The policy's retry timer honours the back-off too: a tick now sends nothing yet.
    await dk.kernel.call('sesam-vitale', 'onTimer', [{ name: 'retry' }]);
    await amo.whenIdle();
    expect(amo.files()).toEqual([]);
    expect((await act('status')).filesWaiting).toEqual([expect.objectContaining({ fileId, attempts: 1 })]);
    const t3 = await act('transmit', { force: true });
    expect(t3).toMatchObject({ ok: true, filesSent: [fileId], filesWaiting: [] });
    await amo.whenIdle();
    expect(amo.files().map((f) => f.fileId)).toEqual([fileId]);
    expect(await act('transmit', { force: true })).toMatchObject({ filesSent: [] });
    const r = await act('returns.fetch');
    expect(r).toMatchObject({ ok: true, arl: 1, rsp: 0 });
    expect((await act('status')).byState).toMatchObject({ 'arl-positive': 1 });
    expect(amo.settle()).toBe(1);
    await amo.whenIdle();
    expect(await act('returns.fetch')).toMatchObject({ ok: true, arl: 0, rsp: 1 });
    expect((await act('status')).byState).toMatchObject({ paid: 1 });
  });
});
