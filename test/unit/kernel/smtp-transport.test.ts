/**
 * The kernel's smtp transport against a real SMTP server (smtp-server on loopback): what the applet
 * hands over arrives as a MIME message with the same subject, Message-ID and attachment bytes;
 * anything malformed is refused before a connection is made (E_ARGS naming the field); server
 * refusals, refused connections, silence and cancellation are E_NET naming the endpoint and the
 * SMTP reply, never the message content.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SmtpTransport } from '../../../platform/kernel/transports/smtp.js';
import { KernelError } from '../../../platform/kernel/errors.js';
import type { NetworkEndpoint } from '../../../platform/kernel/policy/types.js';
import type { WireValue } from '../../../platform/wire/messages.js';

interface Received {
  from: string;
  to: string[];
  mail: ParsedMail;
}

const SECRET_SUBJECT = 'DI-SV FILE F123456789000001';

function mail(patch: { [k: string]: WireValue } = {}): { [k: string]: WireValue } {
  return {
    type: 'mail',
    from: 'ps-123456789@cabinet.test',
    to: ['amo-019999999@amo.test'],
    subject: SECRET_SUBJECT,
    messageId: '<F123456789000001@cabinet.test>',
    text: 'Fichier de facturation DI-SV.\r\nNIR 1 84 12 75 123 456 78\r\n',
    attachments: [
      { filename: 'F123456789000001.txt', contentType: 'text/plain', content: new TextEncoder().encode('MANIFEST\r\n') },
      { filename: 'F123456789000001-L1.p7m', contentType: 'application/pkcs7-mime', content: new Uint8Array([0x30, 0x82, 0x00, 0x00, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a, 0xff]) },
    ],
    ...patch,
  };
}

async function expectKernelError(p: Promise<unknown>, code: string, pattern: RegExp): Promise<KernelError> {
  const e = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KernelError);
  const ke = e as KernelError;
  expect(ke.code).toBe(code);
  expect(ke.message).toMatch(pattern);
  return ke;
}

describe('SmtpTransport', () => {
  let server: SMTPServer;
  let ep: NetworkEndpoint;
  const received: Received[] = [];
  const transport = new SmtpTransport({ timeoutMs: 5_000 });
  const never = new AbortController().signal;

  beforeAll(async () => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onRcptTo(address: SMTPServerAddress, _session, cb) {
        if (address.address.startsWith('nobody@')) {
          const err = new Error('5.1.1 mailbox unavailable') as Error & { responseCode: number };
          err.responseCode = 550;
          cb(err);
          return;
        }
        cb();
      },
      onData(stream, session, cb) {
        simpleParser(stream)
          .then((parsed) => {
            received.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              mail: parsed,
            });
            cb();
          })
          .catch((e: Error) => cb(e));
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.server.address() as AddressInfo).port;
    ep = { name: 'amo-smtp', kind: 'smtp', host: '127.0.0.1', port };
  });
  afterAll(async () => {
    transport.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  afterEach(() => {
    received.length = 0;
  });

  it('delivers the mail: envelope, subject, Message-ID, text and attachment bytes as given', async () => {
    const m = mail({ to: ['amo-019999999@amo.test', 'amc-99999901@amo.test'] });
    const r = await transport.send(ep, m, never);
    expect(r).toEqual({ type: 'sent', messageId: '<F123456789000001@cabinet.test>', accepted: ['amo-019999999@amo.test', 'amc-99999901@amo.test'], rejected: [] });
    expect(received).toHaveLength(1);
    const got = received[0]!;
    expect(got.from).toBe('ps-123456789@cabinet.test');
    expect(got.to).toEqual(['amo-019999999@amo.test', 'amc-99999901@amo.test']);
    expect(got.mail.subject).toBe(SECRET_SUBJECT);
    expect(got.mail.messageId).toBe('<F123456789000001@cabinet.test>');
    expect(got.mail.text?.replace(/\r\n/g, '\n')).toBe('Fichier de facturation DI-SV.\nNIR 1 84 12 75 123 456 78\n');
    const atts = (m.attachments as Array<{ filename: string; contentType: string; content: Uint8Array }>);
    expect(got.mail.attachments.map((a) => a.filename)).toEqual(atts.map((a) => a.filename));
    expect(got.mail.attachments.map((a) => a.contentType)).toEqual(atts.map((a) => a.contentType));
    got.mail.attachments.forEach((a, i) => expect(new Uint8Array(a.content)).toEqual(atts[i]!.content));
  });

  it('re-uses the pooled connection for a second mail to the same endpoint', async () => {
    let connections = 0;
    const onConn = () => connections++;
    server.server.on('connection', onConn);
    try {
      await transport.send(ep, mail({ messageId: '<a1@cabinet.test>' }), never);
      await transport.send(ep, mail({ messageId: '<a2@cabinet.test>' }), never);
    } finally {
      server.server.off('connection', onConn);
    }
    expect(received.map((r) => r.mail.messageId)).toEqual(['<a1@cabinet.test>', '<a2@cabinet.test>']);
    expect(connections).toBeLessThanOrEqual(1);
  });

  it('reports a partly refused envelope: accepted and rejected recipients', async () => {
    const r = (await transport.send(ep, mail({ to: ['amo-019999999@amo.test', 'nobody@amo.test'] }), never)) as { accepted: string[]; rejected: string[] };
    expect(r.accepted).toEqual(['amo-019999999@amo.test']);
    expect(r.rejected).toEqual(['nobody@amo.test']);
    expect(received[0]?.to).toEqual(['amo-019999999@amo.test']);
  });

  it('a wholly refused envelope is E_NET with the endpoint and the SMTP reply, not the content', async () => {
    const e = await expectKernelError(transport.send(ep, mail({ to: ['nobody@amo.test'] }), never), 'E_NET', /smtp endpoint "amo-smtp" \(127\.0\.0\.1:\d+\).*550.*mailbox unavailable/);
    expect(e.message).not.toContain(SECRET_SUBJECT);
    expect(e.message).not.toContain('NIR');
    expect(received).toHaveLength(0);
  });

  const badCases: Array<[string, { [k: string]: WireValue } | WireValue, RegExp]> = [
    ['not an object', 'hello', /message must be an object/],
    ['wrong type', mail({ type: 'letter' }), /type must be "mail"/],
    ['unknown field', mail({ bcc: ['x@y.test'] }), /bcc is not a field/],
    ['CRLF in a recipient', mail({ to: ['a@amo.test\r\nRCPT TO:<evil@x.test>'] }), /to\[0\] must be a plain address/],
    ['display-name recipient', mail({ to: ['AMO <amo@amo.test>'] }), /to\[0\] must be a plain address/],
    ['two addresses in one', mail({ to: ['a@amo.test,b@amo.test'] }), /to\[0\] must be a plain address/],
    ['space in from', mail({ from: 'ps 1@cabinet.test' }), /from must be a plain address/],
    ['no recipient', mail({ to: [] }), /to must be an array of 1 to 16/],
    ['17 recipients', mail({ to: Array.from({ length: 17 }, (_, i) => `r${i}@amo.test`) }), /to must be an array of 1 to 16/],
    ['header injection in the subject', mail({ subject: 'x\r\nBcc: evil@x.test' }), /subject must be a string of at most 200/],
    ['long subject', mail({ subject: 'S'.repeat(201) }), /subject must be a string of at most 200/],
    ['bad messageId', mail({ messageId: 'F1@cabinet.test' }), /messageId must look like <id@domain>/],
    ['text over 64 KiB', mail({ text: 'x'.repeat(64 * 1024 + 1) }), /text is 65537 bytes/],
    ['path in a filename', mail({ attachments: [{ filename: '../etc/passwd', contentType: 'text/plain', content: new Uint8Array(1) }] }), /attachments\[0\]\.filename must be/],
    ['hidden filename', mail({ attachments: [{ filename: '.profile', contentType: 'text/plain', content: new Uint8Array(1) }] }), /attachments\[0\]\.filename must be/],
    ['content type with parameters', mail({ attachments: [{ filename: 'a.txt', contentType: 'text/plain; name=x', content: new Uint8Array(1) }] }), /attachments\[0\]\.contentType/],
    ['string content', mail({ attachments: [{ filename: 'a.txt', contentType: 'text/plain', content: 'abc' }] }), /attachments\[0\]\.content must be bytes/],
    ['33 attachments', mail({ attachments: Array.from({ length: 33 }, (_, i) => ({ filename: `a${i}.txt`, contentType: 'text/plain', content: new Uint8Array(1) })) }), /attachments must be an array of at most 32/],
    ['over 8 MiB in total', mail({ attachments: [1, 2, 3].map((i) => ({ filename: `a${i}.bin`, contentType: 'application/octet-stream', content: new Uint8Array(3 * 1024 * 1024) })) }), /larger than 8388608 bytes/],
  ];
  for (const [what, m, pattern] of badCases) {
    it(`refuses ${what} with E_ARGS before connecting`, async () => {
      let connections = 0;
      const onConn = () => connections++;
      server.server.on('connection', onConn);
      try {
        await expectKernelError(transport.send(ep, m as WireValue, never), 'E_ARGS', pattern);
      } finally {
        server.server.off('connection', onConn);
      }
      expect(connections).toBe(0);
      expect(received).toHaveLength(0);
    });
  }

  it('fetch on an smtp endpoint is E_ARGS', async () => {
    await expectKernelError(transport.fetch(ep), 'E_ARGS', /only sends/);
  });

  it('a refused connection is E_NET naming the endpoint', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const t = new SmtpTransport({ timeoutMs: 5_000 });
    try {
      await expectKernelError(t.send({ ...ep, name: 'gone', port }, mail(), never), 'E_NET', /smtp endpoint "gone".*connection refused/);
    } finally {
      t.close();
    }
  });

  describe('against a server that never greets', () => {
    let silent: Server;
    const sockets = new Set<Socket>();
    let port = 0;
    beforeAll(async () => {
      silent = createServer((s) => {
        sockets.add(s);
        s.on('error', () => undefined);
      });
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      port = (silent.address() as AddressInfo).port;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });

    it('gives up after its timeout with E_NET', async () => {
      const t = new SmtpTransport({ timeoutMs: 300 });
      try {
        await expectKernelError(t.send({ ...ep, name: 'mute', port }, mail(), never), 'E_NET', /smtp endpoint "mute".*no reply within 300 ms/);
      } finally {
        t.close();
      }
    });

    it('honours the AbortSignal', async () => {
      const t = new SmtpTransport({ timeoutMs: 10_000 });
      const ac = new AbortController();
      try {
        const p = t.send({ ...ep, name: 'mute', port }, mail(), ac.signal);
        setTimeout(() => ac.abort(), 50);
        await expectKernelError(p, 'E_NET', /smtp endpoint "mute".*cancelled/);
      } finally {
        t.close();
      }
    });
  });
});
