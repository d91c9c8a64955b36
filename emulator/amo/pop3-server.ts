/**
 * The practitioner's mailbox as a POP3 server (RFC 1939 subset: USER, PASS, STAT, LIST, UIDL, RETR,
 * DELE, NOOP, RSET, TOP, QUIT, plus CAPA from RFC 2449 so clients can probe it).
 *
 * Written here rather than taken from npm: the POP3 server packages on the registry are unmaintained
 * for years (last releases around 2014-2016, callback APIs, no types) and the subset a test mailbox
 * needs is a few hundred lines whose behaviour we want to own (locking, bounded lines, deletions
 * applied at QUIT only).
 *
 * Protocol points kept on purpose:
 * - a mailbox is locked by the session that authenticated to it (RFC 1939 §8: a second session gets
 *   `-ERR [IN-USE]`, RFC 2449 response code) so two clients never see different numbering;
 * - the message list is a snapshot taken at PASS: numbers stay stable for the session;
 * - DELE only marks; the marks are applied when QUIT enters the UPDATE state, dropped by RSET or by a
 *   connection that ends without QUIT;
 * - multi-line answers are dot-stuffed and end with CRLF.CRLF;
 * - command lines are bounded (RFC 2449 §4: 255 octets; we allow 512): a longer one closes the session.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface Pop3Message {
  uid: string;
  /** The RFC 822 message, CRLF line ends. */
  raw: Uint8Array;
}

export interface Pop3Mailbox {
  /** Messages of `user`'s mailbox not yet deleted, oldest first. */
  list(user: string): Pop3Message[];
  /** Remove these uids for good (called at QUIT with the marked messages). */
  delete(user: string, uids: string[]): void;
}

export interface Pop3ServerOptions {
  host: string;
  port: number;
  mailbox: Pop3Mailbox;
  /** True when the pair opens the mailbox `user`. */
  authenticate(user: string, password: string): boolean;
  /** RFC 1939 asks for at least 10 minutes; tests shorten it. */
  idleTimeoutMs?: number;
}

export interface Pop3Server {
  port: number;
  close(): Promise<void>;
}

export const MAX_COMMAND_LINE = 512;
const DEFAULT_IDLE_MS = 10 * 60_000;
const MAX_AUTH_FAILURES = 3;
const MAX_CONNECTIONS = 32;
const UID_RE = /^[\x21-\x7e]{1,70}$/;

/** Dot-stuff a message and end it with the multi-line terminator. */
export function dotStuff(raw: Uint8Array): Buffer {
  let text = Buffer.from(raw).toString('latin1');
  // Bare LF or CR would let a line start with "." unseen by the stuffing below: normalise first.
  text = text.replace(/\r\n|\r|\n/g, '\r\n');
  if (!text.endsWith('\r\n')) text += '\r\n';
  text = text.replace(/^\./gm, '..');
  return Buffer.from(`${text}.\r\n`, 'latin1');
}

/** The header, a blank line and the first `lines` lines of the body (TOP). */
function topOf(raw: Uint8Array, lines: number): Uint8Array {
  const text = Buffer.from(raw).toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  const sep = text.indexOf('\r\n\r\n');
  if (sep < 0) return Buffer.from(text, 'latin1');
  const head = text.slice(0, sep + 4);
  const body = text.slice(sep + 4).split('\r\n');
  if (body.length > 0 && body[body.length - 1] === '') body.pop();
  const kept = body.slice(0, lines);
  return Buffer.from(head + kept.map((l) => `${l}\r\n`).join(''), 'latin1');
}

interface Session {
  state: 'authorization' | 'transaction';
  user?: string;
  messages: Array<Pop3Message & { deleted: boolean }>;
  failures: number;
}

