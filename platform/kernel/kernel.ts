/**
 * The kernel: boots the device from a config, and is the only party that sees every domain.
 * Order at boot: audit log, policies (broken ones refused, loudly), signed packages (refused unless
 * verified), slot broker, one host per domain, then the slots are opened.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, basename } from 'node:path';
import { AuditLog } from './audit.js';
import { openDomainStore, type DomainStore } from './store.js';
import { redactText } from './redact.js';
import { loadPolicyFile, checkPolicySet } from './policy/loader.js';
import type { Policy } from './policy/types.js';
import { verifyPackage } from './packages/verify.js';
import { packApplet } from './packages/pack.js';
import { loadOrCreateDevKeys, loadOrCreateDevSigner, loadTrustAnchors } from './packages/keys.js';
import { Terminal } from './terminal.js';
import { Router, ProtocolViolation } from './router.js';
import { Supervisor } from './supervisor.js';
import { buildOpTable, deadlineFor } from './capabilities/index.js';
import type { KernelServices, Transport } from './services.js';
import { FileDomainLogger } from './domain-log.js';
import { AcquirerTransport } from './transports/acquirer.js';
import { DomainTimers } from './timers.js';
import { SmtpTransport } from './transports/smtp.js';
import { Pop3Transport } from './transports/pop3.js';
import { AuditBudget } from './audit-budget.js';
import type { KernelConfig } from './config.js';
import type { NetworkEndpoint } from './policy/types.js';
import { createSlotBroker } from '../slot-broker/broker.js';
import { EmulatedDriver } from '../slot-broker/drivers/emulated.js';
import type { SlotBroker, BrokerEvent } from '../slot-broker/types.js';
import type { SlotDriver } from '../slot-broker/driver.js';
import { PcscDriver } from '../slot-broker/drivers/pcsc.js';
import { DEFAULT_BROKER_OPTIONS } from '../slot-broker/types.js';
import { EmulatedReader } from '../../emulator/reader/reader.js';
import type { Reader } from '../../emulator/reader/types.js';
import type { CardModel } from '../../emulator/cards/card.js';
import type { HandlerName } from '../sdk/api.js';
import type { WireValue } from '../wire/messages.js';
import { KernelError } from './errors.js';
import { validateWireValue } from '../wire/validate.js';
import { encodeFrame } from '../wire/frames.js';
import { DeviceClock } from './clock.js';
import { NetworkLink } from './network.js';
import { HostLinkService } from './hostlink/service.js';
import type { HostLinkGateway } from './hostlink/router.js';
import { repoRoot } from './paths.js';

/** An applet to run without a signed package: `di eval` and tests only; audited as unsigned. */
export interface DevApplet {
  policy: Policy;
  script: string;
  filename: string;
}

export interface BootOptions {
  config: KernelConfig;
  /** Development mode: run these instead of verified packages (audited loudly). */
  devApplets?: DevApplet[];
  /** Use this reader (e.g. with cards already inserted); default: a fresh emulated reader. */
  reader?: Reader;
  /** Drive these slots instead of the emulated reader (e.g. a PcscDriver on a real pcscd). */
  driver?: SlotDriver;
}

export interface RefusedDomain {
  source: string;
  reason: string;
}

export class Kernel {
  readonly terminal = new Terminal();
  readonly policies = new Map<string, Policy>();
  readonly refused: RefusedDomain[] = [];
  readonly handlers = new Map<string, HandlerName[]>();
  private readonly stores = new Map<string, DomainStore>();
  readonly transports = new Map<NetworkEndpoint['kind'], Transport>();
  private stopped = false;
  /** The TLA host link (null unless config.hostLink.enabled, or when it could not listen). */
  hostLink: HostLinkService | null = null;
  private readonly timers = new DomainTimers(
    (domain, name) => this.call(domain, 'onTimer', [{ name }]),
    (domain) => !this.stopped && (this.handlers.get(domain)?.includes('onTimer') ?? false),
  );

  private constructor(
    readonly config: KernelConfig,
    readonly audit: AuditLog,
    readonly reader: Reader,
    readonly logger: FileDomainLogger,
    readonly supervisor: Supervisor,
    public broker: SlotBroker,
    readonly router: Router,
    private readonly budget: AuditBudget,
    /** The device clock (system time + persisted offset): platform.clock.now and the host link's date. */
    readonly clock: DeviceClock,
    /** The emulated device's network cable: unplugged, the smtp/pop3/acquirer transports refuse (E_NET). */
    readonly network: NetworkLink,
  ) {}

