/**
 * The host link's TLS server: TLS 1.3 only, the client's certificate requested and identified by
 * its SHA-256 fingerprint (self-signed on both sides: trust is the pairing, not a CA). Frames as on
 * the host pipe, one request at a time per connection, a few connections at most, idle ones closed.
 * What a request means is the service's business (service.ts); this file owns the connection rules:
 * a malformed frame is answered E_FRAME then the link closed; an unpaired host gets `pair` only.
 */
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { encodeFrame, FrameDecoder } from '../../wire/frames.js';
import { HOSTLINK_MAX_FRAME_BYTES, type HostLinkErrorCode, type HostLinkValue, type HostRequest, type HostResponse } from '../../wire/hostlink.js';
import { certFingerprint, hostLabel, shortFingerprint } from './proof.js';
import { checkHostRequest } from './request.js';

export const HOSTLINK_MAX_CONNECTIONS = 4;
export const HOSTLINK_IDLE_TIMEOUT_MS = 60_000;
export const HOSTLINK_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface HostConnection {
  /** SHA-256 of the host's certificate ('' when it presented none). */
  readonly fingerprint: string;
  readonly remote: string;
  close(): void;
}

export type HostOutcome =
  | { ok: true; result: { [k: string]: HostLinkValue } }
  | { ok: false; error: { code: HostLinkErrorCode; message: string; domainCode?: string; field?: string }; close?: boolean };

export interface HostLinkServerOptions {
  host: string;
  port: number;
  keyPem: string;
  certPem: string;
  maxConnections?: number;
  idleTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  isPaired(fingerprint: string): boolean;
  handle(conn: HostConnection, request: HostRequest, signal: AbortSignal): Promise<HostOutcome>;
  audit(event: string, fields: Record<string, unknown>): void;
}

class Connection implements HostConnection {
  readonly decoder = new FrameDecoder(HOSTLINK_MAX_FRAME_BYTES);
  readonly abort = new AbortController();
  busy = false;
  closing = false;

  constructor(
    readonly socket: tls.TLSSocket,
    readonly fingerprint: string,
    readonly remote: string,
  ) {}

  send(response: HostResponse): void {
    if (this.socket.destroyed) return;
    let frame: Buffer;
    try {
      frame = encodeFrame(response, HOSTLINK_MAX_FRAME_BYTES);
    } catch (e) {
      frame = encodeFrame({ v: 1, id: response.id, ok: false, error: { code: 'E_INTERNAL', message: `the answer could not be sent: ${(e as Error).message.slice(0, 200)}` } } satisfies HostResponse);
    }
    this.socket.write(frame);
  }

  /** Ends the link after what was written is flushed; forcibly a moment later. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.abort.abort();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2_000).unref();
  }
}

export class HostLinkServer {
  private readonly server: tls.Server;
  private readonly live = new Set<Connection>();
  private readonly maxConnections: number;
  private readonly idleTimeoutMs: number;

  private constructor(private readonly opts: HostLinkServerOptions) {
    this.maxConnections = opts.maxConnections ?? HOSTLINK_MAX_CONNECTIONS;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? HOSTLINK_IDLE_TIMEOUT_MS;
    this.server = tls.createServer(
      {
        key: opts.keyPem,
        cert: opts.certPem,
        minVersion: 'TLSv1.3',
        requestCert: true,
        // Self-signed on both sides: the certificate is checked by fingerprint against the paired list.
        rejectUnauthorized: false,
        handshakeTimeout: opts.handshakeTimeoutMs ?? HOSTLINK_HANDSHAKE_TIMEOUT_MS,
      },
      (socket) => this.accept(socket),
    );
    // Raw sockets still in the handshake are bounded too (a handful beyond the served links).
    this.server.maxConnections = this.maxConnections * 4;
    this.server.on('tlsClientError', (err) => this.opts.audit('hostlink.tls-refused', { reason: String((err as NodeJS.ErrnoException).code ?? err.message).slice(0, 120) }));
  }

  static async listen(opts: HostLinkServerOptions): Promise<HostLinkServer> {
    const s = new HostLinkServer(opts);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(opts.port, opts.host, () => {
        s.server.off('error', reject);
        resolve();
      });
    });
    return s;
  }

  address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo | null;
    return { host: this.opts.host, port: a?.port ?? this.opts.port };
  }

  /** Closes the links of one host (after unpairing it). */
  dropHost(fingerprint: string): number {
    let n = 0;
    for (const c of this.live) {
      if (c.fingerprint === fingerprint) {
        c.close();
        n++;
      }
    }
    return n;
  }

  get connections(): number {
    return this.live.size;
  }

