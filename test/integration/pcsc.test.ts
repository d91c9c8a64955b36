/**
 * The PC/SC path end to end: emulated cards served into a real, private pcscd through vsmartcard's
 * vpcd, seen by `pcsc_scan`, and driven by the `pcsc` slot driver under the real slot broker.
 * Needs pcscd, vsmartcard-vpcd, the smartcard binding and root (see test/support/pcscd.ts); skipped
 * loudly without them, failed under DI_REQUIRE_SYSTEM_DEPS=1.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CardModel } from '../../emulator/cards/card.js';
import { cardProfiles, createCard, loadCard } from '../../emulator/cards/profiles.js';
import { loadProfile } from '../../emulator/cards/registry.js';
import { serveCardToVpcd, type VpcdBridge } from '../../emulator/reader/vpcd.js';
import { createSlotBroker } from '../../platform/slot-broker/broker.js';
import { DriverError, type DriverEvent } from '../../platform/slot-broker/driver.js';
import { PcscDriver } from '../../platform/slot-broker/drivers/pcsc.js';
import { BrokerError, DEFAULT_BROKER_OPTIONS, type BrokerEvent, type SlotBroker } from '../../platform/slot-broker/types.js';
import { enableLoopbackQuickAck, gateOnDeps, pcscDeps, startPrivatePcscd, type PrivatePcscd } from '../support/pcscd.js';
import { testCardClass } from '../support/dev-kernel.js';

const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
const sw = (r: Uint8Array): string => hex(r.subarray(-2));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const SELECT_TEST = h('00A4040008F04449544553540100');
const DOMAIN = 'pcsc-test';

const deps = await pcscDeps();
const runnable = gateOnDeps('PC/SC integration tests (pcscd + vpcd)', deps.missing);

/** A card wrapper that records what reaches the card and can act on a command. */
function recording(card: CardModel, hook?: (apdu: Uint8Array) => void): CardModel & { seen: Uint8Array[] } {
  const seen: Uint8Array[] = [];
  return {
    kind: card.kind,
    seen,
    reset: () => card.reset(),
    process: (apdu) => {
      seen.push(apdu.slice());
      hook?.(apdu);
      return card.process(apdu);
    },
  };
}

/** Runs a command without blocking the event loop (the bridge must keep answering pcscd meanwhile). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, out }));
  });
}

/** Waits until pcscd lists a card in `reader` (or none). */
async function readerState(reader: string, present: boolean): Promise<void> {
  const b = deps.binding!;
  const ctx = new b.Context();
  try {
    for (let i = 0; i < 150; i++) {
      const r = ctx.listReaders().find((x) => x.name === reader);
      if (r !== undefined && ((r.state & b.SCARD_STATE_PRESENT) !== 0) === present) return;
      await sleep(20);
    }
    throw new Error(`pcscd did not report ${present ? 'a card' : 'no card'} in ${reader} within 3 s`);
  } finally {
    ctx.close();
  }
}

