/**
 * Serves an emulated card into a real pcscd through vsmartcard's vpcd reader driver. vpcd is the
 * TCP server (inside pcscd, one port per reader slot); the virtual card connects to it as a client.
 * A connection is a card in the reader: closing it is pulling the card out, connecting again is
 * inserting one. pcscd polls presence by asking for the ATR (about every 400 ms), so insertion and
 * removal show up within one poll.
 */
import { Socket } from 'node:net';
import type { CardModel } from '../cards/card.js';
import { encodeVpcdFrame, VPCD_CTRL, VPCD_DEFAULT_PORT, VPCD_MAX_PAYLOAD, VpcdFrameDecoder, type VpcdMessage } from './vpcd-frames.js';

export { VPCD_DEFAULT_PORT } from './vpcd-frames.js';

export type VpcdBridgeStatus =
  | { type: 'connected'; host: string; port: number }
  | { type: 'disconnected'; reason: string }
  | { type: 'power'; action: 'on' | 'off' | 'reset'; atr: Uint8Array | null }
  | { type: 'mute'; detail: string }
  | { type: 'error'; detail: string };

export interface VpcdBridgeOptions {
  /** The card to insert at once; null to start with an empty reader. */
  card: CardModel | null;
  host?: string;
  /** vpcd's port for the reader slot (35963 is slot 0 of the stock reader.conf, 35964 slot 1). */
  port?: number;
  /** Delay between connection attempts while vpcd is not there (pcscd stopped or restarting). Default 250 ms. */
  reconnectMs?: number;
  /**
   * How long a mute card (process() returned null) is waited for. vpcd itself waits forever, which
   * would wedge pcscd's reader; after this the bridge pulls the card (the application sees a failed
   * exchange and a removal) and inserts it again, powered down, as a reader deactivating a card would.
   * Default 1000 ms.
   */
  muteTimeoutMs?: number;
  onStatus?: (s: VpcdBridgeStatus) => void;
}

export interface VpcdBridge {
  /** Pull the card, stop reconnecting, and wait for the socket to close. */
  close(): Promise<void>;
  /** Insert `card` (pulling any card in the reader first). */
  insert(card: CardModel): void;
  /** Pull the card: the connection is closed, which vpcd reports to pcscd as no card. */
  remove(): void;
  /** True while a connection to vpcd is open (the card is in the reader). */
  readonly connected: boolean;
  /** Resolves when connected to vpcd; rejects after `timeoutMs` naming host and port. */
  waitConnected(timeoutMs?: number): Promise<void>;
  /** APDUs answered since the bridge was made. */
  readonly apduCount: number;
}

const STATUS_WORD_NO_PRECISE_DIAGNOSIS = Uint8Array.of(0x6f, 0x00);

class Bridge implements VpcdBridge {
  private card: CardModel | null;
  private atr: Uint8Array | null = null;
  private socket: Socket | null = null;
  /** Bumped whenever the current socket is replaced, so late events from an old one are ignored. */
  private generation = 0;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private muteTimer: NodeJS.Timeout | null = null;
  private waiters = new Set<() => void>();
  private apdus = 0;
  private readonly host: string;
  private readonly port: number;
  private readonly reconnectMs: number;
  private readonly muteTimeoutMs: number;

  constructor(private readonly options: VpcdBridgeOptions) {
    this.card = options.card;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? VPCD_DEFAULT_PORT;
    if (!Number.isInteger(this.port) || this.port <= 0 || this.port > 65535) {
      throw new RangeError(`vpcd port must be an integer 1..65535, got ${String(options.port)}`);
    }
    this.reconnectMs = options.reconnectMs ?? 250;
    this.muteTimeoutMs = options.muteTimeoutMs ?? 1000;
    if (this.card !== null) this.connect();
  }

  get connected(): boolean {
    return this.socket !== null && this.socket.readyState === 'open';
  }

  get apduCount(): number {
    return this.apdus;
  }

  insert(card: CardModel): void {
    if (this.closed) throw new Error('vpcd bridge is closed');
    if (this.card !== null) this.dropSocket('card replaced');
    this.card = card;
    this.atr = null;
    this.connect();
  }

  remove(): void {
    this.card = null;
    this.atr = null;
    this.cancelRetry();
    this.dropSocket('card removed');
  }

  async close(): Promise<void> {
    this.closed = true;
    const socket = this.socket;
    this.remove();
    if (socket !== null && !socket.closed) {
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    }
  }