  static async boot(opts: BootOptions): Promise<Kernel> {
    const config = opts.config;
    mkdirSync(config.dataDir, { recursive: true });
    // A torn last line (power cut mid-write) is set aside and audited rather than blocking boot.
    const audit = AuditLog.open(join(config.dataDir, 'audit.log'), { repairTornTail: true });
    audit.append('kernel.boot', null, { pid: process.pid, dev: Boolean(opts.devApplets) });
    const reader = opts.reader ?? new EmulatedReader({ slots: config.reader.slots, timing: { enabled: config.reader.timing, baudRate: config.reader.baudRate, processingScale: 1 } });
    const logger = new FileDomainLogger(join(config.dataDir, 'logs'));
    const supervisor = new Supervisor(config.supervisor);

    const budget = new AuditBudget(audit);
    const clock = new DeviceClock(config.dataDir, (event, fields) => audit.append(event, null, fields));
    const network = new NetworkLink((event, fields) => audit.append(event, null, fields));
    // Late-bound: the router and capabilities need the kernel, the kernel needs them.
    let kernel!: Kernel;
    const services: KernelServices = {
      config,
      get broker() {
        return kernel.broker;
      },
      terminal: null as unknown as Terminal,
      audit: { append: (event, domain, fields) => budget.append(event, domain, fields) },
      store: (domain) => kernel.store(domain),
      policy: (domain) => kernel.policies.get(domain),
      get transports() {
        return kernel.transports;
      },
      logger,
      intents: {
        deliver: (from, target, action, payload, signal) => kernel.deliverIntent(from, target, action, payload, signal),
      },
      clock,
      network,
    };
    const router = new Router({
      ops: buildOpTable(services),
      deadlineMs: deadlineFor(services),
      redact: redactText,
      onRefusal: (domain, op, error) => budget.append('call.refused', domain, { op, code: error.code, reason: error.message }),
    });
    kernel = new Kernel(config, audit, reader, logger, supervisor, null as unknown as SlotBroker, router, budget, clock, network);
    // Kernel-owned clients, one per endpoint kind; a domain only ever names an endpoint of its policy.
    kernel.transports.set('acquirer', new AcquirerTransport({ network }));
    kernel.transports.set('smtp', new SmtpTransport({ network }));
    kernel.transports.set('pop3', new Pop3Transport(config.mailbox, { network }));
    services.terminal = kernel.terminal;

    const applets = opts.devApplets
      ? kernel.acceptDevApplets(opts.devApplets)
      : await kernel.loadInstalledApplets();

    const driver = opts.driver ?? (config.reader.driver === 'pcsc' ? await PcscDriver.open(config.reader.pcscReaders.length > 0 ? { readers: config.reader.pcscReaders } : {}) : new EmulatedDriver(reader));
    audit.append('slots.driver', null, { driver: driver.name, slots: driver.slotCount });
    kernel.broker = createSlotBroker(driver, {
      ...DEFAULT_BROKER_OPTIONS,
      leaseIdleTimeoutMs: config.broker.leaseIdleTimeoutMs,
      leaseMaxMs: config.broker.leaseMaxMs,
      routes: applets.flatMap((a) => a.policy.cardClasses.map((cardClass) => ({ domain: a.policy.domain, cardClass }))),
    });
    kernel.broker.onEvent((e) => kernel.onBrokerEvent(e));
    kernel.wireSupervisor();

    for (const a of applets) router.attach(a.policy.domain, a.policy);
    await Promise.all(
      applets.map(async (a) => {
        try {
          await supervisor.startDomain({
            domain: a.policy.domain,
            script: a.script,
            filename: a.filename,
            limits: { memoryMb: a.policy.limits.memoryMb, cpuMsPerCall: a.policy.limits.cpuMsPerCall, wallMsPerCall: a.policy.limits.wallMsPerCall },
            clockGranularityMs: config.clockGranularityMs,
            maxFrameBytes: a.policy.limits.maxMessageBytes,
            readyTimeoutMs: config.supervisor.readyTimeoutMs,
          });
        } catch (e) {
          audit.append('host.start-failed', a.policy.domain, { reason: (e as Error).message });
        }
      }),
    );
    await kernel.broker.start();
    for (const a of applets) kernel.timers.start(a.policy);
    kernel.terminal.kernelScreen({ title: 'Dispositif Intégré', lines: ['Prêt', 'Insérez une carte'] });
    if (config.hostLink.enabled) await kernel.startHostLink();
    audit.append('kernel.ready', null, { domains: [...kernel.policies.keys()], refused: kernel.refused.length });
    return kernel;
  }

