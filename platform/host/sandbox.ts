/**
 * One applet instance: an isolated-vm Isolate, a fresh Context hardened by the shim, and the applet
 * script run in it. Host-side handles (Isolate, Context, the shim's `ctl` Reference) never enter the
 * isolate; the only thing the isolate gets is the bridge Callback, captured by the shim.
 *
 * Every isolate operation after construction is asynchronous, so the host's event loop (and its
 * watchdog) keeps running while applet code does.
 */
import ivm from 'isolated-vm';
import { HANDLER_NAMES, type HandlerName } from '../sdk/api.js';
import type { HostLimits, WireValue } from '../wire/messages.js';
import { SHIM_FILENAME, SHIM_SOURCE, type ShimConfig } from './shim.js';

/** Platform calls one isolate may have waiting on the kernel at once. */
export const MAX_IN_FLIGHT = 64;
/** Estimated size cap of one request's arguments (strings counted at 3 bytes a unit). */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** Thrown applet messages are cut to this many characters before they leave the isolate. */
export const MAX_ERROR_CHARS = 1024;

export interface SandboxOptions {
  domain: string;
  script: string;
  filename: string;
  limits: HostLimits;
  clockGranularityMs: number;
  /**
   * A platform call from the shim. Values are host-realm copies made by isolated-vm's structured
   * clone; they are unvalidated (the shim could in principle be subverted) and must be checked.
   */
  onRequest(localId: unknown, op: unknown, args: unknown): void;
  onCatastrophicError(message: string): void;
}

export type CallOutcome = { ok: true; value?: WireValue } | { ok: false; message: string };

export type SettleOutcome = { ok: true; value?: WireValue } | { ok: false; code: string; message: string };

type Ctl = (kind: string, ...args: unknown[]) => unknown;

const HANDLERS: ReadonlySet<string> = new Set(HANDLER_NAMES);

/**
 * Process-exit hazards of isolated-vm 5 on Node 20, both reproduced here:
 * - process.exit() while an isolate is executing never returns (the exit waits on the isolate's
 *   thread), so every exit path must dispose live isolates first;
 * - process.exit() right after dispose() can SIGSEGV: the isolate's environment is destroyed on a
 *   pool thread, racing the platform teardown. A short grace period after the last dispose avoids it.
 */
const live = new Set<ivm.Isolate>();
let lastDisposeAt = 0;
export const EXIT_GRACE_MS = 100;

function disposeIsolate(isolate: ivm.Isolate): void {
  live.delete(isolate);
  if (isolate.isDisposed) return;
  try {
    isolate.dispose();
  } catch {
    // Already gone (it may have been disposed for its memory limit in between).
  }
  lastDisposeAt = Date.now();
}

