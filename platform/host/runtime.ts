/**
 * The domain host's protocol state machine, independent of the pipe it talks over (main.ts wires it
 * to fd 3). It owns at most one live applet generation (Sandbox + Watchdog); a breach kills the
 * generation, answers for everything it had in progress, and starts a fresh one.
 *
 * Protocol, as the kernel sees it:
 * - the first frame must be `init`; the host answers `ready {handlers}` or `fatal` (then exits 4);
 * - `call` is answered by exactly one `result` with the same id (ok:false codes: E_APPLET the handler
 *   threw or returned something that cannot cross; E_NO_HANDLER; E_RESTARTING while a fresh isolate is
 *   being built after a breach; E_BUSY too many calls at once; E_BREACH the call was killed by a breach);
 * - applet platform calls become `req` frames with host-chosen ids; each is settled by the kernel's
 *   `reply`. Replies to requests of a generation that has since died are ignored;
 * - on a breach the host sends `breach`, then `result {ok:false, E_BREACH}` for every call that was
 *   running, forgets that generation's outstanding requests, and sends a new `ready` once rebuilt;
 * - exit codes: 0 pipe closed, 1 host crash, 3 protocol violation, 4 fatal; SIGABRT on an
 *   isolated-vm catastrophic error;
 * - any frame that fails validation, a second `init`, a `call`/`reply` before `init`, a duplicate
 *   running call id, or a reply to a request id never issued: stderr + exit 3.
 */
import { REQUEST_OPS, type CallMessage, type HostToKernel, type InitMessage, type ReplyMessage, type WireError, type WireValue } from '../wire/messages.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameError } from '../wire/frames.js';
import { MAX_ID, validateHostToKernel, validateKernelToHost } from '../wire/validate.js';
import type { HandlerName } from '../sdk/api.js';
import { MAX_IN_FLIGHT, Sandbox, isMemoryLimitError, prepareExit, type SettleOutcome } from './sandbox.js';
import { Watchdog, type Breach } from './watchdog.js';

export const EXIT_OK = 0;
export const EXIT_CRASH = 1;
export const EXIT_PROTOCOL = 3;
export const EXIT_FATAL = 4;

export interface HostIO {
  /** Encodes and queues one frame; throws FrameError when its body exceeds `maxFrameBytes`. */
  send(msg: HostToKernel, maxFrameBytes: number): void;
  /** Flushes what was sent, then ends the process with `code`. */
  exit(code: number): void;
  log(line: string): void;
}

export interface RuntimeOptions {
  breachLimit?: number;
  breachWindowMs?: number;
  watchdogIntervalMs?: number;
  maxConcurrentCalls?: number;
  /** Real-time backstop for one call or start-up, waits on the kernel included (breach 'deadline'). */
  callDeadlineMs?: number;
}

const OPS: ReadonlySet<string> = new Set(REQUEST_OPS);
const MAX_ERROR_BYTES = 1024;
const QUIESCE_TIMEOUT_MS = 1000;
/**
 * Far above any legitimate wait (the kernel bounds PIN entry, UI and slot waits with its own, shorter
 * deadlines): this only reclaims calls whose handler will never settle.
 */
export const DEFAULT_CALL_DEADLINE_MS = 10 * 60_000;

interface Generation {
  sandbox: Sandbox | undefined;
  watchdog: Watchdog | undefined;
  handlers: ReadonlySet<HandlerName>;
  starting: boolean;
  dead: boolean;
  /** Running calls, in arrival order. */
  calls: Set<number>;
  /** Outstanding kernel requests: wire id -> shim-local id. */
  requests: Map<number, number>;
}

type Phase = 'waiting-init' | 'starting' | 'ready' | 'restarting' | 'dead';

/** A run of digits (with the separators card numbers are written with) at the end of a string. */
export const CUT_DIGITS = /[0-9][0-9 =-]*$/;

export function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let out = s.slice(0, maxBytes);
  while (Buffer.byteLength(out) > maxBytes - 3) out = out.slice(0, -1);
  // Do not end on a lone high surrogate.
  if (/[\uD800-\uDBFF]$/.test(out)) out = out.slice(0, -1);
  // A card number cut here would keep too few digits for the kernel's redaction to recognise it, and
  // its middle digits would reach the logs: the digits running into the cut go as well.
  out = out.replace(CUT_DIGITS, '');
  return `${out}...`;
}

function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
}

