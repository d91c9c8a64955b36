/**
 * The kernel's POP3 client against a small in-test POP3 server (net.createServer) that can be made
 * to misbehave: list/retrieve/delete as the common brief specifies, dot-stuffed lines restored,
 * deletions committed only by QUIT (a failed delete removes nothing), bounded sizes, and every
 * failure an E_NET naming the endpoint without the mailbox credentials.
 */
import { createServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Pop3Transport } from '../../../platform/kernel/transports/pop3.js';
import { KernelError } from '../../../platform/kernel/errors.js';
import type { NetworkEndpoint } from '../../../platform/kernel/policy/types.js';
import type { WireValue } from '../../../platform/wire/messages.js';

const USER = 'cabinet';
const PASSWORD = 'cabinet-test';

interface StoredMail {
  uid: string;
  raw: Buffer;
}

interface Misbehaviour {
  greeting?: string;
  /** RETR sends this many bytes of the message and then closes the socket. */
  cutRetrAfter?: number;
  /** LIST n / LIST report this size instead of the real one. */
  lieSize?: number;
  /** Replaces the UIDL listing lines. */
  uidlLines?: string[];
  /** DELE of this message number answers -ERR. */
  refuseDele?: number;
  /** After the greeting, say nothing more. */
  muteAfterGreeting?: boolean;
}

class FakePop3 {
  mailbox: StoredMail[] = [];
  commands: string[] = [];
  quits = 0;
  bad: Misbehaviour = {};
  private server: Server = createServer((s) => this.session(s));
  private sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private session(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
    let authed = false;
    let user = '';
    const marked = new Set<number>();
    const live = () => this.mailbox.map((m, i) => ({ n: i + 1, m })).filter((x) => !marked.has(x.n));
    const size = (m: StoredMail) => this.bad.lieSize ?? m.raw.length;
    s.write(this.bad.greeting ?? '+OK fake POP3 ready\r\n');
    if (this.bad.muteAfterGreeting) return;
    let buf = '';
    s.on('data', (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        this.commands.push(line);
        const [cmd, arg] = [line.split(' ')[0]!.toUpperCase(), line.slice(line.indexOf(' ') + 1)];
        const get = (n: string) => (marked.has(Number(n)) ? undefined : this.mailbox[Number(n) - 1]);
        if (cmd === 'USER') {
          user = arg;
          s.write('+OK\r\n');
        } else if (cmd === 'PASS') {
          if (user === USER && arg === PASSWORD) {
            authed = true;
            s.write('+OK maildrop locked\r\n');
          } else s.write(`-ERR invalid password for ${user}\r\n`);
        } else if (cmd === 'QUIT') {
          this.quits++;
          if (authed) this.mailbox = this.mailbox.filter((_, j) => !marked.has(j + 1));
          s.end('+OK bye\r\n');
        } else if (!authed) {
          s.write('-ERR not authenticated\r\n');
        } else if (cmd === 'UIDL') {
          const lines = this.bad.uidlLines ?? live().map((x) => `${x.n} ${x.m.uid}`);
          s.write(`+OK\r\n${lines.map((l) => `${l}\r\n`).join('')}.\r\n`);
        } else if (cmd === 'LIST' && line.includes(' ')) {
          const m = get(arg);
          s.write(m ? `+OK ${arg} ${size(m)}\r\n` : '-ERR no such message\r\n');
        } else if (cmd === 'LIST') {
          s.write(`+OK\r\n${live().map((x) => `${x.n} ${size(x.m)}\r\n`).join('')}.\r\n`);
        } else if (cmd === 'RETR') {
          const m = get(arg);
          if (!m) {
            s.write('-ERR no such message\r\n');
            continue;
          }
          const stuffed = Buffer.from(m.raw.toString('latin1').replace(/^\./gm, '..'), 'latin1');
          if (this.bad.cutRetrAfter !== undefined) {
            s.write('+OK\r\n');
            s.end(stuffed.subarray(0, this.bad.cutRetrAfter));
            return;
          }
          s.write(Buffer.concat([Buffer.from('+OK message follows\r\n'), stuffed, Buffer.from(stuffed.subarray(-2).toString() === '\r\n' ? '.\r\n' : '\r\n.\r\n')]));
        } else if (cmd === 'DELE') {
          if (Number(arg) === this.bad.refuseDele || !get(arg)) s.write('-ERR cannot delete\r\n');
          else {
            marked.add(Number(arg));
            s.write('+OK deleted\r\n');
          }
        } else s.write('-ERR unknown command\r\n');
      }
    });
  }
}

