/**
 * The device's screen and keypad as the kernel owns them. One domain at a time holds the foreground
 * (for a question, a PIN entry or an intent it serves); others wait their turn. While the kernel reads
 * a PIN, keys go to the kernel alone: no domain ever sees which digits were pressed.
 */
import { EventEmitter } from 'node:events';
import { KernelError } from './errors.js';

export type Key = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | 'OK' | 'ANNULER' | 'CORR';
export const KEYS: readonly Key[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'OK', 'ANNULER', 'CORR'];

export interface ScreenContent {
  title?: string;
  lines: string[];
  keys?: string[];
}

export interface QuestionContent {
  title?: string;
  text: string;
  choices: string[];
}

export interface TerminalView {
  /** Domain whose content is on screen (null: the kernel's own screen). */
  domain: string | null;
  screen: ScreenContent;
  question: QuestionContent | null;
  /** During secure PIN entry: how many digits were typed (shown as dots), never which. */
  pinEntry: { prompt: string; digits: number } | null;
}

export interface TerminalEvents {
  view: [view: TerminalView];
}

interface PinCollector {
  buf: Uint8Array;
  len: number;
  finish: (r: 'ok' | 'cancelled') => void;
}

interface Asker {
  domain: string;
  choices: number;
  finish: (choice: number) => void;
}

export type PinReadResult = { status: 'ok'; digits: Uint8Array; length: number } | { status: 'cancelled' | 'timeout' };

export class Terminal extends EventEmitter<TerminalEvents> {
  private view: TerminalView = { domain: null, screen: { title: 'Dispositif Intégré', lines: ['Démarrage…'] }, question: null, pinEntry: null };
  private readonly backScreens = new Map<string, ScreenContent>();
  private owner: string | null = null;
  private holds = 0;
  private lastOwner: string | null = null;
  private readonly waiting: Array<{ domain: string; grant: () => void }> = [];
  private pin: PinCollector | null = null;
  private asker: Asker | null = null;
  /** Keys typed ahead (scripted runs, tests): consumed by the next PIN entry or question. */
  private readonly typeAhead: Key[] = [];

  current(): TerminalView {
    return structuredClone(this.view);
  }

  foreground(): string | null {
    return this.owner;
  }

  /** Shows a domain's screen: at once if it holds or may take the foreground, else when its turn comes. */
  show(domain: string, screen: ScreenContent): void {
    this.backScreens.set(domain, screen);
    if (this.owner === null || this.owner === domain) {
      if (this.pin && this.owner === domain) return; // the PIN prompt stays on top
      this.setView({ domain, screen, question: null, pinEntry: null });
    }
  }

  /** The kernel's own screen, shown only while no domain holds the screen or has drawn one (a domain's onStart may draw before boot ends). */
  kernelScreen(screen: ScreenContent): void {
    if (this.owner === null && this.view.domain === null) this.setView({ domain: null, screen, question: null, pinEntry: null });
  }

  /**
   * Runs `fn` with the screen and keypad held for `domain`. Nested holds by the owner (an intent's
   * target asking a question) count, and only the last release frees the screen. Waiters take turns
   * by domain, so one domain queueing many requests cannot starve another.
   */
  withForeground<T>(domain: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    if (this.owner === domain) {
      this.holds++;
      return this.runHeld(fn);
    }
    if (this.owner === null) {
      this.owner = domain;
      this.holds = 1;
      return this.runHeld(fn);
    }
    return this.acquire(domain, signal).then(() => this.runHeld(fn));
  }

  /**
   * Runs an intent's target with the screen: when the requester holds it (an action asking for a
   * payment), the target borrows it for the length of the service and gives it back, instead of
   * queueing behind a requester that is waiting on it. Otherwise the target takes its turn.
   */
  async lendForeground<T>(from: string, to: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    if (this.owner !== from || from === to) return this.withForeground(to, signal, fn);
    const savedHolds = this.holds;
    this.owner = to;
    this.holds = 1;
    const back = this.backScreens.get(to);
    if (back) this.setView({ domain: to, screen: back, question: null, pinEntry: null });
    try {
      return await fn();
    } finally {
      this.owner = from;
      this.holds = savedHolds;
      // The requester's own screen calls made meanwhile queued behind the target: they are holds of the owner.
      for (let i = this.waiting.findIndex((w) => w.domain === from); i >= 0; i = this.waiting.findIndex((w) => w.domain === from)) {
        this.holds++;
        this.waiting.splice(i, 1)[0]!.grant();
      }
      const mine = this.backScreens.get(from);
      if (mine) this.setView({ domain: from, screen: mine, question: null, pinEntry: null });
    }
  }

