/**
 * One domain host as the kernel sees it: a child process holding the domain's Isolate, reached only
 * through length-prefixed msgpackr frames on a private pipe (fd 3). Every frame from the host is
 * validated; a host that breaks the protocol is killed (and restarted by its supervisor).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { encodeFrame, FrameDecoder } from '../wire/frames.js';
import { validateHostToKernel } from '../wire/validate.js';
import type {
  BreachMessage,
  HostLimits,
  HostToKernel,
  KernelToHost,
  RequestMessage,
  WireError,
  WireValue,
} from '../wire/messages.js';
import type { HandlerName } from '../sdk/api.js';
import { hostEntry } from './paths.js';
import { KernelError } from './errors.js';

export interface HostSpec {
  domain: string;
  script: string;
  filename: string;
  limits: HostLimits;
  clockGranularityMs: number;
  maxFrameBytes: number;
  readyTimeoutMs: number;
  /** The host program; default dist/host.js. Tests substitute misbehaving hosts here. */
  entry?: string;
  /** Extra argv for `entry` (tests). */
  args?: string[];
}

export interface HostEvents {
  ready: [handlers: HandlerName[]];
  request: [msg: RequestMessage];
  breach: [msg: BreachMessage];
  /** The host broke the protocol; it has been killed. */
  violation: [reason: string];
  exit: [info: { code: number | null; signal: NodeJS.Signals | null; uptimeMs: number }];
  /** A line the host wrote to stdout/stderr (already bounded; the kernel redacts before logging). */
  output: [line: string];
}

interface PendingCall {
  resolve: (v: WireValue) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const MAX_LINE_CHARS = 4096;
const TRAILING_DIGITS = /[0-9][0-9 =-]*$/;
const LEADING_DIGITS = /^[0-9 =-]*[0-9]/;

function spawnHost(entry: string, args: readonly string[]): { child: ChildProcess; pipe: Socket } {
  const child = spawn(process.execPath, ['--no-node-snapshot', entry, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    // The host inherits nothing: no secrets or proxies through the environment.
    env: {},
    serialization: 'json',
  });
  return { child, pipe: child.stdio[3] as Socket };
}

/**
 * A host process started ahead of need: node and the host program (isolated-vm included) are
 * loaded, and it waits for its first frame. It has no domain yet -- the host learns everything from
 * `init` -- so it is exactly what a fresh spawn would be at that point, only earlier. Adopted by at
 * most one HostProcess; never reused.
 */
export class SpareHost {
  private readonly child: ChildProcess;
  private readonly pipe: Socket;
  private taken = false;

  constructor() {
    ({ child: this.child, pipe: this.pipe } = spawnHost(hostEntry(), []));
    // Until adopted nobody reads its output (it writes none before `init`); these only keep a spare
    // that failed to start or died from being an unhandled error in the kernel.
    this.child.on('error', () => undefined);
    this.pipe.on('error', () => undefined);
    // An idle spare must not keep the kernel running; if the kernel goes, the spare reads EOF and exits.
    this.child.unref();
    this.pipe.unref();
  }

  get alive(): boolean {
    return !this.taken && this.child.exitCode === null && this.child.signalCode === null && !this.pipe.destroyed;
  }

  /** Hands the process over; undefined if it is gone or already handed over. */
  take(): { child: ChildProcess; pipe: Socket } | undefined {
    if (!this.alive) return undefined;
    this.taken = true;
    this.child.ref();
    this.pipe.ref();
    return { child: this.child, pipe: this.pipe };
  }

  kill(): void {
    if (this.taken) return;
    this.taken = true;
    this.child.kill('SIGKILL');
  }
}

export class HostProcess extends EventEmitter<HostEvents> {
  private child: ChildProcess | null = null;
  private pipe: Socket | null = null;
  private nextCallId = 1;
  private readonly calls = new Map<number, PendingCall>();
  private startedAt = 0;
  private readyHandlers: HandlerName[] | null = null;
  private exited = false;

  constructor(readonly spec: HostSpec) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
  get handlers(): readonly HandlerName[] {
    return this.readyHandlers ?? [];
  }
  get isReady(): boolean {
    return this.readyHandlers !== null && !this.exited;
  }

  /**
   * Spawns the host (or adopts `spare`, a process already waiting for `init`, when this host runs the
   * default program) and resolves once the applet has been loaded (first `ready`).
   */
  start(spare?: SpareHost): Promise<HandlerName[]> {
    const adopted = this.spec.entry === undefined && this.spec.args === undefined ? spare?.take() : undefined;
    const { child, pipe } = adopted ?? spawnHost(this.spec.entry ?? hostEntry(), this.spec.args ?? []);
    this.child = child;
    this.startedAt = Date.now();
    this.pipe = pipe;
    const decoder = new FrameDecoder(this.spec.maxFrameBytes);

    for (const stream of [child.stdout, child.stderr]) {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        buf += chunk;
        // Output is cut before the kernel redacts it, so a card number split by a cut could keep too
        // few digits to be recognised: the digits running into either cut are dropped with it.
        if (buf.length > 64 * 1024) buf = buf.slice(-64 * 1024).replace(LEADING_DIGITS, '');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          this.emit('output', nl > MAX_LINE_CHARS ? buf.slice(0, MAX_LINE_CHARS).replace(TRAILING_DIGITS, '') : buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      });
    }

