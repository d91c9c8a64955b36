/**
 * The `pcsc` driver: the broker's slots are PC/SC readers served by pcscd, through the `smartcard`
 * N-API binding (an optional dependency, loaded only when this driver is used). Like the emulated
 * driver it only translates: T=0 GET RESPONSE / Le correction, routing and filtering stay in the
 * broker, so the binding's own T=0 helper (autoGetResponse) is never used.
 *
 * Each slot holds one EXCLUSIVE connection to its card, opened on first use and kept until the
 * card goes: no other PC/SC client can slip commands between a holder's APDUs or reset the card.
 */
import { DriverError, type DriverEvent, type SlotDriver } from '../driver.js';

// ---- the part of the binding this driver uses (structural, so the platform typechecks without it) ----

export interface PcscCardHandle {
  readonly protocol: number;
  readonly connected: boolean;
  transmit(command: Buffer, options?: { maxRecvLength?: number; autoGetResponse?: boolean }): Promise<Buffer>;
  getStatus(): { state: number; protocol: number; atr: Buffer };
  disconnect(disposition?: number): void;
  reconnect(shareMode?: number, protocol?: number, initialization?: number): Promise<number>;
}

export interface PcscReaderHandle {
  readonly name: string;
  readonly state: number;
  readonly atr: Buffer | null;
  connect(shareMode?: number, protocol?: number): Promise<PcscCardHandle>;
}

export interface PcscContextHandle {
  readonly isValid: boolean;
  listReaders(): PcscReaderHandle[];
  close(): void;
}

export interface PcscMonitorEvent {
  type: 'reader-attached' | 'reader-detached' | 'card-inserted' | 'card-removed' | 'error';
  /** The reader's name; for 'error', the error message. */
  reader: string;
  state: number;
  atr: Buffer | null;
}

export interface PcscMonitorHandle {
  readonly isRunning: boolean;
  start(callback: (event: PcscMonitorEvent) => void): void;
  stop(): void;
}

export interface PcscBinding {
  Context: new () => PcscContextHandle;
  ReaderMonitor: new () => PcscMonitorHandle;
  SCARD_SHARE_EXCLUSIVE: number;
  SCARD_SHARE_SHARED: number;
  SCARD_PROTOCOL_T0: number;
  SCARD_PROTOCOL_T1: number;
  SCARD_LEAVE_CARD: number;
  SCARD_RESET_CARD: number;
  SCARD_STATE_PRESENT: number;
  SCARD_STATE_MUTE: number;
}

/** The binding could not be loaded: not installed (optional dependency) or its native part failed to build. */
export class PcscUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(
      `the PC/SC binding "smartcard" is not available (${reason}); the pcsc driver needs it: ` +
        'install libpcsclite-dev and a C++ toolchain, then `npm install` (smartcard is an optional dependency); ' +
        'the emulated driver works without it',
    );
    this.name = 'PcscUnavailableError';
  }
}

const BINDING_KEYS: Array<keyof PcscBinding> = [
  'Context',
  'ReaderMonitor',
  'SCARD_SHARE_EXCLUSIVE',
  'SCARD_SHARE_SHARED',
  'SCARD_PROTOCOL_T0',
  'SCARD_PROTOCOL_T1',
  'SCARD_LEAVE_CARD',
  'SCARD_RESET_CARD',
  'SCARD_STATE_PRESENT',
  'SCARD_STATE_MUTE',
];

let bindingPromise: Promise<PcscBinding> | null = null;

/** Loads `smartcard` once; rejects with PcscUnavailableError saying what is missing. */
export function loadPcscBinding(): Promise<PcscBinding> {
  bindingPromise ??= (async () => {
    // A computed specifier keeps bundlers and the type checker from requiring the optional package.
    const name = 'smartcard';
    let mod: Record<string, unknown>;
    try {
      const ns = (await import(name)) as { default?: Record<string, unknown> } & Record<string, unknown>;
      mod = ns.default ?? ns;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const code = (e as NodeJS.ErrnoException).code;
      throw new PcscUnavailableError(
        code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' ? `package not installed: ${msg}` : `failed to load: ${msg}`,
      );
    }
    const missing = BINDING_KEYS.filter((k) => mod[k] === undefined);
    if (missing.length > 0) throw new PcscUnavailableError(`unexpected module shape, missing ${missing.join(', ')}`);
    return mod as unknown as PcscBinding;
  })();
  // A failed load is not cached: the package may be installed while the process runs.
  bindingPromise.catch(() => {
    bindingPromise = null;
  });
  return bindingPromise;
}

