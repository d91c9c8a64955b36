/**
 * Review of the practice computer's side of the TLA host link (tla/, di tla): defects found and
 * fixed, each with the test that showed it.
 *  - the computer transmitted invoices the device had not confirmed erased (the device could send
 *    them too: released with tla.release, they went out from both sides);
 *  - an invoice whose erase was refused once (released between unload and erase) was never asked
 *    again, even after the device held it for the computer again: stuck on the device, sent by nobody;
 *  - an erase answer that does not account for every ref asked was taken as "all erased";
 *  - a pairing answer naming another device id than the certificate's was pinned as is;
 *  - a crash between writing the computer's key and its certificate broke every later command;
 *  - `di tla pair` took the pairing code on argv only, where every user's `ps` sees it while it is
 *    valid (whoever pairs first gets the device's data): now typed, or DI_TLA_PAIR_CODE;
 *  - the docs' library example, run as written.
 * And the client against a device that misbehaves (wrong ids, garbage, silence): clear errors, no hang.
 */
import * as tls from 'node:tls';
import { execFile, execFileSync } from 'node:child_process';
import { repoRoot } from '../../platform/kernel/paths.js';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../platform/wire/frames.js';
import { HOSTLINK_MAX_FRAME_BYTES } from '../../platform/wire/hostlink.js';
import { createSelfSignedIdentity } from '../../platform/kernel/hostlink/identity.js';
import { certFingerprint, computePairProofs } from '../../platform/kernel/hostlink/proof.js';
import { TlaClient, TlaStore, syncDevice, transmitStored, openCps, sampleDay, loadOrCreateIdentity } from '../../tla/index.js';
import { eraseStored, unloadAll } from '../../tla/sync.js';
import { CERT_FILE, KEY_FILE } from '../../tla/identity.js';
import type { Billing } from '../support/billing.js';
import { bootTlaBilling, connectPaired, hostLinkOf, pairFromScreen, readPairingScreen, tempTlaDir, visitDay } from '../support/tla.js';

const CPS = { profile: 'cps-medecin-generaliste', pin: '1234' };

