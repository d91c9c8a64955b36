/**
 * Review (defences that hold): PIN digits never reach the applet, the logs, the audit or an error,
 * whatever a hostile card answers to the kernel's VERIFY (61xx with the PIN block echoed back,
 * 6Cxx, odd status words with data, a 1-byte answer, silence), and the broker keeps no copy of the
 * PIN block once the exchange is over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel } from '../../platform/kernel/kernel.js';
import { defaultConfig } from '../../platform/kernel/config.js';
import { EmulatedReader } from '../../emulator/reader/reader.js';
import type { CardModel } from '../../emulator/cards/card.js';
import { createCard } from '../../emulator/cards/profiles.js';
import { inspectSlotBuffers } from '../../platform/slot-broker/broker.js';
import { applet, devPolicy, testCardClass, until } from '../support/dev-kernel.js';

type Mode = 'getresp-echo' | 'resend-6c' | 'odd-sw-echo' | 'ok-echo' | 'one-byte' | 'mute' | 'huge';

/** A card that answers VERIFY the way `mode` says and behaves as the test card otherwise. */
class HostileCard implements CardModel {
  readonly kind = 'hostile';
  mode: Mode = 'ok-echo';
  private readonly inner = createCard('test-card');
  private block: Uint8Array | null = null;
  private resent = false;
  reset(): Uint8Array {
    this.resent = false;
    return this.inner.reset();
  }
  process(apdu: Uint8Array): Uint8Array | null {
    const ins = apdu[1];
    if (ins === 0xc0 && this.block) {
      const out = new Uint8Array([...this.block, 0x90, 0x00]);
      this.block = null;
      return out;
    }
    if (ins !== 0x20) return this.inner.process(apdu);
    const data = apdu.slice(5, 13);
    switch (this.mode) {
      case 'getresp-echo':
        this.block = data;
        return new Uint8Array([0x61, 0x08]);
      case 'resend-6c':
        if (!this.resent) {
          this.resent = true;
          return new Uint8Array([0x6c, 0x08]);
        }
        return new Uint8Array([...data, 0x63, 0xc2]);
      case 'odd-sw-echo':
        return new Uint8Array([...data, 0x6f, 0x00]);
      case 'ok-echo':
        return new Uint8Array([...data, 0x90, 0x00]);
      case 'one-byte':
        return new Uint8Array([0x90]);
      case 'mute':
        return null;
      case 'huge':
        return new Uint8Array([...new Uint8Array(5000).fill(0x31), 0x90, 0x00]);
    }
  }
}

const SCRIPT = `
globalThis.onIntent = async (req) => {
  const lease = await platform.slots.acquire(0, { timeoutMs: 2000 });
  try {
    const r = await platform.pin.verify(lease, { reference: 1, format: req.payload.format, prompt: 'Code' });
    return { r };
  } catch (e) {
    return { code: e.code, message: e.message, stack: String(e.stack) };
  } finally {
    await lease.release().catch(() => undefined);
  }
};
`;

describe('review: PIN digits under a hostile card', () => {
  let kernel: Kernel;
  let dataDir: string;
  const card = new HostileCard();
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'di-review-pin-'));
    const reader = new EmulatedReader({ slots: 2, muteTimeoutMs: 100 });
    kernel = await Kernel.boot({
      config: { ...defaultConfig(dataDir), supervisor: { backoffInitialMs: 50, backoffMaxMs: 500, stableAfterMs: 30_000, readyTimeoutMs: 15_000 } },
      devApplets: [applet(devPolicy('payment', { cardClasses: [testCardClass('pcard')] }), SCRIPT)],
      reader,
    });
    kernel.insertCard(0, card);
    await until(() => kernel.broker.cardsFor('payment').length > 0);
  });
  afterAll(async () => {
    await kernel.shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const DIGITS = /1357|31333537|1357FFFF|1,3,5,7|49,51,53,55/i;
  const cases: Array<[Mode, string]> = [
    ['getresp-echo', 'ascii-ff'],
    ['resend-6c', 'ascii-ff'],
    ['odd-sw-echo', 'bcd-ff'],
    ['ok-echo', 'emv-plaintext'],
    ['one-byte', 'ascii-ff'],
    ['mute', 'bcd-ff'],
    ['huge', 'ascii-ff'],
  ];
  for (const [mode, format] of cases) {
    it(`[LOG-01] ${mode} (${format}): the applet learns ok/tries or an error, never a digit`, async () => {
      card.mode = mode;
      kernel.terminal.typeKeys(['1', '3', '5', '7', 'OK']);
      const out = (await kernel.call('payment', 'onIntent', [{ from: 't', action: 'x', payload: { format } }], 15_000)) as Record<string, unknown>;
      const text = JSON.stringify(out);
      expect(text).not.toMatch(DIGITS);
      if (out.r !== undefined) expect(Object.keys(out.r as object).sort()).toEqual(['blocked', 'ok', 'triesLeft']);
      else expect(String(out.code)).toMatch(/^E_(CARD|PIN|NO_CARD)$/);
      // Nothing of the PIN block in the broker's buffers after the exchange.
      for (const b of inspectSlotBuffers(kernel.broker, 0)) {
        expect(Buffer.from(b).toString('hex')).not.toMatch(/31333537|1357ff/);
      }
    });
  }

  it('[LOG-02] no digit in the audit or any log', () => {
    const files = [join(dataDir, 'audit.log')];
    if (existsSync(join(dataDir, 'logs'))) files.push(...readdirSync(join(dataDir, 'logs')).map((f) => join(dataDir, 'logs', f)));
    // Hashes, timestamps and pids are random hex/digits: look at what entries say, not at them.
    const said = (line: string) => {
      const e = JSON.parse(line) as Record<string, unknown>;
      return JSON.stringify([e.event, e.fields, e.line, e.message]);
    };
    for (const f of files) {
      for (const line of readFileSync(f, 'utf8').split('\n').filter(Boolean)) expect(said(line), f).not.toMatch(/1357|31333537/i);
    }
    const pinEvents = kernel.audit.entriesSince(0).filter((e) => e.event.startsWith('pin.'));
    expect(pinEvents.length).toBeGreaterThan(0);
  });
});
