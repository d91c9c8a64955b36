/** The device clock (persisted offset) and the emulated network cable. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceClock, CLOCK_MAX_MS } from '../../../platform/kernel/clock.js';
import { NetworkLink, OFFLINE_MESSAGE } from '../../../platform/kernel/network.js';
import { SmtpTransport } from '../../../platform/kernel/transports/smtp.js';
import { Pop3Transport } from '../../../platform/kernel/transports/pop3.js';
import { AcquirerTransport } from '../../../platform/kernel/transports/acquirer.js';
import { KernelError } from '../../../platform/kernel/errors.js';

describe('device clock', () => {
  it('is the system clock plus an offset persisted in clock.json, kept across restarts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'di-clock-'));
    let sys = Date.UTC(2030, 0, 1);
    const events: Array<[string, Record<string, unknown>]> = [];
    const c = new DeviceClock(dir, (e, f) => events.push([e, f]), () => sys);
    expect(c.now()).toBe(sys);
    expect(c.offsetMs).toBe(0);
    c.set(Date.UTC(2030, 0, 1, 1));
    expect(c.offsetMs).toBe(3_600_000);
    expect(events).toEqual([['clock.set', { previous: Date.UTC(2030, 0, 1), new: Date.UTC(2030, 0, 1, 1), offsetMs: 3_600_000 }]]);
    expect(JSON.parse(readFileSync(join(dir, 'clock.json'), 'utf8'))).toEqual({ offsetMs: 3_600_000 });
    sys += 1000;
    const again = new DeviceClock(dir, undefined, () => sys);
    expect(again.now()).toBe(Date.UTC(2030, 0, 1, 1) + 1000);
  });

  it('refuses times outside 2020..2099 and non-integers, unchanged', () => {
    const c = new DeviceClock(null);
    for (const bad of [Date.UTC(2019, 11, 31), CLOCK_MAX_MS + 1, 1.5, Number.NaN]) expect(() => c.set(bad)).toThrow(RangeError);
    expect(c.offsetMs).toBe(0);
  });

  it('a damaged clock.json runs on the system clock and says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'di-clock-'));
    writeFileSync(join(dir, 'clock.json'), '{"offsetMs": "soon"}');
    const events: string[] = [];
    const c = new DeviceClock(dir, (e) => events.push(e), () => 5);
    expect(c.now()).toBe(5);
    expect(events).toEqual(['clock.reset']);
  });
});

describe('network cable', () => {
  it('starts online; changes are audited and announced once', () => {
    const events: string[] = [];
    const n = new NetworkLink((e) => events.push(e));
    const seen: boolean[] = [];
    n.on('change', (v) => seen.push(v));
    expect(n.online).toBe(true);
    n.setOnline(false);
    n.setOnline(false);
    n.setOnline(true);
    expect(events).toEqual(['network.offline', 'network.online']);
    expect(seen).toEqual([false, true]);
  });

  it('unplugged, smtp, pop3 and the acquirer refuse with E_NET before connecting', async () => {
    const n = new NetworkLink();
    n.setOnline(false);
    // Port 9 on loopback: nothing listens; a connection attempt would fail differently (refused).
    const ep = (kind: 'smtp' | 'pop3' | 'acquirer') => ({ name: kind, kind, host: '127.0.0.1', port: 9 });
    const signal = new AbortController().signal;
    const attempts = [
      new SmtpTransport({ network: n }).send(ep('smtp'), { from: 'a@b.fr', to: ['c@d.fr'], subject: 's', text: 't' }, signal),
      new Pop3Transport({ user: 'u', password: 'p' }, { network: n }).fetch(ep('pop3'), { op: 'list' }, signal),
      new AcquirerTransport({ network: n }).send(ep('acquirer'), { type: 'authorize' }, signal),
    ];
    for (const a of attempts) {
      const e = await a.then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(KernelError);
      expect((e as KernelError).code).toBe('E_NET');
      expect((e as KernelError).message).toBe(OFFLINE_MESSAGE);
    }
  });
});
