/**
 * The web terminal (docs/TERMINAL.md): the device's face as a page served on loopback. HTTP serves
 * the page and its two assets; a websocket carries the screen, slots, audit, AMO and day views to the
 * page and the practitioner's keys, answers, card moves and actions back to the kernel.
 *
 * Security of a loopback web UI: a random access token per run, in the URL `di start` prints; the
 * websocket and the API refuse a missing or wrong token (401 / close 4401), a foreign Origin (403 /
 * close 4403, against cross-site websocket hijacking) and a foreign Host (403, against DNS
 * rebinding). Bound to 127.0.0.1 only. Every page message is checked (protocol.ts) and answered with
 * an error when refused. PIN digits pass through as keypad presses straight into the kernel's PIN
 * collector (terminal.press) and are kept nowhere here; what goes back to pages is the kernel's
 * TerminalView, which carries only their count. Actions go through kernel.action, which enforces
 * each policy's ui.actions.
 *
 * The device menu (« Associer un ordinateur », « Ordinateurs associés », the network cable) calls the
 * kernel's host link and network services. The pairing code is drawn by the kernel on the device
 * screen and reaches pages only as part of that screen (`view`): no other message carries it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { Kernel } from '../../platform/kernel/kernel.js';
import type { TerminalView } from '../../platform/kernel/terminal.js';
import type { AuditEntry } from '../../platform/kernel/audit.js';
import { repoRoot } from '../../platform/kernel/paths.js';
import type { Amo } from '../amo/server.js';
import { cardProfiles, loadCard } from '../cards/profiles.js';
import { shortFingerprint } from '../../platform/kernel/hostlink/proof.js';
import {
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  parseClientMessage,
  toJson,
  type AuditLine,
  type ClientMessage,
  type DeviceMessage,
  type ProfileInfo,
  type ServerMessage,
  type SlotInfo,
  type ViewMessage,
} from './protocol.js';

export interface TerminalServerOptions {
  kernel: Kernel;
  amo?: Amo | null;
  host?: '127.0.0.1';
  /** 0 = any free port. Default 8080. */
  port?: number;
  /** Card profiles offered on the page (default: every profile). */
  profiles?: string[];
  /** Slow poll of the AMO, audit and day views (ms). Default 2000. */
  pollMs?: number;
}

