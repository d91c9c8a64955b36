import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bootDev, applet, devPolicy, testCardClass, until, type DevKernel } from '../support/dev-kernel.js';
import { createCard } from '../../emulator/cards/profiles.js';
import { verifyAuditFile } from '../../platform/kernel/audit.js';

const SCRIPT = `
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('').toUpperCase();
globalThis.onCardInserted = async (e) => { globalThis.seen = (globalThis.seen || []).concat(e.cardClass); };
globalThis.main = async () => {
  const cards = await platform.slots.list();
  const lease = await platform.slots.acquire(0, { timeoutMs: 1000 });
  const sel = await lease.transmit(new Uint8Array([0x00, 0xA4, 0x04, 0x0C, 0x08, 0xF0, 0x44, 0x49, 0x54, 0x45, 0x53, 0x54, 0x01]));
  const echo = await lease.transmit(new Uint8Array([0x80, 0xEE, 0x00, 0x00, 0x03, 1, 2, 3, 0x00]));
  await lease.release();
  await platform.store.put('k', { n: 1, b: new Uint8Array([9, 8]) });
  const back = await platform.store.get('k');
  const missing = await platform.store.get('nope');
  await platform.store.transaction([{ op: 'put', key: 'a/1', value: 1 }, { op: 'put', key: 'a/2', value: 2 }]);
  const list = await platform.store.list({ prefix: 'a/' });
  const digest = hex(await platform.crypto.digest('SHA-256', new Uint8Array([0x61, 0x62, 0x63])));
  const rnd = await platform.crypto.random(16);
  const now = await platform.clock.now();
  await platform.log('info', 'paid with 4970101234567893 ok', { pin: '1234', pan: '4970101234567893' });
  await platform.ui.show({ title: 'Test', lines: ['Bonjour'] });
  return { cards, sel: hex(sel), echo: hex(echo), back, missing: missing === undefined, list, digest, rnd: rnd.length, coarse: now % 100 === 0, seen: globalThis.seen || [] };
};
`;

describe('platform API end to end (kernel -> host -> isolate -> broker -> card)', () => {
  let dk: DevKernel;
  beforeAll(async () => {
    dk = await bootDev([applet(devPolicy('alpha', { cardClasses: [testCardClass()] }), SCRIPT)]);
    dk.kernel.insertCard(0, createCard('test-card'));
    await until(() => dk.kernel.broker.cardsFor('alpha').length > 0, 5000, 'card offered');
  });
  afterAll(async () => dk.close());

  it('serves every capability family to an applet', async () => {
    const r = (await dk.kernel.call('alpha', 'main')) as Record<string, unknown>;
    expect(r.cards).toEqual([{ slot: 0, cardClass: 'test-card', atr: expect.stringMatching(/^3B/) }]);
    expect(r.sel).toBe('9000');
    expect(r.echo).toBe('0102039000');
    expect(r.back).toEqual({ n: 1, b: new Uint8Array([9, 8]) });
    expect(r.missing).toBe(true);
    expect(r.list).toEqual(['a/1', 'a/2']);
    expect(r.digest).toBe('BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD');
    expect(r.rnd).toBe(16);
    expect(r.coarse).toBe(true);
    expect(r.seen).toEqual(['test-card']);
    expect(dk.kernel.terminal.current().screen.lines).toEqual(['Bonjour']);
  });

  it('redacts what the applet logs: PAN masked, PIN field dropped', async () => {
    const log = readFileSync(join(dk.dataDir, 'logs', 'alpha.log'), 'utf8');
    expect(log).toContain('497010******7893');
    expect(log).not.toContain('4970101234567893');
    expect(log).not.toMatch(/"pin":"1234"/);
  });

  it('keeps an audit chain that verifies', () => {
    const v = verifyAuditFile(join(dk.dataDir, 'audit.log'));
    expect(v.ok).toBe(true);
    const events = dk.kernel.audit.entriesSince(0).map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['kernel.boot', 'package.unsigned', 'host.ready', 'card.offered', 'lease.acquire']));
  });

  it('persists the store across a host restart', async () => {
    const pid = dk.kernel.supervisor.state('alpha')?.pid;
    process.kill(pid as number, 'SIGKILL');
    await until(() => dk.kernel.supervisor.state('alpha')?.pid !== pid && dk.kernel.supervisor.state('alpha')?.state === 'ready', 10_000, 'restart');
    const r = (await dk.kernel.call('alpha', 'main')) as Record<string, unknown>;
    expect(r.back).toEqual({ n: 1, b: new Uint8Array([9, 8]) });
    expect(readdirSync(join(dk.dataDir, 'stores'))).toContain('alpha.sqlite');
  });
});
