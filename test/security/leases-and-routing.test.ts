/**
 * Slot hijack and capability forgery: tokens are bound to one domain and one lease; cards routed to
 * one domain are invisible to the other; a dead host's leases are revoked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, applet, devPolicy, testCardClass, until, type DevKernel } from '../support/dev-kernel.js';
import { createCard } from '../../emulator/cards/profiles.js';

const SCRIPT = `
globalThis.onIntent = async (req) => {
  const p = req.payload;
  const fake = (token) => ({ token, slot: 0, cardClass: 'x', atr: '' });
  try {
    switch (p.op) {
      case 'acquire': { const l = await platform.slots.acquire(p.slot, { timeoutMs: 300 }); globalThis.lease = l; return { token: l.token }; }
      case 'release': await globalThis.lease.release(); return { ok: true };
      case 'transmit': { const r = await globalThis.lease.transmit(new Uint8Array(p.apdu)); return { sw: r[r.length - 2] * 256 + r[r.length - 1] }; }
      case 'replay': { const r = await globalThis.lease.transmit(new Uint8Array([0x00, 0xB0, 0x00, 0x00, 0x00])); return { sw: r.length }; }
      case 'forged': { const r = await platform.pin.verify(fake(p.token), { reference: 1, format: 'ascii-ff' }); return { r }; }
      case 'list': return { cards: await platform.slots.list() };
    }
  } catch (e) { return { code: e.code, message: e.message }; }
};
globalThis.onCardInserted = async (e) => { globalThis.offered = (globalThis.offered || 0) + 1; };
globalThis.main = async () => globalThis.offered || 0;
`;

describe('leases and routing', () => {
  let dk: DevKernel;
  const call = (d: string, payload: Record<string, unknown>) => dk.kernel.call(d, 'onIntent', [{ from: 't', action: 'x', payload: payload as never }]) as Promise<Record<string, unknown>>;

  beforeAll(async () => {
    dk = await bootDev([
      applet(devPolicy('alpha', { cardClasses: [testCardClass()] }), SCRIPT),
      applet(devPolicy('beta'), SCRIPT),
    ]);
    dk.kernel.insertCard(0, createCard('test-card'));
    await until(() => dk.kernel.broker.cardsFor('alpha').length > 0);
  });
  afterAll(async () => dk.close());

  it('[XDOM-01] a card routed to one domain is not offered to the other, nor acquirable by it', async () => {
    expect(await dk.kernel.call('alpha', 'main')).toBe(1);
    expect(await dk.kernel.call('beta', 'main')).toBe(0);
    expect(await call('beta', { op: 'list' })).toEqual({ cards: [] });
    const r = await call('beta', { op: 'acquire', slot: 0 });
    expect(r.code).toBe('E_NOT_ROUTED');
    expect(String(r.message)).not.toMatch(/alpha|test-card/);
  });

  it('[LEASE-01] a forged token and another domain\'s token are refused with E_LEASE', async () => {
    const { token } = await call('alpha', { op: 'acquire', slot: 0 });
    const forged = await call('alpha', { op: 'forged', token: 'ab'.repeat(32) });
    expect(forged.code).toBe('E_LEASE');
    const stolen = await call('beta', { op: 'forged', token });
    expect(stolen.code).toBe('E_LEASE');
    await call('alpha', { op: 'release' });
  });

  it('[LEASE-02] a released lease cannot be replayed', async () => {
    await call('alpha', { op: 'acquire', slot: 0 });
    await call('alpha', { op: 'release' });
    const r = await call('alpha', { op: 'replay' });
    expect(r.code).toBe('E_LEASE');
  });

  it('[LEASE-03] an APDU outside the allowlist, a VERIFY and a malformed APDU are refused', async () => {
    await call('alpha', { op: 'acquire', slot: 0 });
    const denied = await call('alpha', { op: 'transmit', apdu: [0x00, 0xe4, 0x00, 0x00] }); // DELETE FILE
    expect(denied.code).toBe('E_APDU_DENIED');
    const verify = await call('alpha', { op: 'transmit', apdu: [0x00, 0x20, 0x00, 0x01, 0x04, 0x31, 0x32, 0x33, 0x34] });
    expect(verify.code).toBe('E_APDU_DENIED');
    expect(String(verify.message)).not.toContain('31323334');
    const malformed = await call('alpha', { op: 'transmit', apdu: [0x00, 0xb0, 0x00, 0x00, 0x05, 0x01] }); // Lc 5, 1 byte
    expect(malformed.code).toBe('E_APDU_MALFORMED');
    const ok = await call('alpha', { op: 'transmit', apdu: [0x80, 0xee, 0x00, 0x00, 0x01, 0x42, 0x00] });
    expect(ok.sw).toBe(0x9000);
    await call('alpha', { op: 'release' });
  });

  it('[LEASE-04] a killed host is restarted and the leases it held are revoked', async () => {
    const { token } = await call('alpha', { op: 'acquire', slot: 0 });
    expect(typeof token).toBe('string');
    const before = dk.kernel.audit.lastSeq;
    const pid = dk.kernel.supervisor.state('alpha')?.pid as number;
    process.kill(pid, 'SIGKILL');
    await until(() => dk.kernel.supervisor.state('alpha')?.state === 'ready' && dk.kernel.supervisor.state('alpha')?.pid !== pid, 10_000, 'restart');
    const events = dk.kernel.audit.entriesSince(before);
    expect(events.find((e) => e.event === 'lease.revoked' && e.domain === 'alpha')?.fields).toMatchObject({ reason: 'host-death' });
    // The old token is dead, and the slot is free for the restarted applet.
    const reuse = await call('alpha', { op: 'forged', token });
    expect(reuse.code).toBe('E_LEASE');
    const again = await call('alpha', { op: 'acquire', slot: 0 });
    expect(typeof again.token).toBe('string');
    expect(again.token).not.toBe(token);
    await call('alpha', { op: 'release' });
  });
});