  waitConnected(timeoutMs = 5000): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(
          new Error(
            `vpcd at ${this.host}:${this.port} did not accept the card within ${timeoutMs} ms: is pcscd running with vpcd's reader configured on that port?`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(done);
    });
  }

  // ---- internals ----

  private status(s: VpcdBridgeStatus): void {
    try {
      this.options.onStatus?.(s);
    } catch {
      // A faulty listener must not take the card out of the reader.
    }
  }

  private connect(): void {
    if (this.closed || this.card === null || this.socket !== null) return;
    const generation = ++this.generation;
    const decoder = new VpcdFrameDecoder();
    const socket = new Socket();
    this.socket = socket;
    // Without this, Nagle's algorithm and delayed ACKs cost about 40-50 ms per APDU through vpcd.
    socket.setNoDelay(true);
    let opened = false;
    socket.on('connect', () => {
      if (generation !== this.generation) return;
      opened = true;
      socket.setNoDelay(true);
      this.status({ type: 'connected', host: this.host, port: this.port });
      for (const w of [...this.waiters]) w();
    });
    socket.on('data', (chunk: Buffer) => {
      if (generation !== this.generation) return;
      let messages: VpcdMessage[];
      try {
        messages = decoder.push(chunk);
      } catch (e) {
        this.status({ type: 'error', detail: `bad frame from vpcd: ${(e as Error).message}` });
        this.dropSocket('bad frame', true);
        return;
      }
      for (const m of messages) {
        if (generation !== this.generation || this.muteTimer !== null) return;
        this.handle(socket, m);
      }
    });
    socket.on('error', (e: Error) => {
      // 'close' follows; ECONNREFUSED just means vpcd is not listening (yet).
      if (generation === this.generation && (e as NodeJS.ErrnoException).code !== 'ECONNREFUSED') {
        this.status({ type: 'error', detail: `vpcd ${this.host}:${this.port}: ${e.message}` });
      }
    });
    socket.on('close', () => {
      if (generation !== this.generation) return;
      this.socket = null;
      this.clearMute();
      if (opened) this.status({ type: 'disconnected', reason: 'vpcd closed the connection (pcscd stopped or restarted?)' });
      this.scheduleRetry();
    });
    socket.connect(this.port, this.host);
  }

  private handle(socket: Socket, m: VpcdMessage): void {
    const card = this.card;
    if (card === null) return;
    if (m.type === 'control') {
      switch (m.code) {
        case VPCD_CTRL.OFF:
          this.status({ type: 'power', action: 'off', atr: null });
          return;
        case VPCD_CTRL.ON:
        case VPCD_CTRL.RESET:
          this.atr = this.safeReset(card);
          this.status({ type: 'power', action: m.code === VPCD_CTRL.ON ? 'on' : 'reset', atr: this.atr });
          return;
        case VPCD_CTRL.ATR:
          // Presence polls ask for the ATR every few hundred ms: answer from the last reset, never
          // reset again here (that would wipe the card's security status under its application).
          if (this.atr === null) this.atr = this.safeReset(card);
          this.send(socket, this.atr);
          return;
        default:
          this.status({ type: 'error', detail: `unknown vpcd control byte ${m.code.toString(16).padStart(2, '0')} ignored` });
          return;
      }
    }
    let response: Uint8Array | null;
    try {
      response = card.process(m.apdu);
    } catch (e) {
      // Models must answer with a status word; one that throws is answered for, not allowed to hang pcscd.
      this.status({ type: 'error', detail: `card model threw: ${(e as Error).message}` });
      response = STATUS_WORD_NO_PRECISE_DIAGNOSIS;
    }
    if (response === null) {
      this.onMute();
      return;
    }
    if (response.length > VPCD_MAX_PAYLOAD || response.length < 2) {
      this.status({ type: 'error', detail: `card answered ${response.length} bytes, which vpcd cannot carry; answering 6F00` });
      response = STATUS_WORD_NO_PRECISE_DIAGNOSIS;
    }
    this.apdus++;
    this.send(socket, response);
  }

  private safeReset(card: CardModel): Uint8Array {
    try {
      return card.reset().slice();
    } catch (e) {
      this.status({ type: 'error', detail: `card model reset threw: ${(e as Error).message}` });
      return Uint8Array.of(0x3b, 0x00);
    }
  }

  private send(socket: Socket, payload: Uint8Array): void {
    if (socket.destroyed) return;
    socket.write(encodeVpcdFrame(payload));
  }

  private onMute(): void {
    this.status({ type: 'mute', detail: `card did not answer; pulling it after ${this.muteTimeoutMs} ms` });
    this.muteTimer = setTimeout(() => {
      this.muteTimer = null;
      if (this.card === null) return;
      this.atr = null;
      this.dropSocket('mute card deactivated', true);
    }, this.muteTimeoutMs);
  }

  private clearMute(): void {
    if (this.muteTimer !== null) clearTimeout(this.muteTimer);
    this.muteTimer = null;
  }

  /** Close the current connection; with `reinsert`, connect again after the retry delay. */
  private dropSocket(reason: string, reinsert = false): void {
    const socket = this.socket;
    this.clearMute();
    this.generation++;
    this.socket = null;
    if (socket !== null) {
      socket.destroy();
      this.status({ type: 'disconnected', reason });
    }
    if (reinsert) this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.card === null || this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, this.reconnectMs);
  }

  private cancelRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}

export function serveCardToVpcd(options: VpcdBridgeOptions): VpcdBridge {
  return new Bridge(options);
}

/** vpcd's port for `slot` given the port of slot 0 (reader.conf CHANNELID). */
export function vpcdPortForSlot(slot: number, basePort = VPCD_DEFAULT_PORT): number {
  if (!Number.isInteger(slot) || slot < 0 || slot > 9) throw new RangeError(`vpcd slot must be 0..9, got ${String(slot)}`);
  return basePort + slot;
}