export class HostRuntime {
  private readonly io: HostIO;
  private readonly breachLimit: number;
  private readonly breachWindowMs: number;
  private readonly watchdogIntervalMs: number;
  private readonly maxConcurrentCalls: number;
  private readonly callDeadlineMs: number;
  private phase: Phase = 'waiting-init';
  private init: InitMessage | undefined;
  private gen: Generation | undefined;
  private readonly breaches: number[] = [];
  /** Every outstanding request of every generation still owed a reply. */
  private readonly requests = new Map<number, { gen: Generation; localId: number }>();
  /** Every sandbox created and not yet known to be quiet; waited for before exiting. */
  private readonly sandboxes = new Set<Sandbox>();
  private lastReqId = 0;
  /** The kernel's limit on frames from this host, once `init` has said it. */
  private maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  private reqIdsWrapped = false;

  constructor(io: HostIO, options: RuntimeOptions = {}) {
    this.io = io;
    this.breachLimit = options.breachLimit ?? 5;
    this.breachWindowMs = options.breachWindowMs ?? 60_000;
    this.watchdogIntervalMs = options.watchdogIntervalMs ?? 10;
    this.maxConcurrentCalls = options.maxConcurrentCalls ?? 32;
    this.callDeadlineMs = options.callDeadlineMs ?? DEFAULT_CALL_DEADLINE_MS;
  }

  get isDead(): boolean {
    return this.phase === 'dead';
  }

  /** One decoded frame from the kernel (still untrusted). */
  receive(raw: unknown): void {
    if (this.phase === 'dead') return;
    let msg;
    try {
      msg = validateKernelToHost(raw);
    } catch (err) {
      this.protocolViolation(errorMessage(err));
      return;
    }
    if (msg.t === 'init') {
      if (this.phase !== 'waiting-init') return this.protocolViolation('second init');
      this.init = msg;
      if (msg.maxFrameBytes !== undefined) this.maxFrameBytes = msg.maxFrameBytes;
      void this.boot();
      return;
    }
    if (this.phase === 'waiting-init') return this.protocolViolation(`${msg.t} before init`);
    if (msg.t === 'call') this.onCall(msg);
    else this.onReply(msg);
  }

  protocolViolation(reason: string): void {
    if (this.phase === 'dead') return;
    this.io.log(`host: protocol violation: ${reason}`);
    this.terminate(EXIT_PROTOCOL);
  }

  /** The kernel closed the pipe. */
  shutdown(): void {
    if (this.phase === 'dead') return;
    this.terminate(EXIT_OK);
  }

  /**
   * isolated-vm lost control of an isolate. Its guidance is to abort: disposing or exiting normally
   * may touch the broken isolate (and process.exit() can block on it), and the kernel's supervisor
   * restarts the host either way.
   */
  catastrophic(message: string): void {
    this.phase = 'dead';
    this.io.log(`host: isolated-vm catastrophic error: ${message}`);
    process.abort();
  }

  private terminate(code: number): void {
    this.phase = 'dead';
    if (this.gen) this.kill(this.gen);
    const quiet = Promise.allSettled([...this.sandboxes].map((s) => s.quiesce()));
    const bound = new Promise((resolve) => setTimeout(resolve, QUIESCE_TIMEOUT_MS));
    void Promise.race([quiet, bound])
      .then(() => prepareExit())
      .then(() => this.io.exit(code));
  }

  private fatal(detail: string): void {
    if (this.phase === 'dead') return;
    this.trySend({ t: 'fatal', detail: truncateUtf8(detail, 4096) });
    this.io.log(`host: fatal: ${detail}`);
    this.terminate(EXIT_FATAL);
  }

  private trySend(msg: HostToKernel): boolean {
    try {
      this.io.send(validateHostToKernel(msg), this.maxFrameBytes);
      return true;
    } catch (err) {
      this.io.log(`host: could not send ${msg.t}: ${errorMessage(err)}`);
      return false;
    }
  }

  // ---------------------------------------------------------------- generations

