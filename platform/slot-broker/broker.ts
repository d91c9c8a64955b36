/**
 * The slot broker: the only path between domains and card slots. It routes each inserted card to at
 * most one domain, grants exclusive leases on it, filters every applet command, runs the T=0
 * transport below the applet, and makes sure nothing of one holder's session (card security status,
 * buffered bytes) is left for the next one.
 */
import type { ParsedCommandApdu } from '../sdk/apdu.js';
import { DriverError, type DriverEvent, type SlotDriver } from './driver.js';
import {
  BrokerError,
  type BrokerEvent,
  type BrokerOptions,
  type LeaseInfo,
  type SlotBroker,
} from './types.js';
import { checkAppletApdu, checkPinVerify } from './apdu-filter.js';
import { SlotBuffers } from './buffers.js';
import { toHex, byteHex } from './hex.js';
import { LeaseTable, type Lease, type LeaseEndReason } from './leases.js';
import { SerialQueue } from './queue.js';
import {
  compileRoutes,
  decideRoute,
  selectByAid,
  selectSucceeded,
  type CompiledRoute,
  type RoutingDecision,
} from './routing.js';
import { exchange } from './transport.js';

interface SlotState {
  /** Bumped on every insert and removal: work started for an older card is discarded. */
  generation: number;
  atr: Uint8Array | null;
  atrHex: string | null;
  route: CompiledRoute | null;
  queue: SerialQueue;
  buffers: SlotBuffers;
}

/** Test-only access to the buffers a broker holds for a slot; never handed to the kernel's callers. */
const inspectors = new WeakMap<SlotBroker, (slot: number) => readonly Uint8Array[]>();

/**
 * The buffers `broker` currently holds for `slot` (the live objects). For tests that check they are
 * wiped when a lease ends; returns [] for a broker not made by createSlotBroker.
 */
export function inspectSlotBuffers(broker: SlotBroker, slot: number): readonly Uint8Array[] {
  return inspectors.get(broker)?.(slot) ?? [];
}

function checkOptions(o: BrokerOptions): void {
  const positive: Array<keyof Omit<BrokerOptions, 'routes'>> = [
    'leaseIdleTimeoutMs',
    'leaseMaxMs',
    'maxTransportRounds',
    'maxResponseBytes',
    'maxCommandBytes',
  ];
  for (const k of positive) {
    const v = o[k];
    if (!Number.isInteger(v) || v <= 0) throw new TypeError(`broker option ${k} must be a positive integer, got ${String(v)}`);
  }
  if (o.maxResponseBytes < 2) throw new TypeError('broker option maxResponseBytes must leave room for SW1 SW2 (>= 2)');
  if (o.maxCommandBytes < 4) throw new TypeError('broker option maxCommandBytes must allow a 4-byte header (>= 4)');
}

class Broker implements SlotBroker {
  private readonly routes: CompiledRoute[];
  private readonly slots: SlotState[];
  private readonly leases: LeaseTable;
  private readonly listeners = new Set<(e: BrokerEvent) => void>();
  private state: 'new' | 'running' | 'stopped' = 'new';

  constructor(
    private readonly driver: SlotDriver,
    private readonly options: BrokerOptions,
  ) {
    checkOptions(options);
    this.routes = compileRoutes(options.routes);
    if (!Number.isInteger(driver.slotCount) || driver.slotCount < 0) {
      throw new TypeError(`driver "${driver.name}" reports an invalid slot count ${String(driver.slotCount)}`);
    }
    this.slots = Array.from({ length: driver.slotCount }, () => ({
      generation: 0,
      atr: null,
      atrHex: null,
      route: null,
      queue: new SerialQueue(),
      buffers: new SlotBuffers(),
    }));
    this.leases = new LeaseTable({
      idleTimeoutMs: options.leaseIdleTimeoutMs,
      maxMs: options.leaseMaxMs,
      routeOf: (slot) => {
        const s = this.slots[slot];
        if (s === undefined || s.route === null || s.atrHex === null) return null;
        return { domain: s.route.domain, cardClass: s.route.name, atr: s.atrHex, ...(s.route.lease !== undefined ? { lease: s.route.lease } : {}) };
      },
      onExpire: (lease) => void this.endLease(lease, 'timeout'),
    });
    inspectors.set(this, (slot) => this.slots[slot]?.buffers.inspect() ?? []);
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new BrokerError('E_SLOT', `slot broker already ${this.state}; create a new one`);
    this.state = 'running';
    await this.driver.start((e) => this.onDriverEvent(e));
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const wasRunning = this.state === 'running';
    this.state = 'stopped';
    this.leases.rejectWaiters(
      () => true,
      (slot) => new BrokerError('E_SLOT', `slot broker stopped while waiting for slot ${slot}`),
    );
    await Promise.all(this.leases.all().map((l) => this.endLease(l, 'shutdown')));
    for (const s of this.slots) s.buffers.zeroAll();
    if (wasRunning) await this.driver.stop();
  }

