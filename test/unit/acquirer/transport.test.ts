/**
 * The kernel's acquirer transport against servers that misbehave: nothing listening, a reply above
 * 64 KiB, no reply at all, replies that are not plain objects. Every failure is E_NET naming the
 * endpoint and nothing of the message (which carries card data).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AcquirerTransport, MAX_ACQUIRER_REPLY_BYTES } from '../../../platform/kernel/transports/acquirer.js';
import { encodeFrame, FrameDecoder } from '../../../platform/wire/frames.js';
import type { NetworkEndpoint } from '../../../platform/kernel/policy/types.js';
import type { WireValue } from '../../../platform/wire/messages.js';
import { KernelError } from '../../../platform/kernel/errors.js';

const SECRET_PAN = '5413330000000027';
const MESSAGE: WireValue = { type: 'authorize', ref: 'T-1', pan: SECRET_PAN, arqc: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) };

/** A server answering each request frame with `answer(request)` (raw bytes, or null for silence). */
async function fakeServer(answer: (req: unknown) => Buffer | null): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    n++;
    sockets.add(s);
    const dec = new FrameDecoder();
    s.on('error', () => undefined);
    s.on('data', (c) => {
      for (const m of dec.push(c)) {
        const out = answer(m);
        if (out) s.write(out);
      }
    });
  });
  server.on('close', () => undefined);
  const origClose = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return origClose(cb);
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : 0, connections: () => n };
}

const endpoint = (port: number): NetworkEndpoint => ({ name: 'acquirer', kind: 'acquirer', host: '127.0.0.1', port });

async function failure(p: Promise<unknown>): Promise<KernelError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KernelError);
  const k = e as KernelError;
  expect(k.message).toContain('"acquirer" (127.0.0.1:');
  expect(k.message).not.toContain(SECRET_PAN);
  expect(k.message).not.toContain('T-1');
  return k;
}

describe('AcquirerTransport', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const f of cleanup.splice(0)) f();
  });

  it('sends one frame, returns the reply, and reuses the connection', async () => {
    const f = await fakeServer((req) => encodeFrame({ type: 'echo', got: req as WireValue }));
    const t = new AcquirerTransport();
    cleanup.push(() => {
      t.close();
      f.server.close();
    });
    const sig = new AbortController().signal;
    const r1 = (await t.send(endpoint(f.port), MESSAGE, sig)) as { type: string; got: { arqc: Uint8Array } };
    expect(r1.type).toBe('echo');
    expect(r1.got.arqc).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    expect(await t.fetch(endpoint(f.port), { type: 'ca-keys' }, sig)).toEqual({ type: 'echo', got: { type: 'ca-keys' } });
    // Concurrent requests each get their own answer.
    const many = await Promise.all([1, 2, 3].map((i) => t.send(endpoint(f.port), { type: 'x', i }, sig)));
    expect(many.map((m) => (m as { got: { i: number } }).got.i)).toEqual([1, 2, 3]);
    expect(f.connections()).toBeLessThanOrEqual(3);
    const before = f.connections();
    await t.send(endpoint(f.port), { type: 'again' }, sig);
    expect(f.connections()).toBe(before);
  });

  it('connection refused: E_NET naming the endpoint', async () => {
    const f = await fakeServer(() => null);
    const port = f.port;
    await new Promise<void>((r) => f.server.close(() => r()));
    const t = new AcquirerTransport();
    const e = await failure(t.send(endpoint(port), MESSAGE, new AbortController().signal));
    expect(e.code).toBe('E_NET');
    expect(e.message).toMatch(/connection refused/);
  });

  it('a reply above 64 KiB is refused before it is buffered whole', async () => {
    const f = await fakeServer(() => encodeFrame({ type: 'big', pad: new Uint8Array(MAX_ACQUIRER_REPLY_BYTES + 10) }));
    const t = new AcquirerTransport();
    cleanup.push(() => f.server.close());
    const e = await failure(t.send(endpoint(f.port), MESSAGE, new AbortController().signal));
    expect(e.code).toBe('E_NET');
    expect(e.message).toMatch(/larger than 65536 bytes/);
    // A lying length prefix alone is enough.
    const g = await fakeServer(() => Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    cleanup.push(() => g.server.close());
    expect((await failure(t.send(endpoint(g.port), MESSAGE, new AbortController().signal))).message).toMatch(/larger than/);
  });

  it('no reply: E_NET after the time bound; an abort from the kernel ends it at once', async () => {
    const f = await fakeServer(() => null);
    cleanup.push(() => f.server.close());
    const t = new AcquirerTransport({ timeoutMs: 150 });
    const e = await failure(t.send(endpoint(f.port), MESSAGE, new AbortController().signal));
    expect(e.message).toMatch(/no reply within 150 ms/);
    const slow = new AcquirerTransport();
    const ac = new AbortController();
    const p = slow.send(endpoint(f.port), MESSAGE, ac.signal);
    setTimeout(() => ac.abort(), 20);
    expect((await failure(p)).message).toMatch(/cancelled/);
  });

  it('replies that are not a plain object with a string type are refused', async () => {
    const bad: unknown[] = [[1, 2], 'text', { notype: 1 }, { type: 7 }, { type: 'x', when: new Date(0) }, null];
    let i = 0;
    const f = await fakeServer(() => encodeFrame(bad[i++ % bad.length]));
    cleanup.push(() => f.server.close());
    const t = new AcquirerTransport();
    for (let k = 0; k < bad.length; k++) {
      const e = await failure(t.send(endpoint(f.port), MESSAGE, new AbortController().signal));
      expect(e.message, String(k)).toMatch(/malformed reply|not a frame/);
    }
  });

  it('a peer that closes mid-request, or the message is not an object: clear errors', async () => {
    const f = await fakeServer(() => null);
    f.server.on('connection', (s) => s.on('data', () => s.destroy()));
    cleanup.push(() => f.server.close());
    const t = new AcquirerTransport();
    expect((await failure(t.send(endpoint(f.port), MESSAGE, new AbortController().signal))).message).toMatch(/closed|reset/);
    const e = await t.send(endpoint(f.port), 'hello', new AbortController().signal).catch((x: KernelError) => x);
    expect((e as KernelError).code).toBe('E_ARGS');
  });
});