  private async boot(): Promise<void> {
    const init = this.init;
    if (init === undefined) return;
    const first = this.phase === 'waiting-init';
    this.phase = first ? 'starting' : 'restarting';
    const gen: Generation = {
      sandbox: undefined,
      watchdog: undefined,
      handlers: new Set(),
      starting: true,
      dead: false,
      calls: new Set(),
      requests: new Map(),
    };
    this.gen = gen;
    try {
      const sandbox = await Sandbox.create({
        domain: init.domain,
        script: init.script,
        filename: init.filename,
        limits: init.limits,
        clockGranularityMs: init.clockGranularityMs,
        onRequest: (localId, op, args) => this.onRequest(gen, localId, op, args),
        onCatastrophicError: (message) => this.catastrophic(message),
      });
      gen.sandbox = sandbox;
      this.sandboxes.add(sandbox);
      if (gen.dead) {
        sandbox.dispose();
        return;
      }
      const watchdog = new Watchdog({
        cpuMs: init.limits.cpuMsPerCall,
        wallMs: init.limits.wallMsPerCall,
        deadlineMs: Math.max(this.callDeadlineMs, init.limits.wallMsPerCall),
        intervalMs: this.watchdogIntervalMs,
        readCpuNs: () => sandbox.cpuTimeNs(),
        readWallNs: () => sandbox.wallTimeNs(),
        isDead: () => sandbox.diedOnItsOwn,
        onBreach: (b) => this.breach(gen, b),
      });
      gen.watchdog = watchdog;
      watchdog.begin('init');
      watchdog.start();
      const handlers = await sandbox.run();
      if (gen.dead) return;
      watchdog.end('init');
      gen.handlers = new Set(handlers);
      gen.starting = false;
      this.phase = 'ready';
      this.trySend({ t: 'ready', handlers });
    } catch (err) {
      if (gen.dead || this.isDead) return;
      if (isMemoryLimitError(err) || gen.sandbox?.diedOnItsOwn === true) {
        this.breach(gen, { kind: 'memory', detail: errorMessage(err) });
        return;
      }
      this.kill(gen);
      this.fatal(`applet failed to start: ${truncateUtf8(errorMessage(err), MAX_ERROR_BYTES)}`);
    }
  }

  /** Disposes a generation and forgets its outstanding requests; idempotent. */
  private kill(gen: Generation): void {
    if (gen.dead) return;
    gen.dead = true;
    gen.watchdog?.stop();
    const sandbox = gen.sandbox;
    if (sandbox) {
      sandbox.dispose();
      void sandbox.quiesce().then(() => this.sandboxes.delete(sandbox));
    }
    for (const wireId of gen.requests.keys()) this.requests.delete(wireId);
    gen.requests.clear();
    if (this.gen === gen) this.gen = undefined;
  }

  private breach(gen: Generation, b: Breach): void {
    if (gen.dead || this.phase === 'dead') return;
    const running = [...gen.calls];
    const wasStarting = gen.starting;
    this.kill(gen);
    const callId = b.callId ?? running[0];
    this.trySend({ t: 'breach', kind: b.kind, detail: b.detail, ...(callId !== undefined ? { callId } : {}) });
    for (const id of running) {
      this.sendResult(id, { ok: false, error: { code: 'E_BREACH', message: `${b.kind} limit: ${b.detail}` } });
    }
    this.io.log(`host: breach ${b.kind}: ${b.detail}`);
    if (wasStarting) {
      this.fatal(`applet breached its ${b.kind} limit while starting: ${b.detail}`);
      return;
    }
    const now = Date.now();
    this.breaches.push(now);
    while (this.breaches.length > 0 && (this.breaches[0] as number) <= now - this.breachWindowMs) this.breaches.shift();
    if (this.breaches.length >= this.breachLimit) {
      this.fatal(`${this.breaches.length} breaches within ${this.breachWindowMs / 1000} s`);
      return;
    }
    void this.boot();
  }

