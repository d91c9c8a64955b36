/**
 * The card session the conformance cases run on, and the two ways of building it: the slot broker
 * over the in-process emulated reader, and the slot broker over the PC/SC driver with the card served
 * into a real pcscd through vpcd. Both go through a lease and the broker's transmit, so T=0 61xx/6Cxx
 * handling, APDU filtering and PIN VERIFY checks are the same code on both paths; only the driver
 * differs.
 */
import { join } from 'node:path';
import type { CardModel } from '../../emulator/cards/card.js';
import { EmulatedReader } from '../../emulator/reader/reader.js';
import { serveCardToVpcd, type VpcdBridge } from '../../emulator/reader/vpcd.js';
import { loadPolicyFile } from '../../platform/kernel/policy/loader.js';
import type { CardClass } from '../../platform/kernel/policy/types.js';
import { repoRoot } from '../../platform/kernel/paths.js';
import { createSlotBroker } from '../../platform/slot-broker/broker.js';
import { EmulatedDriver } from '../../platform/slot-broker/drivers/emulated.js';
import { PcscDriver, type PcscBinding } from '../../platform/slot-broker/drivers/pcsc.js';
import { DEFAULT_BROKER_OPTIONS, type BrokerEvent, type LeaseInfo, type Route, type SlotBroker } from '../../platform/slot-broker/types.js';
import { testCardClass } from '../support/dev-kernel.js';
import { enableLoopbackQuickAck, startPrivatePcscd, type PrivatePcscd } from '../support/pcscd.js';

export type PathName = 'in-process' | 'pcsc';

/** What a case may do with a card: exactly what the kernel does for an applet. */
export interface CardSession {
  readonly path: PathName;
  /** The ATR the card presented when it was routed. */
  readonly atr: string;
  /** The card class the broker routed the card to (vitale, cps, emv, test-card). */
  readonly cardClass: string;
  readonly domain: string;
  /** Applet APDU: filtered by the class allowlist; 61xx/6Cxx handled by the broker. */
  transmit(apdu: Uint8Array): Promise<Uint8Array>;
  /** The kernel's VERIFY path (secure PIN entry): 00 20 00 P2 with P2 a PIN reference of the class. */
  transmitPinVerify(apdu: Uint8Array): Promise<Uint8Array>;
  /** Warm reset through the broker; resolves to the ATR. */
  reset(): Promise<Uint8Array>;
  /** APDUs exchanged through this session (for the per-APDU time report). */
  readonly apdus: number;
}

export type OpenResult = { kind: 'offered'; session: CardSession } | { kind: 'refused'; reason: string };

export interface Harness {
  readonly path: PathName;
  /** Insert `card` into slot 0 and, once the broker routes it, take a lease on it. */
  open(card: CardModel): Promise<OpenResult>;
  /** Release the lease (if still held) and take the card out. */
  close(session: CardSession | null): Promise<void>;
  /** Insert, lease, run `f`, and always take the card out. Throws if the broker refuses the card. */
  withCard<T>(card: CardModel, f: (s: CardSession) => Promise<T>): Promise<T>;
  /** Total APDUs and time spent in them (ms) across sessions, for the timing report. */
  readonly stats: { apdus: number; ms: number };
  dispose(): Promise<void>;
}

// ---- routes: the real policies' card classes plus the test card's ----

export const TEST_DOMAIN = 'conformance-test';

/** The test card's class: the dev-kernel one plus GET CHALLENGE, which the conformance case uses. */
export function conformanceTestCardClass(): CardClass {
  const base = testCardClass('test-card');
  return { ...base, apdu: [...base.apdu, { cla: '00', ins: '84', name: 'GET CHALLENGE' }, { cla: '00', ins: 'C0', name: 'GET RESPONSE' }] };
}

/**
 * Every route the platform would have: sesam-vitale (vitale, cps), payment (emv), and the test
 * class first, so a test or hostile card is routed on its first probe. All classes share the ATR
 * pattern 3B/FF, so every insertion is routed by AID probing, which the cases check too.
 */
