/** The AMO's RFC 1939 server, driven with a raw socket client over an in-memory mailbox. */
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { dotStuff, startPop3Server, type Pop3Message, type Pop3Server } from '../../../emulator/amo/pop3-server.js';
import { pop3 } from './fixtures.js';

let server: Pop3Server | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function box(messages: Pop3Message[]) {
  const deleted: string[] = [];
  const live = () => messages.filter((m) => !deleted.includes(m.uid));
  return { deleted, mailbox: { list: () => live(), delete: (_u: string, uids: string[]) => void deleted.push(...uids) } };
}

const msg = (uid: string, body: string): Pop3Message => ({ uid, raw: Buffer.from(`Subject: ${uid}\r\n\r\n${body}`, 'latin1') });

async function serve(messages: Pop3Message[], idleTimeoutMs?: number) {
  const b = box(messages);
  server = await startPop3Server({ host: '127.0.0.1', port: 0, mailbox: b.mailbox, authenticate: (u, p) => u === 'cabinet' && p === 'cabinet test', ...(idleTimeoutMs ? { idleTimeoutMs } : {}) });
  return { port: server.port, deleted: b.deleted };
}

const login = [{ cmd: 'USER cabinet' }, { cmd: 'PASS cabinet test' }];

describe('POP3 server', () => {
  it('authenticates (a password with a space), lists, gives uids and sizes, retrieves with dot-stuffing', async () => {
    const a = msg('u1', 'hello\r\n.hidden line\r\n..two\r\n');
    const { port } = await serve([a, msg('u2', 'x')]);
    const r = await pop3(port, [{ cmd: 'USER cabinet' }, { cmd: 'PASS wrong' }, ...login, { cmd: 'STAT' }, { cmd: 'LIST', multi: true }, { cmd: 'UIDL', multi: true }, { cmd: 'UIDL 2' }, { cmd: 'RETR 1', multi: true }, { cmd: 'QUIT' }]);
    expect(r[0]).toMatch(/^\+OK/);
    expect(r[2]).toMatch(/^-ERR \[AUTH\]/);
    expect(r[4]).toMatch(/^\+OK 2 message/);
    expect(r[5]).toBe(`+OK 2 ${a.raw.length + 16}`);
    expect(r[6]).toBe(`+OK 2 message(s)\r\n1 ${a.raw.length}\r\n2 16\r\n`);
    expect(r[7]).toBe('+OK 2 message(s)\r\n1 u1\r\n2 u2\r\n');
    expect(r[8]).toBe('+OK 2 u2');
    expect(r[9]).toBe(`+OK ${a.raw.length} octets\r\nSubject: u1\r\n\r\nhello\r\n..hidden line\r\n...two\r\n`);
    expect(r[10]).toMatch(/^\+OK 0 message\(s\) deleted/);
  });

  it('applies DELE only at QUIT; RSET and a dropped connection undo the marks', async () => {
    const { port, deleted } = await serve([msg('u1', 'a'), msg('u2', 'b')]);
    const r = await pop3(port, [...login, { cmd: 'DELE 1' }, { cmd: 'RETR 1' }, { cmd: 'STAT' }, { cmd: 'RSET' }, { cmd: 'STAT' }]);
    expect(r[3]).toMatch(/^\+OK/);
    expect(r[4]).toBe('-ERR message already deleted');
    expect(r[5]).toMatch(/^\+OK 1 /);
    expect(r[7]).toMatch(/^\+OK 2 /);
    // The connection above ended without QUIT: nothing deleted.
    await pop3(port, [...login, { cmd: 'DELE 2' }]);
    expect(deleted).toEqual([]);
    await pop3(port, [...login, { cmd: 'DELE 2' }, { cmd: 'QUIT' }]);
    expect(deleted).toEqual(['u2']);
  });

  it('TOP gives the header and n body lines; bad arguments are -ERR, not a crash', async () => {
    const { port } = await serve([msg('u1', 'l1\r\nl2\r\nl3\r\n')]);
    const r = await pop3(port, [...login, { cmd: 'TOP 1 1', multi: true }, { cmd: 'TOP 1' }, { cmd: 'RETR 9' }, { cmd: 'RETR x' }, { cmd: 'FOO' }, { cmd: 'NOOP' }]);
    expect(r[3]).toBe('+OK top of message follows\r\nSubject: u1\r\n\r\nl1\r\n');
    expect(r.slice(4, 8).every((l) => l!.startsWith('-ERR'))).toBe(true);
    expect(r[8]).toBe('+OK');
  });

  it('locks the mailbox to one session; refuses transaction commands before login', async () => {
    const { port } = await serve([msg('u1', 'a')]);
    const first = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => {
      let buf = '';
      first.on('data', (c: Buffer) => {
        buf += c.toString();
        if (buf.includes('message(s) (')) resolve();
      });
      first.write('USER cabinet\r\nPASS cabinet test\r\n');
    });
    const r = await pop3(port, [{ cmd: 'STAT' }, ...login]);
    expect(r[1]).toMatch(/^-ERR authenticate first/);
    expect(r[3]).toMatch(/^-ERR \[IN-USE\]/);
    first.destroy();
    await new Promise((x) => setTimeout(x, 50));
    const again = await pop3(port, [...login, { cmd: 'QUIT' }]);
    expect(again[2]).toMatch(/^\+OK 1 message/);
  });

  it('closes a session whose command line is too long, and keeps serving others', async () => {
    const { port } = await serve([]);
    const closed = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1');
      let buf = '';
      s.on('data', (c: Buffer) => (buf += c.toString()));
      s.on('close', () => resolve(buf));
      s.write(`USER ${'x'.repeat(2000)}`);
    });
    expect(closed).toMatch(/-ERR command line too long/);
    const r = await pop3(port, [...login, { cmd: 'QUIT' }]);
    expect(r[2]).toMatch(/^\+OK 0 message/);
  });

  it('dot-stuffs lines starting with a dot whatever the line ends, and terminates with CRLF.CRLF', () => {
    expect(Buffer.from(dotStuff(Buffer.from('.a\n.\r\nb'))).toString()).toBe('..a\r\n..\r\nb\r\n.\r\n');
  });
});
