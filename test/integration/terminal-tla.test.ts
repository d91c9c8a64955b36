/**
 * The web terminal's device menu (docs/TERMINAL.md, issue 8): the network cable and the TLA host
 * link, driven over the websocket as the page drives them. The real SESAM-Vitale applet under its
 * real policy with the AMO emulator on loopback (test/support/billing.ts), the kernel's host link
 * on an ephemeral loopback port.
 *
 * Proves: the new page messages are checked strictly (unknown fields, wrong types, a malformed
 * fingerprint refused with E_FIELD, the connection still usable); « Associer un ordinateur » makes
 * the KERNEL draw a code on the device screen, and that code reaches the page only inside the
 * device screen (`view`), never in a result, the `device` message or the audit; a computer pairing
 * with that code (TLS, proofs as platform/wire/hostlink.ts says) shows in « Ordinateurs associés »
 * on every page, and « Oublier » unpairs it (its next request is refused E_UNPAIRED); the network
 * toggle unplugs the device (kernel.network.online false, the SMTP transport refuses with E_NET
 * without connecting, the AMO receives nothing) and plugs it back.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { bootBilling, todayIso, CONTEXT, type Billing } from '../support/billing.js';
import { startTerminalServer, type TerminalServer } from '../../emulator/terminal/server.js';
import { parseClientMessage } from '../../emulator/terminal/protocol.js';
import { createSelfSignedIdentity, type SelfSignedIdentity } from '../../platform/kernel/hostlink/identity.js';
import { certFingerprint, computePairProofs } from '../../platform/kernel/hostlink/proof.js';
import { PAIRING_SCREEN_OWNER } from '../../platform/kernel/hostlink/service.js';
import { encodeFrame, FrameDecoder } from '../../platform/wire/frames.js';
import { HOSTLINK_MAX_FRAME_BYTES, type HostLinkValue } from '../../platform/wire/hostlink.js';

type Msg = Record<string, any>;

const FP = 'ab'.repeat(32);

describe('device menu messages (parseClientMessage)', () => {
  const parse = (m: unknown) => {
    const s = JSON.stringify(m);
    return parseClientMessage(s, Buffer.byteLength(s));
  };

  it('accepts the well-formed ones, with or without an id', () => {
    expect(parse({ type: 'pair.begin' })).toEqual({ ok: true, message: { type: 'pair.begin' } });
    expect(parse({ type: 'pair.begin', id: 'p1' })).toEqual({ ok: true, message: { type: 'pair.begin', id: 'p1' } });
    expect(parse({ type: 'pair.cancel', id: 'p2' })).toEqual({ ok: true, message: { type: 'pair.cancel', id: 'p2' } });
    expect(parse({ type: 'unpair', fingerprint: FP })).toEqual({ ok: true, message: { type: 'unpair', fingerprint: FP } });
    expect(parse({ type: 'network', online: false, id: 'n' })).toEqual({ ok: true, message: { type: 'network', online: false, id: 'n' } });
    expect(parse({ type: 'network', online: true })).toEqual({ ok: true, message: { type: 'network', online: true } });
  });

  it('refuses malformed ones with E_FIELD, echoing a well-formed id, and names what is wrong', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ type: 'pair.begin', code: '12345678', id: 'x' }, /Champ inconnu « code »/],
      [{ type: 'pair.cancel', force: true, id: 'x' }, /Champ inconnu « force »/],
      [{ type: 'unpair', id: 'x' }, /« fingerprint » manquant/],
      [{ type: 'unpair', fingerprint: 'ab12', id: 'x' }, /Empreinte invalide/],
      [{ type: 'unpair', fingerprint: FP.toUpperCase(), id: 'x' }, /minuscules/],
      [{ type: 'unpair', fingerprint: `${FP}00`, id: 'x' }, /Empreinte invalide/],
      [{ type: 'unpair', fingerprint: 42, id: 'x' }, /Empreinte invalide/],
      [{ type: 'network', id: 'x' }, /« online » manquant/],
      [{ type: 'network', online: 'false', id: 'x' }, /true \(connecté\) ou false \(coupé\)/],
      [{ type: 'network', online: 0, id: 'x' }, /« online »/],
      [{ type: 'network', online: null, id: 'x' }, /« online »/],
    ];
    for (const [m, text] of cases) {
      const r = parse(m);
      expect(r.ok, JSON.stringify(m)).toBe(false);
      if (r.ok) continue;
      expect(r.code).toBe('E_FIELD');
      expect(r.id).toBe('x');
      expect(r.message).toMatch(text);
    }
    const badId = parse({ type: 'network', online: true, id: 'a b' });
    expect(badId).toMatchObject({ ok: false, code: 'E_FIELD' });
    expect(parse({ type: 'pair.start' })).toMatchObject({ ok: false, code: 'E_TYPE' });
  });
});

// ---- websocket client (as the page) ---------------------------------------------------------------

interface Client {
  ws: WebSocket;
  messages: Msg[];
  raw: string[];
  send(m: unknown): void;
  mark(): number;
  waitFor(pred: (m: Msg) => boolean, what: string, from?: number): Promise<Msg>;
  ask(m: Record<string, unknown>): Promise<Msg>;
}

let idSeq = 0;

function openPage(url: string): Promise<Client> {
  const u = new URL(url);
  const ws = new WebSocket(`ws://${u.host}/ws${u.search}`);
  const messages: Msg[] = [];
  const raw: string[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    const s = data.toString();
    raw.push(s);
    messages.push(JSON.parse(s) as Msg);
    for (const w of [...waiters]) w();
  });
  const client: Client = {
    ws,
    messages,
    raw,
    send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
    mark: () => messages.length,
    waitFor: (pred, what, from = 0) =>
      new Promise((resolve, reject) => {
        const check = () => {
          for (let i = from; i < messages.length; i++) {
            if (pred(messages[i]!)) {
              waiters.delete(check);
              clearTimeout(timer);
              resolve(messages[i]!);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; last messages: ${raw.slice(-5).join('\n')}`));
        }, 20_000);
        waiters.add(check);
        check();
      }),
    ask: (m) => {
      const id = `t${++idSeq}`;
      const from = messages.length;
      client.send({ ...m, id });
      return client.waitFor((x) => (x.type === 'result' || x.type === 'error') && x.id === id, `answer to ${String(m.type)} ${id}`, from);
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('error', reject);
  });
}


// ---- a practice computer, minimal: TLS with its own certificate, one request per connection -----

interface HostAnswer {
  answer: Msg;
  deviceFingerprint: string;
}

function hostRequest(address: { host: string; port: number }, id: SelfSignedIdentity, op: string, args: Record<string, HostLinkValue>): Promise<HostAnswer> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = tlsConnect({
      host: address.host,
      port: address.port,
      key: id.keyPem,
      cert: id.certPem,
      minVersion: 'TLSv1.3',
      // Self-signed on both ends: the device is recognised by its fingerprint, checked below.
      rejectUnauthorized: false,
    });
    const decoder = new FrameDecoder(HOSTLINK_MAX_FRAME_BYTES);
    let deviceFingerprint = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${op}`));
    }, 20_000);
    socket.once('secureConnect', () => {
      const peer = socket.getPeerX509Certificate();
      deviceFingerprint = peer ? certFingerprint(new Uint8Array(peer.raw)) : '';
      socket.write(encodeFrame({ v: 1, id: 1, op, args }, HOSTLINK_MAX_FRAME_BYTES));
    });
    socket.on('data', (chunk: Buffer) => {
      for (const m of decoder.push(chunk)) {
        clearTimeout(timer);
        socket.end();
        resolve({ answer: m as Msg, deviceFingerprint });
        return;
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The pairing code, as the practitioner reads it off the device screen ("1234 5678"). */
function codeOnScreen(lines: string[]): string | null {
  for (const l of lines) {
    const m = /\b(\d{4} \d{4})\b/.exec(l);
    if (m) return m[1]!;
  }
  return null;
}