export function conformanceRoutes(): Route[] {
  const policies = join(repoRoot(), 'policies');
  const routes: Route[] = [{ domain: TEST_DOMAIN, cardClass: conformanceTestCardClass() }];
  for (const file of ['sesam-vitale.json', 'payment.json']) {
    const p = loadPolicyFile(join(policies, file));
    for (const cc of p.cardClasses) routes.push({ domain: p.domain, cardClass: cc });
  }
  return routes;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- the shared broker-side part ----

class BrokerHarness implements Harness {
  readonly events: BrokerEvent[] = [];
  readonly stats = { apdus: 0, ms: 0 };
  /** Lease tokens stay with the harness; cases see only the session's operations. */
  private readonly tokens = new WeakMap<CardSession, string>();

  constructor(
    readonly path: PathName,
    readonly broker: SlotBroker,
    private readonly insertCard: (card: CardModel) => void,
    private readonly removeCard: () => void,
    private readonly routeTimeoutMs: number,
    private readonly afterDispose: () => Promise<void>,
  ) {
    broker.onEvent((e) => this.events.push(e));
  }

  private async waitEvent(from: number, pred: (e: BrokerEvent) => boolean, timeoutMs: number, what: string): Promise<BrokerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = this.events.slice(from).find(pred);
      if (e !== undefined) return e;
      if (Date.now() > deadline) {
        throw new Error(`${this.path}: no ${what} within ${timeoutMs} ms; broker events since: ${JSON.stringify(this.events.slice(from))}`);
      }
      await sleep(10);
    }
  }

  /** The last routing/removal event of slot 0 says whether a card is (still) there. */
  private slotEmpty(): boolean {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i]!;
      if (e.slot !== 0) continue;
      if (e.type === 'removed') return true;
      if (e.type === 'offered' || e.type === 'refused') return false;
    }
    return true;
  }

  async open(card: CardModel): Promise<OpenResult> {
    const mark = this.events.length;
    this.insertCard(card);
    const e = await this.waitEvent(mark, (x) => x.slot === 0 && (x.type === 'offered' || x.type === 'refused'), this.routeTimeoutMs, 'routing decision for slot 0');
    if (e.type === 'refused') return { kind: 'refused', reason: e.reason };
    if (e.type !== 'offered') throw new Error('unreachable');
    const lease = await this.broker.acquire(e.domain, 0, 5000);
    return { kind: 'offered', session: this.session(e.domain, lease) };
  }

  private session(domain: string, lease: LeaseInfo): CardSession {
    const { broker, stats } = this;
    let apdus = 0;
    const timed = async (f: () => Promise<Uint8Array>): Promise<Uint8Array> => {
      const t0 = performance.now();
      try {
        return await f();
      } finally {
        stats.ms += performance.now() - t0;
        stats.apdus++;
        apdus++;
      }
    };
    const session: CardSession = {
      path: this.path,
      atr: lease.atr,
      cardClass: lease.cardClass,
      domain,
      transmit: (apdu) => timed(() => broker.transmit(domain, lease.token, apdu)),
      transmitPinVerify: (apdu) => timed(() => broker.transmitPinVerify(domain, lease.token, apdu)),
      reset: () => broker.reset(domain, lease.token),
      get apdus() {
        return apdus;
      },
    };
    this.tokens.set(session, lease.token);
    return session;
  }

  async close(session: CardSession | null): Promise<void> {
    if (session !== null) {
      const token = this.tokens.get(session);
      try {
        if (token !== undefined) await this.broker.release(session.domain, token);
      } catch {
        // Already revoked (card removed, mute card pulled by the bridge): nothing to release.
      }
    }
    // A card that left already (a mute card pulled by the bridge) produces no new event; a card
    // re-routed by the broker after its end-of-lease reset (another ATR) may still be being probed:
    // wait for the physical removal's event, or for a slot that has stayed empty and quiet.
    const mark = this.events.length;
    this.removeCard();
    const deadline = Date.now() + this.routeTimeoutMs;
    let quietSince = Date.now();
    let seen = this.events.length;
    for (;;) {
      if (this.events.slice(mark).some((e) => e.slot === 0 && e.type === 'removed')) break;
      if (this.events.length !== seen) {
        seen = this.events.length;
        quietSince = Date.now();
      }
      if (this.slotEmpty() && Date.now() - quietSince > 1500) break;
      if (Date.now() > deadline) throw new Error(`${this.path}: slot 0 still holds a card ${this.routeTimeoutMs} ms after removal`);
      await sleep(10);
    }
  }

  async withCard<T>(card: CardModel, f: (s: CardSession) => Promise<T>): Promise<T> {
    const r = await this.open(card);
    if (r.kind === 'refused') {
      await this.close(null);
      throw new Error(`${this.path}: the broker refused card "${card.kind}": ${r.reason}`);
    }
    try {
      return await f(r.session);
    } finally {
      await this.close(r.session);
    }
  }

  async dispose(): Promise<void> {
    await this.broker.stop();
    await this.afterDispose();
  }
}

// ---- in-process: EmulatedDriver over EmulatedReader ----

export async function inProcessHarness(): Promise<Harness & { reader: EmulatedReader }> {
  // A short mute timeout keeps the hostile mute card's cost small; nothing else depends on it.
  const reader = new EmulatedReader({ slots: 1, muteTimeoutMs: 150 });
  const routes = conformanceRoutes();
  const broker = createSlotBroker(new EmulatedDriver(reader), { ...DEFAULT_BROKER_OPTIONS, routes });
  const h = new BrokerHarness(
    'in-process',
    broker,
    (card) => reader.insert(0, card),
    () => {
      if (reader.present(0)) reader.remove(0);
    },
    5000,
    async () => {},
  );
  await broker.start();
  return Object.assign(h, { reader });
}

// ---- pcsc: PcscDriver over a private pcscd, the card served into vpcd slot 0 ----

export interface PcscHarness extends Harness {
  pcscd: PrivatePcscd;
  bridge: VpcdBridge;
}

export async function pcscHarness(binding: PcscBinding): Promise<PcscHarness> {
  const pcscd = await startPrivatePcscd();
  const quick = enableLoopbackQuickAck();
  // The mute card is pulled by the bridge after this long (vpcd itself would wait forever).
  const bridge = serveCardToVpcd({ card: null, host: quick?.host ?? '127.0.0.1', port: pcscd.basePort, reconnectMs: 50, muteTimeoutMs: 300 });
  const routes = conformanceRoutes();
  let driver: PcscDriver;
  try {
    driver = new PcscDriver(binding, { readers: [pcscd.readers[0]] });
  } catch (e) {
    await bridge.close();
    quick?.undo();
    await pcscd.dispose();
    throw e;
  }
  const broker = createSlotBroker(driver, { ...DEFAULT_BROKER_OPTIONS, routes });
  const h = new BrokerHarness(
    'pcsc',
    broker,
    (card) => bridge.insert(card),
    () => bridge.remove(),
    // pcscd polls vpcd about every 400 ms: insertion and removal each take up to a poll or two.
    8000,
    async () => {
      await bridge.close();
      quick?.undo();
      await pcscd.dispose();
    },
  );
  await broker.start();
  return Object.assign(h, { pcscd, bridge });
}
