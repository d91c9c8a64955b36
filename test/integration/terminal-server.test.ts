/**
 * The web terminal's server driven by a websocket client, as the page drives it (no browser): the
 * real SESAM-Vitale applet under its real policy, a payment stand-in and the AMO emulator on loopback
 * (test/support/billing.ts). Proves: the token, Origin and Host refusals; a CPS inserted by message
 * with the situation answered and the PIN typed key by key, the page seeing only the digit count;
 * action results (and policy refusals); a double transmit sending one request; the AMO and day views;
 * malformed messages answered with errors while the server keeps serving; a new connection (a
 * reload) getting the whole current state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { bootBilling, todayIso, CONTEXT, type Billing } from '../support/billing.js';
import { startTerminalServer, type TerminalServer } from '../../emulator/terminal/server.js';
import { MAX_MESSAGE_BYTES, MAX_FRAME_BYTES } from '../../emulator/terminal/protocol.js';

type Msg = Record<string, any>;

interface Client {
  ws: WebSocket;
  messages: Msg[];
  raw: string[];
  closed: Promise<{ code: number; reason: string }>;
  send(m: unknown): void;
  /** The first message at index >= from matching pred. */
  waitFor(pred: (m: Msg) => boolean, what: string, from?: number, timeoutMs?: number): Promise<Msg>;
  mark(): number;
  /** Sends a message with an id and waits for the result or error carrying that id. */
  ask(m: Record<string, unknown>): Promise<Msg>;
}

let idSeq = 0;