/** Disposes every isolate still alive, and resolves once exiting the process is safe. */
export async function prepareExit(): Promise<void> {
  for (const isolate of [...live]) disposeIsolate(isolate);
  const wait = lastDisposeAt + EXIT_GRACE_MS - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

export class Sandbox {
  readonly isolate: ivm.Isolate;
  private readonly context: ivm.Context;
  private readonly ctl: ivm.Reference<Ctl>;
  private readonly options: SandboxOptions;
  private disposedByUs = false;
  /** isolated-vm operations not yet settled; see quiesce(). */
  private readonly inflight = new Set<Promise<unknown>>();

  private constructor(options: SandboxOptions, isolate: ivm.Isolate, context: ivm.Context, ctl: ivm.Reference<Ctl>) {
    this.options = options;
    this.isolate = isolate;
    this.context = context;
    this.ctl = ctl;
  }

  /** Creates the isolate and context and runs the shim; the applet is not run yet. */
  static async create(options: SandboxOptions): Promise<Sandbox> {
    const isolate = new ivm.Isolate({
      memoryLimit: options.limits.memoryMb,
      onCatastrophicError: (message: string) => options.onCatastrophicError(message),
    });
    live.add(isolate);
    try {
      const context = await isolate.createContext();
      const bridge = new ivm.Callback(
        (localId: unknown, op: unknown, args: unknown) => options.onRequest(localId, op, args),
        { ignored: true },
      );
      const config: ShimConfig = {
        domain: options.domain,
        clockGranularityMs: options.clockGranularityMs,
        handlerNames: [...HANDLER_NAMES],
        maxInFlight: MAX_IN_FLIGHT,
        maxRequestBytes: MAX_REQUEST_BYTES,
        maxErrorChars: MAX_ERROR_CHARS,
      };
      const ctl = (await context.evalClosure(SHIM_SOURCE, [bridge, new ivm.ExternalCopy(config).copyInto()], {
        filename: SHIM_FILENAME,
        result: { reference: true },
      })) as ivm.Reference<Ctl>;
      if (ctl.typeof !== 'function') throw new Error('shim did not return its control function');
      return new Sandbox(options, isolate, context, ctl);
    } catch (err) {
      disposeIsolate(isolate);
      throw err;
    }
  }

  /** Compiles and runs the applet script, then reports the handlers it defined. */
  async run(): Promise<HandlerName[]> {
    const script = await this.track(this.isolate.compileScript(this.options.script, { filename: this.options.filename }));
    // The completion value stays in the isolate behind a Reference that is dropped at once: nothing
    // the script evaluates to (say, a 100 MB string) is copied into the host.
    const completion = await this.track(script.run(this.context, { release: true, reference: true }));
    completion.release();
    const names = await this.track(this.ctl.apply(undefined, ['ready'], { result: { copy: true } }));
    if (!Array.isArray(names) || !names.every((n): n is HandlerName => typeof n === 'string' && HANDLERS.has(n))) {
      throw new Error('shim returned a bad handler list');
    }
    return names;
  }

  /**
   * Invokes a handler. Resolves with what the shim made of the handler's outcome; rejects only when
   * the isolate itself failed (disposed, out of memory, terminated).
   */
  async call(name: HandlerName, args: WireValue[]): Promise<CallOutcome> {
    const out: unknown = await this.track(
      this.ctl.apply(undefined, ['call', name, args], {
        arguments: { copy: true },
        result: { promise: true, copy: true },
      }),
    );
    return toCallOutcome(out);
  }

  /**
   * Resolves or rejects the shim's pending platform call `localId`. Fire-and-forget (applyIgnored):
   * the shim's settle() catches everything itself and returns nothing, so waiting for its completion
   * only cost the host a second wake-up from the isolate's thread per platform call. An isolate that
   * dies meanwhile (memory limit) is caught by the watchdog's isDead() check, as any other death
   * between calls; a disposed isolate drops the task. Throws synchronously if the isolate is already
   * gone or the arguments cannot be copied.
   */
  settle(localId: number, outcome: SettleOutcome): void {
    // Each argument is copied into the isolate on its own: a success leaves out the error's code and
    // message (the shim's settle() reads them only when ok is false).
    const args: [string, ...unknown[]] = outcome.ok
      ? ['settle', localId, true, outcome.value !== undefined, outcome.value ?? null]
      : ['settle', localId, false, false, null, outcome.code, outcome.message];
    this.ctl.applyIgnored(undefined, args, { arguments: { copy: true } });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = (): void => {
      this.inflight.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /**
   * Resolves once every isolated-vm operation started here has settled (they all reject promptly
   * after dispose()). Exiting the process while a disposed isolate's thread is still unwinding can
   * crash Node (SIGSEGV seen with isolated-vm 5 on Node 20), so the host waits for this first.
   */
  async quiesce(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  cpuTimeNs(): bigint {
    return this.isolate.cpuTime;
  }

  wallTimeNs(): bigint {
    return this.isolate.wallTime;
  }

  get isDisposed(): boolean {
    return this.isolate.isDisposed;
  }

  /** True when the isolate died without dispose() being called here (memory limit, catastrophe). */
  get diedOnItsOwn(): boolean {
    return !this.disposedByUs && this.isolate.isDisposed;
  }

  dispose(): void {
    this.disposedByUs = true;
    disposeIsolate(this.isolate);
  }
}

function toCallOutcome(out: unknown): CallOutcome {
  if (typeof out !== 'object' || out === null) return { ok: false, message: 'shim returned no outcome' };
  const o = out as { ok?: unknown; hasValue?: unknown; value?: unknown; message?: unknown };
  if (o.ok === true) {
    return o.hasValue === true ? { ok: true, value: o.value as WireValue } : { ok: true };
  }
  return { ok: false, message: typeof o.message === 'string' ? o.message : 'handler failed' };
}

/** Whether an isolated-vm failure means the isolate was killed for exceeding its memory limit. */
export function isMemoryLimitError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /memory limit/i.test(message);
}
