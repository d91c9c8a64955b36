/**
 * The vpcd bridge against a stand-in for vpcd (a TCP server speaking its framing the way vpcd 3.3
 * does: length and payload in separate writes), so the protocol is checked without pcscd.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { CardModel } from '../../../emulator/cards/card.js';
import { createCard } from '../../../emulator/cards/profiles.js';
import { serveCardToVpcd, vpcdPortForSlot, type VpcdBridge, type VpcdBridgeStatus } from '../../../emulator/reader/vpcd.js';
import { encodeVpcdFrame, VpcdFrameDecoder, VpcdFrameError } from '../../../emulator/reader/vpcd-frames.js';

const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

describe('vpcd framing', () => {
  it('encodes a 2-byte big-endian length and the payload in one buffer', () => {
    expect(hex(encodeVpcdFrame(h('9000')))).toBe('00029000');
    expect(encodeVpcdFrame(new Uint8Array(300)).subarray(0, 2)).toEqual(Buffer.from([0x01, 0x2c]));
    expect(() => encodeVpcdFrame(new Uint8Array(0x10000))).toThrow(VpcdFrameError);
  });

  it('decodes control bytes and APDUs whatever the chunking', () => {
    const stream = Buffer.concat([encodeVpcdFrame(h('04')), encodeVpcdFrame(h('00A4040000')), encodeVpcdFrame(h('01')), encodeVpcdFrame(new Uint8Array(0))]);
    for (const step of [1, 2, 3, 7, stream.length]) {
      const d = new VpcdFrameDecoder();
      const got = [];
      for (let i = 0; i < stream.length; i += step) got.push(...d.push(stream.subarray(i, i + step)));
      expect(got).toEqual([
        { type: 'control', code: 4 },
        { type: 'apdu', apdu: h('00A4040000') },
        { type: 'control', code: 1 },
      ]);
      expect(d.buffered).toBe(0);
    }
  });

  it('maps slots to ports from the base port', () => {
    expect(vpcdPortForSlot(0)).toBe(35963);
    expect(vpcdPortForSlot(1)).toBe(35964);
    expect(vpcdPortForSlot(1, 41000)).toBe(41001);
    expect(() => vpcdPortForSlot(-1)).toThrow(RangeError);
  });
});

/** A fake vpcd: accepts the card's connection and sends requests as vpcd does. */
class FakeVpcd {
  server: Server;
  sockets: Socket[] = [];
  private decoder = new VpcdFrameDecoder();
  private replies: Array<(b: Uint8Array) => void> = [];
  private connWaiters: Array<() => void> = [];

  constructor() {
    this.server = createServer((s) => {
      s.setNoDelay(true);
      this.sockets.push(s);
      this.decoder = new VpcdFrameDecoder();
      // Requests left unanswered on an old connection are never answered.
      this.replies = [];
      s.on('data', (c: Buffer) => {
        for (const m of this.decoder.push(c)) {
          const payload = m.type === 'control' ? Uint8Array.of(m.code) : m.apdu;
          this.replies.shift()?.(payload);
        }
      });
      for (const w of [...this.connWaiters]) w();
    });
  }

  listen(): Promise<number> {
    return new Promise((r) => this.server.listen(0, '127.0.0.1', () => r((this.server.address() as { port: number }).port)));
  }

  get current(): Socket {
    const s = this.sockets.at(-1);
    if (!s) throw new Error('no connection');
    return s;
  }

