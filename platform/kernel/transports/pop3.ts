/**
 * The kernel's client for endpoints of kind 'pop3': the practitioner's mailbox, where the AMO's
 * returns (ARL, RSP) arrive. Written here, a small RFC 1939 client (USER/PASS, UIDL, LIST, RETR
 * with dot-unstuffing, DELE, QUIT), because no maintained POP3 client package is among the
 * project's dependencies and the protocol subset needed is a few hundred lines.
 *
 * One connection per fetch call: connect, authenticate, command(s), QUIT. Deletions only take
 * effect at QUIT (RFC 1939 UPDATE state): on any failure the socket is dropped without QUIT, so a
 * half-done delete removes nothing. Replies are bounded (8 MiB per message, 10 000 messages, short
 * status lines) and anything off-protocol is an E_NET naming the endpoint. The mailbox credentials
 * come from the kernel config; they never appear in an error, a log line or the audit.
 */
import { connect, type Socket } from 'node:net';
import { simpleParser, type AddressObject } from 'mailparser';
import type { WireValue } from '../../wire/messages.js';
import type { NetworkEndpoint } from '../policy/types.js';
import type { Transport } from '../services.js';
import { KernelError } from '../errors.js';
import type { NetworkLink } from '../network.js';
import { checkPop3Request, serverText, UID_PATTERN } from './mail-checks.js';

export const POP3_TIMEOUT_MS = 30_000;
export const MAX_POP3_MESSAGE_BYTES = 8 * 1024 * 1024;
export const MAX_POP3_MESSAGES = 10_000;
/** RFC 1939 caps status lines at 512 octets; a little slack for servers that overrun it. */
const MAX_STATUS_LINE = 1024;

export interface MailboxCredentials {
  user: string;
  password: string;
}

export interface Pop3TransportOptions {
  /** Whole-call deadline (ms). */
  timeoutMs?: number;
  maxMessageBytes?: number;
  maxMessages?: number;
  /** The device's network cable: when unplugged, every call fails with E_NET before connecting. */
  network?: NetworkLink;
}

function label(ep: NetworkEndpoint): string {
  return `pop3 endpoint ${JSON.stringify(ep.name)} (${ep.host}:${ep.port})`;
}

function netError(ep: NetworkEndpoint, why: string): KernelError {
  return new KernelError('E_NET', `${label(ep)}: ${why}`);
}

/** One reply: its status and text, and for multi-line replies the unstuffed data lines. */
interface Reply {
  ok: boolean;
  text: string;
}

/**
 * A line reader over one socket. Only one read is outstanding at a time (POP3 is lock-step);
 * the socket ending or failing rejects it.
 */
class Session {
  private buf: Buffer = Buffer.alloc(0);
  private scanFrom = 0;
  private waiter: { limit: number; resolve: (line: Buffer) => void; reject: (e: KernelError) => void } | null = null;
  private failure: KernelError | null = null;

  constructor(
    private readonly ep: NetworkEndpoint,
    readonly socket: Socket,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.pump();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ECONNRESET' ? 'connection reset' : `network error ${e.code ?? ''}`.trim();
      this.fail(netError(ep, why));
    });
    socket.on('close', () => this.fail(netError(ep, 'connection closed by the server in the middle of a reply')));
  }

  fail(err: KernelError): void {
    if (!this.failure) this.failure = err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(this.failure);
    this.socket.destroy();
  }

  /** The next line without its line end (CRLF, or a bare LF from a sloppy server). */
  line(limit: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Buffer>((resolve, reject) => {
      this.waiter = { limit, resolve, reject };
      this.pump();
    });
  }

  private pump(): void {
    const w = this.waiter;
    if (!w) return;
    const nl = this.buf.indexOf(0x0a, this.scanFrom);
    if (nl < 0) {
      this.scanFrom = this.buf.length;
      if (this.buf.length > w.limit + 2) this.fail(netError(this.ep, `reply line longer than ${w.limit} bytes`));
      return;
    }
    const end = nl > 0 && this.buf[nl - 1] === 0x0d ? nl - 1 : nl;
    if (end > w.limit) {
      this.fail(netError(this.ep, `reply line longer than ${w.limit} bytes`));
      return;
    }
    const line = this.buf.subarray(0, end);
    this.buf = this.buf.subarray(nl + 1);
    this.scanFrom = 0;
    this.waiter = null;
    w.resolve(line);
  }

  async status(): Promise<Reply> {
    const raw = (await this.line(MAX_STATUS_LINE)).toString('latin1');
    const m = /^(\+OK|-ERR)(?: (.*))?$/.exec(raw);
    if (!m) this.fail(netError(this.ep, 'malformed reply (neither +OK nor -ERR)'));
    if (!m) throw this.failure!;
    return { ok: m[1] === '+OK', text: m[2] ?? '' };
  }

  command(cmd: string): Promise<Reply> {
    this.socket.write(`${cmd}\r\n`);
    return this.status();
  }

  /**
   * The data lines of a multi-line reply up to the lone ".", dot-unstuffed, at most `maxBytes`
   * bytes counted with CRLF line ends; `maxLines` bounds listings.
   */
  async data(maxBytes: number, maxLines: number, what: string): Promise<Buffer[]> {
    const lines: Buffer[] = [];
    let size = 0;
    for (;;) {
      const remaining = maxBytes - size;
      let line = await this.line(Math.max(0, remaining) + 1);
      if (line.length === 1 && line[0] === 0x2e) return lines;
      if (line[0] === 0x2e) line = line.subarray(1);
      size += line.length + 2;
      if (size > maxBytes) {
        this.fail(netError(this.ep, `${what} larger than ${maxBytes} bytes`));
        throw this.failure!;
      }
      if (lines.length >= maxLines) {
        this.fail(netError(this.ep, `${what} longer than ${maxLines} lines`));
        throw this.failure!;
      }
      lines.push(line);
    }
  }
}