const ATTACHMENT = Buffer.from([0x30, 0x82, 0x01, 0x00, 0x2e, 0x0d, 0x0a, 0x2e, 0xff, 0x00]);

function rfc822(n: number): Buffer {
  const body = [
    `From: "AMO Test" <amo-019999999@amo.test>`,
    `To: ps-123456789@cabinet.test`,
    `Subject: DI-SV ARL F123456789000001 L${n}`,
    `Message-ID: <arl-${n}@amo.test>`,
    `Date: Tue, 03 Jun 2025 10:15:00 +0000`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Accusé de réception logique.',
    '.une ligne qui commence par un point',
    '.',
    'fin',
    '--b1',
    'Content-Type: application/octet-stream',
    `Content-Disposition: attachment; filename="F123456789000001-L${n}.arl"`,
    'Content-Transfer-Encoding: base64',
    '',
    ATTACHMENT.toString('base64'),
    '--b1--',
    '',
  ].join('\r\n');
  return Buffer.from(body, 'utf8');
}

async function rejection(p: Promise<unknown>): Promise<KernelError> {
  const e = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KernelError);
  const ke = e as KernelError;
  // Whatever failed, the mailbox credentials never leave in the error.
  expect(ke.message).not.toContain(PASSWORD);
  return ke;
}