export function startPop3Server(opts: Pop3ServerOptions): Promise<Pop3Server> {
  const locked = new Set<string>();
  const sockets = new Set<Socket>();
  const idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_MS;

  const handle = (socket: Socket): void => {
    sockets.add(socket);
    if (sockets.size > MAX_CONNECTIONS) {
      socket.end('-ERR [SYS/TEMP] too many connections\r\n');
      sockets.delete(socket);
      return;
    }
    const session: Session = { state: 'authorization', messages: [], failures: 0 };
    let pendingUser: string | undefined;
    let buffer = '';
    let closed = false;

    const release = (): void => {
      if (session.user !== undefined) locked.delete(session.user);
      session.user = undefined;
    };
    const write = (s: string | Buffer): void => {
      if (!closed && !socket.destroyed) socket.write(s);
    };
    const finish = (line: string): void => {
      if (closed) return;
      closed = true;
      release();
      socket.end(`${line}\r\n`);
    };
    socket.setTimeout(idleMs, () => finish('-ERR idle timeout'));
    socket.on('error', () => {
      // A client that vanished: nothing to answer; its marks are dropped with the session.
    });
    socket.on('close', () => {
      closed = true;
      release();
      sockets.delete(socket);
    });

    const msg = (arg: string | undefined): (Pop3Message & { deleted: boolean }) | string => {
      if (arg === undefined || !/^[1-9][0-9]{0,8}$/.test(arg)) return '-ERR message number required';
      const m = session.messages[Number(arg) - 1];
      if (!m) return '-ERR no such message';
      if (m.deleted) return '-ERR message already deleted';
      return m;
    };

    const command = (line: string): void => {
      const parts = line.split(' ');
      const verb = (parts[0] ?? '').toUpperCase();
      const args = parts.slice(1).filter((p) => p.length > 0);
      if (verb === 'QUIT') {
        if (session.state === 'transaction' && session.user !== undefined) {
          const marked = session.messages.filter((m) => m.deleted).map((m) => m.uid);
          try {
            if (marked.length > 0) opts.mailbox.delete(session.user, marked);
          } catch {
            finish('-ERR [SYS/TEMP] some deleted messages not removed');
            return;
          }
          finish(`+OK ${marked.length} message(s) deleted, bye`);
        } else {
          finish('+OK bye');
        }
        return;
      }
      if (verb === 'CAPA') {
        write('+OK capability list follows\r\nUSER\r\nUIDL\r\nTOP\r\nRESP-CODES\r\n.\r\n');
        return;
      }
      if (session.state === 'authorization') {
        if (verb === 'USER') {
          if (args.length !== 1) return void write('-ERR USER takes one argument\r\n');
          pendingUser = args[0];
          return void write('+OK send PASS\r\n');
        }
        if (verb === 'PASS') {
          if (pendingUser === undefined) return void write('-ERR USER first\r\n');
          const user = pendingUser;
          pendingUser = undefined;
          // The password may contain spaces: everything after "PASS ".
          const password = line.slice(5);
          if (!opts.authenticate(user, password)) {
            session.failures++;
            if (session.failures >= MAX_AUTH_FAILURES) return finish('-ERR [AUTH] authentication failed, closing');
            return void write('-ERR [AUTH] authentication failed\r\n');
          }
          if (locked.has(user)) return void write('-ERR [IN-USE] mailbox locked by another session\r\n');
          let list: Pop3Message[];
          try {
            list = opts.mailbox.list(user);
          } catch {
            return void write('-ERR [SYS/TEMP] mailbox unavailable\r\n');
          }
          locked.add(user);
          session.user = user;
          session.state = 'transaction';
          session.messages = list.map((m) => ({ uid: m.uid, raw: m.raw, deleted: false }));
          const octets = list.reduce((n, m) => n + m.raw.length, 0);
          return void write(`+OK ${list.length} message(s) (${octets} octets)\r\n`);
        }
        return void write('-ERR authenticate first (USER, PASS)\r\n');
      }
      const live = () => session.messages.map((m, i) => ({ m, n: i + 1 })).filter(({ m }) => !m.deleted);
      switch (verb) {
        case 'STAT': {
          const l = live();
          return void write(`+OK ${l.length} ${l.reduce((n, { m }) => n + m.raw.length, 0)}\r\n`);
        }
        case 'LIST':
        case 'UIDL': {
          const value = (m: Pop3Message): string => (verb === 'LIST' ? String(m.raw.length) : m.uid);
          if (args.length > 0) {
            const m = msg(args[0]);
            if (typeof m === 'string') return void write(`${m}\r\n`);
            return void write(`+OK ${args[0]} ${value(m)}\r\n`);
          }
          const lines = live().map(({ m, n }) => `${n} ${value(m)}\r\n`);
          return void write(`+OK ${lines.length} message(s)\r\n${lines.join('')}.\r\n`);
        }
        case 'RETR': {
          const m = msg(args[0]);
          if (typeof m === 'string') return void write(`${m}\r\n`);
          write(`+OK ${m.raw.length} octets\r\n`);
          return void write(dotStuff(m.raw));
        }
        case 'TOP': {
          const m = msg(args[0]);
          if (typeof m === 'string') return void write(`${m}\r\n`);
          if (args[1] === undefined || !/^[0-9]{1,9}$/.test(args[1])) return void write('-ERR TOP takes a message number and a line count\r\n');
          write('+OK top of message follows\r\n');
          return void write(dotStuff(topOf(m.raw, Number(args[1]))));
        }
        case 'DELE': {
          const m = msg(args[0]);
          if (typeof m === 'string') return void write(`${m}\r\n`);
          m.deleted = true;
          return void write(`+OK message ${args[0]} deleted\r\n`);
        }
        case 'NOOP':
          return void write('+OK\r\n');
        case 'RSET':
          for (const m of session.messages) m.deleted = false;
          return void write(`+OK ${session.messages.length} message(s)\r\n`);
        default:
          return void write('-ERR unknown command\r\n');
      }
    };

    write('+OK DI AMO POP3 (emulator) ready\r\n');
    socket.on('data', (chunk: Buffer) => {
      if (closed) return;
      buffer += chunk.toString('latin1');
      let nl: number;
      while (!closed && (nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        if (line.length > MAX_COMMAND_LINE) return finish('-ERR command line too long');
        command(line);
      }
      if (buffer.length > MAX_COMMAND_LINE) finish('-ERR command line too long');
    });
  };

  const server: Server = createServer(handle);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** For the store: uids are printable ASCII, at most 70 characters (RFC 1939 §7). */
export function isValidUid(uid: string): boolean {
  return UID_RE.test(uid);
}
