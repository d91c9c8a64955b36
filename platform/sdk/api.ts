/**
 * The applet-facing `platform` API: the public contract of DESIGN §6.
 *
 * Applets (and evaluators' scripts) see exactly one frozen global, `platform`, shaped as below.
 * Every call is async, copies its arguments out of the isolate, and is checked by the kernel
 * against the domain's policy. Nothing returned is a live host object.
 */

export type Bytes = Uint8Array;

/** A value that can cross the isolate boundary: copied, never shared. */
export type Transferable =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | Transferable[]
  | { [key: string]: Transferable };

export interface AcquireOptions {
  /** How long to wait for the slot to become free (ms); capped by the kernel. */
  timeoutMs?: number;
}

/** An exclusive lease on one card slot. `token` is opaque and only valid for the domain it was issued to. */
export interface Lease {
  readonly slot: number;
  readonly token: string;
  /** The card class the broker routed the card as (policy `cardClasses[].name`). */
  readonly cardClass: string;
  /** The card's ATR, as hex. */
  readonly atr: string;
  /** Send one command APDU; resolves to response data followed by SW1 SW2. */
  transmit(apdu: Bytes): Promise<Bytes>;
  /** Warm reset of the card; resolves to the new ATR. */
  reset(): Promise<Bytes>;
  release(): Promise<void>;
}

export type PinFormat = 'ascii-ff' | 'bcd-ff' | 'emv-plaintext';

export interface PinVerifyOptions {
  /** P2 of VERIFY: the PIN reference on the card; must be listed in the domain policy. */
  reference: number;
  format: PinFormat;
  /** What the terminal shows while the keypad is read (French). */
  prompt?: string;
}

export interface PinVerifyResult {
  ok: boolean;
  /** Remaining tries as reported by the card (63Cx), or null when the card did not say. */
  triesLeft: number | null;
  blocked: boolean;
  /** Set when no PIN reached the card: 'cancelled' (keypad), 'timeout'. */
  aborted?: 'cancelled' | 'timeout';
}

export interface Screen {
  title?: string;
  lines: string[];
  /** Labels of soft keys shown at the bottom. */
  keys?: string[];
}

export interface Question {
  title?: string;
  text: string;
  choices: string[];
  timeoutMs?: number;
}

export interface UiAnswer {
  /** Index into `choices`, or -1 when cancelled or timed out. */
  choice: number;
}

export type StoreOp =
  | { op: 'put'; key: string; value: Transferable }
  | { op: 'delete'; key: string };

export interface StoreListOptions {
  prefix?: string;
  limit?: number;
}

export interface PlatformStore {
  get(key: string): Promise<Transferable | undefined>;
  put(key: string, value: Transferable): Promise<void>;
  delete(key: string): Promise<boolean>;
  list(options?: StoreListOptions): Promise<string[]>;
  /** All ops applied atomically and durably (synchronous=FULL) before the promise resolves. */
  transaction(ops: StoreOp[]): Promise<void>;
}

export interface PlatformNet {
  /** Send a message to an endpoint named in the domain policy. */
  send(endpoint: string, message: Transferable): Promise<Transferable>;
  fetch(endpoint: string, request?: Transferable): Promise<Transferable>;
}

export type DigestAlgorithm = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Platform {
  readonly domain: string;
  readonly slots: {
    acquire(slot: number, options?: AcquireOptions): Promise<Lease>;
    /** Slots currently holding a card routed to this domain. */
    list(): Promise<Array<{ slot: number; cardClass: string; atr: string }>>;
  };
  readonly pin: {
    verify(lease: Lease, options: PinVerifyOptions): Promise<PinVerifyResult>;
  };
  readonly ui: {
    show(screen: Screen): Promise<void>;
    ask(question: Question): Promise<UiAnswer>;
  };
  readonly store: PlatformStore;
  readonly net: PlatformNet;
  readonly intents: {
    request(target: string, payload: { action: string; [key: string]: Transferable }): Promise<Transferable>;
  };
  readonly crypto: {
    digest(alg: DigestAlgorithm, data: Bytes): Promise<Bytes>;
    random(n: number): Promise<Bytes>;
  };
  readonly clock: {
    /** Milliseconds since the epoch, rounded to the kernel's clock granularity. */
    now(): Promise<number>;
  };
  log(level: LogLevel, message: string, fields?: { [key: string]: Transferable }): Promise<void>;
}

/** Handlers an applet may define as globals; the kernel calls them by name. */
export interface CardEvent {
  slot: number;
  cardClass: string;
  atr: string;
}

export interface IntentRequest {
  from: string;
  action: string;
  payload: { [key: string]: Transferable };
}

/**
 * A named action from the terminal (keys, menus, the web terminal, `di demo`, tests), delivered
 * through `kernel.action` only when the domain policy lists the name in `ui.actions`. The domain
 * holds the screen and keypad for the length of the call.
 */
export interface ActionRequest {
  action: string;
  payload: { [key: string]: Transferable };
}

export interface AppletHandlers {
  main?(): Promise<Transferable>;
  onStart?(): Promise<void>;
  onCardInserted?(event: CardEvent): Promise<void>;
  onCardRemoved?(event: { slot: number }): Promise<void>;
  onIntent?(request: IntentRequest): Promise<Transferable>;
  onAction?(request: ActionRequest): Promise<Transferable>;
  /** A timer of the policy (`timers[].name`) came due; calls do not overlap for one timer. */
  onTimer?(event: { name: string }): Promise<void>;
  /**
   * A request of the paired practice computer over the TLA host link (wire/hostlink.ts), for an
   * operation the policy grants in `hostLink.ops`. The answer is `{ ok: true, ... }` or
   * `{ ok: false, error: { code, message, field? } }`.
   */
  onHostRequest?(request: HostLinkRequest): Promise<Transferable>;
}

/** What a domain's onHostRequest receives: the operation and the host's arguments, unvalidated. */
export interface HostLinkRequest {
  op: string;
  args: { [key: string]: Transferable };
}

export const HANDLER_NAMES = ['main', 'onStart', 'onCardInserted', 'onCardRemoved', 'onIntent', 'onAction', 'onTimer', 'onHostRequest'] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

declare global {
  // eslint-disable-next-line no-var
  var platform: Platform;
}
