/**
 * CPU and wall-clock budgets for one isolate, checked from the host's main thread on a short
 * interval while the isolate runs on isolated-vm's thread pool.
 *
 * Per task (a handler call, or the applet's start-up), measured from when the task began:
 * - cpu: the isolate's cpuTime, so work hidden in microtasks and the slices run around each awaited
 *   platform call all count, however the work is split up;
 * - wall: the isolate's wallTime, i.e. time spent executing inside the isolate (CPU plus any
 *   blocking there), but not time the applet spends waiting for the kernel's replies -- a PIN entry or
 *   a UI question may legitimately take a person many seconds, and the kernel bounds those waits with
 *   its own deadlines;
 * - deadline: real elapsed time, a much larger backstop so that a handler that never settles (awaiting
 *   a promise nothing will resolve) cannot hold the host's call slots for ever.
 * With several tasks at once each is charged the isolate's whole use (conservative: isolated-vm cannot
 * attribute time to a task).
 *
 * Outside any task, CPU the isolate burns (a microtask chain left running, continuations of
 * un-awaited calls) is charged to a rolling window: more than `idleCpuMs` in `idleWindowMs` is a
 * breach too.
 */
import type { BreachMessage } from '../wire/messages.js';

export type BreachKind = BreachMessage['kind'];

export interface Breach {
  kind: BreachKind;
  detail: string;
  callId?: number;
}

export interface WatchdogOptions {
  cpuMs: number;
  wallMs: number;
  /** Real time a task may take, waits included. */
  deadlineMs: number;
  /** CPU allowed outside any task per window; defaults to cpuMs. */
  idleCpuMs?: number;
  idleWindowMs?: number;
  intervalMs?: number;
  /** The isolate's cumulative CPU time (ns); may throw once the isolate is gone. */
  readCpuNs(): bigint;
  /** The isolate's cumulative wall time (ns). */
  readWallNs(): bigint;
  /** True when the isolate died without the host disposing it (isolated-vm's memory limit). */
  isDead(): boolean;
  onBreach(breach: Breach): void;
  nowNs?(): bigint;
}

/** 'init' is the applet's top-level run; numbers are call ids. */
export type TaskKey = number | 'init';

interface Task {
  cpu0: bigint;
  wall0: bigint;
  start: bigint;
}

const NS_PER_MS = 1_000_000n;

function ms(ns: bigint): string {
  return `${(Number(ns) / 1e6).toFixed(1)} ms`;
}

export class Watchdog {
  private readonly o: Required<Pick<WatchdogOptions, 'idleCpuMs' | 'idleWindowMs' | 'intervalMs'>> & WatchdogOptions;
  private readonly cpuLimitNs: bigint;
  private readonly wallLimitNs: bigint;
  private readonly deadlineNs: bigint;
  private readonly idleLimitNs: bigint;
  private readonly idleWindowNs: bigint;
  private readonly tasks = new Map<TaskKey, Task>();
  private timer: NodeJS.Timeout | undefined;
  private lastCpu = 0n;
  private idleCpu = 0n;
  private windowStart = 0n;
  private fired = false;

  constructor(options: WatchdogOptions) {
    this.o = { idleCpuMs: options.cpuMs, idleWindowMs: 1000, intervalMs: 10, ...options };
    this.cpuLimitNs = BigInt(Math.ceil(this.o.cpuMs * 1e6));
    this.wallLimitNs = BigInt(Math.ceil(this.o.wallMs * 1e6));
    this.deadlineNs = BigInt(Math.ceil(this.o.deadlineMs * 1e6));
    this.idleLimitNs = BigInt(Math.ceil(this.o.idleCpuMs * 1e6));
    this.idleWindowNs = BigInt(Math.ceil(this.o.idleWindowMs)) * NS_PER_MS;
    // CPU spent before the watchdog existed (context set-up, the shim) is nobody's budget.
    this.lastCpu = this.safeCpu() ?? 0n;
    this.windowStart = this.now();
  }

  private now(): bigint {
    return this.o.nowNs ? this.o.nowNs() : process.hrtime.bigint();
  }

  start(): void {
    if (this.timer !== undefined || this.fired) return;
    this.timer = setInterval(() => this.check(), this.o.intervalMs);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  get activeTasks(): number {
    return this.tasks.size;
  }

  begin(key: TaskKey): void {
    const cpu = this.account();
    this.tasks.set(key, { cpu0: cpu ?? this.lastCpu, wall0: this.safeWall() ?? 0n, start: this.now() });
  }

  end(key: TaskKey): void {
    // Charge the CPU since the last tick to the task, not to the idle window.
    this.account();
    this.tasks.delete(key);
  }

  /** One check; runs on the interval, public so tests can drive it. */
  check(): void {
    if (this.fired) return;
    if (this.o.isDead()) {
      this.fire({ kind: 'memory', detail: 'isolate was disposed by isolated-vm (memory limit)', ...this.someCall() });
      return;
    }
    const cpu = this.account();
    if (cpu === undefined) {
      this.fire({ kind: 'crash', detail: 'isolate CPU time is unreadable (isolate gone)', ...this.someCall() });
      return;
    }
    const now = this.now();
    const wall = this.safeWall() ?? 0n;
    for (const [key, task] of this.tasks) {
      const callId = key === 'init' ? {} : { callId: key };
      const what = key === 'init' ? 'applet start-up' : `call ${key}`;
      const used = cpu - task.cpu0;
      if (used > this.cpuLimitNs) {
        this.fire({ kind: 'cpu', detail: `${what} used ${ms(used)} of CPU (limit ${this.o.cpuMs} ms)`, ...callId });
        return;
      }
      const ran = wall - task.wall0;
      if (ran > this.wallLimitNs) {
        this.fire({ kind: 'wall', detail: `${what} ran for ${ms(ran)} in the isolate (limit ${this.o.wallMs} ms)`, ...callId });
        return;
      }
      const elapsed = now - task.start;
      if (elapsed > this.deadlineNs) {
        this.fire({ kind: 'deadline', detail: `${what} has not finished after ${ms(elapsed)} (limit ${this.o.deadlineMs} ms)`, ...callId });
        return;
      }
    }
    if (this.idleCpu > this.idleLimitNs) {
      this.fire({
        kind: 'cpu',
        detail: `isolate used ${ms(this.idleCpu)} of CPU outside any call within ${this.o.idleWindowMs} ms (limit ${this.o.idleCpuMs} ms)`,
      });
      return;
    }
    if (now - this.windowStart >= this.idleWindowNs) {
      this.windowStart = now;
      this.idleCpu = 0n;
    }
  }

  /** Reads the CPU clock, charging the delta since the last read to the idle window when no task runs. */
  private account(): bigint | undefined {
    const cpu = this.safeCpu();
    if (cpu === undefined) return undefined;
    if (this.tasks.size === 0 && cpu > this.lastCpu) this.idleCpu += cpu - this.lastCpu;
    this.lastCpu = cpu;
    return cpu;
  }

  private safeWall(): bigint | undefined {
    try {
      return this.o.readWallNs();
    } catch {
      return undefined;
    }
  }

  private safeCpu(): bigint | undefined {
    try {
      return this.o.readCpuNs();
    } catch {
      return undefined;
    }
  }

  private someCall(): { callId?: number } {
    for (const key of this.tasks.keys()) if (key !== 'init') return { callId: key };
    return {};
  }

  private fire(breach: Breach): void {
    this.fired = true;
    this.stop();
    this.o.onBreach(breach);
  }
}
