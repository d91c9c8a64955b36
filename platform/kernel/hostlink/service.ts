/**
 * The TLA host link as a kernel service: the device's TLS identity, pairing with a code shown on
 * the device screen, the kernel's own operations (pair, identify, date.get, date.set) and the
 * forwarding of domain operations (router.ts). Audited without arguments, results, codes or proofs.
 */
import { DOMAIN_HOST_OPS, HOST_NAME, HOSTLINK_PROTOCOL, type DomainHostOp, type HostRequest } from '../../wire/hostlink.js';
import type { Terminal, ScreenContent } from '../terminal.js';
import type { DeviceClock } from '../clock.js';
import { isDeviceTime } from '../clock.js';
import { redactText } from '../redact.js';
import { AuditBudget } from '../audit-budget.js';
import { hostLinkDir, loadOrCreateDeviceIdentity, type DeviceIdentity } from './identity.js';
import { formatPairCode, PairedHosts, PairingWindow, PAIRING_TTL_MS, type PairedHost } from './pairing.js';
import { hostLabel, shortFingerprint } from './proof.js';
import { ArgsError, exactArgs } from './request.js';
import { routeDomainOp, type HostLinkGateway } from './router.js';
import { HostLinkServer, type HostConnection, type HostOutcome } from './server.js';

/** Who holds the screen while the pairing code shows: not a valid domain id, so never a domain. */
export const PAIRING_SCREEN_OWNER = 'Kernel';
export const PAIRING_SCREEN_TITLE = 'Association d’un ordinateur';

export interface HostLinkServiceOptions {
  dataDir: string;
  host: string;
  port: number;
  clock: DeviceClock;
  terminal: Terminal;
  gateway: HostLinkGateway;
  audit(event: string, fields: Record<string, unknown>): void;
  model?: string;
  software?: string;
  /** Tests: connection limits and the clock pairing expiry runs on (default: system time). */
  maxConnections?: number;
  idleTimeoutMs?: number;
  pairingNow?: () => number;
}


