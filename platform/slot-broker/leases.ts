/**
 * Exclusive slot leases. A lease binds one slot to one domain behind an unguessable token; a token is
 * good only for the domain and slot it was issued to, and only until the lease ends. What happens to
 * the card when a lease ends (reset, buffer wiping) is the broker's job: this table only tracks who
 * holds what, who waits, and when a lease expires.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { BrokerError } from './types.js';

export type LeaseEndReason = 'release' | 'removal' | 'host-death' | 'timeout' | 'shutdown';

export interface Lease {
  readonly slot: number;
  readonly domain: string;
  readonly token: string;
  readonly cardClass: string;
  readonly atr: string;
  /** Cleared the moment the lease is revoked; every use re-checks it. */
  active: boolean;
}

interface LeaseRecord extends Lease {
  tokenBytes: Buffer;
  inFlight: number;
  idleTimer: NodeJS.Timeout | null;
  maxTimer: NodeJS.Timeout | null;
  idleMs: number;
}

interface Waiter {
  domain: string;
  resolve: (lease: Lease) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | null;
}

export interface LeaseTableOptions {
  idleTimeoutMs: number;
  maxMs: number;
  /** What the card in `slot` is and to whom it is routed now, or null when empty / not routed. */
  routeOf: (slot: number) => { domain: string; cardClass: string; atr: string; lease?: { idleMs: number; maxMs: number } } | null;
  /** A lease timed out; the broker ends it (reset, wipe) and then calls free(). */
  onExpire: (lease: Lease) => void;
}

const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

export class LeaseTable {
  private readonly held = new Map<number, LeaseRecord>();
  /** Slots whose previous lease is being wound down (card reset in progress): not grantable yet. */
  private readonly closing = new Set<number>();
  private readonly waiters = new Map<number, Waiter[]>();

  constructor(private readonly opts: LeaseTableOptions) {}

  notRouted(domain: string, slot: number): BrokerError {
    // Same words whether the slot is empty or holds another domain's card: nothing about the other domain leaks.
    return new BrokerError('E_NOT_ROUTED', `slot ${slot} holds no card routed to domain "${domain}"`);
  }

