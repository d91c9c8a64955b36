/**
 * The slot broker's contract with the kernel. The broker alone touches the slots (through a driver);
 * the kernel calls it on behalf of a domain, naming the domain, never trusting the host's word for it.
 */
import type { CardClass } from '../kernel/policy/types.js';

/** A card class as granted to one domain (from that domain's policy). */
export interface Route {
  domain: string;
  cardClass: CardClass;
}

export interface BrokerOptions {
  routes: Route[];
  /** A lease with no APDU for this long is revoked (ms). */
  leaseIdleTimeoutMs: number;
  /** Hard cap on the life of one lease (ms). */
  leaseMaxMs: number;
  /** Max GET RESPONSE rounds (61xx) and 6Cxx re-sends for one command. */
  maxTransportRounds: number;
  /** Max total response bytes assembled for one command across 61xx rounds. */
  maxResponseBytes: number;
  /** Cap on command APDU length (bytes, whole APDU). */
  maxCommandBytes: number;
}

export const DEFAULT_BROKER_OPTIONS: Omit<BrokerOptions, 'routes'> = {
  leaseIdleTimeoutMs: 30_000,
  leaseMaxMs: 10 * 60_000,
  maxTransportRounds: 32,
  maxResponseBytes: 65_538,
  maxCommandBytes: 65_544,
};

export type BrokerEvent =
  /** A card was routed: only `domain` is told about it. */
  | { type: 'offered'; slot: number; domain: string; cardClass: string; atr: string }
  /** No policy claims this card: nobody is told, the card stays unpowered. */
  | { type: 'refused'; slot: number; atr: string; reason: string }
  | { type: 'removed'; slot: number; domain: string | null }
  | { type: 'lease-revoked'; slot: number; domain: string; reason: 'release' | 'removal' | 'host-death' | 'timeout' | 'shutdown' };

export type BrokerErrorCode =
  | 'E_LEASE' // unknown, forged, replayed, revoked or foreign token
  | 'E_NOT_ROUTED' // the slot's card is not routed to this domain (or no card)
  | 'E_BUSY' // slot leased by someone else and the wait timed out
  | 'E_APDU_MALFORMED' // not a well-formed ISO 7816-4 command
  | 'E_APDU_DENIED' // well-formed but outside the card class allowlist
  | 'E_CARD' // the card misbehaved (mute, endless 61xx, oversized or malformed response)
  | 'E_NO_CARD'
  | 'E_SLOT';

export class BrokerError extends Error {
  constructor(
    readonly code: BrokerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BrokerError';
  }
}

export interface LeaseInfo {
  token: string;
  slot: number;
  cardClass: string;
  atr: string;
}

export interface SlotBroker {
  start(): Promise<void>;
  stop(): Promise<void>;
  onEvent(listener: (e: BrokerEvent) => void): () => void;
  /** Cards currently routed to `domain`. */
  cardsFor(domain: string): Array<{ slot: number; cardClass: string; atr: string }>;
  acquire(domain: string, slot: number, timeoutMs: number): Promise<LeaseInfo>;
  /** The live lease `token` names, if it is `domain`'s; otherwise throws BrokerError E_LEASE. */
  checkLease(domain: string, token: string): LeaseInfo;
  /**
   * Keeps the lease from idling out while the kernel works for it (secure PIN entry: a person is
   * typing). Returns the release function; the lease can still be revoked by removal or host death.
   */
  holdLease(domain: string, token: string): () => void;
  /** Applet APDU: checked for well-formedness and against the card class allowlist; 61xx/6Cxx handled. */
  transmit(domain: string, token: string, apdu: Uint8Array): Promise<Uint8Array>;
  /**
   * Kernel-built VERIFY for secure PIN entry: allowed only as 00 20 00 P2 with P2 in the class's
   * pinReferences. The broker zeroes its copies of the command once sent and never logs it.
   */
  transmitPinVerify(domain: string, token: string, apdu: Uint8Array): Promise<Uint8Array>;
  reset(domain: string, token: string): Promise<Uint8Array>;
  release(domain: string, token: string): Promise<void>;
  /** Host died or was restarted: revoke all its leases, reset those cards. */
  revokeDomain(domain: string, reason: 'host-death' | 'shutdown'): Promise<void>;
}
