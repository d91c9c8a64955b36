/**
 * The kernel's client for endpoints of kind 'acquirer' (DESIGN §4: the kernel owns every
 * connection). The payment applet builds each message; this only carries it: one length-prefixed
 * msgpack frame out, one back, over a TCP connection that is kept and reused. The reply is checked
 * (a plain object with a string `type`, only wire types, bounded size and depth) before it reaches
 * the applet, and every failure is an E_NET naming the endpoint, never the message: the message
 * holds card data.
 */
import { connect, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder } from '../../wire/frames.js';
import type { WireValue } from '../../wire/messages.js';
import type { NetworkEndpoint } from '../policy/types.js';
import type { Transport } from '../services.js';
import { KernelError } from '../errors.js';
import type { NetworkLink } from '../network.js';

export const MAX_ACQUIRER_REPLY_BYTES = 64 * 1024;
export const MAX_ACQUIRER_REQUEST_BYTES = 64 * 1024;
export const ACQUIRER_TIMEOUT_MS = 10_000;
const MAX_DEPTH = 16;
const MAX_IDLE_PER_ENDPOINT = 2;
/** An idle connection is closed after this long: the acquirer may drop it anyway. */
const IDLE_CLOSE_MS = 30_000;

export interface AcquirerTransportOptions {
  timeoutMs?: number;
  maxReplyBytes?: number;
  /** The device's network cable: when unplugged, every call fails with E_NET before connecting. */
  network?: NetworkLink;
}

interface Conn {
  socket: Socket;
  decoder: FrameDecoder;
  /** Set while a request is out; the connection is then not in the idle list. */
  waiter: ((r: { ok: true; value: unknown } | { ok: false; error: KernelError }) => void) | null;
  idleTimer: NodeJS.Timeout | null;
}

function label(ep: NetworkEndpoint): string {
  return `acquirer endpoint ${JSON.stringify(ep.name)} (${ep.host}:${ep.port})`;
}

function netError(ep: NetworkEndpoint, why: string): KernelError {
  return new KernelError('E_NET', `${label(ep)}: ${why}`);
}

/** Only what the wire may carry, as plain data: no Dates, BigInts, class instances or cycles. */
function isWireValue(v: unknown, depth: number): v is WireValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (depth > MAX_DEPTH || typeof v !== 'object') return false;
  if (v instanceof Uint8Array) return Object.getPrototypeOf(v) === Uint8Array.prototype;
  if (Array.isArray(v)) return v.every((x) => isWireValue(x, depth + 1));
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(v as object).every((x) => isWireValue(x, depth + 1));
}

function isReply(v: unknown): v is { [k: string]: WireValue } {
  return (
    v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && typeof (v as { type?: unknown }).type === 'string' && isWireValue(v, 0)
  );
}

export class AcquirerTransport implements Transport {
  private readonly idle = new Map<string, Conn[]>();
  private readonly live = new Set<Conn>();
  private readonly timeoutMs: number;
  private readonly maxReplyBytes: number;
  private readonly network: NetworkLink | undefined;

  constructor(opts: AcquirerTransportOptions = {}) {
    this.network = opts.network;
    this.timeoutMs = opts.timeoutMs ?? ACQUIRER_TIMEOUT_MS;
    this.maxReplyBytes = opts.maxReplyBytes ?? MAX_ACQUIRER_REPLY_BYTES;
  }

  fetch(endpoint: NetworkEndpoint, request: WireValue, signal: AbortSignal): Promise<WireValue> {
    return this.send(endpoint, request, signal);
  }

  async send(endpoint: NetworkEndpoint, message: WireValue, signal: AbortSignal): Promise<WireValue> {
    this.network?.assertOnline();
    if (message === null || typeof message !== 'object' || Array.isArray(message) || message instanceof Uint8Array || typeof message.type !== 'string') {
      throw new KernelError('E_ARGS', `net.send to ${label(endpoint)}: the message must be an object with a string type`);
    }
    let frame: Buffer;
    try {
      frame = encodeFrame(message, MAX_ACQUIRER_REQUEST_BYTES);
    } catch {
      throw new KernelError('E_ARGS', `net.send to ${label(endpoint)}: the message cannot be sent (larger than ${MAX_ACQUIRER_REQUEST_BYTES} bytes or not encodable)`);
    }
    if (signal.aborted) throw netError(endpoint, 'cancelled');
    const deadline = Date.now() + this.timeoutMs;
    const conn = await this.connection(endpoint, signal, deadline);
    return this.exchange(endpoint, conn, frame, signal, deadline);
  }