describe('Pop3Transport', () => {
  const server = new FakePop3();
  let ep: NetworkEndpoint;
  const transport = new Pop3Transport({ user: USER, password: PASSWORD }, { timeoutMs: 5_000 });
  const never = new AbortController().signal;
  const fetch = (req: WireValue, t = transport) => t.fetch(ep, req, never);

  beforeAll(async () => {
    await server.start();
    ep = { name: 'amo-pop3', kind: 'pop3', host: '127.0.0.1', port: server.port };
  });
  afterAll(async () => {
    transport.close();
    await server.stop();
  });
  afterEach(() => {
    server.mailbox = [];
    server.commands = [];
    server.quits = 0;
    server.bad = {};
  });

  it('lists uid and size of every message, in mailbox order, and ends with QUIT', async () => {
    server.mailbox = [
      { uid: 'arl-0001', raw: rfc822(1) },
      { uid: 'rsp-0002', raw: rfc822(2) },
    ];
    const r = await fetch({ type: 'list' });
    expect(r).toEqual({
      type: 'list',
      messages: [
        { uid: 'arl-0001', size: rfc822(1).length },
        { uid: 'rsp-0002', size: rfc822(2).length },
      ],
    });
    expect(server.commands).toEqual(['USER cabinet', `PASS ${PASSWORD}`, 'UIDL', 'LIST', 'QUIT']);
  });

  it('lists an empty mailbox', async () => {
    expect(await fetch({ type: 'list' })).toEqual({ type: 'list', messages: [] });
  });

  it('retrieves one message: headers, text with dot-stuffed lines restored, attachment bytes', async () => {
    server.mailbox = [
      { uid: 'arl-0001', raw: rfc822(1) },
      { uid: 'arl-0002', raw: rfc822(2) },
    ];
    const r = (await fetch({ type: 'retrieve', uid: 'arl-0002' })) as { [k: string]: WireValue };
    expect(r.type).toBe('message');
    expect(r.uid).toBe('arl-0002');
    expect(r.messageId).toBe('<arl-2@amo.test>');
    expect(r.from).toBe('amo-019999999@amo.test');
    expect(r.subject).toBe('DI-SV ARL F123456789000001 L2');
    expect(r.date).toBe(Date.UTC(2025, 5, 3, 10, 15, 0));
    expect(String(r.text).replace(/\r\n/g, '\n')).toBe('Accusé de réception logique.\n.une ligne qui commence par un point\n.\nfin');
    const atts = r.attachments as Array<{ filename: string; contentType: string; content: Uint8Array }>;
    expect(atts).toHaveLength(1);
    expect(atts[0]!.filename).toBe('F123456789000001-L2.arl');
    expect(atts[0]!.contentType).toBe('application/octet-stream');
    expect(Object.getPrototypeOf(atts[0]!.content)).toBe(Uint8Array.prototype);
    expect(atts[0]!.content).toEqual(new Uint8Array(ATTACHMENT));
    expect(server.commands).toContain('RETR 2');
    // Retrieval never deletes.
    expect(server.mailbox).toHaveLength(2);
  });

  it('deletes by uid, committed by QUIT; a uid already gone is skipped and not counted', async () => {
    server.mailbox = [
      { uid: 'a1', raw: rfc822(1) },
      { uid: 'a2', raw: rfc822(2) },
      { uid: 'a3', raw: rfc822(3) },
    ];
    expect(await fetch({ type: 'delete', uids: ['a1', 'a3', 'gone', 'a1'] })).toEqual({ type: 'deleted', count: 2 });
    expect(server.mailbox.map((m) => m.uid)).toEqual(['a2']);
    expect(server.commands.filter((c) => c.startsWith('DELE'))).toEqual(['DELE 1', 'DELE 3']);
    expect(await fetch({ type: 'list' })).toEqual({ type: 'list', messages: [{ uid: 'a2', size: rfc822(2).length }] });
  });

  it('a refused DELE drops the connection without QUIT: nothing is deleted', async () => {
    server.mailbox = [
      { uid: 'a1', raw: rfc822(1) },
      { uid: 'a2', raw: rfc822(2) },
    ];
    server.bad.refuseDele = 2;
    const e = await rejection(fetch({ type: 'delete', uids: ['a1', 'a2'] }));
    expect(e.code).toBe('E_NET');
    expect(e.message).toMatch(/pop3 endpoint "amo-pop3".*DELE of uid "a2" refused/);
    expect(server.quits).toBe(0);
    expect(server.mailbox.map((m) => m.uid)).toEqual(['a1', 'a2']);
  });

  it('a wrong password is E_NET "authentication refused", naming neither user nor password', async () => {
    const t = new Pop3Transport({ user: USER, password: 'wrong-secret' }, { timeoutMs: 5_000 });
    const e = await rejection(fetch({ type: 'list' }, t));
    expect(e.code).toBe('E_NET');
    expect(e.message).toBe(`pop3 endpoint "amo-pop3" (127.0.0.1:${server.port}): authentication refused by pop3 endpoint "amo-pop3" (127.0.0.1:${server.port})`);
    expect(e.message).not.toContain('wrong-secret');
    expect(e.message).not.toContain('cabinet');
    expect(server.commands.some((c) => c.startsWith('UIDL') || c.startsWith('DELE'))).toBe(false);
  });

  it('an unknown uid on retrieve is E_NET naming the uid', async () => {
    server.mailbox = [{ uid: 'a1', raw: rfc822(1) }];
    const e = await rejection(fetch({ type: 'retrieve', uid: 'zz-404' }));
    expect(e.code).toBe('E_NET');
    expect(e.message).toMatch(/no message with uid "zz-404"/);
  });

  it('a malformed greeting is E_NET', async () => {
    server.bad.greeting = 'HELLO THERE\r\n';
    const e = await rejection(fetch({ type: 'list' }));
    expect(e.code).toBe('E_NET');
    expect(e.message).toMatch(/malformed reply \(neither \+OK nor -ERR\)/);
  });

  it('a malformed UIDL listing is E_NET', async () => {
    server.mailbox = [{ uid: 'a1', raw: rfc822(1) }];
    server.bad.uidlLines = ['1 a1', 'x y z'];
    expect((await rejection(fetch({ type: 'list' }))).message).toMatch(/malformed UIDL line/);
    server.bad.uidlLines = ['1 a1', '2 a1'];
    expect((await rejection(fetch({ type: 'list' }))).message).toMatch(/twice/);
  });

  it('a server that stops in the middle of a message is E_NET', async () => {
    server.mailbox = [{ uid: 'a1', raw: rfc822(1) }];
    server.bad.cutRetrAfter = 200;
    const e = await rejection(fetch({ type: 'retrieve', uid: 'a1' }));
    expect(e.code).toBe('E_NET');
    expect(e.message).toMatch(/connection closed by the server in the middle of a reply/);
  });

  it('an oversized message is refused from its LIST size, without RETR', async () => {
    server.mailbox = [{ uid: 'big', raw: rfc822(1) }];
    server.bad.lieSize = 8 * 1024 * 1024 + 1;
    const e = await rejection(fetch({ type: 'retrieve', uid: 'big' }));
    expect(e.message).toMatch(/larger than 8388608/);
    expect(server.commands.some((c) => c.startsWith('RETR'))).toBe(false);
  });

  it('a message larger than announced is cut off at the byte limit', async () => {
    const t = new Pop3Transport({ user: USER, password: PASSWORD }, { timeoutMs: 5_000, maxMessageBytes: 256 });
    server.mailbox = [{ uid: 'liar', raw: rfc822(1) }];
    server.bad.lieSize = 100;
    const e = await rejection(fetch({ type: 'retrieve', uid: 'liar' }, t));
    expect(e.code).toBe('E_NET');
    expect(e.message).toMatch(/message 1 larger than 256 bytes|reply line longer than/);
  });

  it('a server that says nothing after the greeting times out with E_NET', async () => {
    const t = new Pop3Transport({ user: USER, password: PASSWORD }, { timeoutMs: 300 });
    server.bad.muteAfterGreeting = true;
    const e = await rejection(fetch({ type: 'list' }, t));
    expect(e.message).toMatch(/no complete reply within 300 ms/);
  });

  it('honours the AbortSignal', async () => {
    server.bad.muteAfterGreeting = true;
    const ac = new AbortController();
    const p = transport.fetch(ep, { type: 'list' }, ac.signal);
    setTimeout(() => ac.abort(), 50);
    expect((await rejection(p)).message).toMatch(/pop3 endpoint "amo-pop3".*cancelled/);
  });

  it('a refused connection is E_NET', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const e = await rejection(transport.fetch({ ...ep, name: 'gone', port }, { type: 'list' }, never));
    expect(e.message).toMatch(/pop3 endpoint "gone".*connection refused/);
  });

  const badRequests: Array<[string, WireValue, RegExp]> = [
    ['a non-object', 'list', /request must be an object/],
    ['an unknown type', { type: 'stat' }, /type must be "list", "retrieve" or "delete"/],
    ['an extra field', { type: 'list', all: true }, /all is not a field/],
    ['a uid with a space', { type: 'retrieve', uid: 'a b' }, /uid must be a POP3 unique id/],
    ['a uid with CRLF', { type: 'retrieve', uid: 'a\r\nDELE 1' }, /uid must be a POP3 unique id/],
    ['uids not an array', { type: 'delete', uids: 'a1' }, /uids must be an array/],
    ['a bad uid in uids', { type: 'delete', uids: ['a1', ''] }, /uids\[1\] must be a POP3 unique id/],
  ];
  for (const [what, req, pattern] of badRequests) {
    it(`refuses ${what} with E_ARGS before connecting`, async () => {
      const e = await rejection(fetch(req));
      expect(e.code).toBe('E_ARGS');
      expect(e.message).toMatch(pattern);
      expect(server.commands).toEqual([]);
    });
  }

  it('send on a pop3 endpoint is E_ARGS', async () => {
    const e = await rejection(transport.send(ep));
    expect(e.code).toBe('E_ARGS');
  });
});