  acquire(domain: string, slot: number, timeoutMs: number): Promise<Lease> {
    if (this.opts.routeOf(slot)?.domain !== domain) return Promise.reject(this.notRouted(domain, slot));
    const queue = this.waiters.get(slot) ?? [];
    if (!this.isBusy(slot) && queue.length === 0) {
      const lease = this.grant(domain, slot);
      if (lease !== null) return Promise.resolve(lease);
      return Promise.reject(this.notRouted(domain, slot));
    }
    const wait = Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 0;
    if (wait === 0) return Promise.reject(busy(slot, wait));
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = { domain, resolve, reject, timer: null };
      waiter.timer = setTimeout(() => {
        this.dropWaiter(slot, waiter);
        reject(busy(slot, wait));
      }, wait);
      waiter.timer.unref?.();
      queue.push(waiter);
      this.waiters.set(slot, queue);
    });
  }

  /**
   * The lease `token` names, if it was issued to `domain` and is still active. Tokens are compared in
   * constant time against every live lease so that timing says nothing about how close a guess was.
   */
  validate(domain: string, token: string): Lease {
    // The refusal is built only when thrown: an Error captures a stack trace, which costs more than the
    // whole check, and this runs on every APDU. Both refusals still read the same.
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) throw invalidToken(domain);
    const candidate = Buffer.from(token, 'hex');
    let found: LeaseRecord | null = null;
    for (const rec of this.held.values()) {
      if (timingSafeEqual(rec.tokenBytes, candidate) && rec.active) found = rec;
    }
    candidate.fill(0);
    if (found === null || found.domain !== domain) throw invalidToken(domain);
    return found;
  }

  holder(slot: number): Lease | null {
    return this.held.get(slot) ?? null;
  }

  leasesOf(domain: string): Lease[] {
    return [...this.held.values()].filter((l) => l.domain === domain);
  }

  all(): Lease[] {
    return [...this.held.values()];
  }

  /** An APDU (or reset) starts on the lease: it counts as activity, and the idle clock stops meanwhile. */
  beginUse(lease: Lease): void {
    const rec = this.held.get(lease.slot);
    if (rec === undefined || rec !== lease) return;
    rec.inFlight++;
    this.armIdle(rec);
  }

  endUse(lease: Lease): void {
    const rec = this.held.get(lease.slot);
    if (rec === undefined || rec !== lease) return;
    rec.inFlight = Math.max(0, rec.inFlight - 1);
    this.armIdle(rec);
  }

  /**
   * Revoke `lease` now: its token stops working at once. The slot stays closed to new holders until
   * the broker calls free() after resetting the card. Returns false if the lease had already ended.
   */
  revoke(lease: Lease): boolean {
    const rec = this.held.get(lease.slot);
    if (rec === undefined || rec !== lease || !rec.active) return false;
    rec.active = false;
    if (rec.idleTimer !== null) clearTimeout(rec.idleTimer);
    if (rec.maxTimer !== null) clearTimeout(rec.maxTimer);
    rec.tokenBytes.fill(0);
    this.held.delete(lease.slot);
    this.closing.add(lease.slot);
    return true;
  }

  /** The slot is clean again: hand it to the first waiter still entitled to it. */
  free(slot: number): void {
    this.closing.delete(slot);
    this.grantNext(slot);
  }

  rejectWaiters(filter: (slot: number, domain: string) => boolean, err: (slot: number) => Error): void {
    for (const [slot, queue] of this.waiters) {
      const keep: Waiter[] = [];
      for (const w of queue) {
        if (filter(slot, w.domain)) {
          if (w.timer !== null) clearTimeout(w.timer);
          w.reject(err(slot));
        } else {
          keep.push(w);
        }
      }
      this.waiters.set(slot, keep);
    }
  }

  private isBusy(slot: number): boolean {
    return this.held.has(slot) || this.closing.has(slot);
  }

  private grantNext(slot: number): void {
    const queue = this.waiters.get(slot);
    while (queue !== undefined && queue.length > 0 && !this.isBusy(slot)) {
      const w = queue.shift()!;
      if (w.timer !== null) clearTimeout(w.timer);
      const lease = this.opts.routeOf(slot)?.domain === w.domain ? this.grant(w.domain, slot) : null;
      if (lease === null) w.reject(this.notRouted(w.domain, slot));
      else w.resolve(lease);
    }
  }

  private grant(domain: string, slot: number): Lease | null {
    const route = this.opts.routeOf(slot);
    if (route === null || route.domain !== domain) return null;
    const tokenBytes = randomBytes(TOKEN_BYTES);
    const rec: LeaseRecord = {
      slot,
      domain,
      token: tokenBytes.toString('hex'),
      cardClass: route.cardClass,
      atr: route.atr,
      active: true,
      tokenBytes,
      inFlight: 0,
      idleTimer: null,
      maxTimer: null,
      idleMs: route.lease?.idleMs ?? this.opts.idleTimeoutMs,
    };
    this.held.set(slot, rec);
    this.armIdle(rec);
    rec.maxTimer = setTimeout(() => this.expire(rec), route.lease?.maxMs ?? this.opts.maxMs);
    rec.maxTimer.unref?.();
    return rec;
  }

  /**
   * Restarts the idle clock, or stops it while a use is in flight. One timer per lease, restarted in
   * place (refresh) rather than cleared and re-created twice per APDU; while a use is in flight the
   * timer may keep running, but onIdle() ignores it firing then and the use's endUse() restarts it,
   * so the lease still expires exactly its idle time after its last use ended.
   */
  private armIdle(rec: LeaseRecord): void {
    if (!rec.active) {
      if (rec.idleTimer !== null) clearTimeout(rec.idleTimer);
      rec.idleTimer = null;
      return;
    }
    if (rec.inFlight > 0) return;
    if (rec.idleTimer !== null) {
      rec.idleTimer.refresh();
      return;
    }
    rec.idleTimer = setTimeout(() => this.onIdle(rec), rec.idleMs);
    rec.idleTimer.unref?.();
  }

  private onIdle(rec: LeaseRecord): void {
    // Fired while a use was in flight: that use's endUse() arms a fresh idle period.
    rec.idleTimer = null;
    if (rec.inFlight > 0) return;
    this.expire(rec);
  }

  private expire(rec: LeaseRecord): void {
    if (rec.active) this.opts.onExpire(rec);
  }

  private dropWaiter(slot: number, waiter: Waiter): void {
    const queue = this.waiters.get(slot);
    if (queue === undefined) return;
    const i = queue.indexOf(waiter);
    if (i >= 0) queue.splice(i, 1);
  }
}

function invalidToken(domain: string): BrokerError {
  return new BrokerError(
    'E_LEASE',
    `lease token is not valid for domain "${domain}" (unknown, released, revoked or issued to another domain)`,
  );
}

function busy(slot: number, waitedMs: number): BrokerError {
  return new BrokerError('E_BUSY', `slot ${slot} is leased by another holder; gave up after waiting ${waitedMs} ms`);
}