  waitConnection(count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.sockets.length < count) return;
        this.connWaiters = this.connWaiters.filter((w) => w !== check);
        resolve();
      };
      this.connWaiters.push(check);
      check();
    });
  }

  /** Send like vpcd 3.3: the length, then the payload, as two writes. */
  private sendSplit(payload: Uint8Array): void {
    const f = encodeVpcdFrame(payload);
    this.current.write(f.subarray(0, 2));
    this.current.write(f.subarray(2));
  }

  control(code: number): void {
    this.sendSplit(Uint8Array.of(code));
  }

  request(payload: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve) => {
      this.replies.push(resolve);
      this.sendSplit(payload);
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe('serveCardToVpcd against a fake vpcd', () => {
  let vpcd: FakeVpcd | null = null;
  let bridge: VpcdBridge | null = null;
  afterEach(async () => {
    await bridge?.close();
    await vpcd?.close();
    bridge = null;
    vpcd = null;
  });

  it('answers GET ATR and APDUs, powers the card on/off/reset, and sets TCP_NODELAY', async () => {
    vpcd = new FakeVpcd();
    const port = await vpcd.listen();
    const card = createCard('test-card');
    const resets: number[] = [];
    const counting: CardModel = {
      kind: card.kind,
      reset: () => {
        resets.push(Date.now());
        return card.reset();
      },
      process: (a) => card.process(a),
    };
    const statuses: VpcdBridgeStatus[] = [];
    bridge = serveCardToVpcd({ card: counting, port, onStatus: (s) => statuses.push(s) });
    await bridge.waitConnected(2000);
    expect(bridge.connected).toBe(true);
    const atr = await vpcd.request(Uint8Array.of(0x04));
    expect(atr[0]).toBe(0x3b);
    // Presence polls ask for the ATR again and again: the card must not be reset by them.
    const before = resets.length;
    await vpcd.request(Uint8Array.of(0x04));
    await vpcd.request(Uint8Array.of(0x04));
    expect(resets.length).toBe(before);
    vpcd.control(0x01);
    const select = await vpcd.request(h('00A4040008F04449544553540100'));
    expect(hex(select.subarray(-2))).toBe('9000');
    expect(resets.length).toBe(before + 1);
    const echo = await vpcd.request(h('80EE000003AABBCC00'));
    expect(hex(echo)).toBe('AABBCC9000');
    vpcd.control(0x02);
    expect(hex(await vpcd.request(Uint8Array.of(0x04)))).toBe(hex(atr));
    expect(resets.length).toBe(before + 2);
    vpcd.control(0x00);
    await vpcd.request(Uint8Array.of(0x04));
    expect(statuses.filter((s) => s.type === 'power').map((s) => (s as { action: string }).action)).toEqual(['on', 'reset', 'off']);
    expect(bridge.apduCount).toBe(2);
    // Node does not expose getsockopt; the bridge's own socket is configured before connecting, which
    // the round trips above (split writes from the fake vpcd answered at once) exercise.
  });

  it('remove() closes the connection (no card); insert() connects again', async () => {
    vpcd = new FakeVpcd();
    const port = await vpcd.listen();
    bridge = serveCardToVpcd({ card: null, port, reconnectMs: 20 });
    await new Promise((r) => setTimeout(r, 50));
    expect(vpcd.sockets.length).toBe(0);
    bridge.insert(createCard('test-card'));
    await vpcd.waitConnection(1);
    const first = vpcd.current;
    const closed = new Promise<void>((r) => first.once('close', () => r()));
    bridge.remove();
    await closed;
    expect(bridge.connected).toBe(false);
    bridge.insert(createCard('test-card-t0'));
    await vpcd.waitConnection(2);
    await bridge.waitConnected(2000);
    // The T=0 card defers data to GET RESPONSE.
    vpcd.control(0x01);
    const r = await vpcd.request(h('00A4040008F04449544553540100'));
    expect(r[0]).toBe(0x61);
  });

  it('reconnects after vpcd drops the connection (pcscd restart) and retries while vpcd is down', async () => {
    vpcd = new FakeVpcd();
    const port = await vpcd.listen();
    bridge = serveCardToVpcd({ card: createCard('test-card'), port, reconnectMs: 20 });
    await vpcd.waitConnection(1);
    vpcd.current.destroy();
    await vpcd.waitConnection(2);
    await bridge.waitConnected(2000);
    expect(hex((await vpcd.request(h('80EE00000101'))).subarray(-2))).toBe('9000');
    // vpcd gone entirely, then back on the same port.
    await vpcd.close();
    const again = new FakeVpcd();
    vpcd = again;
    await new Promise<void>((r) => again.server.listen(port, '127.0.0.1', () => r()));
    await again.waitConnection(1);
    await bridge.waitConnected(2000);
    expect(hex((await again.request(h('80EE00000102'))).subarray(-2))).toBe('9000');
  });

  it('pulls a mute card after the mute timeout and inserts it again', async () => {
    vpcd = new FakeVpcd();
    const port = await vpcd.listen();
    const card = createCard('test-card');
    let mute = true;
    const statuses: string[] = [];
    bridge = serveCardToVpcd({
      card: { kind: 'mute', reset: () => card.reset(), process: (a) => (mute ? null : card.process(a)) },
      port,
      reconnectMs: 20,
      muteTimeoutMs: 50,
      onStatus: (s) => statuses.push(s.type),
    });
    await vpcd.waitConnection(1);
    const first = vpcd.current;
    const closed = new Promise<void>((r) => first.once('close', () => r()));
    void vpcd.request(h('80EE00000101'));
    await closed;
    mute = false;
    await vpcd.waitConnection(2);
    await bridge.waitConnected(2000);
    expect(statuses).toContain('mute');
    expect(hex((await vpcd.request(h('80EE00000101'))).subarray(-2))).toBe('9000');
  });

  it('waitConnected names host and port when vpcd is not there', async () => {
    bridge = serveCardToVpcd({ card: createCard('test-card'), port: 1, reconnectMs: 20 });
    await expect(bridge.waitConnected(100)).rejects.toThrow(/127\.0\.0\.1:1 .*pcscd/);
  });
});
