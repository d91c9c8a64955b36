/**
 * Issue 8: who the device refuses, and what it does with malformed requests.
 *  - an unpaired computer (fresh identity) gets nothing but `pair`; the library does not even send;
 *  - a wrong code is refused, three wrong proofs void the code; a relay in the middle cannot pair
 *    even with the right code (the proofs bind both certificates);
 *  - a computer paired with another device refuses this one before sending anything, naming both
 *    fingerprints; a device that unpaired the computer refuses it;
 *  - malformed frames and requests get a clear E_FRAME / E_OP / E_REQUEST / E_DOMAIN, and the device
 *    keeps serving.
 */
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../platform/wire/frames.js';
import { createSelfSignedIdentity } from '../../platform/kernel/hostlink/identity.js';
import { TlaClient, TlaError } from '../../tla/client.js';
import { shortFingerprint } from '../../tla/identity.js';
import { TlaStore } from '../../tla/store.js';
import { sampleDay } from '../../tla/sample-day.js';
import { certFingerprint } from '../../platform/kernel/hostlink/proof.js';
import type { Billing } from '../support/billing.js';
import { bootTlaBilling, connectPaired, hostLinkOf, pairFromScreen, PAIRING_TITLE, readPairingScreen, tempTlaDir, visitDay } from '../support/tla.js';

type Answer = { v: number; id: number | null; ok: boolean; error?: { code: string; message: string; field?: string; domainCode?: string } };