describe('review: the computer transmits only what the device confirmed erased', () => {
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

  it('unloaded but not erased (a cut before erase): not put in lots; the device may still send them itself', async () => {
    const client = await connectPaired(b.dk, host.dir);
    try {
      const u = await unloadAll(client);
      expect(u.invoices.added).toBe(4);
    } finally {
      client.close();
    }
    const store = new TlaStore(host.dir);
    try {
      const t = await transmitStored(store, { cps: () => openCps(CPS), amo: { host: '127.0.0.1', port: b.amo.smtpPort } });
      expect(t).toMatchObject({ lotsBuilt: 0, filesBuilt: 0, filesSent: [] });
      expect(store.lots()).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('released on the device between unload and erase: the erase is refused; once held again, the next sync erases them', async () => {
    const rel = await b.act('tla.release');
    expect(rel.released).toHaveLength(4);
    const client = await connectPaired(b.dk, host.dir);
    try {
      const e = await eraseStored(client);
      expect(e.invoices.refused).toHaveLength(4);
      // The device lists them again (held for the computer once more): they must be erased this time.
      const s = await syncDevice(client);
      expect(s.unload.invoices).toMatchObject({ received: 4, already: 4 });
      expect(s.erase.invoices).toMatchObject({ asked: 4, erased: 4, refused: [] });
      expect(client.store.invoices().every((i) => i.erasedAt !== null)).toBe(true);
    } finally {
      client.close();
    }
    expect((await b.act('status')).byState).toMatchObject({ secured: 0, unloaded: 4 });
    const store = new TlaStore(host.dir);
    try {
      const t = await transmitStored(store, { cps: () => openCps(CPS), amo: { host: '127.0.0.1', port: b.amo.smtpPort } });
      expect(t.errors).toEqual([]);
      expect(t.filesSent).toHaveLength(3);
    } finally {
      store.close();
    }
    await b.amo.whenIdle();
    const got = b.amo.files().flatMap((f) => f.invoices.map((i) => i.invoiceNo)).sort((x, y) => x - y);
    expect(got).toEqual(day.numbers.map((n) => n.invoiceNo));
    expect(b.amo.stats()).toMatchObject({ invoicesAccepted: 4, invoicesRejected: 0 });
  });
});

// ---- a fake device: any TLS endpoint speaking the frames, answering what the test says ----------

type Req = { v: number; id: number; op: string; args: Record<string, unknown> };
type Answer = (req: Req, ctx: { hostFp: string; deviceFp: string }) => Promise<unknown | Buffer | null> | unknown | Buffer | null;

async function startFakeDevice(answer: Answer): Promise<{ port: number; fingerprint: string; close(): Promise<void> }> {
  const id = await createSelfSignedIdentity('appareil simulé');
  const deviceFp = certFingerprint(id.certDer);
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ key: id.keyPem, cert: id.certPem, minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: false }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    const hostFp = certFingerprint(new Uint8Array(s.getPeerCertificate(false).raw));
    const dec = new FrameDecoder(HOSTLINK_MAX_FRAME_BYTES);
    s.on('data', (c: Buffer) => {
      for (const m of dec.push(c)) {
        void Promise.resolve(answer(m as Req, { hostFp, deviceFp })).then((a) => {
          if (a === null || s.destroyed) return;
          s.write(Buffer.isBuffer(a) ? a : encodeFrame(a));
        });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    fingerprint: deviceFp,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const okAnswer = (req: Req, result: unknown): unknown => ({ v: 1, id: req.id, ok: true, result });

function fakeInvoice(n: number): Record<string, unknown> {
  return {
    ref: `751990011/${n}`,
    billingNumber: '751990011',
    invoiceNo: n,
    kind: 'FSE',
    destination: 'AMO-01751',
    careDate: '2025-03-14',
    createdAt: '2025-03-14T09:00:00Z',
    deadline: '2025-03-22',
    amo: 1750,
    amc: 0,
    record: Uint8Array.of(1, 2, 3, n),
    cpsSignature: Uint8Array.of(9, 9, n),
  };
}

describe('review: a pinned device is checked, not trusted', () => {
  const dirs: Array<{ remove(): void }> = [];
  const fresh = (): string => {
    const d = tempTlaDir();
    dirs.push(d);
    return d.dir;
  };
  afterAll(() => {
    for (const d of dirs) d.remove();
  });

  const pinned = (dir: string, fingerprint: string): void => {
    const s = new TlaStore(dir);
    try {
      s.pinDevice({ fingerprint, deviceId: `DI-${fingerprint.slice(0, 12).toUpperCase()}`, hostName: 'Poste accueil', pairedAt: 1 });
    } finally {
      s.close();
    }
  };

  it('an erase answer that does not account for every ref asked: nothing is recorded as erased', async () => {
    const dev = await startFakeDevice((req) => {
      if (req.op === 'fse.unload') return okAnswer(req, { items: [fakeInvoice(1), fakeInvoice(2)], next: null, held: 2 });
      if (req.op === 'beneficiaries.unload') return okAnswer(req, { items: [], next: null, held: 0 });
      // Says nothing about the two refs: neither erased, nor already, nor refused.
      if (req.op === 'erase') return okAnswer(req, { erased: { invoices: 0, beneficiaries: 0 }, already: { invoices: 0, beneficiaries: 0 }, refused: [] });
      return { v: 1, id: req.id, ok: false, error: { code: 'E_OP', message: 'non' } };
    });
    const dir = fresh();
    pinned(dir, dev.fingerprint);
    const c = await TlaClient.connect({ dir, device: { host: '127.0.0.1', port: dev.port } });
    try {
      await expect(syncDevice(c)).rejects.toMatchObject({ code: 'E_PROTOCOL' });
      expect(c.store.invoices().map((i) => i.erasedAt)).toEqual([null, null]);
    } finally {
      c.close();
      await dev.close();
    }
  });

  it('pairing: a device whose answer names another device id than its certificate is not pinned', async () => {
    const code = '24681357';
    const dev = await startFakeDevice(async (req, ctx) => {
      if (req.op !== 'pair') return null;
      const p = await computePairProofs(code, ctx.deviceFp, ctx.hostFp);
      return okAnswer(req, { deviceId: 'DI-000000000000', deviceProof: p.deviceProof });
    });
    const c = await TlaClient.connect({ dir: fresh(), device: { host: '127.0.0.1', port: dev.port }, forPairing: true });
    try {
      await expect(c.pair(code, 'Poste accueil')).rejects.toMatchObject({ code: 'E_PROTOCOL' });
      expect(c.store.devices()).toEqual([]);
    } finally {
      c.close();
      await dev.close();
    }
  });

  it('a wrong answer id, an unsolicited frame, garbage, an oversized length, silence: a clear error each, no hang', async () => {
    const cases: Array<{ answer: Answer; code: string; first?: boolean }> = [
      { answer: (req) => okAnswer({ ...req, id: req.id + 1 }, { now: 1, offsetMs: 0 }), code: 'E_PROTOCOL' },
      // The first answer is a good one; the second, answering nothing, ends the link.
      { answer: (req) => Buffer.concat([encodeFrame(okAnswer(req, { now: 1, offsetMs: 0 })), encodeFrame(okAnswer(req, { now: 2, offsetMs: 0 }))]), code: 'E_PROTOCOL', first: true },
      { answer: () => Buffer.from([0, 0, 0, 1, 0xc1]), code: 'E_PROTOCOL' },
      { answer: () => Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), code: 'E_PROTOCOL' },
      { answer: () => Buffer.from([0, 0, 0, 9, 1]), code: 'E_TIMEOUT' },
      { answer: () => null, code: 'E_TIMEOUT' },
      { answer: (req) => okAnswer(req, { now: 'demain', offsetMs: 0 }), code: 'E_PROTOCOL' },
    ];
    for (const k of cases) {
      const dev = await startFakeDevice(k.answer);
      const dir = fresh();
      pinned(dir, dev.fingerprint);
      const c = await TlaClient.connect({ dir, device: { host: '127.0.0.1', port: dev.port }, timeoutMs: 300 });
      try {
        if (k.first) expect((await c.getDate()).now).toBe(1);
        await expect(c.getDate(), `case ${cases.indexOf(k)}`).rejects.toMatchObject({ code: k.code });
      } finally {
        c.close();
        await dev.close();
      }
    }
  });
});

describe('review: the computer identity survives a crash while it is made', () => {
  it('a key written without its certificate (a crash in between): the next start makes a usable identity', async () => {
    const d = tempTlaDir();
    try {
      const dir = join(d.dir, 'poste');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const half = await createSelfSignedIdentity('di-tla poste');
      writeFileSync(join(dir, KEY_FILE), half.keyPem, { mode: 0o600 });
      const id = await loadOrCreateIdentity(dir);
      expect(id.fingerprint).toMatch(/^[0-9a-f]{64}$/);
      expect(existsSync(join(dir, CERT_FILE))).toBe(true);
      // Key and certificate belong together: a TLS context accepts them.
      expect(() => tls.createSecureContext({ key: id.keyPem, cert: id.certPem })).not.toThrow();
      // And the same identity comes back next time.
      expect((await loadOrCreateIdentity(dir)).fingerprint).toBe(id.fingerprint);
      expect(readFileSync(join(dir, CERT_FILE), 'utf8')).toBe(id.certPem);
    } finally {
      d.remove();
    }
  });

  it('two first starts at once end with one identity, key and certificate matching', async () => {
    const d = tempTlaDir();
    try {
      const dir = join(d.dir, 'poste');
      const [a, b2] = await Promise.all([loadOrCreateIdentity(dir), loadOrCreateIdentity(dir)]);
      expect(a.fingerprint).toBe(b2.fingerprint);
      expect(() => tls.createSecureContext({ key: a.keyPem, cert: a.certPem })).not.toThrow();
      rmSync(join(dir, CERT_FILE));
      // The certificate file lost (or never written): the identity is the same, rewritten.
      expect((await loadOrCreateIdentity(dir)).fingerprint).toBe(a.fingerprint);
    } finally {
      d.remove();
    }
  });
});

describe('review: docs/TLA.md library example, as written', () => {
  let b: Billing;
  const host = tempTlaDir();
  let day: Awaited<ReturnType<typeof visitDay>>;

  beforeAll(async () => {
    b = await bootTlaBilling();
    day = await visitDay(b);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    host.remove();
  });

  it('connect (forPairing), pair, load the day, sync, then transmit signed by the CPS', async () => {
    hostLinkOf(b.dk).beginPairing();
    const screen = await readPairingScreen(b.dk);
    const client = await TlaClient.connect({ dir: host.dir, device: hostLinkOf(b.dk).address(), forPairing: true });
    await client.pair(screen.code, 'Poste accueil');
    await client.loadDayData(sampleDay());
    const report = await syncDevice(client);
    client.close();
    expect(report.erase.invoices.erased).toBe(day.refs.length);

    const store = new TlaStore(host.dir);
    const sent = await transmitStored(store, {
      cps: () => openCps({ profile: 'cps-medecin-generaliste', pin: '1234' }),
      amo: { host: '127.0.0.1', port: b.amo.smtpPort },
    });
    store.close();
    expect(sent.errors).toEqual([]);
    await b.amo.whenIdle();
    expect(b.amo.stats()).toMatchObject({ invoicesAccepted: day.refs.length, invoicesRejected: 0 });
  });
});

describe('review: di tla pair without the code on the command line', { timeout: 120_000 }, () => {
  const root = repoRoot();
  let b: Billing;
  const host = tempTlaDir();
  const di = (args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> =>
    new Promise((done) => {
      execFile(process.execPath, ['--no-node-snapshot', join(root, 'dist', 'cli.js'), ...args], { cwd: root, timeout: 60_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number | undefined) : 0;
        done({ status: typeof code === 'number' ? code : 1, stdout, stderr });
      });
    });

  beforeAll(async () => {
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root });
    b = await bootTlaBilling();
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    host.remove();
  });

  it('no --code and no terminal: exit 2 saying where to give it; DI_TLA_PAIR_CODE pairs', async () => {
    const a = hostLinkOf(b.dk).address();
    const device = `${a.host}:${a.port}`;
    const none = await di(['tla', 'pair', '--dir', host.dir, '--device', device]);
    expect(none.status, none.stderr).toBe(2);
    expect(none.stderr).toContain('DI_TLA_PAIR_CODE');
    hostLinkOf(b.dk).beginPairing();
    const screen = await readPairingScreen(b.dk);
    const r = await di(['tla', 'pair', '--name', 'Poste accueil', '--dir', host.dir, '--device', device], { DI_TLA_PAIR_CODE: screen.code });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(screen.fingerprint);
    expect(hostLinkOf(b.dk).paired()).toHaveLength(1);
  });
});
