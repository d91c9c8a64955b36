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

  kernelScreen(screen: ScreenContent): void {
    if (this.owner === null) this.setView({ domain: null, screen, question: null, pinEntry: null });
  }

  /** Runs `fn` with the screen and keypad held for `domain`; callers queue FIFO. Starts at once when free. */
  withForeground<T>(domain: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    if (this.owner === domain) return fn();
    if (this.owner === null) {
      this.owner = domain;
      return this.runHeld(fn);
    }
    return this.acquire(domain, signal).then(() => this.runHeld(fn));
  }

  private async runHeld<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      this.releaseForeground();
    }
  }

  ask(domain: string, q: QuestionContent, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.withForeground(domain, signal, () =>
      new Promise<number>((resolve) => {
        const done = (choice: number) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.asker = null;
          this.setView({ ...this.view, question: null });
          resolve(choice);
        };
        const timer = setTimeout(() => done(-1), timeoutMs);
        const onAbort = () => done(-1);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.asker = { domain, choices: q.choices.length, finish: done };
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
        const buf = new Uint8Array(opts.maxDigits);
        const finish = (r: 'ok' | 'cancelled' | 'timeout') => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const c = this.pin;
          this.pin = null;
          this.setView({ domain, screen: this.backScreens.get(domain) ?? { lines: [] }, question: null, pinEntry: null });
          if (r === 'ok' && c && c.len >= opts.minDigits) resolve({ status: 'ok', digits: buf, length: c.len });
          else {
            buf.fill(0);
            resolve({ status: r === 'ok' ? 'cancelled' : r });
          }
        };
        const timer = setTimeout(() => finish('timeout'), opts.timeoutMs);
        const onAbort = () => finish('cancelled');
        signal?.addEventListener('abort', onAbort, { once: true });
        this.pin = {
          buf,
          len: 0,
          finish: (r) => {
            // OK with too few digits is ignored, as on a real PIN pad.
            if (r === 'ok' && (this.pin?.len ?? 0) < opts.minDigits) return;
            finish(r);
          },
        };
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
    const next = this.waiting.shift();
    this.owner = next?.domain ?? null;
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
