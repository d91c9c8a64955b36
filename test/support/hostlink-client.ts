/**
 * A minimal TLA host link client for tests: TLS 1.3 with its own self-signed certificate, frames
 * in and out, and raw access for the malformed-frame attacks. The real client is tla/ (helper C).
 */
import * as tls from 'node:tls';
import { encodeFrame, FrameDecoder } from '../../platform/wire/frames.js';
import { HOSTLINK_MAX_FRAME_BYTES, type HostResponse } from '../../platform/wire/hostlink.js';
import { createSelfSignedIdentity, type SelfSignedIdentity } from '../../platform/kernel/hostlink/identity.js';
import { certFingerprint, computePairProofs } from '../../platform/kernel/hostlink/proof.js';
import { devPolicy, type DevKernel } from './dev-kernel.js';
import type { DomainHostOp } from '../../platform/wire/hostlink.js';

let shared: Promise<SelfSignedIdentity> | null = null;
/** One identity per test process unless a test asks for a fresh one (key generation is cheap, but not free). */
export function testHostIdentity(): Promise<SelfSignedIdentity> {
  shared ??= createSelfSignedIdentity('test practice computer');
  return shared;
}

export class TestHostClient {
  private readonly decoder = new FrameDecoder(HOSTLINK_MAX_FRAME_BYTES);
  private readonly queue: unknown[] = [];
  private waiters: Array<(v: unknown) => void> = [];
  private nextId = 1;
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(
    readonly socket: tls.TLSSocket,
    readonly identity: SelfSignedIdentity | null,
    readonly deviceFingerprint: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.decoder.push(chunk)) this.deliver(f);
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        for (const w of this.waiters) w(CLOSED);
        this.waiters = [];
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, identity: SelfSignedIdentity | null | 'default' = 'default', extra: tls.ConnectionOptions = {}): Promise<TestHostClient> {
    const id = identity === 'default' ? await testHostIdentity() : identity;
    return new Promise((resolve, reject) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3', ...(id ? { key: id.keyPem, cert: id.certPem } : {}), ...extra },
        () => {
          socket.off('error', reject);
          resolve(new TestHostClient(socket, id, certFingerprint(socket.getPeerCertificate().raw)));
        },
      );
      socket.once('error', reject);
    });
  }

  get hostFingerprint(): string {
    if (!this.identity) throw new Error('no client certificate');
    return certFingerprint(this.identity.certDer);
  }

  private deliver(f: unknown): void {
    const w = this.waiters.shift();
    if (w) w(f);
    else this.queue.push(f);
  }

  /** The next frame from the device, or CLOSED once the link is closed. */
  next(): Promise<unknown> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.isClosed) return Promise.resolve(CLOSED);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  send(msg: unknown): void {
    this.socket.write(encodeFrame(msg, 64 * 1024 * 1024));
  }

  writeRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  async request(op: string, args: Record<string, unknown> = {}): Promise<HostResponse> {
    const id = this.nextId++;
    this.send({ v: 1, id, op, args });
    const r = await this.next();
    if (r === CLOSED) throw new Error(`link closed before the answer to ${op}`);
    return r as HostResponse;
  }

  /** Pairs with the code shown on the device; returns the answer. */
  async pair(code: string, hostName = 'Cabinet test', deviceFp = this.deviceFingerprint): Promise<HostResponse> {
    const { hostProof } = await computePairProofs(code, deviceFp, this.hostFingerprint);
    return this.request('pair', { hostName, hostProof });
  }

  close(): void {
    this.socket.destroy();
  }
}

export const CLOSED = Symbol('closed');

/** A dev applet serving host requests (data.load, fse.unload) and counting its calls (action "calls"). */
export const HOST_APPLET = `
let calls = 0;
globalThis.onHostRequest = async (req) => {
  calls++;
  platform.ui.show({ title: 'Synchronisation', lines: ['Ordinateur du cabinet', req.op] });
  if (req.op === 'data.load') {
    if (req.args.fail) return { ok: false, error: { code: 'E_DAY', message: 'jour refusé pour NIR 1840575123456 (détail)', field: 'day' } };
    if (req.args.bad) return { ok: 'maybe' };
    if (req.args.fn) return { ok: true, when: undefined };
    return { ok: true, day: req.args.day, count: (req.args.patients || []).length };
  }
  if (req.op === 'fse.unload') {
    // A slow request: waits on a question nobody answers (the sandbox has no timers).
    if (req.args.slowMs) await platform.ui.ask({ title: 'Synchronisation', text: 'Patientez', choices: ['OK'], timeoutMs: req.args.slowMs });
    return { ok: true, items: [], next: null, held: 0 };
  }
  return { ok: false, error: { code: 'E_OP', message: 'not served' } };
};
globalThis.onAction = async (req) => (req.action === 'now' ? { now: await platform.clock.now() } : { calls });
`;

export function hostPolicy(domain = 'alpha', ops: DomainHostOp[] = ['data.load', 'fse.unload']) {
  return devPolicy(domain, { hostLink: { ops }, ui: { foreground: true, pinEntry: false, actions: ['calls', 'now'] } });
}

export async function appletCalls(dk: DevKernel, domain = 'alpha'): Promise<number> {
  return ((await dk.kernel.action(domain, 'calls', {})) as { calls: number }).calls;
}