  private async runHeld<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      if (--this.holds === 0) this.releaseForeground();
    }
  }

  /** One keypad entry at a time: a second question or PIN entry while one is open is refused. */
  private assertKeypadFree(domain: string): void {
    if (this.pin || this.asker) throw new KernelError('E_UI', `the keypad is already taken by another entry of ${domain}; wait for it to end`);
  }

  ask(domain: string, q: QuestionContent, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.withForeground(domain, signal, () =>
      new Promise<number>((resolve) => {
        this.assertKeypadFree(domain);
        let settled = false;
        const done = (choice: number) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          // Clear only our own entry: a later one may have taken the keypad since.
          if (this.asker === asker) {
            this.asker = null;
            this.setView({ ...this.view, question: null });
          }
          resolve(choice);
        };
        const timer = setTimeout(() => done(-1), timeoutMs);
        const onAbort = () => done(-1);
        signal?.addEventListener('abort', onAbort, { once: true });
        const asker: Asker = { domain, choices: q.choices.length, finish: done };
        this.asker = asker;
        this.setView({ domain, screen: this.backScreens.get(domain) ?? { lines: [] }, question: q, pinEntry: null });
        this.drainTypeAhead();
      }),
    );
  }

  /** The practitioner picked a choice on screen (web terminal, tests). */
  answer(choice: number): boolean {
    const a = this.asker;
    if (!a || !Number.isInteger(choice) || choice < 0 || choice >= a.choices) return false;
    a.finish(choice);
    return true;
  }

  /**
   * Secure PIN entry. The digits land in a buffer the caller must zero once the VERIFY is built;
   * the screen only ever learns how many digits were typed.
   */
  readPin(domain: string, prompt: string, opts: { minDigits: number; maxDigits: number; timeoutMs: number }, signal?: AbortSignal): Promise<PinReadResult> {
    return this.withForeground(domain, signal, () =>
      new Promise<PinReadResult>((resolve) => {
        this.assertKeypadFree(domain);
        const buf = new Uint8Array(opts.maxDigits);
        let settled = false;
        const finish = (r: 'ok' | 'cancelled' | 'timeout') => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const c = collector;
          if (this.pin === collector) {
            this.pin = null;
            this.setView({ domain, screen: this.backScreens.get(domain) ?? { lines: [] }, question: null, pinEntry: null });
          }
          if (r === 'ok' && c.len >= opts.minDigits) resolve({ status: 'ok', digits: buf, length: c.len });
          else {
            buf.fill(0);
            resolve({ status: r === 'ok' ? 'cancelled' : r });
          }
        };
        const timer = setTimeout(() => finish('timeout'), opts.timeoutMs);
        const onAbort = () => finish('cancelled');
        signal?.addEventListener('abort', onAbort, { once: true });
        const collector: PinCollector = {
          buf,
          len: 0,
          finish: (r) => {
            // OK with too few digits is ignored, as on a real PIN pad.
            if (r === 'ok' && collector.len < opts.minDigits) return;
            finish(r);
          },
        };
        this.pin = collector;
        this.setView({ domain, screen: { title: 'Code confidentiel', lines: [prompt] }, question: null, pinEntry: { prompt, digits: 0 } });
        this.drainTypeAhead();
      }),
    );
  }

  /** A key on the physical (emulated) keypad. Returns false when nothing was waiting for a key. */
  press(key: Key): boolean {
    if (!KEYS.includes(key)) throw new KernelError('E_UI', `unknown key ${JSON.stringify(key)} (keys: ${KEYS.join(' ')})`);
    const pin = this.pin;
    if (pin) {
      if (key === 'OK') pin.finish('ok');
      else if (key === 'ANNULER') pin.finish('cancelled');
      else if (key === 'CORR') {
        if (pin.len > 0) pin.buf[--pin.len] = 0;
      } else if (pin.len < pin.buf.length) pin.buf[pin.len++] = key.charCodeAt(0) - 48;
      if (this.pin === pin) this.setView({ ...this.view, pinEntry: { prompt: this.view.pinEntry?.prompt ?? '', digits: pin.len } });
      return true;
    }
    const a = this.asker;
    if (a) {
      if (key === 'ANNULER') a.finish(-1);
      else if (key !== 'OK' && key !== 'CORR') {
        const n = Number(key) - 1; // keys 1..9 pick the n-th choice
        if (n >= 0 && n < a.choices) a.finish(n);
      }
      return true;
    }
    return false;
  }

  /** Queue keys for the next PIN entry or question (scripted days, `di eval`, tests). */
  typeKeys(keys: Key[]): void {
    for (const k of keys) if (!KEYS.includes(k)) throw new KernelError('E_UI', `unknown key ${JSON.stringify(k)}`);
    this.typeAhead.push(...keys);
    this.drainTypeAhead();
  }

  private drainTypeAhead(): void {
    while (this.typeAhead.length > 0 && (this.pin || this.asker)) {
      const k = this.typeAhead.shift() as Key;
      this.press(k);
    }
  }

  private acquire(domain: string, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = {
        domain,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new KernelError('E_UI', 'gave up waiting for the screen'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private releaseForeground(): void {
    this.lastOwner = this.owner;
    // Prefer a waiter of another domain than the one that just had the screen.
    let i = this.waiting.findIndex((w) => w.domain !== this.lastOwner);
    if (i < 0) i = 0;
    const next = this.waiting.splice(i, 1)[0];
    this.owner = next?.domain ?? null;
    this.holds = next ? 1 : 0;
    if (next) {
      const back = this.backScreens.get(next.domain);
      if (back) this.setView({ domain: next.domain, screen: back, question: null, pinEntry: null });
      next.grant();
    }
  }

  private setView(v: TerminalView): void {
    this.view = v;
    this.emit('view', this.current());
  }
}