  store(domain: string): DomainStore {
    let s = this.stores.get(domain);
    if (!s) {
      const policy = this.policies.get(domain);
      if (!policy) throw new KernelError('E_INTERNAL', `no policy for ${domain}`);
      s = openDomainStore({ dataDir: this.config.dataDir, domain, quotaBytes: policy.store.quotaBytes });
      this.stores.set(domain, s);
    }
    return s;
  }

  /** Calls an applet handler (kernel-initiated: card events, intents, `di eval`'s main). */
  call(domain: string, handler: HandlerName, args: WireValue[] = [], deadlineMs?: number): Promise<WireValue> {
    const policy = this.policies.get(domain);
    if (!policy) return Promise.reject(new KernelError('E_UNAVAILABLE', `no domain ${domain} is running`));
    // An applet's error text is untrusted and may carry card data: it leaves the kernel redacted.
    return this.supervisor.call(domain, handler, args, deadlineMs ?? policy.limits.handlerDeadlineMs).catch((e: unknown) => {
      if (e instanceof KernelError) throw new KernelError(e.code, redactText(e.message));
      throw e;
    });
  }

  /**
   * Runs a terminal action (keys, menus, web terminal, `di demo`, tests) on the domain's onAction
   * handler: only names its policy lists in `ui.actions`, with a plain wire-value payload, while the
   * domain holds the screen. The audit records the name, never the payload (it may carry patient data).
   */
  async action(domain: string, action: string, payload: unknown, signal?: AbortSignal): Promise<WireValue> {
    const policy = this.policies.get(domain);
    if (!policy) throw new KernelError('E_UNAVAILABLE', `no domain ${domain} is running`);
    const refuse = (code: 'E_POLICY' | 'E_ARGS' | 'E_UNAVAILABLE', why: string): never => {
      this.audit.append('ui.action.refused', domain, { action: typeof action === 'string' ? action.slice(0, 48) : '(not a string)', code });
      throw new KernelError(code, `action ${JSON.stringify(typeof action === 'string' ? action.slice(0, 48) : '?')} for ${domain}: ${why}`);
    };
    if (typeof action !== 'string' || !(policy.ui.actions ?? []).includes(action)) {
      return refuse('E_POLICY', `not among the actions its policy lists in ui.actions (${(policy.ui.actions ?? []).join(', ') || 'none'})`);
    }
    let args: WireValue;
    try {
      if (payload === null || typeof payload !== 'object' || Array.isArray(payload) || payload instanceof Uint8Array) throw new Error('not an object');
      args = validateWireValue({ action, payload });
      encodeFrame(args, policy.limits.maxMessageBytes);
    } catch {
      return refuse('E_ARGS', `the payload must be a plain object of wire values (no functions, dates or class instances) within ${policy.limits.maxMessageBytes} bytes`);
    }
    if (!this.handlers.get(domain)?.includes('onAction')) return refuse('E_UNAVAILABLE', 'the domain is not running or handles no actions (onAction)');
    this.audit.append('ui.action', domain, { action });
    // Like an intent's target: the domain takes the screen and keypad for the length of the action.
    return this.terminal.withForeground(domain, signal, () => this.call(domain, 'onAction', [args], policy.limits.handlerDeadlineMs));
  }

  insertCard(slot: number, card: CardModel): void {
    this.reader.insert(slot, card);
  }

  removeCard(slot: number): void {
    this.reader.remove(slot);
  }

  status(): {
    domains: Array<{ domain: string; state: string; restarts: number; pid: number | undefined }>;
    refused: RefusedDomain[];
    foreground: string | null;
    online: boolean;
    hostLink: { enabled: boolean; address: { host: string; port: number } | null; paired: number };
  } {
    const hl = this.hostLink;
    return {
      online: this.network.online,
      hostLink: hl ? { enabled: true, address: hl.address(), paired: hl.paired().length } : { enabled: false, address: null, paired: 0 },
      domains: [...this.policies.keys()].map((d) => {
        const s = this.supervisor.state(d);
        return { domain: d, state: s?.state ?? 'not started', restarts: s?.restarts ?? 0, pid: s?.pid };
      }),
      refused: [...this.refused],
      foreground: this.terminal.foreground(),
    };
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.stop();
    await this.hostLink?.close().catch(() => undefined);
    await this.supervisor.stopAll();
    await this.broker.stop();
    for (const t of this.transports.values()) (t as { close?: () => void }).close?.();
    for (const s of this.stores.values()) s.close();
    this.budget.flushAll();
    this.audit.append('kernel.stop', null, {});
    this.audit.close();
  }