    pipe.on('data', (chunk: Buffer) => {
      let messages: unknown[];
      try {
        messages = decoder.push(chunk);
      } catch (e) {
        this.violate(`undecodable frame: ${(e as Error).message}`);
        return;
      }
      for (const raw of messages) {
        let msg: HostToKernel;
        try {
          msg = validateHostToKernel(raw);
        } catch (e) {
          this.violate(`invalid message: ${(e as Error).message}`);
          return;
        }
        this.onMessage(msg);
        if (this.exited) return;
      }
    });
    pipe.on('error', () => {
      /* the exit handler reports the host's death */
    });

    const ready = new Promise<HandlerName[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new KernelError('E_UNAVAILABLE', `host for ${this.spec.domain} did not become ready within ${this.spec.readyTimeoutMs} ms`));
        this.kill();
      }, this.spec.readyTimeoutMs);
      const onReady = (h: HandlerName[]) => {
        clearTimeout(timer);
        this.off('exit', onExit);
        resolve(h);
      };
      const onExit = (info: { code: number | null; signal: NodeJS.Signals | null }) => {
        clearTimeout(timer);
        this.off('ready', onReady);
        reject(new KernelError('E_UNAVAILABLE', `host for ${this.spec.domain} exited before ready (code ${info.code}, signal ${info.signal})`));
      };
      this.once('ready', onReady);
      this.once('exit', onExit);
    });

    child.on('exit', (code, signal) => {
      this.exited = true;
      this.readyHandlers = null;
      for (const [, p] of this.calls) {
        clearTimeout(p.timer);
        p.reject(new KernelError('E_UNAVAILABLE', `host for ${this.spec.domain} exited during the call`));
      }
      this.calls.clear();
      this.emit('exit', { code, signal, uptimeMs: Date.now() - this.startedAt });
    });

    this.send({
      t: 'init',
      domain: this.spec.domain,
      script: this.spec.script,
      filename: this.spec.filename,
      limits: this.spec.limits,
      clockGranularityMs: this.spec.clockGranularityMs,
      maxFrameBytes: this.spec.maxFrameBytes,
    });
    return ready;
  }

  /** Invokes a global handler of the applet; rejects on deadline, breach or host death. */
  call(handler: HandlerName, args: WireValue[], deadlineMs: number): Promise<WireValue> {
    if (!this.isReady) return Promise.reject(new KernelError('E_UNAVAILABLE', `the ${this.spec.domain} applet is not running`));
    if (!this.handlers.includes(handler)) {
      return Promise.reject(new KernelError('E_UNAVAILABLE', `the ${this.spec.domain} applet defines no ${handler}() handler`));
    }
    const id = this.nextCallId++;
    return new Promise<WireValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(id);
        reject(new KernelError('E_DEADLINE', `${this.spec.domain}.${handler}() did not finish within ${deadlineMs} ms`));
      }, deadlineMs);
      this.calls.set(id, { resolve, reject, timer });
      this.send({ t: 'call', id, handler, args });
    });
  }

  reply(id: number, result: { ok: true; value: WireValue | undefined } | { ok: false; error: WireError }): void {
    if (this.exited) return;
    if (!result.ok) this.send({ t: 'reply', id, ok: false, error: result.error });
    else if (result.value === undefined) this.send({ t: 'reply', id, ok: true });
    else this.send({ t: 'reply', id, ok: true, value: result.value });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child && !this.exited) this.child.kill(signal);
  }

  /** Closes the pipe (the host exits on EOF) and waits; kills if it lingers. */
  async stop(graceMs = 1000): Promise<void> {
    const child = this.child;
    if (!child || this.exited) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.pipe?.end();
    const t = setTimeout(() => this.kill(), graceMs);
    await exited;
    clearTimeout(t);
  }

  private send(msg: KernelToHost): void {
    if (!this.pipe || this.exited || this.pipe.destroyed) return;
    this.pipe.write(encodeFrame(msg));
  }

  private violate(reason: string): void {
    if (this.exited) return;
    this.emit('violation', reason);
    this.kill();
  }

  private onMessage(msg: HostToKernel): void {
    switch (msg.t) {
      case 'ready':
        this.readyHandlers = msg.handlers;
        this.emit('ready', msg.handlers);
        return;
      case 'req':
        this.emit('request', msg);
        return;
      case 'result': {
        const p = this.calls.get(msg.id);
        // A late result (after a deadline or a breach) is harmless; an id never issued is a lie.
        if (!p) {
          if (msg.id >= this.nextCallId) this.violate(`result for call ${msg.id}, which the kernel never made`);
          return;
        }
        this.calls.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.value ?? null);
        else p.reject(new KernelError('E_APPLET', msg.error?.message ?? 'the applet handler failed'));
        return;
      }
      case 'breach': {
        this.readyHandlers = null;
        if (msg.callId !== undefined) {
          const p = this.calls.get(msg.callId);
          if (p) {
            this.calls.delete(msg.callId);
            clearTimeout(p.timer);
            p.reject(new KernelError('E_TERMINATED', `applet terminated: ${msg.kind} limit (${msg.detail})`));
          }
        }
        // Every other call ran in the isolate that was just destroyed.
        for (const [id, p] of this.calls) {
          clearTimeout(p.timer);
          p.reject(new KernelError('E_TERMINATED', `applet terminated: ${msg.kind} limit`));
          this.calls.delete(id);
        }
        this.emit('breach', msg);
        return;
      }
      case 'fatal':
        this.emit('output', `fatal: ${msg.detail}`);
        this.kill();
        return;
    }
  }
}