  onEvent(listener: (e: BrokerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  cardsFor(domain: string): Array<{ slot: number; cardClass: string; atr: string }> {
    const out: Array<{ slot: number; cardClass: string; atr: string }> = [];
    this.slots.forEach((s, slot) => {
      if (s.route !== null && s.route.domain === domain && s.atrHex !== null) {
        out.push({ slot, cardClass: s.route.name, atr: s.atrHex });
      }
    });
    return out;
  }

  async acquire(domain: string, slot: number, timeoutMs: number): Promise<LeaseInfo> {
    this.assertRunning();
    this.slotState(slot);
    const lease = await this.leases.acquire(domain, slot, timeoutMs);
    return { token: lease.token, slot: lease.slot, cardClass: lease.cardClass, atr: lease.atr };
  }

  checkLease(domain: string, token: string): LeaseInfo {
    this.assertRunning();
    const lease = this.leases.validate(domain, token);
    return { token: lease.token, slot: lease.slot, cardClass: lease.cardClass, atr: lease.atr };
  }

  holdLease(domain: string, token: string): () => void {
    this.assertRunning();
    const lease = this.leases.validate(domain, token);
    this.leases.beginUse(lease);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.leases.endUse(lease);
    };
  }

  async transmit(domain: string, token: string, apdu: Uint8Array): Promise<Uint8Array> {
    this.assertRunning();
    const lease = this.leases.validate(domain, token);
    const route = this.routeOfLease(lease);
    // Our own copy, taken before any await: the caller's buffer may change under us.
    const command = apdu instanceof Uint8Array ? apdu.slice() : apdu;
    const parsed = checkAppletApdu(command, route, this.options.maxCommandBytes);
    return this.exchangeOnLease(lease, route, command, parsed, false);
  }

  async transmitPinVerify(domain: string, token: string, apdu: Uint8Array): Promise<Uint8Array> {
    this.assertRunning();
    const lease = this.leases.validate(domain, token);
    const route = this.routeOfLease(lease);
    const command = apdu instanceof Uint8Array ? apdu.slice() : apdu;
    let parsed: ParsedCommandApdu | null = null;
    try {
      parsed = checkPinVerify(command, route, this.options.maxCommandBytes);
      return await this.exchangeOnLease(lease, route, command, parsed, true);
    } finally {
      // The PIN block must not outlive the exchange in any copy the broker made.
      if (command instanceof Uint8Array) command.fill(0);
      parsed?.data.fill(0);
    }
  }

  async reset(domain: string, token: string): Promise<Uint8Array> {
    this.assertRunning();
    const lease = this.leases.validate(domain, token);
    const slot = lease.slot;
    return this.onLease(lease, async () => (await this.driverCall(slot, 'reset', () => this.driver.reset(slot), false)).slice());
  }

  /**
   * Runs one card operation for the lease holder: counted as lease activity, serialized on the
   * slot, with fresh exchange buffers, and its result given only if the lease and the card are still
   * the same afterwards (not revoked, nor the card swapped, while it was in flight).
   */
  private async onLease<T>(lease: Lease, op: () => Promise<T>): Promise<T> {
    const st = this.slotState(lease.slot);
    const generation = st.generation;
    this.leases.beginUse(lease);
    try {
      return await st.queue.run(async () => {
        this.checkStillHeld(lease, generation);
        st.buffers.beginExchange();
        const result = await op();
        this.checkStillHeld(lease, generation);
        return result;
      });
    } finally {
      this.leases.endUse(lease);
    }
  }


  async release(domain: string, token: string): Promise<void> {
    this.assertRunning();
    const lease = this.leases.validate(domain, token);
    await this.endLease(lease, 'release');
  }

  async revokeDomain(domain: string, reason: 'host-death' | 'shutdown'): Promise<void> {
    this.leases.rejectWaiters(
      (_slot, d) => d === domain,
      (slot) => new BrokerError('E_LEASE', `domain "${domain}" lost its leases (${reason}) while waiting for slot ${slot}`),
    );
    await Promise.all(this.leases.leasesOf(domain).map((l) => this.endLease(l, reason)));
  }

  // ---- internals ----

  private emit(e: BrokerEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A faulty listener must not stop the others from hearing about, e.g., a revoked lease.
      }
    }
  }

  private assertRunning(): void {
    if (this.state !== 'running') {
      throw new BrokerError('E_SLOT', `slot broker is ${this.state === 'new' ? 'not started' : 'stopped'}`);
    }
  }

  private slotState(slot: number): SlotState {
    const st = Number.isInteger(slot) ? this.slots[slot] : undefined;
    if (st === undefined) {
      throw new BrokerError(
        'E_SLOT',
        `slot ${String(slot)} does not exist; driver "${this.driver.name}" has slots 0..${this.slots.length - 1}`,
      );
    }
    return st;
  }

  private routeOfLease(lease: Lease): CompiledRoute {
    const route = this.slots[lease.slot]?.route;
    if (route === null || route === undefined || route.name !== lease.cardClass) {
      throw new BrokerError('E_NO_CARD', `slot ${lease.slot}: the leased card is no longer there`);
    }
    return route;
  }

  private checkStillHeld(lease: Lease, generation: number): void {
    if (this.slots[lease.slot]!.generation !== generation) {
      throw new BrokerError('E_NO_CARD', `slot ${lease.slot}: card was removed`);
    }
    if (!lease.active) {
      throw new BrokerError('E_LEASE', `slot ${lease.slot}: the lease was revoked before the card answered`);
    }
  }

  private async exchangeOnLease(
    lease: Lease,
    route: CompiledRoute,
    command: Uint8Array,
    parsed: ParsedCommandApdu,
    sensitive: boolean,
  ): Promise<Uint8Array> {
    const slot = lease.slot;
    const st = this.slotState(slot);
    return this.onLease(lease, () =>
      exchange(sensitive ? command : st.buffers.hold(command), parsed, {
        slot,
        cardClass: route.name,
        buffers: st.buffers,
        sensitive,
        limits: {
          maxRounds: this.options.maxTransportRounds,
          maxAssembledBytes: this.options.maxResponseBytes,
          maxCardDataBytes: route.maxResponseBytes,
        },
        send: (bytes) => this.driverCall(slot, () => `command INS ${byteHex(bytes[1] ?? 0)}`, () => this.driver.transmit(slot, bytes), true),
      }),
    );
  }

  /**
   * One driver call with its failures put in broker terms. A mute card or I/O error leaves the card in
   * an unknown state (perhaps mid-command), so the slot is reset before anyone sends to it again.
   */
  private async driverCall(
    slot: number,
    whatOf: string | (() => string),
    call: () => Promise<Uint8Array>,
    recover: boolean,
  ): Promise<Uint8Array> {
    let result: unknown;
    try {
      result = await call();
    } catch (e) {
      const what = typeof whatOf === 'string' ? whatOf : whatOf();
      const code = e instanceof DriverError ? e.code : 'E_IO';
      const detail = e instanceof Error ? e.message : String(e);
      if (code === 'E_NO_CARD' || code === 'E_CARD_REMOVED') {
        throw new BrokerError('E_NO_CARD', `slot ${slot}: no card (${what} failed: ${detail})`);
      }
      if (code === 'E_SLOT') throw new BrokerError('E_SLOT', `slot ${slot}: ${what} failed: ${detail}`);
      let recovered = 'no reset attempted';
      if (recover) {
        try {
          await this.driver.reset(slot);
          recovered = 'the card was reset';
        } catch {
          recovered = 'resetting the card failed too';
        }
      }
      const why = code === 'E_MUTE' ? 'card did not answer (mute)' : `driver error: ${detail}`;
      throw new BrokerError('E_CARD', `slot ${slot}: ${what}: ${why}; ${recovered}`);
    }
    if (!(result instanceof Uint8Array)) {
      const what = typeof whatOf === 'string' ? whatOf : whatOf();
      throw new BrokerError('E_CARD', `slot ${slot}: ${what}: driver "${this.driver.name}" returned no byte array`);
    }
    return result;
  }

  /**
   * End a lease for any reason. The token dies at once; the card is reset (so no verified PIN or
   * selected application carries over), every buffer kept for the slot is wiped, and only then is
   * the slot handed to the next waiter.
   */
  private async endLease(lease: Lease, reason: LeaseEndReason): Promise<void> {
    if (!this.leases.revoke(lease)) return;
    const slot = lease.slot;
    const st = this.slots[slot]!;
    this.emit({ type: 'lease-revoked', slot, domain: lease.domain, reason });
    const generation = st.generation;
    let resetFailed = false;
    let newAtr: Uint8Array | null = null;
    if (reason !== 'removal') {
      const r = await st.queue.run(() => this.resetQuietly(slot));
      resetFailed = r === null;
      if (r instanceof Uint8Array) newAtr = r;
    }
    st.buffers.zeroAll();
    if (resetFailed && st.generation === generation && st.route !== null) {
      // The card may still carry the old holder's security status: nobody may have it until it is
      // re-inserted (a fresh power-up).
      const domain = st.route.domain;
      st.route = null;
      st.generation++;
      this.emit({ type: 'removed', slot, domain });
    }
    this.leases.free(slot);
    // A card that answers the reset with another ATR is not the card that was routed: route it
    // afresh, as a new insertion (the old domain is told it was removed).
    if (newAtr !== null && st.generation === generation && st.atrHex !== null && toHex(newAtr) !== st.atrHex) {
      this.onDriverEvent({ type: 'insert', slot, atr: newAtr });
    }
  }

  /** Resets the card: its new ATR, 'gone' if it left meanwhile, or null if it could not be reset. */
  private async resetQuietly(slot: number): Promise<Uint8Array | 'gone' | null> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return await this.driver.reset(slot);
      } catch (e) {
        if (e instanceof DriverError && (e.code === 'E_NO_CARD' || e.code === 'E_CARD_REMOVED')) return 'gone';
      }
    }
    return null;
  }

  private onDriverEvent(e: DriverEvent): void {
    if (this.state !== 'running') return;
    const st = this.slots[e.slot];
    if (st === undefined) return;
    if (e.type === 'remove') {
      this.onRemove(e.slot, st);
      return;
    }
    // An insert without a removal in between means the reader missed it: treat the old card as gone.
    if (st.atr !== null) this.onRemove(e.slot, st);
    st.generation++;
    st.atr = e.atr.slice();
    st.atrHex = toHex(st.atr);
    st.route = null;
    void this.routeInsertion(e.slot, st, st.generation, st.atr, st.atrHex);
  }

  private onRemove(slot: number, st: SlotState): void {
    const domain = st.route?.domain ?? null;
    st.generation++;
    st.route = null;
    st.atr = null;
    st.atrHex = null;
    this.leases.rejectWaiters(
      (s) => s === slot,
      (s) => new BrokerError('E_NOT_ROUTED', `card in slot ${s} was removed while waiting for it`),
    );
    // With reason 'removal' endLease runs to completion synchronously (no reset to wait for), so
    // 'lease-revoked' is always heard before 'removed'.
    const lease = this.leases.holder(slot);
    if (lease !== null) void this.endLease(lease, 'removal');
    st.buffers.zeroAll();
    this.emit({ type: 'removed', slot, domain });
  }

  private async routeInsertion(slot: number, st: SlotState, generation: number, atr: Uint8Array, atrHex: string): Promise<void> {
    let decision: RoutingDecision;
    try {
      decision = await st.queue.run(async () => {
        const d = await decideRoute(atr, this.routes, (aid) => this.probe(slot, st, generation, aid));
        if (d.probed && st.generation === generation && !(await this.resetQuietly(slot))) {
          return { kind: 'refused' as const, reason: 'the card could not be reset after AID probing', probed: true };
        }
        return d;
      });
    } catch (e) {
      decision = { kind: 'refused' as const, reason: `routing failed: ${e instanceof Error ? e.message : String(e)}`, probed: false };
    }
    if (st.generation !== generation || this.state !== 'running') return;
    if (decision.kind === 'routed') {
      st.route = decision.route;
      this.emit({ type: 'offered', slot, domain: decision.route.domain, cardClass: decision.route.name, atr: atrHex });
    } else {
      this.emit({ type: 'refused', slot, atr: atrHex, reason: decision.reason });
    }
  }

  private async probe(slot: number, st: SlotState, generation: number, aid: Uint8Array): Promise<boolean> {
    if (st.generation !== generation) throw new BrokerError('E_NO_CARD', `slot ${slot}: card removed during routing`);
    const command = selectByAid(aid);
    try {
      const response = await this.driverCall(slot, 'SELECT by AID (routing probe)', () => this.driver.transmit(slot, command), false);
      const ok = selectSucceeded(response);
      response.fill(0);
      return ok;
    } catch (e) {
      if (e instanceof BrokerError && e.code === 'E_NO_CARD') throw e;
      return false;
    }
  }
}

export function createSlotBroker(driver: SlotDriver, options: BrokerOptions): SlotBroker {
  return new Broker(driver, options);
}