  /** The domain whose policy holds hostLink (checkPolicySet allows one), with its ops. */
  hostLinkDomain(): { domain: string; ops: readonly string[] } | null {
    for (const p of this.policies.values()) if (p.hostLink) return { domain: p.domain, ops: p.hostLink.ops };
    return null;
  }

  private async startHostLink(): Promise<void> {
    const gateway: HostLinkGateway = {
      serving: () => this.hostLinkDomain(),
      ready: (domain) => !this.stopped && (this.handlers.get(domain)?.includes('onHostRequest') ?? false),
      // Like an action: the domain holds the screen (its sync screen) for the length of the request.
      call: (domain, op, args, signal) =>
        this.terminal.withForeground(domain, signal, () => this.call(domain, 'onHostRequest', [{ op, args }], this.policies.get(domain)?.limits.handlerDeadlineMs)),
    };
    try {
      this.hostLink = await HostLinkService.start({
        dataDir: this.config.dataDir,
        host: this.config.hostLink.host,
        port: this.config.hostLink.port,
        clock: this.clock,
        terminal: this.terminal,
        gateway,
        audit: (event, fields) => this.audit.append(event, null, fields),
        software: `di-kernel/${softwareVersion()}`,
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const reason = code === 'EADDRINUSE' ? `port ${this.config.hostLink.port} on ${this.config.hostLink.host} is in use (choose another with --tla-port or hostLink.port)` : (e as Error).message;
      this.refuse(`host link ${this.config.hostLink.host}:${this.config.hostLink.port}`, reason, 'hostlink.failed');
    }
  }

  private acceptDevApplets(devApplets: DevApplet[]): DevApplet[] {
    checkPolicySet(devApplets.map((a) => a.policy));
    for (const a of devApplets) {
      this.policies.set(a.policy.domain, a.policy);
      this.audit.append('package.unsigned', a.policy.domain, { filename: a.filename, warning: 'development mode: unsigned applet, not for production' });
    }
    return devApplets;
  }

  /** Installed policies + their signed packages. A domain whose policy or package fails is refused, the rest boot. */
  private async loadInstalledApplets(): Promise<DevApplet[]> {
    const cfg = this.config;
    const files = readdirSync(cfg.policyDir).filter((f) => f.endsWith('.json') && f !== 'policy.schema.json').sort();
    const loaded: Array<{ policy: Policy; file: string }> = [];
    for (const f of files) {
      const file = join(cfg.policyDir, f);
      try {
        const policy = loadPolicyFile(file);
        if (cfg.domains.length > 0 && !cfg.domains.includes(policy.domain)) continue;
        loaded.push({ policy, file });
      } catch (e) {
        this.refuse(file, (e as Error).message, 'policy.refused');
      }
    }
    // Intents towards a domain refused above are left inactive (and audited) instead of failing
    // the whole set: a broken payment policy must not take health billing down with it.
    const names = new Set(loaded.map((l) => l.policy.domain));
    const forCheck = loaded.map(({ policy }) => {
      const dead = policy.intents.request.filter((g) => !names.has(g.target));
      for (const g of dead) this.audit.append('intent.inactive', policy.domain, { target: g.target, reason: 'target domain not loaded' });
      return dead.length === 0 ? policy : { ...policy, intents: { ...policy.intents, request: policy.intents.request.filter((g) => names.has(g.target)) } };
    });
    try {
      checkPolicySet(forCheck);
    } catch (e) {
      // A conflict between policies (a card class claimed twice…) is a configuration error: boot nothing.
      this.refuse(cfg.policyDir, (e as Error).message, 'policy.refused');
      return [];
    }
    const anchors = cfg.trustAnchors.length > 0 ? cfg.trustAnchors : [(await loadOrCreateDevKeys(cfg.dataDir)).rootPath];
    const trustAnchors = loadTrustAnchors(anchors);
    const out: DevApplet[] = [];
    for (const { policy, file } of loaded) {
      const pkgDir = join(cfg.packageDir, policy.applet.id);
      try {
        if (!existsSync(pkgDir)) await this.devPack(policy, pkgDir);
        const pkg = await verifyPackage(pkgDir, { trustAnchors });
        const installed = sha256(readFileSync(file));
        if (sha256(pkg.policyBytes) !== installed) {
          throw new Error(`the installed policy ${basename(file)} differs from the policy signed in the package (re-pack the applet or restore the policy)`);
        }
        this.audit.append('package.verified', policy.domain, { id: pkg.manifest.id, version: pkg.manifest.version, signer: pkg.signerSubject });
        this.policies.set(policy.domain, pkg.policy);
        out.push({ policy: pkg.policy, script: pkg.script, filename: `${pkg.manifest.id}/applet.js` });
      } catch (e) {
        this.refuse(pkgDir, (e as Error).message, 'package.refused', policy.domain);
      }
    }
    return out;
  }

  /** Development convenience: pack a bundled applet with the development key on first boot. */
  private async devPack(policy: Policy, pkgDir: string): Promise<void> {
    const src = join(this.config.appletSourceDir, policy.applet.id);
    if (!existsSync(join(src, 'applet.json'))) throw new Error(`no package at ${pkgDir} and no applet source at ${src}`);
    const signer = await loadOrCreateDevSigner(this.config.dataDir);
    await packApplet({ dir: src, outDir: this.config.packageDir, signer });
    this.audit.append('package.devpack', policy.domain, { source: src, note: 'signed with the development key' });
  }

  private refuse(source: string, reason: string, event: string, domain: string | null = null): void {
    this.refused.push({ source, reason });
    this.audit.append(event, domain, { source, reason });
  }

  private wireSupervisor(): void {
    const { supervisor, router, audit } = this;
    supervisor.on('request', (domain, host, msg) => {
      try {
        router.dispatch(domain, msg, (id, result) => host.reply(id, result));
      } catch (e) {
        if (!(e instanceof ProtocolViolation)) throw e;
        audit.append('host.violation', domain, { reason: e.message });
        host.kill();
      }
    });
    supervisor.on('ready', (domain, handlers) => {
      this.handlers.set(domain, handlers);
      this.budget.append('host.ready', domain, { handlers });
      if (handlers.includes('onStart')) this.call(domain, 'onStart').catch(() => undefined);
    });
    supervisor.on('down', (domain, reason) => {
      router.cancelAll(domain);
      audit.append('host.down', domain, { reason });
      this.broker?.revokeDomain(domain, 'host-death').catch(() => undefined);
    });
    supervisor.on('breach', (domain, msg) => this.budget.append('watchdog.breach', domain, { kind: msg.kind, detail: msg.detail }));
    supervisor.on('violation', (domain, reason) => audit.append('host.violation', domain, { reason }));
    supervisor.on('exit', (domain, info) => audit.append('host.exit', domain, { code: info.code, signal: info.signal, uptimeMs: info.uptimeMs, restartInMs: info.restartInMs }));
    supervisor.on('output', (domain, line) => this.logger.hostOutput(domain, line));
  }

  private onBrokerEvent(e: BrokerEvent): void {
    switch (e.type) {
      case 'offered':
        this.audit.append('card.offered', e.domain, { slot: e.slot, cardClass: e.cardClass });
        if (this.handlers.get(e.domain)?.includes('onCardInserted')) {
          this.call(e.domain, 'onCardInserted', [{ slot: e.slot, cardClass: e.cardClass, atr: e.atr }]).catch(() => undefined);
        }
        return;
      case 'refused':
        this.audit.append('card.refused', null, { slot: e.slot, atr: e.atr, reason: e.reason });
        return;
      case 'removed':
        this.audit.append('card.removed', e.domain, { slot: e.slot });
        if (e.domain && this.handlers.get(e.domain)?.includes('onCardRemoved')) {
          this.call(e.domain, 'onCardRemoved', [{ slot: e.slot }]).catch(() => undefined);
        }
        return;
      case 'lease-revoked':
        this.audit.append('lease.revoked', e.domain, { slot: e.slot, reason: e.reason });
        return;
    }
  }

  private async deliverIntent(from: string, target: string, action: string, payload: { [k: string]: WireValue }, signal: AbortSignal): Promise<WireValue> {
    if (!this.handlers.get(target)?.includes('onIntent')) throw new KernelError('E_UNAVAILABLE', `${target} is not running or handles no intents`);
    const deadline = this.policies.get(target)?.limits.handlerDeadlineMs ?? 60_000;
    // The target takes the screen and keypad for the length of the service.
    return this.terminal.lendForeground(from, target, signal, () => this.call(target, 'onIntent', [{ from, action, payload }], deadline));
  }
}

function softwareVersion(): string {
  try {
    const v = (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : '0';
  } catch {
    return '0';
  }
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