  /** Closes every connection (kernel shutdown, tests). */
  close(): void {
    for (const c of this.live) this.destroy(c);
    this.idle.clear();
  }

  private key(ep: NetworkEndpoint): string {
    return `${ep.host}:${ep.port}`;
  }

  private connection(ep: NetworkEndpoint, signal: AbortSignal, deadline: number): Promise<Conn> {
    const list = this.idle.get(this.key(ep));
    while (list && list.length > 0) {
      const c = list.pop()!;
      if (c.idleTimer) clearTimeout(c.idleTimer);
      c.idleTimer = null;
      if (!c.socket.destroyed && c.socket.readyState === 'open') {
        c.socket.ref();
        return Promise.resolve(c);
      }
      this.destroy(c);
    }
    return new Promise<Conn>((resolve, reject) => {
      const socket = connect({ host: ep.host, port: ep.port });
      const conn: Conn = { socket, decoder: new FrameDecoder(this.maxReplyBytes), waiter: null, idleTimer: null };
      this.live.add(conn);
      let settled = false;
      const finish = (err: KernelError | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('connect', onConnect);
        if (err) {
          this.destroy(conn);
          reject(err);
        } else resolve(conn);
      };
      const onConnect = () => finish(null);
      const onAbort = () => finish(netError(ep, 'cancelled'));
      const timer = setTimeout(() => finish(netError(ep, `no connection within ${this.timeoutMs} ms`)), Math.max(0, deadline - Date.now()));
      socket.once('connect', onConnect);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.setNoDelay(true);
      socket.on('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ECONNRESET' ? 'connection reset' : `network error ${e.code ?? ''}`.trim();
        finish(netError(ep, why));
        this.fail(conn, netError(ep, why));
      });
      socket.on('close', () => this.fail(conn, netError(ep, 'connection closed by the acquirer')));
      socket.on('data', (chunk: Buffer) => this.onData(ep, conn, chunk));
    });
  }

  private onData(ep: NetworkEndpoint, conn: Conn, chunk: Buffer): void {
    let msgs: unknown[];
    try {
      msgs = conn.decoder.push(chunk);
    } catch {
      // Oversized length prefix or an undecodable body: the stream cannot be trusted any more.
      this.fail(conn, netError(ep, `reply larger than ${this.maxReplyBytes} bytes or not a frame`));
      return;
    }
    for (const m of msgs) {
      const w = conn.waiter;
      if (!w) {
        // An answer nobody asked for: the peer is out of step.
        this.fail(conn, netError(ep, 'unsolicited reply'));
        return;
      }
      conn.waiter = null;
      w({ ok: true, value: m });
    }
  }

  private exchange(ep: NetworkEndpoint, conn: Conn, frame: Buffer, signal: AbortSignal, deadline: number): Promise<WireValue> {
    return new Promise<WireValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.waiter = null;
        this.destroy(conn);
        reject(netError(ep, `no reply within ${this.timeoutMs} ms`));
      }, Math.max(0, deadline - Date.now()));
      const onAbort = () => {
        clearTimeout(timer);
        conn.waiter = null;
        // The reply may still come: the connection cannot be reused in step.
        this.destroy(conn);
        reject(netError(ep, 'cancelled'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      conn.waiter = (r) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (!r.ok) {
          reject(r.error);
          return;
        }
        if (!isReply(r.value)) {
          this.destroy(conn);
          reject(netError(ep, 'malformed reply (not an object with a string type and plain values)'));
          return;
        }
        this.release(ep, conn);
        resolve(r.value);
      };
      conn.socket.write(frame);
    });
  }

  private release(ep: NetworkEndpoint, conn: Conn): void {
    const k = this.key(ep);
    const list = this.idle.get(k) ?? [];
    if (list.length >= MAX_IDLE_PER_ENDPOINT || conn.socket.destroyed) {
      this.destroy(conn);
      return;
    }
    list.push(conn);
    this.idle.set(k, list);
    conn.socket.unref();
    conn.idleTimer = setTimeout(() => this.destroy(conn), IDLE_CLOSE_MS);
    conn.idleTimer.unref();
  }

  private fail(conn: Conn, err: KernelError): void {
    const w = conn.waiter;
    conn.waiter = null;
    this.destroy(conn);
    w?.({ ok: false, error: err });
  }

  private destroy(conn: Conn): void {
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.idleTimer = null;
    this.live.delete(conn);
    for (const list of this.idle.values()) {
      const i = list.indexOf(conn);
      if (i >= 0) list.splice(i, 1);
    }
    conn.socket.destroy();
  }
}