export interface TerminalServer {
  /** The page's URL, with the access token. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The health domain whose `status` action feeds the day view. */
const HEALTH = 'sesam-vitale';
const AUDIT_KEEP = 50;
const MAX_CLIENTS = 32;
const MAX_BUFFERED = 4 << 20;
const INVOICE_ACTIONS = new Set(['fse.create', 'fse.degraded', 'fse.secure', 'fse.correct']);

const ASSETS: Record<string, { file: string; type: string }> = {
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

function publicDir(): string {
  return join(repoRoot(), 'emulator', 'terminal', 'public');
}

function sameToken(given: string | null, token: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function shortFields(fields: AuditEntry['fields']): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    let s = typeof v === 'string' ? v : JSON.stringify(v);
    if (s === undefined) s = String(v);
    if (s.length > 60) s = `${s.slice(0, 59)}…`;
    parts.push(`${k}=${s}`);
  }
  const all = parts.join(' ');
  return all.length > 200 ? `${all.slice(0, 199)}…` : all;
}

function auditLine(e: AuditEntry): AuditLine {
  return { seq: e.seq, ts: e.ts, event: e.event, domain: e.domain, fields: shortFields(e.fields) };
}

/** Only the fields the page needs, built explicitly: nothing else of the kernel's view leaks. */
function viewMessage(v: TerminalView, foreground: string | null): ViewMessage {
  return {
    type: 'view',
    domain: v.domain,
    foreground,
    screen: { title: v.screen.title ?? '', lines: [...v.screen.lines], keys: [...(v.screen.keys ?? [])] },
    question: v.question ? { title: v.question.title ?? '', text: v.question.text, choices: [...v.question.choices] } : null,
    pinEntry: v.pinEntry ? { prompt: v.pinEntry.prompt, digits: v.pinEntry.digits } : null,
  };
}

function errorText(e: unknown): { code: string; message: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return { code: typeof code === 'string' ? code : 'E_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

export async function startTerminalServer(opts: TerminalServerOptions): Promise<TerminalServer> {
  const { kernel } = opts;
  const amo = opts.amo ?? null;
  const host = opts.host ?? '127.0.0.1';
  if (host !== '127.0.0.1') throw new Error('the web terminal binds 127.0.0.1 only');
  const pollMs = opts.pollMs ?? 2000;
  const token = randomBytes(24).toString('base64url');
  const known = cardProfiles();
  const profiles: ProfileInfo[] = opts.profiles ? opts.profiles.map((n) => known.find((p) => p.name === n)).filter((p): p is ProfileInfo => p !== undefined) : known;
  const profileNames = new Set(profiles.map((p) => p.name));
  const slotCount = kernel.reader.slotCount;
  const hasHealth = kernel.policies.has(HEALTH);
  const assets = new Map(Object.entries(ASSETS).map(([path, a]) => [path, { body: readFileSync(join(publicDir(), a.file)), type: a.type }]));
  const indexHtml = readFileSync(join(publicDir(), 'index.html'));

  let port = 0;
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);

  // ---- state -------------------------------------------------------------------------------------

  const clients = new Set<WebSocket>();
  const last = new Map<string, string>();
  const slotCards = new Map<number, { profile: string | null; cardClass?: string; domain?: string; refused?: string }>();
  const inserting = new Set<number>();
  const inflight = new Map<string, { domain: string; action: string }>();
  let lastInvoice: { invoiceNo: number; patientToPay?: number; dreNo?: number; degraded?: boolean } | null = null;
  let audit: AuditLine[] = [];
  let day: { status: unknown; at: string | null; error?: string } = { status: null, at: null };
  let dayDirty = hasHealth;
  let dayRunning = false;
  let closed = false;

  try {
    audit = kernel.audit.entriesSince(Math.max(0, kernel.audit.lastSeq - AUDIT_KEEP)).map(auditLine);
  } catch {
    audit = [];
  }

  const send = (ws: WebSocket, m: ServerMessage): void => {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED) {
      ws.terminate(); // a page that does not read: dropped rather than buffering without bound
      return;
    }
    ws.send(JSON.stringify(m));
  };
  /** Sends to every page, only when the content changed since the last broadcast of that type. */
  const broadcast = (m: ServerMessage, force = false): void => {
    const s = JSON.stringify(m);
    if (!force && last.get(m.type) === s) return;
    last.set(m.type, s);
    for (const ws of clients) send(ws, m);
  };

  const hello = (): ServerMessage => ({
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    slotCount,
    profiles,
    domains: [...kernel.policies.values()].map((p) => ({ domain: p.domain, actions: [...(p.ui.actions ?? [])] })),
    amo: amo !== null,
    day: hasHealth,
  });
  const view = (): ViewMessage => viewMessage(kernel.terminal.current(), kernel.terminal.foreground());
  const slots = (): ServerMessage => {
    const out: SlotInfo[] = [];
    for (let slot = 0; slot < slotCount; slot++) {
      const present = kernel.reader.present(slot);
      const c = slotCards.get(slot);
      const info: SlotInfo = { slot, present, profile: present ? (c?.profile ?? null) : null };
      if (present && c?.cardClass) info.cardClass = c.cardClass;
      if (present && c?.domain) info.domain = c.domain;
      if (present && c?.refused) info.refused = c.refused;
      out.push(info);
    }
    return { type: 'slots', slots: out };
  };
  const amoMessage = (): ServerMessage => {
    if (!amo) return { type: 'amo', available: false, stats: null, files: [] };
    try {
      return { type: 'amo', available: true, stats: { ...amo.stats() }, files: amo.files() };
    } catch (e) {
      return { type: 'amo', available: true, stats: null, files: [], error: (e as Error).message };
    }
  };
  const dayMessage = (): ServerMessage => ({ type: 'day', available: hasHealth, ...day });
  // The outcome of the last action goes to every page, so one reloaded mid-action still learns it.
  let lastOutcome: { domain: string; action: string; ok: boolean; message?: string; at: string } | null = null;
  const session = (): ServerMessage => ({ type: 'session', lastInvoice, inflight: [...inflight.values()], lastOutcome });
  /** The network cable and the host link: built field by field (the pairing code is not among them). */
  const deviceMessage = (): DeviceMessage => {
    const hl = kernel.hostLink;
    if (!hl) return { type: 'device', online: kernel.network.online, hostLink: null };
    const paired = hl.paired().map((p) => ({ fingerprint: p.fingerprint, short: shortFingerprint(p.fingerprint), name: p.name, pairedAt: p.pairedAt }));
    const { host, port: linkPort } = hl.address();
    return {
      type: 'device',
      online: kernel.network.online,
      hostLink: { address: { host, port: linkPort }, deviceId: hl.deviceId, fingerprint: shortFingerprint(hl.fingerprint), paired, pairingUntil: hl.pairingUntil() },
    };
  };

  // ---- live sources ------------------------------------------------------------------------------

  const onView = (): void => {
    broadcast(view());
  };
  kernel.terminal.on('view', onView);

  let auditTimer: NodeJS.Timeout | null = null;
  const offAudit = kernel.audit.onAppend((e) => {
    audit.push(auditLine(e));
    if (audit.length > AUDIT_KEEP) audit = audit.slice(-AUDIT_KEEP);
    const slot = typeof e.fields.slot === 'number' ? e.fields.slot : -1;
    if (e.event === 'card.offered' && slot >= 0) {
      const c = slotCards.get(slot) ?? { profile: null };
      slotCards.set(slot, { profile: c.profile, cardClass: String(e.fields.cardClass), ...(e.domain ? { domain: e.domain } : {}) });
      broadcast(slots());
    } else if (e.event === 'card.refused' && slot >= 0) {
      const c = slotCards.get(slot) ?? { profile: null };
      slotCards.set(slot, { profile: c.profile, refused: String(e.fields.reason ?? 'carte refusée') });
      broadcast(slots());
    } else if (e.event === 'card.removed' && slot >= 0) {
      // The removal event may arrive after a new card went into the same slot: keep that one's profile.
      const c = slotCards.get(slot);
      if (!kernel.reader.present(slot) || !c) slotCards.delete(slot);
      else slotCards.set(slot, { profile: c.profile });
      broadcast(slots());
    }
    // Pairing, unpairing, the network cable (from here, the console or the host link itself); not
    // every host request, which changes nothing the device message shows.
    if (/^(hostlink\.(un)?pair|network\.)/.test(e.event)) broadcast(deviceMessage());
    // Any health action but our own status call may change the day view.
    if (e.event === 'ui.action' && e.domain === HEALTH && e.fields.action !== 'status') dayDirty = true;
    // Coalesced: a burst of entries is one message.
    auditTimer ??= setTimeout(() => {
      auditTimer = null;
      broadcast({ type: 'audit', entries: audit });
    }, 100);
  });

  /** The day view is the health applet's `status` action (it draws nothing unless asked to `show`). */
  const refreshDay = async (): Promise<void> => {
    if (!hasHealth || dayRunning || closed) return;
    if (kernel.terminal.foreground() !== null) return; // busy: try again at the next poll
    dayRunning = true;
    dayDirty = false;
    try {
      const r = await kernel.action(HEALTH, 'status', {});
      day = { status: toJson(r), at: new Date().toISOString() };
    } catch (e) {
      day = { ...day, error: errorText(e).message };
    } finally {
      dayRunning = false;
      broadcast(dayMessage());
    }
  };

  const poll = setInterval(() => {
    if (clients.size === 0) return;
    broadcast(amoMessage());
    broadcast(deviceMessage());
    if (dayDirty) void refreshDay();
  }, pollMs);
  poll.unref();

  // ---- page messages -----------------------------------------------------------------------------

  const reply = (ws: WebSocket, id: string | undefined, ok: boolean, result: unknown, error?: { code: string; message: string }): void => {
    if (id === undefined) {
      if (!ok && error) send(ws, { type: 'error', code: error.code, message: error.message });
      return;
    }
    send(ws, ok ? { type: 'result', id, ok, result } : { type: 'result', id, ok, error: error ?? { code: 'E_INTERNAL', message: 'erreur' } });
  };

  const NO_LINK = { code: 'E_NO_HOSTLINK', message: 'Lien avec l’ordinateur du cabinet désactivé : relancez di start sans --no-tla' };

  /** A device-menu request: one of each kind at a time (a double click, a second tab), like actions. */
  const deviceRequest = async (ws: WebSocket, id: string | undefined, key: string, what: string, run: () => unknown): Promise<void> => {
    if (inflight.has(key)) return reply(ws, id, false, null, { code: 'E_BUSY', message: `« ${what} » est déjà en cours : attendez sa fin` });
    inflight.set(key, { domain: 'kernel', action: what });
    broadcast(session());
    try {
      reply(ws, id, true, await run());
    } catch (e) {
      reply(ws, id, false, null, errorText(e));
    } finally {
      inflight.delete(key);
      broadcast(session());
      broadcast(deviceMessage());
    }
  };

  const handle = async (ws: WebSocket, m: ClientMessage): Promise<void> => {
    switch (m.type) {
      case 'pair.begin':
        return deviceRequest(ws, m.id, 'kernel\u0000pair', 'pair.begin', async () => {
          const hl = kernel.hostLink;
          if (!hl) throw Object.assign(new Error(NO_LINK.message), { code: NO_LINK.code });
          const { expiresAt } = hl.beginPairing();
          // The code itself stays on the device screen: the page learns only until when it is valid.
          return { expiresAt };
        });
      case 'pair.cancel':
        return deviceRequest(ws, m.id, 'kernel\u0000pair', 'pair.cancel', () => {
          const hl = kernel.hostLink;
          if (!hl) throw Object.assign(new Error(NO_LINK.message), { code: NO_LINK.code });
          hl.cancelPairing();
          return { cancelled: true };
        });
      case 'unpair':
        return deviceRequest(ws, m.id, `kernel\u0000unpair\u0000${m.fingerprint}`, 'unpair', () => {
          const hl = kernel.hostLink;
          if (!hl) throw Object.assign(new Error(NO_LINK.message), { code: NO_LINK.code });
          if (!hl.unpair(m.fingerprint)) throw Object.assign(new Error(`Aucun ordinateur associé avec l’empreinte ${shortFingerprint(m.fingerprint)}`), { code: 'E_NOT_PAIRED' });
          return { fingerprint: m.fingerprint };
        });
      case 'network':
        return deviceRequest(ws, m.id, 'kernel\u0000network', 'network', () => {
          kernel.network.setOnline(m.online);
          return { online: kernel.network.online };
        });
      case 'key': {
        const accepted = kernel.terminal.press(m.key);
        reply(ws, m.id, true, { accepted });
        return;
      }
      case 'answer': {
        if (!kernel.terminal.answer(m.choice)) reply(ws, m.id, false, null, { code: 'E_NO_QUESTION', message: 'Aucune question de ce numéro à l’écran' });
        else reply(ws, m.id, true, { accepted: true });
        return;
      }
      case 'insert': {
        if (m.slot >= slotCount) return reply(ws, m.id, false, null, { code: 'E_SLOT', message: `Lecteur ${m.slot} inexistant (lecteurs 0 à ${slotCount - 1})` });
        if (!profileNames.has(m.profile)) return reply(ws, m.id, false, null, { code: 'E_PROFILE', message: `Profil de carte inconnu : ${m.profile}` });
        if (kernel.reader.present(m.slot) || inserting.has(m.slot)) return reply(ws, m.id, false, null, { code: 'E_SLOT_BUSY', message: `Lecteur ${m.slot} occupé : retirez d’abord la carte` });
        inserting.add(m.slot);
        try {
          const card = await loadCard(m.profile);
          if (kernel.reader.present(m.slot)) return reply(ws, m.id, false, null, { code: 'E_SLOT_BUSY', message: `Lecteur ${m.slot} occupé : retirez d’abord la carte` });
          slotCards.set(m.slot, { profile: m.profile });
          kernel.insertCard(m.slot, card);
          reply(ws, m.id, true, { slot: m.slot, profile: m.profile });
        } catch (e) {
          slotCards.delete(m.slot);
          reply(ws, m.id, false, null, { code: 'E_INSERT', message: `Insertion impossible : ${errorText(e).message}` });
        } finally {
          inserting.delete(m.slot);
          broadcast(slots());
        }
        return;
      }
      case 'remove': {
        if (m.slot >= slotCount) return reply(ws, m.id, false, null, { code: 'E_SLOT', message: `Lecteur ${m.slot} inexistant (lecteurs 0 à ${slotCount - 1})` });
        if (!kernel.reader.present(m.slot)) return reply(ws, m.id, false, null, { code: 'E_NO_CARD', message: `Aucune carte dans le lecteur ${m.slot}` });
        kernel.removeCard(m.slot);
        slotCards.delete(m.slot);
        reply(ws, m.id, true, { slot: m.slot });
        broadcast(slots());
        return;
      }
      case 'action': {
        // The same request already running (a double click, a second tab, a reload): refused, not sent twice.
        const key = `${m.domain}\u0000${m.action}\u0000${JSON.stringify(m.payload)}`;
        if (inflight.has(key)) return reply(ws, m.id, false, null, { code: 'E_BUSY', message: `« ${m.action} » est déjà en cours : attendez sa fin` });
        inflight.set(key, { domain: m.domain, action: m.action });
        broadcast(session());
        try {
          const r = toJson(await kernel.action(m.domain, m.action, m.payload)) as Record<string, unknown> | null;
          if (m.domain === HEALTH && r && typeof r === 'object') {
            if (m.action === 'status' && r.ok === true) day = { status: r, at: new Date().toISOString() };
            if (INVOICE_ACTIONS.has(m.action) && r.ok === true && typeof r.invoiceNo === 'number') {
              lastInvoice = { invoiceNo: r.invoiceNo, ...(typeof r.patientToPay === 'number' ? { patientToPay: r.patientToPay } : {}), ...(typeof r.dreNo === 'number' ? { dreNo: r.dreNo } : {}), ...(m.action === 'fse.degraded' ? { degraded: true } : {}) };
            }
          }
          const refused = r !== null && typeof r === 'object' && r.ok === false;
          const err = refused ? (r.error as { message?: unknown } | undefined) : undefined;
          lastOutcome = { domain: m.domain, action: m.action, ok: !refused, ...(typeof err?.message === 'string' ? { message: err.message } : {}), at: new Date().toISOString() };
          reply(ws, m.id, true, r);
        } catch (e) {
          lastOutcome = { domain: m.domain, action: m.action, ok: false, message: errorText(e).message, at: new Date().toISOString() };
          reply(ws, m.id, false, null, errorText(e));
        } finally {
          inflight.delete(key);
          broadcast(session());
          if (m.domain === HEALTH && m.action === 'status') broadcast(dayMessage());
          else if (m.domain === HEALTH) dayDirty = true;
          // What the AMO received after a transmission shows once it has processed it.
          if (amo && (m.action === 'transmit' || m.action === 'returns.fetch')) {
            await Promise.race([amo.whenIdle(), new Promise((r) => setTimeout(r, 5000).unref())]).catch(() => undefined);
          }
          broadcast(amoMessage());
          if (dayDirty) void refreshDay();
        }
        return;
      }
    }
  };

  const onMessage = (ws: WebSocket, data: RawData, isBinary: boolean): void => {
    if (isBinary) {
      send(ws, { type: 'error', code: 'E_BINARY', message: 'Messages texte JSON uniquement' });
      return;
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const parsed = parseClientMessage(buf.toString('utf8'), buf.length);
    if (!parsed.ok) {
      send(ws, { type: 'error', code: parsed.code, message: parsed.message, ...(parsed.id !== undefined ? { id: parsed.id } : {}) });
      return;
    }
    handle(ws, parsed.message).catch((e: unknown) => send(ws, { type: 'error', code: 'E_INTERNAL', message: `Erreur interne : ${errorText(e).message}` }));
  };

  // ---- HTTP + websocket --------------------------------------------------------------------------

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, clientTracking: false });