describe.runIf(runnable)('PC/SC path through a real pcscd and vpcd', () => {
  let pcscd: PrivatePcscd;
  let quick: ReturnType<typeof enableLoopbackQuickAck> = null;
  let host = '127.0.0.1';
  const bridges: VpcdBridge[] = [];
  const serve = (card: CardModel | null, slot: number, onHost = host): VpcdBridge => {
    const b = serveCardToVpcd({ card, host: onHost, port: pcscd.basePort + slot, reconnectMs: 50 });
    bridges.push(b);
    return b;
  };

  beforeAll(async () => {
    pcscd = await startPrivatePcscd();
    quick = enableLoopbackQuickAck();
    if (quick !== null) host = quick.host;
  });

  afterAll(async () => {
    await Promise.all(bridges.map((b) => b.close()));
    quick?.undo();
    await pcscd?.dispose();
  });

  it.runIf(deps.hasPcscScan)("pcsc_scan sees the emulated card's ATR through pcscd", async () => {
    const card = createCard('test-card');
    const atr = hex(card.reset());
    const bridge = serve(card, 0);
    await bridge.waitConnected(5000);
    const { out } = await run('timeout', ['10', 'pcsc_scan', '-t', '2', '-n'], pcscd.env);
    const spaced = atr.replace(/(..)(?!$)/g, '$1 ');
    expect(out, `pcsc_scan output:\n${out}`).toContain(pcscd.readers[0]);
    expect(out, `pcsc_scan output:\n${out}`).toContain(spaced);
    await bridge.close();
  });

  describe('the pcsc driver under the slot broker', () => {
    let driver: PcscDriver;
    let broker: SlotBroker;
    const events: BrokerEvent[] = [];
    const driverEvents: DriverEvent[] = [];
    let slot0: VpcdBridge;
    let slot1: VpcdBridge;

    const next = async (pred: (e: BrokerEvent) => boolean, from: number, timeoutMs = 5000): Promise<BrokerEvent> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const e = events.slice(from).find(pred);
        if (e) return e;
        if (Date.now() > deadline) throw new Error(`no matching broker event in ${timeoutMs} ms; saw ${JSON.stringify(events.slice(from))}; driver events ${JSON.stringify(driverEvents.map((d) => `${d.type}${d.slot}`))}`);
        await sleep(20);
      }
    };
    const offered = (slot: number, from: number): Promise<BrokerEvent> => next((e) => e.type === 'offered' && e.slot === slot, from);

    beforeAll(async () => {
      driver = new PcscDriver(deps.binding!, { readers: pcscd.readers });
      // Watch the driver's own events too (the broker installs its listener through start()).
      const start = driver.start.bind(driver);
      driver.start = (onEvent) =>
        start((e) => {
          driverEvents.push(e);
          onEvent(e);
        });
      broker = createSlotBroker(driver, { ...DEFAULT_BROKER_OPTIONS, routes: [{ domain: DOMAIN, cardClass: testCardClass() }] });
      broker.onEvent((e) => events.push(e));
      await broker.start();
      slot0 = serve(null, 0);
      slot1 = serve(null, 1);
    });

    afterAll(async () => {
      await broker?.stop();
      await Promise.all([slot0?.close(), slot1?.close()]);
    });

    it('routes the test card; SELECT, READ BINARY and ECHO round trip; the driver holds it exclusively', async () => {
      const mark = events.length;
      slot0.insert(createCard('test-card'));
      expect(await offered(0, mark)).toMatchObject({ domain: DOMAIN, cardClass: 'test-card' });
      const lease = await broker.acquire(DOMAIN, 0, 5000);
      expect(lease.atr).toBe(hex(createCard('test-card').reset()));
      const fci = await broker.transmit(DOMAIN, lease.token, SELECT_TEST);
      expect(sw(fci)).toBe('9000');
      expect(fci.length).toBeGreaterThan(2);
      expect(sw(await broker.transmit(DOMAIN, lease.token, h('00A4000C020101')))).toBe('9000');
      const data = await broker.transmit(DOMAIN, lease.token, h('00B0000000'));
      expect(Buffer.from(data.subarray(0, -2)).toString('latin1')).toBe('DITEST PUBLIC DATA 0001');
      expect(sw(data)).toBe('9000');
      const payload = Uint8Array.from({ length: 200 }, (_, i) => (i * 7) & 0xff);
      const echo = await broker.transmit(DOMAIN, lease.token, Uint8Array.from([0x80, 0xee, 0, 0, payload.length, ...payload, 0x00]));
      expect(hex(echo)).toBe(hex(payload) + '9000');

      // EXCLUSIVE: another PC/SC client cannot connect to the card the driver holds.
      const ctx = new deps.binding!.Context();
      try {
        const reader = ctx.listReaders().find((r) => r.name === pcscd.readers[0])!;
        await expect(reader.connect(deps.binding!.SCARD_SHARE_SHARED, deps.binding!.SCARD_PROTOCOL_T1)).rejects.toThrow(/Sharing violation/);
      } finally {
        ctx.close();
      }
      await broker.release(DOMAIN, lease.token);
    });

    it('reset returns the ATR and clears the security status', async () => {
      const lease = await broker.acquire(DOMAIN, 0, 5000);
      expect(sw(await broker.transmit(DOMAIN, lease.token, SELECT_TEST))).toBe('9000');
      expect(sw(await broker.transmitPinVerify(DOMAIN, lease.token, h('002000010831323334FFFFFFFF')))).toBe('9000');
      expect(sw(await broker.transmit(DOMAIN, lease.token, h('00B0820000')))).toBe('9000');
      const atr = await broker.reset(DOMAIN, lease.token);
      expect(hex(atr)).toBe(lease.atr);
      expect(sw(await broker.transmit(DOMAIN, lease.token, SELECT_TEST))).toBe('9000');
      expect(sw(await broker.transmit(DOMAIN, lease.token, h('00B0820000')))).toBe('6982');
      await broker.release(DOMAIN, lease.token);
    });

    it('T=0 card: the driver passes 61xx/6Cxx up raw and the broker runs GET RESPONSE and the Le re-send', async () => {
      const mark = events.length;
      const card = recording(createCard('test-card-t0'));
      slot1.insert(card);
      await offered(1, mark);
      // Straight to the driver: pcscd and the binding must not have fetched the data themselves.
      const raw = await driver.transmit(1, SELECT_TEST);
      expect(raw.length).toBe(2);
      expect(raw[0]).toBe(0x61);
      await driver.reset(1);
      card.seen.length = 0;

      const lease = await broker.acquire(DOMAIN, 1, 5000);
      const fci = await broker.transmit(DOMAIN, lease.token, SELECT_TEST);
      expect(sw(fci)).toBe('9000');
      expect(fci.length).toBe(2 + (raw[1] ?? 0));
      expect(card.seen.some((a) => a[1] === 0xc0)).toBe(true);
      expect(sw(await broker.transmit(DOMAIN, lease.token, h('00A4000C020101')))).toBe('9000');
      // Le 0x20 for a 23-byte file: the T=0 card answers 6C17, the broker re-sends with Le 17.
      card.seen.length = 0;
      const data = await broker.transmit(DOMAIN, lease.token, h('00B0000020'));
      expect(Buffer.from(data.subarray(0, -2)).toString('latin1')).toBe('DITEST PUBLIC DATA 0001');
      expect(card.seen.map((a) => hex(a))).toEqual(['00B0000020', '00B0000017']);
      await broker.release(DOMAIN, lease.token);
    });

    it('removal mid-lease revokes the lease; re-insertion offers the card again', async () => {
      const lease = await broker.acquire(DOMAIN, 1, 5000);
      const mark = events.length;
      slot1.remove();
      await next((e) => e.type === 'lease-revoked' && e.slot === 1 && e.reason === 'removal', mark);
      await next((e) => e.type === 'removed' && e.slot === 1, mark);
      await expect(broker.transmit(DOMAIN, lease.token, SELECT_TEST)).rejects.toBeInstanceOf(BrokerError);
      const again = events.length;
      slot1.insert(createCard('test-card-t0'));
      await offered(1, again);
    });

    it('removal mid-transaction: the exchange fails with E_NO_CARD and the lease is revoked', async () => {
      const mark = events.length;
      const card = recording(createCard('test-card'), (apdu) => {
        // Pull the card while it holds the command: vpcd sees the connection close instead of an answer.
        if (apdu[1] === 0xee && apdu[5] === 0xde) slot0.remove();
      });
      slot0.insert(card);
      await offered(0, mark);
      const lease = await broker.acquire(DOMAIN, 0, 5000);
      const failed = await broker.transmit(DOMAIN, lease.token, h('80EE000001DE00')).then(
        () => null,
        (e: unknown) => e,
      );
      expect(failed).toBeInstanceOf(BrokerError);
      expect(['E_NO_CARD', 'E_LEASE'], String(failed)).toContain((failed as BrokerError).code);
      await next((e) => e.type === 'lease-revoked' && e.slot === 0 && e.reason === 'removal', mark);
    });

    it('measures the APDU round trip through pcscd + vpcd (printed, not asserted)', async () => {
      const direct = createCard('test-card');
      const echo = h('80EE000010' + '00112233445566778899AABBCCDDEEFF' + '00');
      const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const time = async (f: () => Promise<unknown> | unknown, n: number): Promise<number> => {
        const xs: number[] = [];
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          await f();
          xs.push(performance.now() - t);
        }
        return median(xs);
      };
      const lines: string[] = [];
      const inProcess = await time(() => direct.process(echo), 200);
      lines.push(`in-process card model            : ${(inProcess * 1000).toFixed(1)} us per ECHO`);
      // The driver alone, on whichever bridge is in slot 0, then on a bridge without the quick-ACK route.
      const measure = async (bridgeHost: string, label: string): Promise<void> => {
        const mark = events.length;
        slot0.remove();
        const b = serve(createCard('test-card'), 0, bridgeHost);
        await offered(0, mark);
        const lease = await broker.acquire(DOMAIN, 0, 5000);
        await broker.transmit(DOMAIN, lease.token, SELECT_TEST);
        const viaDriver = await time(() => driver.transmit(0, echo), 20);
        const viaBroker = await time(() => broker.transmit(DOMAIN, lease.token, echo), 20);
        lines.push(`${label.padEnd(32)} : ${viaDriver.toFixed(2)} ms per ECHO (driver), ${viaBroker.toFixed(2)} ms (broker)`);
        await broker.release(DOMAIN, lease.token);
        await b.close();
        slot0 = b;
      };
      await measure('127.0.0.1', 'pcscd+vpcd, TCP_NODELAY only');
      if (quick !== null) await measure(quick.host, 'pcscd+vpcd, NODELAY + quickack');
      console.log(`\nAPDU round trip (median):\n  ${lines.join('\n  ')}\n`);
      expect(lines.length).toBeGreaterThan(1);
    });

    it('survives a pcscd restart: cards are reported gone, then found again', async () => {
      const mark = events.length;
      slot0 = serve(createCard('test-card'), 0);
      await offered(0, mark);
      const restartMark = events.length;
      await pcscd.restart();
      await next((e) => e.type === 'removed' && e.slot === 0, restartMark, 8000);
      await offered(0, restartMark);
      const lease = await broker.acquire(DOMAIN, 0, 5000);
      expect(sw(await broker.transmit(DOMAIN, lease.token, SELECT_TEST))).toBe('9000');
      await broker.release(DOMAIN, lease.token);
    });
  });

  describe('reset by another application', () => {
    it('SCARD_W_RESET_CARD (another client reset the card): reported as removal + insertion, so the broker revokes and re-routes', async () => {
      // Exclusive mode forbids this; a shared-mode driver lets a second client in to do it.
      const shared = new PcscDriver(deps.binding!, { readers: [pcscd.readers[0]], shareMode: 'shared' });
      const seen: DriverEvent[] = [];
      // The previous card may still be listed until pcscd's next presence poll: start from an empty reader.
      await readerState(pcscd.readers[0], false);
      const slot0 = serve(createCard('test-card'), 0);
      await readerState(pcscd.readers[0], true);
      await shared.start((e) => seen.push(e));
      try {
        for (let i = 0; i < 100 && !seen.some((e) => e.type === 'insert'); i++) await sleep(20);
        expect(sw(await shared.transmit(0, SELECT_TEST))).toBe('9000');
        const ctx = new deps.binding!.Context();
        try {
          const reader = ctx.listReaders().find((r) => r.name === pcscd.readers[0])!;
          const other = await reader.connect(deps.binding!.SCARD_SHARE_SHARED, deps.binding!.SCARD_PROTOCOL_T1);
          await other.reconnect(deps.binding!.SCARD_SHARE_SHARED, deps.binding!.SCARD_PROTOCOL_T1, deps.binding!.SCARD_RESET_CARD);
          other.disconnect(deps.binding!.SCARD_LEAVE_CARD);
        } finally {
          ctx.close();
        }
        const mark = seen.length;
        const err = await shared.transmit(0, SELECT_TEST).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(DriverError);
        expect((err as DriverError).code).toBe('E_CARD_REMOVED');
        expect((err as DriverError).message).toMatch(/reset by another application/);
        expect(seen.slice(mark).map((e) => e.type)).toEqual(['remove', 'insert']);
        // The card is usable again after the acknowledgement.
        expect(sw(await shared.transmit(0, SELECT_TEST))).toBe('9000');
      } finally {
        await shared.stop();
        await slot0.close();
      }
    });

  });

  describe('the card models through pcscd', () => {
    const firstOf = (prefix: string): string | undefined => cardProfiles().find((p) => p.name.startsWith(prefix))?.name;
    const aidsOf = (name: string): string[] => {
      const known: Record<string, string[]> = {
        vitale: ['D250000002564954414C45'],
        cps: ['E828BD080F8025000001FF0010'],
        emv: ['315041592E5359532E4444463031'],
      };
      const fixed = known[name.split('-')[0]!] ?? [];
      // EMV profiles list their own application AIDs.
      const found = new Set<string>();
      const walk = (v: unknown, key = ''): void => {
        if (typeof v === 'string' && key.toLowerCase() === 'aid') found.add(v.replace(/\s+/g, '').toUpperCase());
        else if (Array.isArray(v)) v.forEach((x) => walk(x));
        else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
      };
      walk(JSON.parse(readFileSync(loadProfile(name).file, 'utf8')));
      return [...fixed, ...found];
    };
    const models = ['vitale-', 'cps-', 'emv-'].map(firstOf).filter((n): n is string => n !== undefined);

    it.runIf(models.length > 0)(`SELECTs each model's AID through pcscd (${models.join(', ')})`, async () => {
      const driver = new PcscDriver(deps.binding!, { readers: [pcscd.readers[1]] });
      const seen: DriverEvent[] = [];
      await driver.start((e) => seen.push(e));
      const bridge = serve(null, 1);
      try {
        for (const name of models) {
          const card = await loadCard(name);
          const mark = seen.length;
          bridge.insert(card);
          for (let i = 0; i < 250 && !seen.slice(mark).some((e) => e.type === 'insert'); i++) await sleep(20);
          const inserted = seen.slice(mark).find((e) => e.type === 'insert');
          expect(inserted, `${name} was not seen by pcscd`).toBeDefined();
          const results: string[] = [];
          for (const aid of aidsOf(name)) {
            const r = await driver.transmit(0, h(`00A40400${(aid.length / 2).toString(16).padStart(2, '0')}${aid}00`));
            results.push(`${aid}:${sw(r)}`);
          }
          expect(
            results.some((r) => r.endsWith(':9000') || /:61..$/.test(r)),
            `${name}: no AID selected through pcscd (${results.join(', ')})`,
          ).toBe(true);
        }
      } finally {
        await driver.stop();
        await bridge.close();
      }
    }, 45_000);
  });
});
