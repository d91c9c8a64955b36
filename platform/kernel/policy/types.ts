/**
 * A domain policy as the kernel holds it after validation (policies/policy.schema.json).
 * Hex strings in the JSON are kept as uppercase hex here; the broker parses them once at boot.
 * Nothing is granted unless listed: an empty policy grants nothing.
 */
import type { DomainHostOp } from '../../wire/hostlink.js';

export interface ApduRule {
  /** CLA, INS and optionally P1, P2 as 2-digit uppercase hex. CLA may be matched under `claMask`. */
  cla: string;
  ins: string;
  p1?: string;
  p2?: string;
  /** Mask applied to the APDU's CLA before comparing (secure messaging / channel bits); default FF. */
  claMask?: string;
  /** Human label for audit and reports, e.g. "SELECT", "READ RECORD". */
  name?: string;
}

export interface CardClass {
  /** Unique across all policies: a card class belongs to exactly one domain. */
  name: string;
  atr: { value: string; mask: string };
  /** When several classes share an ATR pattern, the broker probes these AIDs (SELECT by AID) to decide. */
  aids: string[];
  apdu: ApduRule[];
  /** VERIFY references (P2) the kernel's secure PIN entry may present for this class. */
  pinReferences: number[];
  /** Max response data length accepted from the card (bytes, before SW). Default 4096. */
  maxResponseBytes?: number;
  /**
   * How long a lease on this class may stay idle and last in all, when not the kernel's defaults: a
   * card that stays in the reader all day and keeps a verified PIN (the CPS) is held for the session.
   * The class belongs to this domain alone, so a long lease keeps the slot from nobody else.
   */
  lease?: { idleMs: number; maxMs: number };
}

export interface NetworkEndpoint {
  name: string;
  kind: 'smtp' | 'pop3' | 'http' | 'acquirer';
  host: string;
  port: number;
}

export interface TimerGrant {
  name: string;
  everyMs: number;
}

export interface IntentGrant {
  target: string;
  actions: string[];
}

export interface IntentHandle {
  action: string;
  /** Fields (name -> type) the result may carry back; anything else is dropped by the kernel. */
  result: Record<string, 'string' | 'number' | 'boolean'>;
}

export interface DomainLimits {
  /** Isolate heap limit (isolated-vm memoryLimit), MB. */
  memoryMb: number;
  /** CPU budget per handler call, including microtasks and time between awaited calls. */
  cpuMsPerCall: number;
  /** Time the isolate may spend running (wallTime) per handler call. */
  wallMsPerCall: number;
  /** Real-time deadline for a whole handler call (including waits on cards, PIN, UI). */
  handlerDeadlineMs: number;
  /** Max in-flight platform calls from this domain; beyond it calls are refused (back-pressure). */
  queueLength: number;
  /** Sustained platform calls per second (token bucket, burst = ratePerSecond). */
  ratePerSecond: number;
  /** Max encoded size of one frame from the host. */
  maxMessageBytes: number;
}

export interface Policy {
  schemaVersion: 1;
  domain: string;
  description?: string;
  applet: { id: string };
  limits: DomainLimits;
  cardClasses: CardClass[];
  store: { quotaBytes: number };
  network: { endpoints: NetworkEndpoint[] };
  intents: { request: IntentGrant[]; handle: IntentHandle[] };
  /**
   * Periodic calls of the applet's onTimer handler ({ name }): work nobody asks for at the keypad,
   * such as transmission retries. Absent = none; the sandbox has no timers of its own.
   */
  timers?: readonly TimerGrant[];
  /**
   * The TLA host link operations (wire/hostlink.ts DOMAIN_HOST_OPS) the kernel forwards to the
   * applet's onHostRequest handler for the paired practice computer. Absent = none; at most one
   * policy of a loaded set may hold it. Kept by the loader only when the file lists it.
   */
  hostLink?: { readonly ops: readonly DomainHostOp[] };
  ui: {
    foreground: boolean;
    pinEntry: boolean;
    /**
     * Actions the terminal (keys, menus, the web terminal, `di demo`, tests) may invoke on the
     * applet's onAction handler through `kernel.action`. Absent = none. Optional in the type so that
     * policies built in code without it stay valid; the loader keeps it only when the file lists it.
     */
    actions?: readonly string[];
  };
}

/** Defaults applied to omitted limits. Deliberately small: a policy must ask for more. */
export const DEFAULT_LIMITS: DomainLimits = {
  memoryMb: 64,
  cpuMsPerCall: 1000,
  wallMsPerCall: 2000,
  handlerDeadlineMs: 120_000,
  queueLength: 64,
  ratePerSecond: 2000,
  maxMessageBytes: 256 * 1024,
};