  const headers = (type: string): Record<string, string> => ({
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'content-security-policy': `default-src 'self'; connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
  });
  const refuse = (res: ServerResponse, status: number, text: string): void => {
    res.writeHead(status, headers('text/plain; charset=utf-8'));
    res.end(text + '\n');
  };
  const tokenOf = (req: IncomingMessage): { path: string; token: string | null } => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    return { path: u.pathname, token: u.searchParams.get('t') };
  };
  const foreignHost = (req: IncomingMessage) => !allowedHosts().has(req.headers.host ?? '');
  const foreignOrigin = (req: IncomingMessage) => req.headers.origin !== undefined && !allowedOrigins().has(req.headers.origin);

  const http = createServer((req, res) => {
    const { path, token: given } = tokenOf(req);
    if (foreignHost(req)) return refuse(res, 403, 'Hôte refusé : ouvrez l’adresse affichée par di start (127.0.0.1).');
    if (foreignOrigin(req)) return refuse(res, 403, 'Origine refusée.');
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'Méthode non permise.');
    if (path === '/health') return refuse(res, 200, 'ok');
    if (path === '/favicon.ico') {
      res.writeHead(204, headers('image/x-icon'));
      res.end();
      return;
    }
    const asset = assets.get(path);
    if (asset) {
      res.writeHead(200, headers(asset.type));
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (path === '/' || path === '/index.html' || path === '/api/state') {
      if (!sameToken(given, token)) return refuse(res, 401, 'Jeton d’accès manquant ou invalide : ouvrez l’adresse complète affichée par di start (…/?t=…).');
      if (path === '/api/state') {
        res.writeHead(200, headers('application/json; charset=utf-8'));
        res.end(JSON.stringify({ hello: hello(), view: view(), slots: slots(), audit: { type: 'audit', entries: audit }, amo: amoMessage(), day: dayMessage(), session: session(), device: deviceMessage() }));
        return;
      }
      res.writeHead(200, headers('text/html; charset=utf-8'));
      res.end(req.method === 'HEAD' ? undefined : indexHtml);
      return;
    }
    refuse(res, 404, 'Introuvable.');
  });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const { path, token: given } = tokenOf(req);
    if (path !== '/ws' || foreignHost(req)) {
      socket.end(`HTTP/1.1 ${path !== '/ws' ? '404 Not Found' : '403 Forbidden'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => undefined);
      // Refused sockets get a reason the page can show, and nothing else: never registered, never read.
      if (foreignOrigin(req)) return ws.close(4403, 'Origine refusée');
      if (!sameToken(given, token)) return ws.close(4401, 'Jeton d’accès invalide');
      if (clients.size >= MAX_CLIENTS || closed) return ws.close(1013, 'Trop de connexions');
      clients.add(ws);
      ws.on('close', () => clients.delete(ws));
      ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary));
      // Reload-safe: everything the page shows comes from here on connect.
      send(ws, hello());
      send(ws, view());
      send(ws, slots());
      send(ws, { type: 'audit', entries: audit });
      send(ws, amoMessage());
      send(ws, dayMessage());
      send(ws, session());
      send(ws, deviceMessage());
      if (dayDirty || day.at === null) void refreshDay();
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 8080, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const addr = http.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;

  return {
    url: `http://127.0.0.1:${port}/?t=${token}`,
    port,
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(poll);
      if (auditTimer) clearTimeout(auditTimer);
      kernel.terminal.off('view', onView);
      offAudit();
      for (const ws of clients) ws.close(1001, 'Terminal arrêté');
      clients.clear();
      wss.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}