  async close(): Promise<void> {
    for (const c of this.live) {
      c.abort.abort();
      c.socket.destroy();
    }
    this.live.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A host that presented no certificate ('') is never paired. */
  private isPaired(fingerprint: string): boolean {
    return fingerprint !== '' && this.opts.isPaired(fingerprint);
  }

  private accept(socket: tls.TLSSocket): void {
    const peer = socket.getPeerCertificate();
    const raw = peer && 'raw' in peer ? (peer.raw as Buffer | undefined) : undefined;
    const fingerprint = raw ? certFingerprint(raw) : '';
    const conn = new Connection(socket, fingerprint, `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
    socket.on('error', () => socket.destroy());
    const paired = this.isPaired(fingerprint);
    if (this.live.size >= this.maxConnections && paired) {
      // Links of computers that are not paired (they may only `pair`) never keep a paired one out:
      // one of them (idle first, else the oldest) makes room. Otherwise a stranger holding links
      // open would lock the practice computer out.
      const strangers = [...this.live].filter((c) => !this.isPaired(c.fingerprint));
      const victim = strangers.find((c) => !c.busy) ?? strangers[0];
      if (victim) {
        this.opts.audit('hostlink.evicted', { host: hostLabel(victim.fingerprint), for: shortFingerprint(fingerprint) });
        victim.send({ v: 1, id: null, ok: false, error: { code: 'E_BUSY', message: 'the device needs this link for a paired computer: the link is closed; pair from a free moment' } });
        victim.close();
        this.live.delete(victim);
      }
    }
    if (this.live.size >= this.maxConnections) {
      this.opts.audit('hostlink.busy', { host: hostLabel(fingerprint), connections: this.live.size });
      conn.send({ v: 1, id: null, ok: false, error: { code: 'E_BUSY', message: `the device already serves ${this.maxConnections} links: close one and try again` } });
      conn.close();
      return;
    }
    this.live.add(conn);
    this.opts.audit('hostlink.connect', { host: hostLabel(fingerprint), paired });
    socket.setTimeout(this.idleTimeoutMs, () => {
      // A request in progress (a long unload) is not idleness: its answer re-arms the timer.
      if (conn.busy) return;
      conn.abort.abort();
      socket.destroy();
    });
    socket.on('close', () => {
      conn.abort.abort();
      this.live.delete(conn);
    });
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
  }

  private onData(conn: Connection, chunk: Buffer): void {
    if (conn.closing) return;
    let frames: unknown[];
    try {
      frames = conn.decoder.push(chunk);
    } catch (e) {
      conn.send({ v: 1, id: null, ok: false, error: { code: 'E_FRAME', message: `${(e as Error).message.slice(0, 300)}; the link is closed` } });
      conn.close();
      return;
    }
    for (const f of frames) {
      if (conn.closing) return;
      this.onFrame(conn, f);
    }
  }

  private onFrame(conn: Connection, frame: unknown): void {
    const check = checkHostRequest(frame);
    if (!check.ok) {
      conn.send({
        v: 1,
        id: check.id,
        ok: false,
        error: { code: check.code, message: check.close ? `${check.message}; the link is closed` : check.message, ...(check.field ? { field: check.field } : {}) },
      });
      if (check.close) conn.close();
      return;
    }
    const req = check.request;
    if (conn.busy) {
      conn.send({ v: 1, id: req.id, ok: false, error: { code: 'E_BUSY', message: 'a request of this link is in progress: wait for its answer before sending the next' } });
      return;
    }
    if (req.op !== 'pair' && !this.isPaired(conn.fingerprint)) {
      this.opts.audit('hostlink.request', { host: hostLabel(conn.fingerprint), op: req.op, error: 'E_UNPAIRED' });
      conn.send({
        v: 1,
        id: req.id,
        ok: false,
        error: { code: 'E_UNPAIRED', message: 'this computer is not paired with the device: pair it first (di tla pair, with the code shown on the device); the link is closed' },
      });
      conn.close();
      return;
    }
    conn.busy = true;
    void this.opts
      .handle(conn, req, conn.abort.signal)
      .catch((e: unknown): HostOutcome => ({ ok: false, error: { code: 'E_INTERNAL', message: `internal error: ${String((e as Error)?.message ?? e).slice(0, 200)}` } }))
      .then((out) => {
        conn.busy = false;
        if (conn.socket.destroyed) return;
        if (out.ok) conn.send({ v: 1, id: req.id, ok: true, result: out.result });
        else conn.send({ v: 1, id: req.id, ok: false, error: out.error });
        if (!out.ok && out.close) conn.close();
      });
  }
}