export class Pop3Transport implements Transport {
  private readonly timeoutMs: number;
  private readonly maxMessageBytes: number;
  private readonly maxMessages: number;
  private readonly live = new Set<Socket>();
  private readonly network: NetworkLink | undefined;

  constructor(
    private readonly mailbox: MailboxCredentials,
    opts: Pop3TransportOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? POP3_TIMEOUT_MS;
    this.maxMessageBytes = opts.maxMessageBytes ?? MAX_POP3_MESSAGE_BYTES;
    this.maxMessages = opts.maxMessages ?? MAX_POP3_MESSAGES;
    this.network = opts.network;
  }

  send(endpoint: NetworkEndpoint): Promise<WireValue> {
    return Promise.reject(new KernelError('E_ARGS', `net.send on ${label(endpoint)}: a pop3 endpoint only reads the mailbox (use net.fetch)`));
  }

  async fetch(endpoint: NetworkEndpoint, request: WireValue, signal: AbortSignal): Promise<WireValue> {
    this.network?.assertOnline();
    const req = checkPop3Request(`net.fetch on ${label(endpoint)}`, request);
    if (signal.aborted) throw netError(endpoint, 'cancelled');
    const session = await this.open(endpoint, signal);
    const timer = setTimeout(() => session.fail(netError(endpoint, `no complete reply within ${this.timeoutMs} ms`)), this.timeoutMs);
    const onAbort = () => session.fail(netError(endpoint, 'cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.login(endpoint, session);
      let result: WireValue;
      switch (req.type) {
        case 'list': {
          const uids = await this.uidl(endpoint, session);
          const sizes = await this.list(endpoint, session);
          result = {
            type: 'list',
            messages: [...uids].map(([n, uid]) => {
              const size = sizes.get(n);
              if (size === undefined) throw this.broken(endpoint, session, `LIST has no size for message ${n}`);
              return { uid, size };
            }),
          };
          break;
        }
        case 'retrieve': {
          const n = this.numberOf(await this.uidl(endpoint, session), req.uid);
          if (n === undefined) throw new KernelError('E_NET', `${label(endpoint)}: no message with uid ${JSON.stringify(req.uid)} in the mailbox (already deleted?)`);
          const raw = await this.retr(endpoint, session, n);
          result = { type: 'message', ...(await this.parse(endpoint, req.uid, raw)) };
          break;
        }
        case 'delete': {
          // Idempotent: a uid no longer there (deleted by an earlier call that the applet did not
          // see complete) is skipped; `count` says how many were actually removed.
          const uids = await this.uidl(endpoint, session);
          let count = 0;
          for (const uid of new Set(req.uids)) {
            const n = this.numberOf(uids, uid);
            if (n === undefined) continue;
            const r = await session.command(`DELE ${n}`);
            if (!r.ok) throw this.broken(endpoint, session, `DELE of uid ${JSON.stringify(uid)} refused: ${serverText(r.text)}`);
            count++;
          }
          const q = await session.command('QUIT');
          if (!q.ok) throw this.broken(endpoint, session, `the server could not remove the messages: ${serverText(q.text)}`);
          session.socket.end();
          return { type: 'deleted', count };
        }
      }
      // Read-only calls: QUIT politely, but the answer is already in hand.
      await session.command('QUIT').catch(() => undefined);
      session.socket.end();
      return result;
    } catch (e) {
      session.socket.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Drops every open connection (kernel shutdown, tests). */
  close(): void {
    for (const s of this.live) s.destroy();
    this.live.clear();
  }

  private broken(ep: NetworkEndpoint, session: Session, why: string): KernelError {
    const err = netError(ep, why);
    session.fail(err);
    return err;
  }

  private open(ep: NetworkEndpoint, signal: AbortSignal): Promise<Session> {
    return new Promise<Session>((resolve, reject) => {
      const socket = connect({ host: ep.host.replace(/^\[(.*)\]$/, '$1'), port: ep.port });
      this.live.add(socket);
      socket.once('close', () => this.live.delete(socket));
      const session = new Session(ep, socket);
      const finish = (err: KernelError | null) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('connect', onConnect);
        if (err) {
          session.fail(err);
          reject(err);
        } else resolve(session);
      };
      const onConnect = () => finish(null);
      const onAbort = () => finish(netError(ep, 'cancelled'));
      const timer = setTimeout(() => finish(netError(ep, `no connection within ${this.timeoutMs} ms`)), this.timeoutMs);
      socket.once('connect', onConnect);
      socket.once('error', (e: NodeJS.ErrnoException) => finish(netError(ep, e.code === 'ECONNREFUSED' ? 'connection refused' : `network error ${e.code ?? ''}`.trim())));
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async login(ep: NetworkEndpoint, session: Session): Promise<void> {
    const greeting = await session.status();
    if (!greeting.ok) throw this.broken(ep, session, `the server refused the connection: ${serverText(greeting.text)}`);
    const { user, password } = this.mailbox;
    // A CR/LF in a configured credential would inject a command; refuse rather than send it.
    if (/[\r\n]/.test(user) || /[\r\n]/.test(password)) throw this.broken(ep, session, 'the configured mailbox credentials are not usable (line break)');
    // The server's reply texts to USER and PASS are not repeated: some echo the user name.
    const u = await session.command(`USER ${user}`);
    if (!u.ok) throw this.broken(ep, session, `authentication refused by ${label(ep)}`);
    const p = await session.command(`PASS ${password}`);
    if (!p.ok) throw this.broken(ep, session, `authentication refused by ${label(ep)}`);
  }

  /** UIDL: message number -> unique id, in mailbox order. */
  private async uidl(ep: NetworkEndpoint, session: Session): Promise<Map<number, string>> {
    const r = await session.command('UIDL');
    if (!r.ok) throw this.broken(ep, session, `UIDL refused: ${serverText(r.text)}`);
    const out = new Map<number, string>();
    const seen = new Set<string>();
    for (const l of await session.data(this.maxMessages * 96, this.maxMessages, 'UIDL listing')) {
      const m = /^([1-9][0-9]{0,8}) (\S+)$/.exec(l.toString('latin1'));
      if (!m || !UID_PATTERN.test(m[2]!)) throw this.broken(ep, session, 'malformed UIDL line');
      const n = Number(m[1]);
      if (out.has(n) || seen.has(m[2]!)) throw this.broken(ep, session, 'UIDL lists a message number or uid twice');
      out.set(n, m[2]!);
      seen.add(m[2]!);
    }
    return out;
  }

  /** LIST: message number -> size in octets. */
  private async list(ep: NetworkEndpoint, session: Session): Promise<Map<number, number>> {
    const r = await session.command('LIST');
    if (!r.ok) throw this.broken(ep, session, `LIST refused: ${serverText(r.text)}`);
    const out = new Map<number, number>();
    for (const l of await session.data(this.maxMessages * 32, this.maxMessages, 'LIST listing')) {
      const m = /^([1-9][0-9]{0,8}) ([0-9]{1,12})$/.exec(l.toString('latin1'));
      if (!m) throw this.broken(ep, session, 'malformed LIST line');
      out.set(Number(m[1]), Number(m[2]));
    }
    return out;
  }

  private numberOf(uids: Map<number, string>, uid: string): number | undefined {
    for (const [n, u] of uids) if (u === uid) return n;
    return undefined;
  }

  private async retr(ep: NetworkEndpoint, session: Session, n: number): Promise<Buffer> {
    // Ask the size first: an oversized message is refused without downloading it.
    const l = await session.command(`LIST ${n}`);
    const m = l.ok ? /^([0-9]+) ([0-9]{1,12})(?: .*)?$/.exec(l.text) : null;
    if (!l.ok || !m || Number(m[1]) !== n) throw this.broken(ep, session, `malformed or refused LIST ${n}`);
    if (Number(m[2]) > this.maxMessageBytes) throw this.broken(ep, session, `message ${n} is ${m[2]} bytes, larger than ${this.maxMessageBytes}`);
    const r = await session.command(`RETR ${n}`);
    if (!r.ok) throw this.broken(ep, session, `RETR refused: ${serverText(r.text)}`);
    const lines = await session.data(this.maxMessageBytes, Number.MAX_SAFE_INTEGER, `message ${n}`);
    const crlf = Buffer.from('\r\n');
    const parts: Buffer[] = [];
    for (const line of lines) parts.push(line, crlf);
    return Buffer.concat(parts);
  }

  private async parse(ep: NetworkEndpoint, uid: string, raw: Buffer): Promise<{ [k: string]: WireValue }> {
    let mail;
    try {
      mail = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true });
    } catch {
      throw netError(ep, `message ${JSON.stringify(uid)} is not a readable RFC 822 message`);
    }
    const fromObj: AddressObject | undefined = Array.isArray(mail.from) ? mail.from[0] : mail.from;
    const date = mail.date?.getTime();
    return {
      uid,
      messageId: mail.messageId ?? '',
      from: fromObj?.value[0]?.address ?? '',
      subject: mail.subject ?? '',
      date: date !== undefined && Number.isFinite(date) ? date : 0,
      text: mail.text ?? '',
      attachments: mail.attachments.map((a) => ({
        filename: a.filename ?? '',
        contentType: a.contentType,
        // A plain Uint8Array copy: Buffer is a subclass the wire does not carry as such.
        content: new Uint8Array(a.content),
      })),
    };
  }
}
