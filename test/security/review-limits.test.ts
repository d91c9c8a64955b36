/**
 * Review: limits. Mostly defences that hold (quota, rate limit and queue bound under a flood while
 * the other domain works, lease idle timeout, a host that never answers init, supervisor back-off,
 * log flooding bounded on disk, ui.show / argument shape limits), plus one that does not:
 * a request larger than the policy's maxMessageBytes gets the applet's whole host process killed
 * as a protocol violator (leases revoked, every call in flight lost) instead of a refused call,
 * because the host encodes frames up to 16 MiB and never learns the kernel's limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostProcess } from '../../platform/kernel/host-process.js';
import { Supervisor } from '../../platform/kernel/supervisor.js';
import { bootDev, applet, devPolicy, testCardClass, until, sleep, type DevKernel } from '../support/dev-kernel.js';
import { createCard } from '../../emulator/cards/profiles.js';

const SCRIPT = `
globalThis.onIntent = async (req) => {
  const p = req.payload;
  const code = (pr) => pr.then(() => 'ok', (e) => e.code);
  switch (p.op) {
    case 'put': return code(platform.store.put(p.key, p.value));
    case 'big': return code(platform.store.put('big', new Uint8Array(p.n)));
    case 'tx': return code(platform.store.transaction(p.ops));
    case 'keys': return platform.store.list();
    case 'flood': {
      const asks = [];
      for (let i = 0; i < 10; i++) asks.push(code(platform.ui.ask({ text: 'q' + i, choices: ['a'], timeoutMs: 300 })));
      const clocks = [];
      for (let i = 0; i < 80; i++) clocks.push(code(platform.clock.now()));
      return { asks: await Promise.all(asks), clocks: await Promise.all(clocks) };
    }
    case 'work': { for (let i = 0; i < 30; i++) await platform.store.put('w' + i, i); return 'done'; }
    case 'acquire': { const l = await platform.slots.acquire(0, { timeoutMs: 1000 }); globalThis.l = l; return 'ok'; }
    case 'transmit': return code(globalThis.l.transmit(new Uint8Array([0x00, 0xB0, 0x00, 0x00, 0x00])));
    case 'logflood': {
      const s = '\\u0001'.repeat(2000);
      const arr = []; for (let i = 0; i < 100; i++) arr.push(s);
      for (let i = 0; i < 12; i++) await platform.log('info', 'm'.repeat(4096), { arr });
      return 'ok';
    }
    case 'ui': {
      const out = [];
      out.push(await code(platform.ui.show({ lines: new Array(13).fill('x') })));
      out.push(await code(platform.ui.show({ lines: ['x'.repeat(65)] })));
      out.push(await code(platform.ui.show({ title: 't'.repeat(65), lines: [] })));
      out.push(await code(platform.ui.show({ lines: [], keys: ['a', 'b', 'c', 'd', 'e'] })));
      out.push(await code(platform.ui.show({ lines: [1, 2] })));
      out.push(await code(platform.ui.ask({ text: 'x'.repeat(300), choices: ['a'] })));
      out.push(await code(platform.ui.ask({ text: 'x', choices: [] })));
      let deep = {}; for (let i = 0; i < 40; i++) deep = { d: deep };
      out.push(await code(platform.store.put('deep', deep)));
      out.push(await code(platform.store.put('wide', new Array(20000).fill(0))));
      out.push(await code(platform.store.put('k'.repeat(600), 1)));
      return out;
    }
  }
};
`;

describe('review: limits', () => {
  let dk: DevKernel;
  const call = (d: string, payload: Record<string, unknown>, deadline = 15_000) =>
    dk.kernel.call(d, 'onIntent', [{ from: 't', action: 'x', payload: payload as never }], deadline) as Promise<unknown>;

  beforeAll(async () => {
    dk = await bootDev(
      [
        applet(devPolicy('flooder', {
          store: { quotaBytes: 2048 },
          cardClasses: [testCardClass()],
          limits: { queueLength: 4, ratePerSecond: 20, maxMessageBytes: 16 * 1024 } as never,
        }), SCRIPT),
        applet(devPolicy('worker'), SCRIPT),
      ],
      { broker: { leaseIdleTimeoutMs: 300, leaseMaxMs: 60_000 } },
    );
    dk.kernel.insertCard(0, createCard('test-card'));
    await until(() => dk.kernel.broker.cardsFor('flooder').length > 0);
  });
  afterAll(async () => dk.close());

  it('[DOS-13] the store quota holds for put and transaction, and a refused transaction changes nothing', async () => {
    await sleep(1100); // let the token bucket refill
    expect(await call('flooder', { op: 'put', key: 'a', value: 'x'.repeat(1500) })).toBe('ok');
    expect(await call('flooder', { op: 'put', key: 'b', value: 'x'.repeat(1000) })).toBe('E_QUOTA');
    const tx = [{ op: 'put', key: 'c', value: 'y'.repeat(400) }, { op: 'put', key: 'd', value: 'y'.repeat(400) }];
    expect(await call('flooder', { op: 'tx', ops: tx })).toBe('E_QUOTA');
    expect(await call('flooder', { op: 'keys' })).toEqual(['a']);
    expect(dk.kernel.store('flooder').usage().bytes).toBeLessThanOrEqual(2048);
  });

  it('[DOS-07] a flood of calls hits the queue bound and the rate limit while the other domain keeps working', async () => {
    await sleep(1100);
    let maxInFlight = 0;
    const probe = setInterval(() => (maxInFlight = Math.max(maxInFlight, dk.kernel.router.inFlight('flooder'))), 1);
    const [flood, work] = await Promise.all([call('flooder', { op: 'flood' }), call('worker', { op: 'work' })]);
    clearInterval(probe);
    const f = flood as { asks: string[]; clocks: string[] };
    expect(f.asks.filter((c) => c === 'E_QUEUE').length).toBeGreaterThan(0);
    expect(f.clocks.filter((c) => c === 'E_RATE' || c === 'E_QUEUE').length).toBeGreaterThan(0);
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(work).toBe('done');
  });

  it('[DOS-11] an idle lease is revoked (reason timeout) and its token stops working', async () => {
    await sleep(1100);
    const before = dk.kernel.audit.lastSeq;
    expect(await call('flooder', { op: 'acquire' })).toBe('ok');
    await until(() => dk.kernel.audit.entriesSince(before).some((e) => e.event === 'lease.revoked' && e.domain === 'flooder'), 5000, 'idle revocation');
    const ev = dk.kernel.audit.entriesSince(before).find((e) => e.event === 'lease.revoked');
    expect(ev?.fields).toMatchObject({ reason: 'timeout' });
    expect(await call('flooder', { op: 'transmit' })).toBe('E_LEASE');
  });

  it('[DOS-14] ui.show / ui.ask content and argument shapes are bounded (E_ARGS), the screen is unchanged', async () => {
    await sleep(1100);
    const before = dk.kernel.terminal.current();
    const codes = (await call('worker', { op: 'ui' })) as string[];
    expect(codes).toEqual(new Array(codes.length).fill('E_ARGS'));
    expect(dk.kernel.terminal.current()).toEqual(before);
  });

  it('[DOS-09] log flooding is bounded on disk (rotation keeps at most two files per domain)', async () => {
    expect(await call('worker', { op: 'logflood' }, 20_000)).toBe('ok');
    const dir = join(dk.dataDir, 'logs');
    const files = readdirSync(dir).filter((f) => f.startsWith('worker.log'));
    const total = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    expect(files.length).toBeLessThanOrEqual(2);
    expect(total).toBeLessThan(11 * 1024 * 1024);
  });

  it('[DOS-12] a request over maxMessageBytes is refused to the applet; its host is not killed', async () => {
    await sleep(1100);
    const pid = dk.kernel.supervisor.state('flooder')?.pid;
    const before = dk.kernel.audit.lastSeq;
    const r = await call('flooder', { op: 'big', n: 64 * 1024 }).catch((e: { code?: string }) => `threw ${e.code}`);
    const violations = dk.kernel.audit.entriesSince(before).filter((e) => e.event === 'host.violation');
    await dk.kernel.supervisor.waitReady('flooder', 10_000).catch(() => undefined);
    expect(violations).toEqual([]);
    expect(dk.kernel.supervisor.state('flooder')?.pid).toBe(pid);
    expect(['E_QUOTA', 'E_ARGS']).toContain(r);
  });
});

describe('review: host start-up and supervisor back-off', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'di-review-hosts-'));
    writeFileSync(join(tmp, 'silent.mjs'), 'setInterval(() => {}, 1000);\n');
    writeFileSync(join(tmp, 'crash.mjs'), 'process.exit(1);\n');
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const spec = (domain: string, entry: string, readyTimeoutMs = 400) => ({
    domain, script: 'x', filename: 'x.js', limits: { memoryMb: 16, cpuMsPerCall: 100, wallMsPerCall: 100 },
    clockGranularityMs: 100, maxFrameBytes: 64 * 1024, readyTimeoutMs, entry: join(tmp, entry),
  });

  it('[FAULT-07] a host that never answers init is refused (E_UNAVAILABLE) and killed', async () => {
    const h = new HostProcess(spec('mute', 'silent.mjs'));
    const exit = new Promise<{ signal: string | null }>((r) => h.once('exit', r));
    const err = await h.start().then(() => null, (e: { code?: string; message?: string }) => e);
    expect(err?.code).toBe('E_UNAVAILABLE');
    expect(err?.message).toMatch(/did not become ready/);
    expect((await exit).signal).toBe('SIGKILL');
  });

  it('[FAULT-08] a host that keeps crashing is restarted with exponential back-off, capped', async () => {
    const sup = new Supervisor({ backoffInitialMs: 20, backoffMaxMs: 160, stableAfterMs: 60_000 });
    const delays: Array<number | null> = [];
    const downs: string[] = [];
    sup.on('exit', (_d, info) => delays.push(info.restartInMs));
    sup.on('down', (_d, reason) => downs.push(reason));
    await sup.startDomain(spec('crashy', 'crash.mjs', 5000)).catch(() => undefined);
    await until(() => delays.length >= 6, 10_000, 'six restarts');
    await sup.stopAll();
    expect(delays.slice(0, 6)).toEqual([20, 40, 80, 160, 160, 160]);
    expect(downs.length).toBeGreaterThanOrEqual(6);
  });
});
