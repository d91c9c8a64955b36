/**
 * Review of the TLA host link (issue 8), device side: what the first round of attacks
 * (hostlink-attacks.test.ts) did not try. Strangers holding every link slot so the paired computer
 * is turned away, and a NIR with a Corsican department (2A/2B) passing through the domain-message
 * redaction to the computer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, applet, until, type DevKernel } from '../support/dev-kernel.js';
import { TestHostClient, CLOSED, HOST_APPLET, hostPolicy } from '../support/hostlink-client.js';
import { createSelfSignedIdentity } from '../../platform/kernel/hostlink/identity.js';
import type { HostLinkService } from '../../platform/kernel/hostlink/service.js';
import { redactDomainText } from '../../platform/kernel/hostlink/router.js';
import type { HostResponse } from '../../platform/wire/hostlink.js';

describe('TLA host link review', () => {
  let dk: DevKernel;
  let hl: HostLinkService;
  let port: number;

  beforeAll(async () => {
    dk = await bootDev([applet(hostPolicy(), HOST_APPLET)], { hostLink: { enabled: true, host: '127.0.0.1', port: 0 } });
    hl = dk.kernel.hostLink!;
    port = hl.address().port;
    await until(() => dk.kernel.handlers.get('alpha')?.includes('onHostRequest'), 10_000, 'alpha ready');
    const c = await TestHostClient.connect(port);
    const { code } = hl.beginPairing();
    expect((await c.pair(code)).ok).toBe(true);
    c.close();
    await until(() => hl.status().connections === 0, 5000, 'pairing link closed');
  });
  afterAll(async () => {
    await dk?.close();
  });

  it('[TLA-09] computers that are not paired cannot hold the link slots: the paired computer is still served', async () => {
    const stranger = await createSelfSignedIdentity('stranger');
    // The stranger opens as many links as it can and keeps them open, sending nothing.
    const held: TestHostClient[] = [];
    for (let i = 0; i < 6; i++) held.push(await TestHostClient.connect(port, stranger));
    await until(() => hl.status().connections === 4, 5000, 'every slot taken');
    // The paired computer still gets a link and its answer: a stranger's link makes room.
    const mine = await TestHostClient.connect(port);
    expect(await mine.request('identify')).toMatchObject({ ok: true, result: { deviceId: hl.deviceId } });
    // Twice (the stranger may reconnect meanwhile): each time a stranger's link goes, never a paired one.
    held.push(await TestHostClient.connect(port, stranger));
    const second = await TestHostClient.connect(port);
    expect(await second.request('identify')).toMatchObject({ ok: true });
    expect(await mine.request('date.get')).toMatchObject({ ok: true });
    // What the strangers got: E_BUSY, then the link closed.
    for (const h of held) {
      const a = await Promise.race([h.next(), new Promise((r) => setTimeout(() => r('open'), 100))]);
      if (a !== 'open') expect((a as Extract<HostResponse, { ok: false }>).error.code).toBe('E_BUSY');
    }
    mine.close();
    second.close();
    for (const h of held) h.close();
    await until(() => hl.status().connections === 0, 5000, 'links closed');
  });

  it('[TLA-10] a domain error message quoting a NIR of Corsica (2A/2B) reaches the computer masked', async () => {
    for (const nir of ['184052A12345678', '2 84 05 2B 123 456 78', '184052B123456', '2.84.05.2A.123.456.78']) {
      const out = redactDomainText(`clé 99 incorrecte pour le NIR ${nir}`, 300);
      const digits = out.replace(/[^0-9AB]/g, '');
      expect(out, nir).not.toContain(nir);
      // Nothing beyond the first character of the NIR is left readable.
      expect(digits.length, out).toBeLessThanOrEqual(4);
    }
    // The ordinary short numbers of a message stay readable.
    expect(redactDomainText('lot 12, facture 345, clé 99', 300)).toBe('lot 12, facture 345, clé 99');
    // Through the link, end to end: the applet refuses with a message quoting the NIR.
    const c = await TestHostClient.connect(port);
    const r = (await c.request('data.load', { fail: true })) as Extract<HostResponse, { ok: false }>;
    expect(r).toMatchObject({ ok: false, error: { code: 'E_DOMAIN', domainCode: 'E_DAY' } });
    expect(r.error.message).not.toMatch(/\d{6}/);
    c.close();
    expect(await c.next()).toBe(CLOSED);
  });
});
