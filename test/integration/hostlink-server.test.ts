/**
 * The TLA host link end to end on a dev kernel: TLS 1.3, pairing with the code shown on the device
 * screen, the kernel's own operations (identify, date), domain operations forwarded to the domain
 * whose policy grants them (onHostRequest, with its screen held), answers checked and redacted.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, applet, until, type DevKernel } from '../support/dev-kernel.js';
import { TestHostClient, CLOSED, HOST_APPLET, hostPolicy, appletCalls } from '../support/hostlink-client.js';
import { createSelfSignedIdentity } from '../../platform/kernel/hostlink/identity.js';
import { certFingerprint, computePairProofs } from '../../platform/kernel/hostlink/proof.js';
import { PAIRING_SCREEN_TITLE } from '../../platform/kernel/hostlink/service.js';
import type { HostLinkService } from '../../platform/kernel/hostlink/service.js';
import { HOSTLINK_PROTOCOL } from '../../platform/wire/hostlink.js';

describe('TLA host link (kernel side)', () => {
  let dk: DevKernel;
  let hl: HostLinkService;
  let port: number;
  beforeAll(async () => {
    dk = await bootDev([applet(hostPolicy(), HOST_APPLET)], { hostLink: { enabled: true, host: '127.0.0.1', port: 0 } });
    hl = dk.kernel.hostLink!;
    expect(hl).not.toBeNull();
    port = hl.address().port;
    await until(() => dk.kernel.handlers.get('alpha')?.includes('onHostRequest'), 10_000, 'alpha ready');
  });
  afterAll(async () => {
    await dk?.close();
  });

  it('is off by default and listens when enabled; the identity is kept in dataDir/hostlink with a 0600 key', async () => {
    expect(port).toBeGreaterThan(0);
    expect(hl.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(hl.deviceId).toBe(`DI-${hl.fingerprint.slice(0, 12).toUpperCase()}`);
    const { statSync } = await import('node:fs');
    expect(statSync(join(dk.dataDir, 'hostlink', 'device.key.pem')).mode & 0o777).toBe(0o600);
    const pem = readFileSync(join(dk.dataDir, 'hostlink', 'device.cert.pem'), 'utf8');
    expect(pem).toContain('BEGIN CERTIFICATE');
    expect(dk.kernel.status().hostLink).toMatchObject({ enabled: true, address: { port } });
  });

  it('refuses TLS 1.2', async () => {
    const err = await new Promise<Error | null>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => {
        s.destroy();
        resolve(null);
      });
      s.on('error', (e) => resolve(e));
    });
    expect(err).not.toBeNull();
  });

  it('pairs with the code on the device screen, then serves identify, date and the domain ops', async () => {
    const c = await TestHostClient.connect(port);
    expect(c.deviceFingerprint).toBe(hl.fingerprint);
    const { code, expiresAt } = hl.beginPairing();
    expect(code).toMatch(/^\d{8}$/);
    expect(expiresAt).toBeGreaterThan(Date.now());
    const view = dk.kernel.terminal.current();
    expect(view.screen.title).toBe(PAIRING_SCREEN_TITLE);
    expect(view.screen.lines.join('\n')).toContain(`${code.slice(0, 4)} ${code.slice(4)}`);
    expect(view.screen.lines.join('\n')).toContain('Valable 5 minutes');

    const r = await c.pair(`${code.slice(0, 4)} ${code.slice(4)}`, 'Poste accueil');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const expected = await computePairProofs(code, hl.fingerprint, c.hostFingerprint);
    expect(Buffer.from(r.result.deviceProof as Uint8Array).equals(Buffer.from(expected.deviceProof))).toBe(true);
    expect(r.result.deviceId).toBe(hl.deviceId);
    expect(hl.paired().map((p) => [p.fingerprint, p.name])).toEqual([[c.hostFingerprint, 'Poste accueil']]);
    // The code left the screen once used.
    await until(() => !dk.kernel.terminal.current().screen.lines.join(' ').includes(code.slice(4)), 2000, 'code off screen');
    const stored = JSON.parse(readFileSync(join(dk.dataDir, 'hostlink', 'paired.json'), 'utf8')) as { hosts: Array<{ fingerprint: string }> };
    expect(stored.hosts.map((h) => h.fingerprint)).toEqual([c.hostFingerprint]);

    const id = await c.request('identify');
    expect(id).toMatchObject({ ok: true, result: { deviceId: hl.deviceId, protocol: HOSTLINK_PROTOCOL, domain: 'alpha', ops: ['data.load', 'fse.unload'], hostName: 'Poste accueil' } });

    const d0 = await c.request('date.get');
    expect(d0).toMatchObject({ ok: true, result: { offsetMs: 0 } });
    const target = Date.UTC(2031, 5, 15, 8, 30);
    const d1 = await c.request('date.set', { now: target });
    expect(d1.ok).toBe(true);
    expect(dk.kernel.clock.now() - target).toBeLessThan(60_000);
    expect(dk.kernel.clock.now() - target).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(readFileSync(join(dk.dataDir, 'clock.json'), 'utf8')).offsetMs).toBe(dk.kernel.clock.offsetMs);
    // Applets read the device clock.
    const seen = (await dk.kernel.action('alpha', 'now', {})) as { now: number };
    expect(Math.abs(seen.now - dk.kernel.clock.now())).toBeLessThan(60_000);
    expect(seen.now).toBeGreaterThanOrEqual(target - 1000);
    const bad = await c.request('date.set', { now: Date.UTC(2101, 0, 1) });
    expect(bad).toMatchObject({ ok: false, error: { code: 'E_REQUEST', field: 'now' } });
    const extra = await c.request('date.get', { tz: 'Europe/Paris' });
    expect(extra).toMatchObject({ ok: false, error: { code: 'E_REQUEST', field: 'tz' } });
    // Back to the system clock for the other tests.
    expect((await c.request('date.set', { now: Date.now() })).ok).toBe(true);

    const before = await appletCalls(dk);
    const load = await c.request('data.load', { day: '2031-06-15', patients: [{ a: 1 }, { b: 2 }] });
    expect(load).toEqual({ v: 1, id: expect.any(Number), ok: true, result: { day: '2031-06-15', count: 2 } });
    expect(await appletCalls(dk)).toBe(before + 1);

    // The domain's refusal: E_DOMAIN with its code, its message redacted.
    const refused = await c.request('data.load', { fail: true });
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.error).toMatchObject({ code: 'E_DOMAIN', domainCode: 'E_DAY', field: 'day' });
      expect(refused.error.message).not.toContain('1840575123456');
    }
    // A malformed answer of the domain never reaches the host.
    expect(await c.request('data.load', { bad: true })).toMatchObject({ ok: false, error: { code: 'E_INTERNAL' } });
    // Not granted by the policy: E_OP, the applet not called.
    const n = await appletCalls(dk);
    expect(await c.request('erase', { invoices: ['x'] })).toMatchObject({ ok: false, error: { code: 'E_OP', field: 'op' } });
    expect(await appletCalls(dk)).toBe(n);
    c.close();
  });

  it('audits connections, pairing and requests without codes, proofs or arguments', async () => {
    dk.kernel.network.setOnline(false);
    expect(dk.kernel.status().online).toBe(false);
    dk.kernel.network.setOnline(true);
    const log = readFileSync(join(dk.dataDir, 'audit.log'), 'utf8');
    for (const ev of ['hostlink.listen', 'hostlink.connect', 'hostlink.pair.begin', 'hostlink.pair.ok', 'hostlink.request', 'clock.set', 'network.offline', 'network.online']) expect(log).toContain(`"${ev}"`);
    expect(log).not.toContain('2031-06-15');
    expect(log).not.toContain('hostProof');
    expect(log).not.toContain('deviceProof');
  });

  it('a second connection of the paired host is served; unpair closes it and the next request is refused', async () => {
    const c = await TestHostClient.connect(port);
    expect((await c.request('identify')).ok).toBe(true);
    expect(hl.unpair(c.hostFingerprint)).toBe(true);
    await c.closed;
    const again = await TestHostClient.connect(port);
    expect(await again.request('identify')).toMatchObject({ ok: false, error: { code: 'E_UNPAIRED' } });
    expect(await again.next()).toBe(CLOSED);
    expect(hl.unpair(c.hostFingerprint)).toBe(false);
  });

  it('keeps the clock offset and the paired hosts across a restart of the service files', async () => {
    const id2 = await createSelfSignedIdentity('second computer');
    const c = await TestHostClient.connect(port, id2);
    const { code } = hl.beginPairing();
    expect((await c.pair(code, 'Secrétariat')).ok).toBe(true);
    const { PairedHosts } = await import('../../platform/kernel/hostlink/pairing.js');
    expect(new PairedHosts(join(dk.dataDir, 'hostlink')).get(certFingerprint(id2.certDer))?.name).toBe('Secrétariat');
    c.close();
  });
});

describe('host link service limits (standalone)', () => {
  it('closes an idle link, and bounds the links it serves', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { HostLinkService } = await import('../../platform/kernel/hostlink/service.js');
    const { DeviceClock } = await import('../../platform/kernel/clock.js');
    const { Terminal } = await import('../../platform/kernel/terminal.js');
    const dataDir = mkdtempSync(join(tmpdir(), 'di-hl-idle-'));
    const events: string[] = [];
    const svc = await HostLinkService.start({
      dataDir,
      host: '127.0.0.1',
      port: 0,
      clock: new DeviceClock(null),
      terminal: new Terminal(),
      gateway: { serving: () => null, ready: () => false, call: () => Promise.reject(new Error('unused')) },
      audit: (e) => events.push(e),
      idleTimeoutMs: 400,
      maxConnections: 1,
    });
    try {
      const a = await TestHostClient.connect(svc.address().port);
      const b = await TestHostClient.connect(svc.address().port);
      expect(await b.next()).toMatchObject({ ok: false, error: { code: 'E_BUSY' } });
      await a.closed; // idle: closed by the device
      expect(a.isClosed).toBe(true);
      expect(events).toContain('hostlink.listen');
      expect(events).toContain('hostlink.busy');
      // With no domain granted, domain ops are E_OP for a paired host.
      // The proof first (scrypt takes longer than this test's idle timeout), then the link.
      const { code } = svc.beginPairing();
      const { testHostIdentity } = await import('../support/hostlink-client.js');
      const { hostProof } = await computePairProofs(code, svc.fingerprint, certFingerprint((await testHostIdentity()).certDer));
      const c = await TestHostClient.connect(svc.address().port);
      expect((await c.request('pair', { hostName: 'Cabinet', hostProof })).ok).toBe(true);
      expect(await c.request('fse.unload', {})).toMatchObject({ ok: false, error: { code: 'E_OP' } });
      expect(await c.request('identify')).toMatchObject({ ok: true, result: { domain: null, ops: [] } });
      c.close();
    } finally {
      await svc.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