  /** An isolate operation failed: a memory-limit death is a breach, anything else is logged. */
  private isolateFailed(gen: Generation, err: unknown, callId?: number): boolean {
    if (gen.dead) return true;
    if (isMemoryLimitError(err) || gen.sandbox?.diedOnItsOwn === true) {
      this.breach(gen, { kind: 'memory', detail: errorMessage(err), ...(callId !== undefined ? { callId } : {}) });
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- calls

  private onCall(msg: CallMessage): void {
    const gen = this.gen;
    if (gen?.calls.has(msg.id)) return this.protocolViolation(`call id ${msg.id} is already running`);
    if (this.phase !== 'ready' || gen === undefined || gen.sandbox === undefined || gen.dead) {
      this.sendResult(msg.id, { ok: false, error: { code: 'E_RESTARTING', message: 'the applet is being restarted' } });
      return;
    }
    if (!gen.handlers.has(msg.handler)) {
      this.sendResult(msg.id, { ok: false, error: { code: 'E_NO_HANDLER', message: `the applet defines no ${msg.handler}` } });
      return;
    }
    if (gen.calls.size >= this.maxConcurrentCalls) {
      this.sendResult(msg.id, { ok: false, error: { code: 'E_BUSY', message: 'too many calls running' } });
      return;
    }
    const sandbox = gen.sandbox;
    gen.calls.add(msg.id);
    gen.watchdog?.begin(msg.id);
    sandbox.call(msg.handler, msg.args).then(
      (outcome) => {
        if (gen.dead) return;
        gen.watchdog?.end(msg.id);
        gen.calls.delete(msg.id);
        if (outcome.ok) {
          this.sendResult(msg.id, outcome.value === undefined ? { ok: true } : { ok: true, value: outcome.value });
        } else {
          this.sendResult(msg.id, {
            ok: false,
            error: { code: 'E_APPLET', message: truncateUtf8(outcome.message, MAX_ERROR_BYTES) },
          });
        }
      },
      (err: unknown) => {
        if (this.isolateFailed(gen, err, msg.id)) return;
        gen.watchdog?.end(msg.id);
        gen.calls.delete(msg.id);
        this.sendResult(msg.id, {
          ok: false,
          error: { code: 'E_INTERNAL', message: truncateUtf8(`handler call failed: ${errorMessage(err)}`, MAX_ERROR_BYTES) },
        });
      },
    );
  }

  private sendResult(id: number, outcome: { ok: true; value?: WireValue } | { ok: false; error: WireError }): void {
    let msg: HostToKernel = { t: 'result', id, ...outcome };
    try {
      msg = validateHostToKernel(msg);
    } catch (err) {
      msg = {
        t: 'result',
        id,
        ok: false,
        error: { code: 'E_APPLET', message: truncateUtf8(`result cannot cross: ${errorMessage(err)}`, MAX_ERROR_BYTES) },
      };
    }
    try {
      this.io.send(msg, this.maxFrameBytes);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.trySend({ t: 'result', id, ok: false, error: { code: 'E_QUOTA', message: 'result too large for a frame' } });
    }
  }

  // ---------------------------------------------------------------- requests

  private nextReqId(): number {
    for (;;) {
      this.lastReqId += 1;
      if (this.lastReqId > MAX_ID) {
        this.lastReqId = 1;
        this.reqIdsWrapped = true;
      }
      if (!this.requests.has(this.lastReqId)) return this.lastReqId;
    }
  }

  private onRequest(gen: Generation, localId: unknown, op: unknown, args: unknown): void {
    if (gen.dead || this.phase === 'dead' || gen.sandbox === undefined) return;
    if (typeof localId !== 'number' || !Number.isSafeInteger(localId) || localId < 1) {
      this.io.log('host: shim sent a request without a usable id; ignored');
      return;
    }
    const reject = (code: string, message: string): void => this.settle(gen, localId, { ok: false, code, message });
    if (typeof op !== 'string' || !OPS.has(op)) return reject('E_ARGS', 'unknown platform operation');
    if (gen.requests.size >= MAX_IN_FLIGHT) return reject('E_QUOTA', `more than ${MAX_IN_FLIGHT} platform calls in flight`);
    // The shim enforces this too; checked again here because the shim shares a realm with the applet.
    if (!gen.starting && gen.calls.size === 0) {
      return reject('E_STATE', `${op}: platform calls are only accepted while a handler call is running`);
    }
    const id = this.nextReqId();
    let msg: HostToKernel;
    try {
      msg = validateHostToKernel({ t: 'req', id, op, args });
    } catch (err) {
      // The ProtocolError's message names the offending field (req.args.apdu: ...).
      return reject('E_ARGS', err instanceof Error ? err.message : String(err));
    }
    try {
      this.io.send(msg, this.maxFrameBytes);
    } catch (err) {
      if (err instanceof FrameError) return reject('E_QUOTA', `${op}: request too large`);
      throw err;
    }
    gen.requests.set(id, localId);
    this.requests.set(id, { gen, localId });
  }

  private onReply(msg: ReplyMessage): void {
    const pending = this.requests.get(msg.id);
    if (pending === undefined) {
      if (!this.reqIdsWrapped && msg.id > this.lastReqId) {
        this.protocolViolation(`reply ${msg.id} to a request that was never sent`);
      }
      // Otherwise a late or duplicate reply for a request whose generation died: nothing to do.
      return;
    }
    this.requests.delete(msg.id);
    pending.gen.requests.delete(msg.id);
    const outcome: SettleOutcome = msg.ok
      ? msg.value === undefined
        ? { ok: true }
        : { ok: true, value: msg.value }
      : { ok: false, code: msg.error?.code ?? 'E_INTERNAL', message: msg.error?.message ?? 'request failed' };
    this.settle(pending.gen, pending.localId, outcome);
  }

  private settle(gen: Generation, localId: number, outcome: SettleOutcome): void {
    const sandbox = gen.sandbox;
    if (gen.dead || sandbox === undefined) return;
    try {
      sandbox.settle(localId, outcome);
    } catch (err) {
      if (!this.isolateFailed(gen, err)) this.io.log(`host: settling a platform call failed: ${errorMessage(err)}`);
    }
  }
}