describe('web terminal: network cable and host link (websocket client, no browser)', () => {
  let b: Billing;
  let server: TerminalServer;
  let page: Client;
  let other: Client;
  let host: SelfSignedIdentity;
  let hostFp: string;

  beforeAll(async () => {
    [b, host] = await Promise.all([bootBilling({ config: { hostLink: { enabled: true, host: '127.0.0.1', port: 0 } } }), createSelfSignedIdentity('Cabinet test')]);
    hostFp = certFingerprint(host.certDer);
    server = await startTerminalServer({ kernel: b.dk.kernel, amo: b.amo, port: 0, pollMs: 200 });
    page = await openPage(server.url);
    other = await openPage(server.url);
  }, 60_000);
  afterAll(async () => {
    page?.ws.close();
    other?.ws.close();
    b?.dk.kernel.network.setOnline(true);
    await server?.close();
    await b?.close();
  });

  it('sends the device state on connect: cable plugged in, the host link address and identity, nobody paired', async () => {
    const d = await page.waitFor((m) => m.type === 'device', 'device');
    const hl = b.dk.kernel.hostLink!;
    expect(hl).not.toBeNull();
    expect(d.online).toBe(true);
    expect(d.hostLink.address).toEqual({ host: '127.0.0.1', port: hl.address().port });
    expect(d.hostLink.address.port).toBeGreaterThan(0);
    expect(d.hostLink.deviceId).toBe(hl.deviceId);
    expect(d.hostLink.deviceId).toMatch(/^DI-[0-9A-F]{12}$/);
    expect(d.hostLink.fingerprint).toBe(hl.fingerprint.slice(0, 16).toUpperCase().match(/.{4}/g)!.join(' '));
    expect(d.hostLink.paired).toEqual([]);
    expect(d.hostLink.pairingUntil).toBeNull();
    // /api/state carries it too.
    const token = new URL(server.url).searchParams.get('t')!;
    const st = (await (await fetch(`http://127.0.0.1:${server.port}/api/state?t=${token}`)).json()) as Msg;
    expect(st.device).toMatchObject({ type: 'device', online: true, hostLink: { deviceId: hl.deviceId } });
  });

  it('malformed device-menu messages are answered with errors and change nothing', async () => {
    expect(await page.ask({ type: 'network', online: 'off' })).toMatchObject({ type: 'error', code: 'E_FIELD' });
    expect(await page.ask({ type: 'unpair', fingerprint: 'DI-123' })).toMatchObject({ type: 'error', code: 'E_FIELD' });
    expect(await page.ask({ type: 'pair.begin', show: 'page' })).toMatchObject({ type: 'error', code: 'E_FIELD' });
    expect(b.dk.kernel.network.online).toBe(true);
    expect(b.dk.kernel.hostLink!.pairingUntil()).toBeNull();
    // No pairing code was drawn (the screen itself may change meanwhile: the day view's status call).
    expect(b.dk.kernel.terminal.current().screen.title).not.toBe('Association d’un ordinateur');
    // Well formed, but nobody is paired with that fingerprint.
    expect(await page.ask({ type: 'unpair', fingerprint: FP })).toMatchObject({ type: 'result', ok: false, error: { code: 'E_NOT_PAIRED' } });
  });

  it('« Associer un ordinateur »: the kernel draws the code on the device screen; the page gets it only as that screen', async () => {
    const from = page.mark();
    const fromOther = other.mark();
    const r = await page.ask({ type: 'pair.begin' });
    expect(r).toMatchObject({ type: 'result', ok: true });
    expect(Object.keys(r.result)).toEqual(['expiresAt']);
    // The kernel takes the screen as soon as no domain holds it (here at once).
    const shown = await page.waitFor((m) => m.type === 'view' && codeOnScreen(m.screen.lines) !== null, 'a code on the device screen', from);
    const screen = b.dk.kernel.terminal.current();
    const code = codeOnScreen(screen.screen.lines);
    expect(code, JSON.stringify(screen)).toBe(codeOnScreen(shown.screen.lines));
    // Drawn by the kernel, not by an applet.
    expect(screen.domain).toBe(PAIRING_SCREEN_OWNER);
    expect(screen.screen.title).toBe('Association d’un ordinateur');
    const hl = b.dk.kernel.hostLink!;
    expect(screen.screen.lines.join('\n')).toContain(hl.fingerprint.slice(0, 16).toUpperCase().match(/.{4}/g)!.join(' '));
    // Every page sees the device screen with the code, and the link waiting for it.
    for (const [c, f] of [[page, from], [other, fromOther]] as const) {
      await c.waitFor((m) => m.type === 'view' && codeOnScreen(m.screen.lines) === code, 'the code on the device screen', f);
      const d = await c.waitFor((m) => m.type === 'device' && m.hostLink?.pairingUntil === r.result.expiresAt, 'pairing under way', f);
      expect(d.hostLink.paired).toEqual([]);
    }
    // Nowhere else: not in the result, the device message, the audit or the session (with or without its space).
    const digits = code!.replace(' ', '');
    for (const c of [page, other]) {
      for (const s of c.raw.slice(c === page ? from : fromOther)) {
        if ((JSON.parse(s) as Msg).type === 'view') continue;
        expect(s).not.toContain(code!);
        expect(s).not.toContain(digits);
      }
    }
  });

  it('a computer pairs with that code and shows in « Ordinateurs associés »; « Oublier » unpairs it', async () => {
    const hl = b.dk.kernel.hostLink!;
    const code = codeOnScreen(b.dk.kernel.terminal.current().screen.lines)!;
    const { hostProof } = await computePairProofs(code, hl.fingerprint, hostFp);
    const from = other.mark();
    const paired = await hostRequest(hl.address(), host, 'pair', { hostName: 'Poste accueil', hostProof });
    expect(paired.answer, JSON.stringify(paired.answer)).toMatchObject({ v: 1, id: 1, ok: true, result: { deviceId: hl.deviceId } });
    expect(paired.deviceFingerprint).toBe(hl.fingerprint);
    const d = await other.waitFor((m) => m.type === 'device' && m.hostLink?.paired.length === 1, 'paired computer listed', from);
    expect(d.hostLink.paired[0]).toMatchObject({ fingerprint: hostFp, name: 'Poste accueil', short: hostFp.slice(0, 16).toUpperCase().match(/.{4}/g)!.join(' ') });
    expect(d.hostLink.pairingUntil).toBeNull(); // the code is spent
    // Paired: served.
    expect((await hostRequest(hl.address(), host, 'identify', {})).answer).toMatchObject({ ok: true, result: { deviceId: hl.deviceId } });

    const fromPage = page.mark();
    expect(await page.ask({ type: 'unpair', fingerprint: hostFp })).toMatchObject({ type: 'result', ok: true, result: { fingerprint: hostFp } });
    await page.waitFor((m) => m.type === 'device' && m.hostLink?.paired.length === 0, 'list empty again', fromPage);
    expect(hl.paired()).toEqual([]);
    expect((await hostRequest(hl.address(), host, 'identify', {})).answer).toMatchObject({ ok: false, error: { code: 'E_UNPAIRED' } });
    expect(await page.ask({ type: 'unpair', fingerprint: hostFp })).toMatchObject({ ok: false, error: { code: 'E_NOT_PAIRED' } });
  });

  it('« Annuler l’association » takes the code off: a computer trying it is refused', async () => {
    const hl = b.dk.kernel.hostLink!;
    const shownFrom = page.mark();
    expect(await page.ask({ type: 'pair.begin' })).toMatchObject({ ok: true });
    const shown = await page.waitFor((m) => m.type === 'view' && codeOnScreen(m.screen.lines) !== null, 'a new code on the device screen', shownFrom);
    const code = codeOnScreen(shown.screen.lines)!;
    const from = page.mark();
    expect(await page.ask({ type: 'pair.cancel' })).toMatchObject({ ok: true, result: { cancelled: true } });
    await page.waitFor((m) => m.type === 'device' && m.hostLink?.pairingUntil === null, 'pairing over', from);
    const { hostProof } = await computePairProofs(code, hl.fingerprint, hostFp);
    expect((await hostRequest(hl.address(), host, 'pair', { hostName: 'Poste accueil', hostProof })).answer).toMatchObject({ ok: false, error: { code: 'E_PAIRING' } });
    expect(hl.paired()).toEqual([]);
  });

  it('« Réseau : coupé »: kernel.network.online is false, the SMTP transport refuses with E_NET, nothing reaches the AMO; plugged back in', async () => {
    const k = b.dk.kernel;
    const from = other.mark();
    expect(await page.ask({ type: 'network', online: false })).toMatchObject({ type: 'result', ok: true, result: { online: false } });
    expect(k.network.online).toBe(false);
    await other.waitFor((m) => m.type === 'device' && m.online === false, 'cable unplugged on the other page', from);
    await other.waitFor((m) => m.type === 'audit' && m.entries.some((e: Msg) => e.event === 'network.offline'), 'the unplugging audited', from);

    // The kernel's SMTP transport, asked directly with a well-formed mail: E_NET at once.
    const endpoint = [...k.policies.values()].flatMap((p) => p.network.endpoints).find((e) => e.kind === 'smtp')!;
    const mail = { type: 'mail', from: 'cabinet@example.test', to: ['amo@example.test'], subject: 'essai', messageId: '<essai@example.test>', text: 'essai', attachments: [] };
    const smtp = k.transports.get('smtp')!;
    await expect(smtp.send(endpoint, mail, new AbortController().signal)).rejects.toMatchObject({ code: 'E_NET', message: expect.stringContaining('hors réseau') });

    // Through the applet: an invoice made offline, « Transmettre » sends nothing.
    const received = b.amo.stats().filesReceived;
    await b.insertCps(0, 'cps-medecin-generaliste');
    await b.insertVitale(1, 'vitale-assure-seul');
    const made = await page.ask({ type: 'action', domain: 'sesam-vitale', action: 'fse.create', payload: { acts: [{ date: todayIso(), code: 'G' }], context: CONTEXT } });
    expect(made.result, JSON.stringify(made)).toMatchObject({ ok: true });
    const offline = await page.ask({ type: 'action', domain: 'sesam-vitale', action: 'transmit', payload: {} });
    expect(JSON.stringify(offline.result)).toContain('E_NET');
    expect(b.amo.stats().filesReceived).toBe(received);

    // Plugged back in: the transport reaches the AMO again.
    const back = other.mark();
    expect(await page.ask({ type: 'network', online: true })).toMatchObject({ ok: true, result: { online: true } });
    expect(k.network.online).toBe(true);
    await other.waitFor((m) => m.type === 'device' && m.online === true, 'cable back', back);
    // (force: the file failed a moment ago; without it the applet waits for its back-off.)
    const online = await page.ask({ type: 'action', domain: 'sesam-vitale', action: 'transmit', payload: { force: true } });
    expect(online.result, JSON.stringify(online)).toMatchObject({ ok: true });
    await b.amo.whenIdle();
    expect(b.amo.stats().filesReceived).toBe(received + 1);
  });
});