// ---- error mapping ----

/** Messages of the binding's errors (it rejects with plain Errors carrying pcsc-lite's text, no code). */
const MSG = {
  noService: ['PC/SC service not running', 'PC/SC service stopped', 'Context is not valid'],
  removed: ['Card was removed', 'No smart card present'],
  reset: ['Card was reset'],
  unpowered: ['Card is unpowered'],
  mute: ['Card is unresponsive', 'Operation timed out'],
  sharing: ['Sharing violation'],
  noReader: ['Unknown reader', 'Reader unavailable', 'Reader not ready'],
  handle: ['Invalid handle', 'Card is not connected'],
} as const;

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isKind(e: unknown, kind: keyof typeof MSG): boolean {
  const m = typeof e === 'string' ? e : messageOf(e);
  return MSG[kind].some((k) => m.includes(k));
}

const START_PCSCD =
  'pcscd is not running (or stopped): start it (`systemctl start pcscd`, or `pcscd` as root; for emulated cards it needs vsmartcard-vpcd installed)';

// ---- the driver ----

export interface PcscDriverOptions {
  /**
   * PC/SC reader names in slot order (slot i = readers[i]). A name matches a reader of that exact
   * name, else the first reader whose name starts with it ("Virtual PCD 00 01" for "Virtual PCD 00 01",
   * "ACS ACR38U" for any ACR38U). Default: every reader pcscd has when the driver is made, sorted.
   */
  readers?: string[];
  /** Receive buffer for one exchange (bytes, data + SW). Default 65538 (extended length). */
  maxRecvLength?: number;
  /**
   * After a failed exchange, how long to watch for pcscd to report the card gone before calling it an
   * I/O error rather than a removal (pcscd polls some readers, vpcd every ~400 ms). Default 1200 ms.
   */
  removalGraceMs?: number;
  /**
   * 'exclusive' (default, the only mode for production): no other application can use the card.
   * 'shared' exists for tests that need another client to reset the card under the driver.
   */
  shareMode?: 'exclusive' | 'shared';
  /** How often to retry the reader monitor after pcscd went away. Default 1000 ms. */
  monitorRetryMs?: number;
}

