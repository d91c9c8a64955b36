/**
 * Keeps one host process per domain alive. A host that dies (crash, V8 abort on out-of-memory, kill)
 * is restarted with exponential back-off; before anything else can happen, the kernel is told so it
 * revokes the dead host's leases and forgets its calls in flight.
 */
import { EventEmitter } from 'node:events';
import { HostProcess, SpareHost, type HostSpec } from './host-process.js';
import type { BreachMessage, RequestMessage, WireValue } from '../wire/messages.js';
import type { HandlerName } from '../sdk/api.js';
import { KernelError } from './errors.js';

export interface SupervisorOptions {
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** A host that ran this long before dying starts its back-off afresh. */
  stableAfterMs: number;
  /**
   * Keep one host process started ahead of need (node and isolated-vm loaded, waiting for `init`), so
   * that a restart or a new domain skips process start-up. Costs one idle process. Default off.
   */
  spareHost?: boolean;
}

export type DomainState = 'starting' | 'ready' | 'restarting' | 'stopped';

export interface SupervisorEvents {
  /** The domain's isolate is gone (host exit or watchdog breach): revoke leases, cancel calls. */
  down: [domain: string, reason: string];
  ready: [domain: string, handlers: HandlerName[]];
  request: [domain: string, host: HostProcess, msg: RequestMessage];
  breach: [domain: string, msg: BreachMessage];
  violation: [domain: string, reason: string];
  exit: [domain: string, info: { code: number | null; signal: NodeJS.Signals | null; uptimeMs: number; restartInMs: number | null }];
  output: [domain: string, line: string];
}

interface Slot {
  spec: HostSpec;
  host: HostProcess;
  state: DomainState;
  failures: number;
  restarts: number;
  timer: NodeJS.Timeout | null;
  readyWaiters: Array<() => void>;
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  private readonly slots = new Map<string, Slot>();
  private stopping = false;
  private spare: SpareHost | null = null;
  private spareTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: SupervisorOptions) {
    super();
  }

  async startDomain(spec: HostSpec): Promise<void> {
    const slot: Slot = { spec, host: new HostProcess(spec), state: 'starting', failures: 0, restarts: 0, timer: null, readyWaiters: [] };
    this.slots.set(spec.domain, slot);
    await this.launch(slot);
  }

  host(domain: string): HostProcess | undefined {
    return this.slots.get(domain)?.host;
  }

  state(domain: string): { state: DomainState; restarts: number; pid: number | undefined } | undefined {
    const s = this.slots.get(domain);
    return s && { state: s.state, restarts: s.restarts, pid: s.host.pid };
  }

  domains(): string[] {
    return [...this.slots.keys()];
  }

  /** Resolves when the domain's applet is loaded and ready to take calls (after a restart too). */
  waitReady(domain: string, timeoutMs: number): Promise<void> {
    const slot = this.slots.get(domain);
    if (!slot) return Promise.reject(new KernelError('E_UNAVAILABLE', `no domain ${domain}`));
    if (slot.state === 'ready' && slot.host.isReady) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new KernelError('E_UNAVAILABLE', `${domain} not ready within ${timeoutMs} ms`)), timeoutMs);
      slot.readyWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  call(domain: string, handler: HandlerName, args: WireValue[], deadlineMs: number): Promise<WireValue> {
    const slot = this.slots.get(domain);
    if (!slot) return Promise.reject(new KernelError('E_UNAVAILABLE', `no domain ${domain} is installed`));
    return slot.host.call(handler, args, deadlineMs);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    if (this.spareTimer) clearTimeout(this.spareTimer);
    this.spareTimer = null;
    this.spare?.kill();
    this.spare = null;
    await Promise.all(
      [...this.slots.values()].map(async (s) => {
        if (s.timer) clearTimeout(s.timer);
        s.state = 'stopped';
        await s.host.stop();
      }),
    );
  }

  private async launch(slot: Slot): Promise<void> {
    const host = slot.host;
    const domain = slot.spec.domain;
    host.on('request', (msg) => this.emit('request', domain, host, msg));
    host.on('output', (line) => this.emit('output', domain, line));
    host.on('violation', (reason) => this.emit('violation', domain, reason));
    host.on('ready', (handlers) => {
      slot.state = 'ready';
      this.emit('ready', domain, handlers);
      for (const w of slot.readyWaiters.splice(0)) w();
    });
    host.on('breach', (msg) => {
      // The host rebuilds a fresh isolate itself and will say `ready` again.
      slot.state = 'restarting';
      this.emit('breach', domain, msg);
      this.emit('down', domain, `watchdog: ${msg.kind}`);
    });
    host.on('exit', (info) => {
      if (this.stopping || slot.state === 'stopped') {
        this.emit('exit', domain, { ...info, restartInMs: null });
        return;
      }
      slot.failures = info.uptimeMs >= this.opts.stableAfterMs ? 1 : slot.failures + 1;
      const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** (slot.failures - 1));
      slot.state = 'restarting';
      this.emit('down', domain, `host exited (code ${info.code}, signal ${info.signal})`);
      this.emit('exit', domain, { ...info, restartInMs: delay });
      slot.timer = setTimeout(() => {
        slot.timer = null;
        if (this.stopping) return;
        slot.restarts++;
        slot.host = new HostProcess(slot.spec);
        this.launch(slot).catch(() => {
          /* a failed start ends in an exit, which schedules the next attempt */
        });
      }, delay);
    });
    // The spare (if any) is handed over here and a new one made once this host is up, so that
    // starting the replacement does not compete with this start for the CPU.
    const spare = this.spare;
    this.spare = null;
    try {
      await host.start(spare ?? undefined);
    } finally {
      // Not adopted (a test entry point, or it had died): kept if it still can be.
      if (spare?.alive && this.spare === null && !this.stopping) this.spare = spare;
      else if (spare !== this.spare) spare?.kill();
      this.replenishSpare();
    }
  }

  private replenishSpare(): void {
    if (!this.opts.spareHost || this.stopping || this.spareTimer !== null) return;
    if (this.spare?.alive) return;
    // Deferred a little: several domains booting together take and replenish only once.
    this.spareTimer = setTimeout(() => {
      this.spareTimer = null;
      if (this.stopping || this.spare?.alive) return;
      this.spare = new SpareHost();
    }, 50);
    this.spareTimer.unref();
  }
}