/** A TLS endpoint between the computer and the device: terminates each side with its own certificate. */
async function startRelay(device: { host: string; port: number }): Promise<{ port: number; close(): Promise<void> }> {
  const id = await createSelfSignedIdentity('relay');
  const server = tls.createServer({ key: id.keyPem, cert: id.certPem, minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: false }, (inbound) => {
    const outbound = tls.connect({ ...device, key: id.keyPem, cert: id.certPem, minVersion: 'TLSv1.3', rejectUnauthorized: false });
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Another device: any TLS server with its own certificate, counting the bytes it receives. */
async function startOtherDevice(): Promise<{ port: number; fingerprint: string; received: () => number; close(): Promise<void> }> {
  const id = await createSelfSignedIdentity('autre appareil');
  let received = 0;
  const server = tls.createServer({ key: id.keyPem, cert: id.certPem, minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: false }, (s) => {
    s.on('data', (c: Buffer) => (received += c.length));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, fingerprint: certFingerprint(id.certDer), received: () => received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function wrongCode(code: string): string {
  const digits = code.replace(/\s/g, '');
  return digits.slice(0, 7) + String((Number(digits[7]) + 1) % 10);
}

describe('TLA refusals: unpaired, wrong code, relay, other device, unpaired by the device', () => {
  let b: Billing;
  const paired = tempTlaDir();
  const dirs: Array<{ remove(): void }> = [paired];
  const fresh = (): string => {
    const d = tempTlaDir();
    dirs.push(d);
    return d.dir;
  };

  beforeAll(async () => {
    b = await bootTlaBilling();
    b.dk.kernel.network.setOnline(false);
    await visitDay(b);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    for (const d of dirs) d.remove();
  });

  it('an unpaired computer: the library sends nothing; the device answers E_UNPAIRED and closes', async () => {
    const client = await TlaClient.connect({ dir: fresh(), device: hostLinkOf(b.dk).address() });
    try {
      expect(client.paired).toBe(false);
      await expect(client.unloadInvoicesPage()).rejects.toMatchObject({ code: 'E_NOT_PAIRED' });
      await expect(client.identify()).rejects.toMatchObject({ code: 'E_UNPAIRED' });
    } finally {
      client.close();
    }
    // Even when it sends an unload anyway, it gets no data.
    const rogue = await TlaClient.connect({ dir: fresh(), device: hostLinkOf(b.dk).address() });
    try {
      const err = await rogue.request('fse.unload', {}, { unpairedOk: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TlaError);
      expect(err).toMatchObject({ code: 'E_UNPAIRED' });
      expect((err as TlaError).message).toContain('pair');
      await expect(rogue.request('fse.unload', {}, { unpairedOk: true })).rejects.toMatchObject({ code: 'E_CLOSED' });
    } finally {
      rogue.close();
    }
    expect(hostLinkOf(b.dk).paired()).toEqual([]);
    // Nothing was handed out: the device still counts all four as plainly secured.
    expect((await b.act('status')).byState).toMatchObject({ secured: 4 });
  });

  it('a wrong code is refused and pins nothing; three wrong proofs void the code (the right one then fails too)', async () => {
    hostLinkOf(b.dk).beginPairing();
    const screen = await readPairingScreen(b.dk);
    const dir = fresh();
    for (let i = 0; i < 3; i++) {
      const c = await TlaClient.connect({ dir, device: hostLinkOf(b.dk).address(), forPairing: true });
      try {
        await expect(c.pair(wrongCode(screen.code), 'Poste pirate')).rejects.toMatchObject({ code: 'E_PAIRING' });
      } finally {
        c.close();
      }
    }
    const c = await TlaClient.connect({ dir, device: hostLinkOf(b.dk).address(), forPairing: true });
    try {
      await expect(c.pair(screen.code, 'Poste pirate')).rejects.toMatchObject({ code: 'E_PAIRING' });
      expect(c.store.devices()).toEqual([]);
    } finally {
      c.close();
    }
    expect(hostLinkOf(b.dk).paired()).toEqual([]);
    expect(hostLinkOf(b.dk).pairingUntil()).toBeNull();
    expect(b.dk.kernel.terminal.current().screen.title).not.toBe(PAIRING_TITLE);
  });

  it('a relay in the middle cannot pair, even with the right code read on the screen', async () => {
    const relay = await startRelay(hostLinkOf(b.dk).address());
    try {
      hostLinkOf(b.dk).beginPairing();
      const screen = await readPairingScreen(b.dk);
      const c = await TlaClient.connect({ dir: fresh(), device: { host: '127.0.0.1', port: relay.port }, forPairing: true });
      try {
        // The computer sees the relay's certificate, not the one whose fingerprint the screen shows.
        expect(shortFingerprint(c.deviceFingerprint)).not.toBe(screen.fingerprint);
        await expect(c.pair(screen.code, 'Poste accueil')).rejects.toMatchObject({ code: 'E_PAIRING' });
        expect(c.store.devices()).toEqual([]);
      } finally {
        c.close();
      }
      expect(hostLinkOf(b.dk).paired()).toEqual([]);
    } finally {
      hostLinkOf(b.dk).cancelPairing();
      await relay.close();
    }
  });

  it('a computer paired with this device refuses another one before sending anything, naming both fingerprints', async () => {
    const { client } = await pairFromScreen(b.dk, paired.dir);
    client.close();
    const other = await startOtherDevice();
    try {
      const err = await TlaClient.connect({ dir: paired.dir, device: { host: '127.0.0.1', port: other.port } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TlaError);
      expect(err).toMatchObject({ code: 'E_DEVICE_MISMATCH' });
      const msg = (err as TlaError).message;
      expect(msg).toContain(shortFingerprint(other.fingerprint));
      expect(msg).toContain(shortFingerprint(hostLinkOf(b.dk).fingerprint));
      await new Promise((r) => setTimeout(r, 100));
      expect(other.received()).toBe(0);
    } finally {
      await other.close();
    }
    // The paired device itself is still accepted.
    const ok = await connectPaired(b.dk, paired.dir);
    try {
      expect((await ok.identify()).deviceId).toBe(hostLinkOf(b.dk).deviceId);
    } finally {
      ok.close();
    }
  });

  it('a device that unpaired the computer drops its link and refuses it afterwards', async () => {
    const c = await connectPaired(b.dk, paired.dir);
    try {
      await c.getDate();
      expect(hostLinkOf(b.dk).unpair(c.identity.fingerprint)).toBe(true);
      await expect(c.getDate()).rejects.toMatchObject({ code: 'E_CLOSED' });
    } finally {
      c.close();
    }
    // The computer still pins the device (it was not told), but the device says no.
    const again = await connectPaired(b.dk, paired.dir);
    try {
      await expect(again.unloadInvoicesPage()).rejects.toMatchObject({ code: 'E_UNPAIRED' });
    } finally {
      again.close();
    }
    const s = new TlaStore(paired.dir);
    try {
      expect(s.invoices()).toEqual([]);
    } finally {
      s.close();
    }
  });
});

describe('TLA malformed requests: clear errors, the device unharmed', () => {
  let b: Billing;
  const host = tempTlaDir();

  beforeAll(async () => {
    b = await bootTlaBilling();
    const { client } = await pairFromScreen(b.dk, host.dir);
    client.close();
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    host.remove();
  });

  const raw = async (bytes: Uint8Array): Promise<{ answer: Answer; client: TlaClient }> => {
    const client = await connectPaired(b.dk, host.dir);
    const answer = (await client.sendRaw(bytes)) as Answer;
    return { answer, client };
  };
  const waitClosed = async (c: TlaClient): Promise<void> => {
    for (let i = 0; i < 100 && !c.closed; i++) await new Promise((r) => setTimeout(r, 20));
    expect(c.closed).toBe(true);
  };

  it('an undecodable body: E_FRAME (no id), then the link is closed', async () => {
    const { answer, client } = await raw(Uint8Array.of(0, 0, 0, 1, 0xc1));
    expect(answer).toMatchObject({ v: 1, id: null, ok: false, error: { code: 'E_FRAME' } });
    expect(answer.error!.message).toMatch(/closed/);
    await waitClosed(client);
    client.close();
  });

  it('a length prefix over the frame limit: E_FRAME before the body is read', async () => {
    const { answer, client } = await raw(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3));
    expect(answer).toMatchObject({ ok: false, error: { code: 'E_FRAME' } });
    expect(answer.error!.message).toMatch(/limit/);
    await waitClosed(client);
    client.close();
  });

  it('a request without args, or with an extra field: E_FRAME naming the field', async () => {
    const a = await raw(encodeFrame({ v: 1, id: 7, op: 'identify' }));
    expect(a.answer).toMatchObject({ id: 7, ok: false, error: { code: 'E_FRAME', field: 'args' } });
    a.client.close();
    const c = await raw(encodeFrame({ v: 1, id: 8, op: 'identify', args: {}, debug: true }));
    expect(c.answer).toMatchObject({ id: 8, ok: false, error: { code: 'E_FRAME', field: 'debug' } });
    c.client.close();
  });

  it('an unknown operation: E_OP, and the link goes on serving', async () => {
    const { answer, client } = await raw(encodeFrame({ v: 1, id: 9, op: 'fse.delete', args: {} }));
    try {
      expect(answer).toMatchObject({ id: 9, ok: false, error: { code: 'E_OP' } });
      expect((await client.identify()).protocol).toBe('di-tla/1');
    } finally {
      client.close();
    }
  });

  it('wrong arguments: E_REQUEST for a kernel op, E_DOMAIN (applet code) for a domain op, each naming the field', async () => {
    const client = await connectPaired(b.dk, host.dir);
    try {
      await expect(client.request('date.set', { now: 'demain' })).rejects.toMatchObject({ code: 'E_REQUEST', field: 'now' });
      await expect(client.request('date.set', { now: Date.UTC(2150, 0, 1) })).rejects.toMatchObject({ code: 'E_REQUEST', field: 'now' });
      const e = await client.request('fse.unload', { max: 1000 }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'E_DOMAIN', domainCode: 'E_ARGS', field: 'max' });
      const d = await client.request('data.load', { day: '2025-13-45' }).catch((x: unknown) => x);
      expect(d).toMatchObject({ code: 'E_DOMAIN', field: 'day' });
      // The same link still works.
      expect((await client.getDate()).now).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  it('afterwards the device serves as before: identify, date, unload, load of the day', async () => {
    const client = await connectPaired(b.dk, host.dir);
    try {
      const id = await client.identify();
      expect(id).toMatchObject({ deviceId: hostLinkOf(b.dk).deviceId, domain: 'sesam-vitale' });
      expect(await client.unloadInvoicesPage()).toMatchObject({ items: [], next: null, held: 0 });
      expect(await client.loadDayData(sampleDay())).toMatchObject({ patients: 1, beneficiaries: 1, situations: 1 });
    } finally {
      client.close();
    }
    const st = b.dk.kernel.status();
    expect(st.domains.find((d) => d.domain === 'sesam-vitale')).toMatchObject({ state: 'ready', restarts: 0 });
    expect(st.hostLink).toMatchObject({ enabled: true, paired: 1 });
  });
});
