/**
 * Fault isolation: one domain's host dies (SIGKILL) or runs out of memory in the middle of a card
 * transaction while the other domain runs its own transaction on its own card; the other domain
 * completes, the dead domain's lease is revoked and it comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, applet, devPolicy, testCardClass, until, type DevKernel } from '../support/dev-kernel.js';
import { createCard } from '../../emulator/cards/profiles.js';
import { auditExcerpt, evidence } from './evidence.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

const VICTIM = `
globalThis.onIntent = async (req) => {
  const lease = await platform.slots.acquire(0, { timeoutMs: 2000 });
  await lease.transmit(new Uint8Array([0x80, 0xEE, 0x00, 0x00, 0x01, 0x01, 0x00]));
  if (req.payload.mode === 'wait') await platform.ui.ask({ text: 'victim mid-transaction', choices: ['a'], timeoutMs: 15000 });
  if (req.payload.mode === 'oom') { const a = []; for (;;) a.push(new Array(1e6).fill(1)); }
  await lease.release();
  return 'done';
};
`;
const WORKER = `
globalThis.onIntent = async (req) => {
  const lease = await platform.slots.acquire(1, { timeoutMs: 2000 });
  const sws = [];
  for (let i = 0; i < req.payload.steps; i++) {
    const r = await lease.transmit(new Uint8Array([0x80, 0xEE, 0x00, 0x00, 0x01, i & 0xff, 0x00]));
    if (r[0] !== (i & 0xff)) throw new Error('wrong echo at step ' + i);
    sws.push(r[r.length - 2] * 256 + r[r.length - 1]);
    await platform.store.put('step', i);
  }
  await lease.release();
  return { steps: sws.length, allOk: sws.every((s) => s === 0x9000), last: await platform.store.get('step') };
};
`;

describe('fault isolation', () => {
  let dk: DevKernel;
  const call = (d: string, payload: Record<string, unknown>, deadline = 20_000) =>
    dk.kernel.call(d, 'onIntent', [{ from: 't', action: 'x', payload: payload as never }], deadline);

  beforeAll(async () => {
    const a = createCard('test-card');
    const b = createCard('test-card-t0');
    const atrA = hex(a.reset());
    const atrB = hex(b.reset());
    if (atrA === atrB) throw new Error('test needs two card profiles with distinct ATRs');
    const exact = (atr: string) => ({ value: atr, mask: 'FF'.repeat(atr.length / 2) });
    dk = await bootDev([
      applet(devPolicy('victim', { cardClasses: [testCardClass('vcard', { atr: exact(atrA) })], limits: { memoryMb: 32 } as never }), VICTIM),
      applet(devPolicy('worker', { cardClasses: [testCardClass('wcard', { atr: exact(atrB), aids: ['A000000999000002'] })] }), WORKER),
    ]);
    dk.kernel.insertCard(0, createCard('test-card'));
    dk.kernel.insertCard(1, createCard('test-card-t0'));
    await until(() => dk.kernel.broker.cardsFor('victim').length > 0 && dk.kernel.broker.cardsFor('worker').length > 0, 5000, 'both cards routed');
  });
  afterAll(async () => dk.close());

  it('[FAULT-01] a host killed mid-transaction: the other domain completes its own; the lease is revoked; the domain returns', async (ctx) => {
    const before = dk.kernel.audit.lastSeq;
    const victim = call('victim', { mode: 'wait' }).then((v) => ({ v }), (e: { code?: string }) => ({ code: e.code }));
    await until(() => dk.kernel.terminal.current().question?.text === 'victim mid-transaction', 10_000, 'victim holds its lease');
    const worker = call('worker', { steps: 40 });
    const pid = dk.kernel.supervisor.state('victim')?.pid as number;
    process.kill(pid, 'SIGKILL');
    const [w, v] = await Promise.all([worker, victim]);
    expect(w).toEqual({ steps: 40, allOk: true, last: 39 });
    expect((v as { code?: string }).code).toMatch(/^E_/);
    await until(() => dk.kernel.supervisor.state('victim')?.state === 'ready' && dk.kernel.supervisor.state('victim')?.pid !== pid, 10_000, 'victim restarted');
    const events = dk.kernel.audit.entriesSince(before);
    evidence(ctx, 'audit', auditExcerpt(events.filter((e) => e.domain === 'victim')));
    expect(events.find((e) => e.event === 'lease.revoked' && e.domain === 'victim')?.fields).toMatchObject({ reason: 'host-death' });
    expect(events.some((e) => e.domain === 'worker' && (e.event === 'lease.revoked' ? e.fields.reason !== 'release' : e.event.startsWith('host.') && e.event !== 'host.ready'))).toBe(false);
    expect(await call('victim', { mode: 'plain' })).toBe('done');
  });

  it('[FAULT-02] out of memory mid-transaction: the other domain completes its own; the guilty domain comes back', async (ctx) => {
    const before = dk.kernel.audit.lastSeq;
    const [w, v] = await Promise.all([
      call('worker', { steps: 40 }),
      call('victim', { mode: 'oom' }).then((x) => ({ x }), (e: { code?: string }) => ({ code: e.code })),
    ]);
    expect(w).toEqual({ steps: 40, allOk: true, last: 39 });
    expect(['E_TERMINATED', 'E_UNAVAILABLE']).toContain((v as { code?: string }).code);
    const events = dk.kernel.audit.entriesSince(before);
    evidence(ctx, 'audit', auditExcerpt(events.filter((e) => e.domain === 'victim')));
    expect(events.some((e) => e.domain === 'victim' && (e.event === 'watchdog.breach' || e.event === 'host.exit'))).toBe(true);
    expect(events.some((e) => e.event === 'lease.revoked' && e.domain === 'victim')).toBe(true);
    await until(() => dk.kernel.supervisor.state('victim')?.state === 'ready', 15_000, 'victim back');
    expect(await call('victim', { mode: 'plain' })).toBe('done');
  });
});