function connect(url: string, opts: { origin?: string; path?: string } = {}): Promise<Client> {
  const u = new URL(url);
  const wsUrl = `ws://${u.host}${opts.path ?? `/ws${u.search}`}`;
  const ws = new WebSocket(wsUrl, opts.origin ? { origin: opts.origin } : {});
  const messages: Msg[] = [];
  const raw: string[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    const s = data.toString();
    raw.push(s);
    messages.push(JSON.parse(s) as Msg);
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const client: Client = {
    ws,
    messages,
    raw,
    closed,
    send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
    mark: () => messages.length,
    waitFor: (pred, what, from = 0, timeoutMs = 20_000) =>
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
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    ask: (m) => {
      const id = `t${++idSeq}`;
      const from = messages.length;
      client.send({ ...m, id });
      return client.waitFor((x) => (x.type === 'result' || x.type === 'error') && x.id === id, `answer to ${String(m.type)} ${id}`, from, 60_000);
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('error', reject);
  });
}

const lastOf = (c: Client, type: string): Msg | undefined => [...c.messages].reverse().find((m) => m.type === type);
const screenText = (v: Msg): string => [v.screen.title, ...v.screen.lines].join(' | ');

describe('web terminal server (websocket client, no browser)', () => {
  let b: Billing;
  let server: TerminalServer;
  let page: Client;
  const today = todayIso();

  beforeAll(async () => {
    b = await bootBilling();
    server = await startTerminalServer({ kernel: b.dk.kernel, amo: b.amo, port: 0, pollMs: 200 });
  }, 60_000);
  afterAll(async () => {
    page?.ws.close();
    await server?.close();
    await b?.close();
  });

  it('serves /health without a token, the page only with it, and refuses a foreign Origin or Host', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?t=[A-Za-z0-9_-]{32}$/);
    const base = `http://127.0.0.1:${server.port}`;
    const token = new URL(server.url).searchParams.get('t')!;
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect((await health.text()).trim()).toBe('ok');
    expect((await fetch(`${base}/`)).status).toBe(401);
    expect((await fetch(`${base}/?t=${'x'.repeat(token.length)}`)).status).toBe(401);
    expect((await fetch(`${base}/api/state`)).status).toBe(401);
    const ok = await fetch(server.url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(ok.headers.get('x-frame-options')).toBe('DENY');
    const html = await ok.text();
    expect(html).toContain('data-testid="screen"');
    // No external asset: every src/href is relative.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect((await fetch(`${base}/app.js`)).status).toBe(200);
    const state = await fetch(`${base}/api/state?t=${token}`);
    expect(state.status).toBe(200);
    expect(((await state.json()) as Msg).hello.slotCount).toBe(3);
    // A page elsewhere (fetch with its Origin) and a rebound DNS name (foreign Host) are refused.
    expect((await fetch(server.url, { headers: { origin: 'http://evil.example' } })).status).toBe(403);
    const rebound = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request({ host: '127.0.0.1', port: server.port, path: new URL(server.url).search ? `/${new URL(server.url).search}` : '/', headers: { host: `evil.example:${server.port}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    expect(rebound).toBe(403);
  });

  it('refuses a websocket without the token (4401), with a wrong one (4401) and from a foreign Origin (4403), telling it nothing', async () => {
    const u = new URL(server.url);
    const none = await connect(server.url, { path: '/ws' });
    expect(await none.closed).toMatchObject({ code: 4401 });
    const wrong = await connect(server.url, { path: `/ws?t=${'A'.repeat(32)}` });
    expect(await wrong.closed).toMatchObject({ code: 4401 });
    const foreign = await connect(server.url, { origin: 'https://evil.example' });
    expect(await foreign.closed).toMatchObject({ code: 4403 });
    // Same token, the page's own origin: accepted.
    const own = await connect(server.url, { origin: `http://127.0.0.1:${u.port}` });
    await own.waitFor((m) => m.type === 'hello', 'hello');
    own.ws.close();
    for (const c of [none, wrong, foreign]) expect(c.messages).toEqual([]);
  });

  it('sends the whole state on connect', async () => {
    page = await connect(server.url);
    const hello = await page.waitFor((m) => m.type === 'hello', 'hello');
    expect(hello.slotCount).toBe(3);
    expect(hello.profiles.map((p: Msg) => p.name)).toEqual(expect.arrayContaining(['cps-medecin-generaliste', 'vitale-assure-seul', 'emv-online']));
    expect(hello.domains.find((d: Msg) => d.domain === 'sesam-vitale').actions).toContain('fse.create');
    for (const t of ['view', 'slots', 'audit', 'amo', 'day', 'session', 'device']) await page.waitFor((m) => m.type === t, t);
    // The kernel's defaults: cable plugged in, no host link (di start turns it on).
    expect(lastOf(page, 'device')).toEqual({ type: 'device', online: true, hostLink: null });
    expect(lastOf(page, 'slots')!.slots).toEqual([
      { slot: 0, present: false, profile: null },
      { slot: 1, present: false, profile: null },
      { slot: 2, present: false, profile: null },
    ]);
    expect(lastOf(page, 'audit')!.entries.some((e: Msg) => e.event === 'kernel.ready')).toBe(true);
  });

  it('inserts the CPS by message: the situation question, then the PIN entry shows a digit count, never a digit', async () => {
    const from = page.mark();
    const ins = await page.ask({ type: 'insert', slot: 0, profile: 'cps-medecin-generaliste' });
    expect(ins).toMatchObject({ type: 'result', ok: true, result: { slot: 0, profile: 'cps-medecin-generaliste' } });
    await page.waitFor((m) => m.type === 'slots' && m.slots[0].cardClass === 'cps' && m.slots[0].domain === 'sesam-vitale' && m.slots[0].profile === 'cps-medecin-generaliste', 'CPS routed', from);
    // The CPS has two situations: the applet asks which.
    const q = await page.waitFor((m) => m.type === 'view' && m.question !== null, 'situation question', from);
    expect(q.question.text).toContain('situation');
    expect(q.question.choices.length).toBe(2);
    expect(await page.ask({ type: 'answer', choice: 0 })).toMatchObject({ ok: true });
    const pin0 = await page.waitFor((m) => m.type === 'view' && m.pinEntry !== null, 'PIN entry', from);
    expect(pin0.pinEntry.digits).toBe(0);
    const pinFrom = page.mark();
    for (const key of ['1', '2', '3', '4', 'CORR', '4']) expect(await page.ask({ type: 'key', key })).toMatchObject({ ok: true, result: { accepted: true } });
    await page.waitFor((m) => m.type === 'view' && m.pinEntry?.digits === 4 && page.messages.indexOf(m) > pinFrom + 4, 'four digits again', pinFrom);
    const counts = page.messages.slice(pinFrom).filter((m) => m.type === 'view' && m.pinEntry).map((m) => m.pinEntry.digits);
    expect(counts).toEqual([1, 2, 3, 4, 3, 4]);
    for (const m of page.messages.slice(from).filter((x) => x.type === 'view' && x.pinEntry)) expect(Object.keys(m.pinEntry).sort()).toEqual(['digits', 'prompt']);
    expect(await page.ask({ type: 'key', key: 'OK' })).toMatchObject({ ok: true });
    const done = await page.waitFor((m) => m.type === 'view' && m.pinEntry === null && /Situation/.test(screenText(m)) && page.messages.indexOf(m) > pinFrom, 'CPS ready screen', pinFrom);
    expect(screenText(done)).toContain('FICTIF');
    // The PIN never crossed: no message since the insert carries the digits typed.
    expect(page.raw.slice(from).join('\n')).not.toMatch(/"(digit|key|pin)s?":\s*"?[0-9]{4}/i);
    // An action result: the session as the applet sees it (the VERIFY ends just after the entry).
    let st: Msg = {};
    for (let i = 0; i < 200; i++) {
      st = await page.ask({ type: 'action', domain: 'sesam-vitale', action: 'session.state', payload: {} });
      if (st.result?.cps?.pinVerified === true) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(st).toMatchObject({ type: 'result', ok: true, result: { ok: true, cps: { pinVerified: true, situation: 0 } } });
  });

  it('creates an FSE by action; the day view follows without the deadlines screen replacing the device screen', async () => {
    const from = page.mark();
    expect(await page.ask({ type: 'insert', slot: 1, profile: 'vitale-assure-seul' })).toMatchObject({ ok: true });
    await b.waitState((s) => s.vitale !== undefined && s.vitale !== null, 'Vitale read');
    const r = await page.ask({ type: 'action', domain: 'sesam-vitale', action: 'fse.create', payload: { acts: [{ date: today, code: 'G' }], context: CONTEXT } });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.result).toMatchObject({ ok: true, invoiceNo: 1 });
    await page.waitFor((m) => m.type === 'session' && m.lastInvoice?.invoiceNo === 1, 'lastInvoice', from);
    const day = await page.waitFor((m) => m.type === 'day' && m.status?.byState?.secured === 1, 'day with one secured FSE', from);
    expect(day.available).toBe(true);
    expect(day.status).toMatchObject({ ok: true, today, toSecure: [], late: [] });
    // The automatic status call put the practitioner's screen back.
    expect(screenText(b.dk.kernel.terminal.current() as unknown as Msg)).toContain('FSE sécurisée n° 1');
    expect(screenText(lastOf(page, 'view')!)).toContain('FSE sécurisée n° 1');
  });

  it('refuses, with the kernel\'s reason, an action the policy does not list or a domain that does not run', async () => {
    const notListed = await page.ask({ type: 'action', domain: 'sesam-vitale', action: 'drop.everything', payload: {} });
    expect(notListed).toMatchObject({ type: 'result', ok: false, error: { code: 'E_POLICY' } });
    const noDomain = await page.ask({ type: 'action', domain: 'nowhere', action: 'status', payload: {} });
    expect(noDomain).toMatchObject({ type: 'result', ok: false, error: { code: 'E_UNAVAILABLE' } });
    // The applet's own refusal comes back as its result.
    const bad = await page.ask({ type: 'action', domain: 'sesam-vitale', action: 'fse.secure', payload: { invoiceNo: 'un' } });
    expect(bad).toMatchObject({ ok: true, result: { ok: false, error: { code: 'E_PAYLOAD' } } });
  });

  it('a double click on "Transmettre" sends one request; the AMO view shows the file, then the ARL after the returns', async () => {
    const from = page.mark();
    const [a, c] = await Promise.all([page.ask({ type: 'action', domain: 'sesam-vitale', action: 'transmit', payload: {} }), page.ask({ type: 'action', domain: 'sesam-vitale', action: 'transmit', payload: {} })]);
    const answers = [a, c];
    expect(answers.filter((x) => x.ok === true)).toHaveLength(1);
    expect(answers.filter((x) => x.ok === false && x.error.code === 'E_BUSY')).toHaveLength(1);
    expect(answers.find((x) => x.ok)!.result).toMatchObject({ ok: true, lotsBuilt: 1 });
    await page.waitFor((m) => m.type === 'session' && m.inflight.some((x: Msg) => x.action === 'transmit'), 'transmit in flight', from);
    const amo = await page.waitFor((m) => m.type === 'amo' && m.files.length === 1 && m.stats.arlSent >= 1, 'AMO received the file', from);
    expect(amo.files[0].invoices).toEqual([expect.objectContaining({ invoiceNo: 1, status: 'accepted' })]);
    expect(amo.files[0].lots).toEqual([expect.objectContaining({ status: 'positive' })]);
    expect(b.amo.stats().filesReceived).toBe(1);
    const ret = await page.ask({ type: 'action', domain: 'sesam-vitale', action: 'returns.fetch', payload: {} });
    expect(ret.result).toMatchObject({ ok: true, arl: 1, rejects: [] });
    // The device says so on its screen.
    expect(screenText(lastOf(page, 'view')!)).toContain('ARL positive : lot');
    await page.waitFor((m) => m.type === 'day' && m.status?.byState && m.status.byState.secured === 0 && m.status.byState.sent === 0, 'day after returns', from);
  });

  it('answers malformed messages with errors and keeps serving', async () => {
    const from = page.mark();
    const bad: unknown[] = [
      'not json',
      '[1,2]',
      { nope: 1 },
      { type: 'launch' },
      { type: 'key', key: '1', extra: true },
      { type: 'key', key: 'A' },
      { type: 'answer', choice: -1 },
      { type: 'insert', slot: 'zero', profile: 'cps-medecin-generaliste' },
      { type: 'insert', slot: 0, profile: '../../etc/passwd' },
      { type: 'remove' },
      { type: 'action', domain: 'sesam-vitale', action: 'status', payload: {} },
      { type: 'action', id: 'x', domain: 'sesam-vitale', action: 'status', payload: [1] },
      { type: 'key', key: '1', id: 'bad id with spaces' },
      { type: 'key', key: '1', pad: 'x'.repeat(MAX_MESSAGE_BYTES) },
    ];
    for (const m of bad) page.send(m);
    page.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await page.waitFor(() => page.messages.slice(from).filter((m) => m.type === 'error').length >= bad.length + 1, 'an error per message', from);
    const errors = page.messages.slice(from).filter((m) => m.type === 'error' || (m.type === 'result' && m.ok === false));
    const codes = errors.map((e) => e.code ?? e.error?.code);
    expect(codes).toEqual(['E_JSON', 'E_MESSAGE', 'E_MESSAGE', 'E_TYPE', 'E_FIELD', 'E_FIELD', 'E_FIELD', 'E_FIELD', 'E_FIELD', 'E_FIELD', 'E_FIELD', 'E_FIELD', 'E_FIELD', 'E_TOO_LARGE', 'E_BINARY']);
    for (const e of errors) expect(typeof e.message === 'string' && e.message.length > 0).toBe(true);
    // Semantic refusals from the server.
    expect(await page.ask({ type: 'insert', slot: 0, profile: 'vitale-ald' })).toMatchObject({ ok: false, error: { code: 'E_SLOT_BUSY' } });
    expect(await page.ask({ type: 'insert', slot: 5, profile: 'vitale-ald' })).toMatchObject({ ok: false, error: { code: 'E_SLOT' } });
    expect(await page.ask({ type: 'insert', slot: 1, profile: 'no-such-card' })).toMatchObject({ ok: false, error: { code: 'E_PROFILE' } });
    expect(await page.ask({ type: 'answer', choice: 3 })).toMatchObject({ ok: false, error: { code: 'E_NO_QUESTION' } });
    // A frame above the hard limit closes that connection only.
    const big = await connect(server.url);
    await big.waitFor((m) => m.type === 'hello', 'hello');
    big.ws.send('x'.repeat(MAX_FRAME_BYTES + 1));
    expect((await big.closed).code).toBe(1009);
    // Still serving, on the same connection.
    expect(await page.ask({ type: 'key', key: 'OK' })).toMatchObject({ type: 'result', ok: true, result: { accepted: false } });
    expect(await page.ask({ type: 'action', domain: 'sesam-vitale', action: 'session.state', payload: {} })).toMatchObject({ ok: true, result: { ok: true } });
  });

  it('the device menu without a host link: pairing refused with the reason, the network cable still toggles', async () => {
    for (const type of ['pair.begin', 'pair.cancel']) {
      const r = await page.ask({ type });
      expect(r).toMatchObject({ type: 'result', ok: false, error: { code: 'E_NO_HOSTLINK', message: expect.stringContaining('--no-tla') } });
    }
    expect(await page.ask({ type: 'unpair', fingerprint: 'cd'.repeat(32) })).toMatchObject({ ok: false, error: { code: 'E_NO_HOSTLINK' } });
    // No pairing code was drawn (the screen itself may change meanwhile: the day view's status call).
    expect(b.dk.kernel.terminal.current().screen.title).not.toBe('Association d’un ordinateur');
    const from = page.mark();
    expect(await page.ask({ type: 'network', online: false })).toMatchObject({ ok: true, result: { online: false } });
    expect(b.dk.kernel.network.online).toBe(false);
    await page.waitFor((m) => m.type === 'device' && m.online === false, 'cable unplugged', from);
    expect(await page.ask({ type: 'network', online: true })).toMatchObject({ ok: true, result: { online: true } });
    expect(b.dk.kernel.network.online).toBe(true);
    await page.waitFor((m) => m.type === 'device' && m.online === true, 'cable back', from);
  });

  it('a reload (a new connection) gets the current state; removing a card shows on every page', async () => {
    const reload = await connect(server.url);
    for (const t of ['hello', 'view', 'slots', 'audit', 'amo', 'day', 'session', 'device']) await reload.waitFor((m) => m.type === t, t);
    const view = lastOf(reload, 'view')!;
    const cur = b.dk.kernel.terminal.current();
    expect(view.screen.lines).toEqual(cur.screen.lines);
    expect(view.domain).toBe(cur.domain);
    expect(lastOf(reload, 'slots')!.slots).toEqual([
      { slot: 0, present: true, profile: 'cps-medecin-generaliste', cardClass: 'cps', domain: 'sesam-vitale' },
      { slot: 1, present: true, profile: 'vitale-assure-seul', cardClass: 'vitale', domain: 'sesam-vitale' },
      { slot: 2, present: false, profile: null },
    ]);
    expect(lastOf(reload, 'session')).toMatchObject({ lastInvoice: { invoiceNo: 1 }, inflight: [] });
    // The last action's outcome reaches a page that did not ask for it (here, the page reloaded).
    expect(lastOf(reload, 'session')!.lastOutcome).toMatchObject({ domain: 'sesam-vitale', action: 'session.state', ok: true });
    const other = await page.ask({ type: 'action', domain: 'sesam-vitale', action: 'fse.pay', payload: { invoiceNo: 999 } });
    expect(other).toMatchObject({ ok: true, result: { ok: false } });
    await reload.waitFor((m) => m.type === 'session' && m.lastOutcome?.action === 'fse.pay', 'the other page\'s outcome');
    expect(lastOf(reload, 'session')!.lastOutcome).toMatchObject({ action: 'fse.pay', ok: false, message: expect.stringContaining('999') });
    expect(lastOf(reload, 'amo')!.files).toHaveLength(1);
    expect(lastOf(reload, 'day')!.status.byState['arl-positive'] + lastOf(reload, 'day')!.status.byState.paid).toBe(1);
    expect(lastOf(reload, 'audit')!.entries.length).toBeLessThanOrEqual(50);
    expect(lastOf(reload, 'audit')!.entries.some((e: Msg) => e.event === 'card.offered')).toBe(true);

    const fromA = page.mark();
    const fromB = reload.mark();
    expect(await reload.ask({ type: 'remove', slot: 1 })).toMatchObject({ ok: true });
    const gone = (m: Msg) => m.type === 'slots' && m.slots[1].present === false;
    await page.waitFor(gone, 'slot 1 empty (first page)', fromA);
    await reload.waitFor(gone, 'slot 1 empty (reloaded page)', fromB);
    expect(await reload.ask({ type: 'remove', slot: 1 })).toMatchObject({ ok: false, error: { code: 'E_NO_CARD' } });
    reload.ws.close();
  });
});
