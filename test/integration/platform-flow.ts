/**
 * One platform flow (kernel -> host -> isolate -> broker -> card) shared by the emulated-reader
 * test and the PC/SC test, so the same applet and the same assertions run over both drivers.
 */
import { expect } from 'vitest';
import type { Kernel } from '../../platform/kernel/kernel.js';

export const SCRIPT = `
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

/** Runs the flow's main() and checks every capability family's answer. */
export async function checkPlatformFlow(kernel: Kernel, domain: string): Promise<void> {
  const r = (await kernel.call(domain, 'main')) as Record<string, unknown>;
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
  expect(kernel.terminal.current().screen.lines).toEqual(['Bonjour']);
}