interface Slot {
  /** Configured reader name (or prefix). */
  readonly wanted: string;
  /** The pcscd reader bound to this slot, once seen. */
  reader: string | null;
  present: boolean;
  atr: Uint8Array | null;
  /** Bumped when the card goes or is replaced: an exchange that started on an older card reports removal. */
  generation: number;
  card: PcscCardHandle | null;
  connecting: Promise<PcscCardHandle> | null;
  busy: number;
  /** A handle whose card went while an exchange was on it; disconnected once idle. */
  stale: PcscCardHandle[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class PcscDriver implements SlotDriver {
  readonly name = 'pcsc';
  private readonly slots: Slot[];
  private readonly opts: Required<Omit<PcscDriverOptions, 'readers'>>;
  private onEvent: ((e: DriverEvent) => void) | null = null;
  private monitor: PcscMonitorHandle | null = null;
  private context: PcscContextHandle | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  /** Loads the binding and makes the driver (the usual entry point). */
  static async open(options: PcscDriverOptions = {}): Promise<PcscDriver> {
    return new PcscDriver(await loadPcscBinding(), options);
  }

  constructor(
    private readonly binding: PcscBinding,
    options: PcscDriverOptions = {},
  ) {
    this.opts = {
      maxRecvLength: options.maxRecvLength ?? 65538,
      removalGraceMs: options.removalGraceMs ?? 1200,
      shareMode: options.shareMode ?? 'exclusive',
      monitorRetryMs: options.monitorRetryMs ?? 1000,
    };
    let names = options.readers;
    if (names === undefined) {
      names = this.withContext((ctx) => ctx.listReaders().map((r) => r.name)).sort();
      if (names.length === 0) {
        throw new DriverError('E_SLOT', 'pcsc driver: pcscd reports no readers; plug one in, or name the readers to wait for');
      }
    }
    if (names.length === 0) throw new DriverError('E_SLOT', 'pcsc driver: the reader list is empty');
    if (new Set(names).size !== names.length) throw new DriverError('E_SLOT', `pcsc driver: a reader is named twice in ${JSON.stringify(names)}`);
    this.slots = names.map((wanted) => ({
      wanted,
      reader: null,
      present: false,
      atr: null,
      generation: 0,
      card: null,
      connecting: null,
      busy: 0,
      stale: [],
    }));
  }

  get slotCount(): number {
    return this.slots.length;
  }

  /** The pcscd reader name bound to each slot (null until seen). */
  readerNames(): Array<string | null> {
    return this.slots.map((s) => s.reader);
  }

  async start(onEvent: (e: DriverEvent) => void): Promise<void> {
    if (this.onEvent !== null) throw new DriverError('E_SLOT', 'pcsc driver already started');
    if (this.stopped) throw new DriverError('E_SLOT', 'pcsc driver stopped; make a new one');
    // Readers and cards present now are announced before start resolves, as the broker expects.
    const readers = this.withContext((ctx) => ctx.listReaders().map((r) => ({ name: r.name, state: r.state, atr: r.atr })));
    this.onEvent = onEvent;
    for (const r of readers) this.syncReader(r.name, r.state, r.atr);
    this.startMonitor();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.onEvent = null;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopMonitor();
    await Promise.all(
      this.slots.map(async (s) => {
        const card = s.card;
        s.card = null;
        if (card !== null) {
          // Reset on the way out: no card keeps an application's security status after the platform
          // stops. Through the asynchronous reconnect: a synchronous disconnect(RESET) would block this
          // thread while pcscd waits on the card, and an emulated card served from this very process
          // (vpcd bridge) could then never answer.
          try {
            await card.reconnect(this.share(), this.protocols(), this.binding.SCARD_RESET_CARD);
          } catch {
            // Card gone or pcscd stopped: nothing left to reset.
          }
          this.disconnectQuietly(card, this.binding.SCARD_LEAVE_CARD);
        }
        for (const h of s.stale.splice(0)) this.disconnectQuietly(h, this.binding.SCARD_LEAVE_CARD);
      }),
    );
    this.closeContext();
  }

  async reset(slot: number): Promise<Uint8Array> {
    const s = this.slot(slot);
    return this.onCard(s, slot, 'reset', async (card) => {
      await card.reconnect(this.share(), this.protocols(), this.binding.SCARD_RESET_CARD);
      const atr = Uint8Array.from(card.getStatus().atr);
      s.atr = atr;
      return atr.slice();
    });
  }

  async transmit(slot: number, apdu: Uint8Array): Promise<Uint8Array> {
    const s = this.slot(slot);
    if (!(apdu instanceof Uint8Array) || apdu.length < 4) {
      throw new DriverError('E_IO', `pcsc reader ${this.label(s, slot)}: a command APDU is at least 4 bytes`);
    }
    const command = Buffer.from(apdu);
    return this.onCard(s, slot, `transmit INS ${(apdu[1] ?? 0).toString(16).padStart(2, '0').toUpperCase()}`, async (card) => {
      // Raw exchange: autoGetResponse stays off, the broker runs the T=0 transport with its own bounds.
      try {
        const response = await card.transmit(command, { maxRecvLength: this.opts.maxRecvLength, autoGetResponse: false });
        if (response.length < 2) {
          // vpcd reports a card pulled mid-command as a successful empty exchange; other readers may
          // too. Without SW1 SW2 this is a failed transaction, to be told apart from a removal.
          throw new Error(`Transaction failed: the reader returned ${response.length} byte(s), no status word`);
        }
        return Uint8Array.from(response);
      } finally {
        // Our copy may hold a PIN block (VERIFY goes through here too).
        command.fill(0);
      }
    });
  }

  // ---- internals ----

  private slot(slot: number): Slot {
    const s = Number.isInteger(slot) ? this.slots[slot] : undefined;
    if (s === undefined) throw new DriverError('E_SLOT', `pcsc driver has slots 0..${this.slots.length - 1}, not ${String(slot)}`);
    return s;
  }

  private label(s: Slot, slot: number): string {
    return `slot ${slot} ("${s.reader ?? s.wanted}")`;
  }

  private share(): number {
    return this.opts.shareMode === 'shared' ? this.binding.SCARD_SHARE_SHARED : this.binding.SCARD_SHARE_EXCLUSIVE;
  }

  private protocols(): number {
    // pcscd negotiates the card's own protocol from its ATR; T=0 APDUs then go out as T=0 TPDUs.
    return this.binding.SCARD_PROTOCOL_T0 | this.binding.SCARD_PROTOCOL_T1;
  }

  private withContext<T>(f: (ctx: PcscContextHandle) => T): T {
    try {
      if (this.context === null || !this.context.isValid) this.context = new this.binding.Context();
      return f(this.context);
    } catch (e) {
      this.closeContext();
      if (isKind(e, 'noService')) throw new DriverError('E_IO', `pcsc driver: ${START_PCSCD} (${messageOf(e)})`);
      throw new DriverError('E_IO', `pcsc driver: PC/SC call failed: ${messageOf(e)}`);
    }
  }

  private closeContext(): void {
    try {
      this.context?.close();
    } catch {
      // Closing a context pcscd already dropped can fail; there is nothing left to release.
    }
    this.context = null;
  }

  /** Runs `op` on the slot's connected card, mapping PC/SC failures to DriverError codes. */
  private async onCard<T>(s: Slot, slot: number, what: string, op: (card: PcscCardHandle) => Promise<T>): Promise<T> {
    if (this.stopped || this.onEvent === null) throw new DriverError('E_SLOT', `pcsc driver is ${this.stopped ? 'stopped' : 'not started'}`);
    if (!s.present || s.reader === null) throw new DriverError('E_NO_CARD', `pcsc reader ${this.label(s, slot)}: no card`);
    const generation = s.generation;
    s.busy++;
    try {
      let card: PcscCardHandle;
      try {
        card = await this.connected(s);
      } catch (e) {
        throw this.mapError(s, slot, generation, `${what} (connect)`, e);
      }
      try {
        return await op(card);
      } catch (e) {
        if (isKind(e, 'reset') && s.generation === generation && s.card === card) {
          throw await this.resetByOther(s, slot, card);
        }
        if (s.card === card) this.dropCard(s, this.binding.SCARD_LEAVE_CARD);
        throw await this.classify(s, slot, generation, what, e);
      }
    } finally {
      s.busy--;
      if (s.busy === 0) for (const h of s.stale.splice(0)) this.disconnectQuietly(h, this.binding.SCARD_LEAVE_CARD);
    }
  }

  private async connected(s: Slot): Promise<PcscCardHandle> {
    if (s.card !== null && s.card.connected) return s.card;
    if (s.connecting !== null) return s.connecting;
    const name = s.reader!;
    const generation = s.generation;
    s.connecting = (async () => {
      const reader = this.withContext((ctx) => ctx.listReaders().find((r) => r.name === name));
      if (reader === undefined) throw new Error('Unknown reader');
      const card = await reader.connect(this.share(), this.protocols());
      if (s.generation !== generation) {
        // The card went (or was swapped) while connecting: this handle belongs to nobody.
        this.disconnectQuietly(card, this.binding.SCARD_LEAVE_CARD);
        throw new Error('Card was removed');
      }
      s.card = card;
      return card;
    })();
    try {
      return await s.connecting;
    } finally {
      s.connecting = null;
    }
  }

  /**
   * SCARD_W_RESET_CARD: another client reset the card (only possible in shared mode, or by pcscd
   * itself). Whatever the holder had set up on the card is gone: acknowledge with a reconnect, and
   * report the card as removed and inserted again so the broker revokes the lease and routes afresh.
   */
  private async resetByOther(s: Slot, slot: number, card: PcscCardHandle): Promise<DriverError> {
    let atr: Uint8Array | null = null;
    try {
      await card.reconnect(this.share(), this.protocols(), this.binding.SCARD_LEAVE_CARD);
      atr = Uint8Array.from(card.getStatus().atr);
    } catch {
      this.dropCard(s, this.binding.SCARD_LEAVE_CARD);
    }
    if (s.present) {
      s.generation++;
      this.emit({ type: 'remove', slot });
      if (atr !== null && atr.length > 0) {
        s.atr = atr;
        this.emit({ type: 'insert', slot, atr: atr.slice() });
      } else {
        s.present = false;
        s.atr = null;
      }
    }
    return new DriverError(
      'E_CARD_REMOVED',
      `pcsc reader ${this.label(s, slot)}: the card was reset by another application (SCARD_W_RESET_CARD); its session is lost and the card was announced again`,
    );
  }

  private mapError(s: Slot, slot: number, generation: number, what: string, e: unknown): DriverError {
    if (e instanceof DriverError) return e;
    const where = `pcsc reader ${this.label(s, slot)}: ${what}`;
    if (s.generation !== generation) return new DriverError('E_CARD_REMOVED', `${where}: the card was removed`);
    if (isKind(e, 'noService')) {
      this.closeContext();
      return new DriverError('E_IO', `${where}: ${START_PCSCD}`);
    }
    if (isKind(e, 'removed')) return new DriverError('E_NO_CARD', `${where}: no card (${messageOf(e)})`);
    if (isKind(e, 'noReader')) return new DriverError('E_NO_CARD', `${where}: the reader is gone (${messageOf(e)})`);
    if (isKind(e, 'mute') || isKind(e, 'unpowered')) return new DriverError('E_MUTE', `${where}: the card does not answer (${messageOf(e)})`);
    if (isKind(e, 'sharing')) {
      return new DriverError('E_IO', `${where}: another application holds the card (sharing violation); the platform needs it exclusively`);
    }
    return new DriverError('E_IO', `${where}: ${messageOf(e)}`);
  }

  /**
   * A failed exchange. A card pulled mid-command shows up as a plain transaction or communication
   * failure before pcscd's next presence poll; watch the reader briefly so the broker hears
   * E_CARD_REMOVED rather than a card error (which would make it reset an absent card).
   */
  private async classify(s: Slot, slot: number, generation: number, what: string, e: unknown): Promise<DriverError> {
    const where = `pcsc reader ${this.label(s, slot)}: ${what}`;
    if (isKind(e, 'noService')) return this.mapError(s, slot, generation, what, e);
    if (s.generation !== generation || isKind(e, 'removed')) {
      return new DriverError('E_CARD_REMOVED', `${where}: the card was removed during the exchange (${messageOf(e)})`);
    }
    const deadline = Date.now() + this.opts.removalGraceMs;
    while (Date.now() < deadline) {
      if (s.generation !== generation || !this.readerHasCard(s)) {
        return new DriverError('E_CARD_REMOVED', `${where}: the card was removed during the exchange (${messageOf(e)})`);
      }
      // An unresponsive card and a pulled one look alike at first: only these cannot be a removal.
      if (isKind(e, 'sharing') || isKind(e, 'handle')) break;
      await sleep(100);
    }
    return this.mapError(s, slot, generation, what, e);
  }

  private readerHasCard(s: Slot): boolean {
    try {
      const r = this.withContext((ctx) => ctx.listReaders().find((x) => x.name === s.reader));
      return r !== undefined && (r.state & this.binding.SCARD_STATE_PRESENT) !== 0;
    } catch {
      return false;
    }
  }

  private dropCard(s: Slot, disposition: number): void {
    const card = s.card;
    s.card = null;
    if (card === null) return;
    if (s.busy > 0) s.stale.push(card);
    else this.disconnectQuietly(card, disposition);
  }

  private disconnectQuietly(card: PcscCardHandle, disposition: number): void {
    try {
      card.disconnect(disposition);
    } catch {
      // The card or pcscd may be gone already; the handle is dead either way.
    }
  }

  private emit(e: DriverEvent): void {
    this.onEvent?.(e);
  }

  /** The slot a pcscd reader belongs to, binding it on first sight. */
  private slotOf(readerName: string): number {
    const bound = this.slots.findIndex((s) => s.reader === readerName);
    if (bound >= 0) return bound;
    let i = this.slots.findIndex((s) => s.reader === null && s.wanted === readerName);
    if (i < 0) i = this.slots.findIndex((s) => s.reader === null && readerName.startsWith(s.wanted));
    if (i >= 0) this.slots[i]!.reader = readerName;
    return i;
  }

  /** Brings a slot in line with what pcscd says about its reader (used at start and on every monitor event). */
  private syncReader(name: string, state: number, atr: Buffer | null): void {
    const slot = this.slotOf(name);
    if (slot < 0) return;
    const s = this.slots[slot]!;
    const hasCard =
      (state & this.binding.SCARD_STATE_PRESENT) !== 0 && (state & this.binding.SCARD_STATE_MUTE) === 0 && atr !== null && atr.length > 0;
    if (!hasCard) {
      this.cardGone(s, slot);
      return;
    }
    const fresh = Uint8Array.from(atr);
    if (s.present && s.atr !== null && Buffer.compare(Buffer.from(s.atr), Buffer.from(fresh)) === 0) return;
    if (s.present) this.cardGone(s, slot);
    s.present = true;
    s.atr = fresh;
    s.generation++;
    this.emit({ type: 'insert', slot, atr: fresh.slice() });
  }

  private cardGone(s: Slot, slot: number): void {
    if (!s.present) return;
    s.present = false;
    s.atr = null;
    s.generation++;
    this.dropCard(s, this.binding.SCARD_LEAVE_CARD);
    this.emit({ type: 'remove', slot });
  }

  private startMonitor(): void {
    if (this.stopped) return;
    const monitor = new this.binding.ReaderMonitor();
    // Current before start: a monitor may report the readers it finds from within start().
    this.monitor = monitor;
    try {
      monitor.start((e) => this.onMonitorEvent(monitor, e));
    } catch (e) {
      this.monitor = null;
      if (!isKind(e, 'noService')) throw new DriverError('E_IO', `pcsc driver: the reader monitor did not start: ${messageOf(e)}`);
      this.scheduleMonitorRetry();
    }
  }

  private stopMonitor(): void {
    const m = this.monitor;
    this.monitor = null;
    try {
      m?.stop();
    } catch {
      // Stopping a monitor whose pcscd vanished may fail; it no longer reports anything.
    }
  }

  private scheduleMonitorRetry(): void {
    if (this.stopped || this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.startMonitor();
    }, this.opts.monitorRetryMs);
  }

  private onMonitorEvent(monitor: PcscMonitorHandle, e: PcscMonitorEvent): void {
    if (this.stopped || monitor !== this.monitor) return;
    switch (e.type) {
      case 'reader-attached':
      case 'card-inserted':
      case 'card-removed':
        this.syncReader(e.reader, e.state, e.type === 'card-removed' ? null : e.atr);
        return;
      case 'reader-detached': {
        const slot = this.slots.findIndex((s) => s.reader === e.reader);
        if (slot < 0) return;
        const s = this.slots[slot]!;
        this.cardGone(s, slot);
        s.reader = null;
        return;
      }
      case 'error':
        // The native monitor keeps polling a dead context forever once pcscd is gone: every card is
        // then out of reach; drop them, and start a fresh monitor (it announces what it finds) later.
        if (isKind(e.reader, 'noService') || isKind(e.reader, 'handle')) {
          this.stopMonitor();
          this.closeContext();
          this.slots.forEach((s, slot) => {
            this.cardGone(s, slot);
            s.reader = null;
          });
          this.scheduleMonitorRetry();
        }
        return;
    }
  }
}