export class HostLinkService {
  readonly fingerprint: string;
  readonly deviceId: string;
  private server!: HostLinkServer;
  private readonly hosts: PairedHosts;
  private readonly pairing: PairingWindow;
  /** Per-link events (connections, requests, refusals) are budgeted: a flooding computer cannot fill the audit log. */
  private readonly budget: AuditBudget;
  private screen: { release: () => void } | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly opts: HostLinkServiceOptions,
    private readonly identity: DeviceIdentity,
  ) {
    this.fingerprint = identity.fingerprint;
    this.deviceId = identity.deviceId;
    this.hosts = new PairedHosts(hostLinkDir(opts.dataDir));
    this.pairing = new PairingWindow(opts.pairingNow ?? Date.now);
    this.budget = new AuditBudget({ append: (event, _domain, fields = {}) => opts.audit(event, fields) }, 40);
  }

  /** Loads (or makes) the device identity and listens. */
  static async start(opts: HostLinkServiceOptions): Promise<HostLinkService> {
    const identity = await loadOrCreateDeviceIdentity(opts.dataDir);
    const svc = new HostLinkService(opts, identity);
    svc.server = await HostLinkServer.listen({
      host: opts.host,
      port: opts.port,
      keyPem: identity.keyPem,
      certPem: identity.certPem,
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
      isPaired: (fp) => svc.hosts.has(fp),
      handle: (conn, req, signal) => svc.handle(conn, req, signal),
      audit: (event, fields) => svc.budgeted(event, fields),
    });
    const a = svc.address();
    svc.opts.audit('hostlink.listen', { host: a.host, port: a.port, deviceId: svc.deviceId, fingerprint: shortFingerprint(svc.fingerprint), paired: svc.hosts.list().length });
    return svc;
  }

  address(): { host: string; port: number } {
    return this.server.address();
  }

  /** Opens a pairing window: a fresh code, valid 5 minutes, shown on the device screen (only there). */
  beginPairing(): { code: string; expiresAt: number } {
    const { code, expiresAt } = this.pairing.begin();
    this.opts.audit('hostlink.pair.begin', { expiresAt });
    this.showPairingScreen({
      title: PAIRING_SCREEN_TITLE,
      lines: [`Code : ${formatPairCode(code)}`, 'Valable 5 minutes', `Empreinte : ${shortFingerprint(this.fingerprint)}`, 'Saisissez ce code sur l’ordinateur'],
    });
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => {
      if (this.pairing.pendingUntil() === null) this.endPairingScreen();
    }, PAIRING_TTL_MS + 50);
    this.expiryTimer.unref();
    return { code, expiresAt };
  }

  cancelPairing(): void {
    if (this.pairing.cancel()) this.opts.audit('hostlink.pair.cancel', {});
    this.endPairingScreen();
  }

  /** Until when the open pairing code is valid (null: none open). */
  pairingUntil(): number | null {
    return this.pairing.pendingUntil();
  }

  paired(): PairedHost[] {
    return this.hosts.list();
  }

  /** Forgets a computer and closes its links. */
  unpair(fingerprint: string): boolean {
    const host = this.hosts.get(fingerprint);
    if (!host) return false;
    this.hosts.remove(fingerprint);
    this.server.dropHost(fingerprint);
    this.opts.audit('hostlink.unpair', { host: shortFingerprint(fingerprint), name: host.name });
    return true;
  }

  status(): { enabled: true; address: { host: string; port: number }; paired: number; connections: number; pairingUntil: number | null } {
    return { enabled: true, address: this.address(), paired: this.hosts.list().length, connections: this.server.connections, pairingUntil: this.pairing.pendingUntil() };
  }

  async close(): Promise<void> {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.pairing.cancel();
    this.endPairingScreen();
    await this.server.close();
    this.budget.flushAll();
  }

  private budgeted(event: string, fields: Record<string, unknown>): void {
    this.budget.append(event, 'hostlink', fields);
  }

  // ---- the screen --------------------------------------------------------------------------------

  private showPairingScreen(screen: ScreenContent): void {
    const t = this.opts.terminal;
    if (this.screen) {
      t.show(PAIRING_SCREEN_OWNER, screen);
      return;
    }
    const before = t.current();
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    const abort = new AbortController();
    this.screen = {
      release: () => {
        release();
        abort.abort();
      },
    };
    void t
      .withForeground(PAIRING_SCREEN_OWNER, abort.signal, async () => {
        t.show(PAIRING_SCREEN_OWNER, screen);
        await done;
      })
      .catch(() => undefined)
      .then(() => {
        // Nobody took the screen after us: the code must not stay on it. Put back what it showed
        // before (a domain redraws on its next event anyway).
        if (t.foreground() === null && t.current().domain === PAIRING_SCREEN_OWNER) {
          if (before.domain !== null && before.domain !== PAIRING_SCREEN_OWNER) t.show(before.domain, before.screen);
          else t.show(PAIRING_SCREEN_OWNER, before.domain === null ? before.screen : { title: 'Dispositif Intégré', lines: ['Prêt'] });
        }
      });
  }

  private endPairingScreen(): void {
    const s = this.screen;
    this.screen = null;
    s?.release();
  }

  // ---- requests ----------------------------------------------------------------------------------

  private async handle(conn: HostConnection, req: HostRequest, signal: AbortSignal): Promise<HostOutcome> {
    const host = hostLabel(conn.fingerprint);
    let out: HostOutcome;
    let domain: string | undefined;
    try {
      if (req.op === 'pair') out = await this.pair(conn, req.args);
      else if (req.op === 'identify') out = this.identify(conn, req.args);
      else if (req.op === 'date.get') out = this.dateGet(req.args);
      else if (req.op === 'date.set') out = this.dateSet(req.args, host);
      else {
        const routed = await routeDomainOp(this.opts.gateway, req.op as DomainHostOp, req.args, signal);
        domain = routed.domain;
        out = routed;
      }
    } catch (e) {
      out =
        e instanceof ArgsError
          ? { ok: false, error: { code: 'E_REQUEST', message: e.message, field: e.field } }
          : { ok: false, error: { code: 'E_INTERNAL', message: `internal error: ${redactText(String((e as Error)?.message ?? e)).slice(0, 200)}` } };
    }
    this.budgeted('hostlink.request', { host, op: req.op, ...(domain ? { domain } : {}), ...(out.ok ? { ok: true } : { error: out.error.code, ...(out.error.domainCode ? { domainCode: out.error.domainCode } : {}) }) });
    if (out.ok) return { ok: true, result: out.result };
    return { ok: false, error: out.error, ...(out.close ? { close: true } : {}) };
  }

  private async pair(conn: HostConnection, args: Record<string, unknown>): Promise<HostOutcome> {
    exactArgs('pair', args, ['hostName', 'hostProof']);
    const { hostName, hostProof } = args;
    if (typeof hostName !== 'string' || !HOST_NAME.test(hostName) || hostName.trim() !== hostName) {
      throw new ArgsError('hostName', 'pair: hostName must be 1 to 48 letters, digits, spaces or . _ \' ’ ( ) - / @ # & +, without leading or trailing spaces');
    }
    if (!(hostProof instanceof Uint8Array) || hostProof.length !== 32) {
      throw new ArgsError('hostProof', 'pair: hostProof must be 32 bytes (HMAC-SHA256, see wire/hostlink.ts)');
    }
    const refuse = (reason: string, message: string): HostOutcome => {
      this.budgeted('hostlink.pair.refused', { host: hostLabel(conn.fingerprint), reason });
      return { ok: false, error: { code: 'E_PAIRING', message } };
    };
    if (conn.fingerprint === '') return refuse('no-certificate', 'the computer presented no TLS certificate: it needs its own (di tla makes one)');
    if (!this.hosts.hasRoomFor(conn.fingerprint)) return refuse('full', 'too many computers are paired with this device: unpair one on the device first');
    const check = await this.pairing.check(hostProof, this.fingerprint, conn.fingerprint);
    if (!check.ok) {
      if (check.reason === 'void') this.endPairingScreen();
      return refuse(check.reason, check.message);
    }
    this.hosts.add({ fingerprint: conn.fingerprint, name: hostName, pairedAt: Date.now() });
    this.endPairingScreen();
    this.opts.audit('hostlink.pair.ok', { host: shortFingerprint(conn.fingerprint), name: hostName });
    return { ok: true, result: { deviceId: this.deviceId, deviceProof: check.deviceProof } };
  }

  private identify(conn: HostConnection, args: Record<string, unknown>): HostOutcome {
    exactArgs('identify', args, []);
    const serving = this.opts.gateway.serving();
    return {
      ok: true,
      result: {
        deviceId: this.deviceId,
        model: this.opts.model ?? 'Dispositif Intégré (émulé)',
        software: this.opts.software ?? 'di-kernel',
        protocol: HOSTLINK_PROTOCOL,
        now: this.opts.clock.now(),
        domain: serving?.domain ?? null,
        ops: serving ? serving.ops.filter((op) => (DOMAIN_HOST_OPS as readonly string[]).includes(op)) : [],
        hostName: this.hosts.get(conn.fingerprint)?.name ?? '',
      },
    };
  }

  private dateGet(args: Record<string, unknown>): HostOutcome {
    exactArgs('date.get', args, []);
    return { ok: true, result: { now: this.opts.clock.now(), offsetMs: this.opts.clock.offsetMs } };
  }

  private dateSet(args: Record<string, unknown>, host: string): HostOutcome {
    exactArgs('date.set', args, ['now']);
    const now = args.now;
    if (!isDeviceTime(now)) {
      throw new ArgsError('now', `date.set: now must be an integer number of ms since the epoch between 2020-01-01 and 2099-12-31`);
    }
    this.opts.clock.set(now);
    this.opts.audit('hostlink.date.set', { host });
    return { ok: true, result: { now: this.opts.clock.now(), offsetMs: this.opts.clock.offsetMs } };
  }
}
