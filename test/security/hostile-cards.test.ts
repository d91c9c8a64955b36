/**
 * Hostile cards: whatever a card answers, the broker does bounded work, the applet gets a clear
 * error (or the raw bytes, for content only the applet can judge), and the slot is recovered by a
 * reset so the next holder finds a working slot.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bootDev, applet, devPolicy, testCardClass, until, type DevKernel } from '../support/dev-kernel.js';
import { createCard } from '../../emulator/cards/profiles.js';

const SCRIPT = `
const sw = (r) => r[r.length - 2] * 256 + r[r.length - 1];
globalThis.onIntent = async (req) => {
  const out = [];
  const lease = await platform.slots.acquire(0, { timeoutMs: 1000 });
  const steps = [
    [0x00, 0xA4, 0x04, 0x00, 0x08, 0xF0, 0x44, 0x49, 0x54, 0x45, 0x53, 0x54, 0x01, 0x00],
    [0x00, 0xB0, 0x00, 0x00, 0x00],
    [0x00, 0xB0, 0x00, 0x00, 0x10],
    [0x80, 0xEE, 0x00, 0x00, 0x01, 0x42, 0x00],
  ];
  for (const s of steps) {
    try { const r = await lease.transmit(new Uint8Array(s)); out.push({ len: r.length, sw: r.length >= 2 ? sw(r) : null }); }
    catch (e) { out.push({ code: e.code, message: e.message }); }
  }
  try { await lease.release(); } catch (e) { out.push({ release: e.code }); }
  return out;
};
globalThis.main = async () => (await platform.slots.list()).length;
`;

async function withCard(profile: string): Promise<{ dk: DevKernel; steps: Array<Record<string, unknown>> }> {
  const dk = await bootDev([applet(devPolicy('alpha', { cardClasses: [testCardClass('test-card', { maxResponseBytes: 4096 })] }), SCRIPT)], {
    broker: { leaseIdleTimeoutMs: 30_000, leaseMaxMs: 600_000 },
  });
  dk.kernel.insertCard(0, createCard(profile));
  await until(() => dk.kernel.broker.cardsFor('alpha').length > 0, 5000, `${profile} offered`);
  const steps = (await dk.kernel.call('alpha', 'onIntent', [{ from: 't', action: 'x', payload: {} }], 20_000)) as Array<Record<string, unknown>>;
  return { dk, steps };
}

let open: DevKernel | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

describe('hostile cards', () => {
  it('[CARD-01] endless 61xx: GET RESPONSE rounds are bounded and the applet gets E_CARD naming it', async () => {
    const { dk, steps } = await withCard('hostile-endless-61xx');
    open = dk;
    expect(steps[1]).toMatchObject({ code: 'E_CARD', message: expect.stringMatching(/61xx|GET RESPONSE|rounds/i) });
    expect(await dk.kernel.call('alpha', 'main')).toBe(1);
  });

  it('[CARD-02] endless 6Cxx: one re-send, then E_CARD', async () => {
    const { dk, steps } = await withCard('hostile-endless-6cxx');
    open = dk;
    expect(steps[1]).toMatchObject({ code: 'E_CARD', message: expect.stringMatching(/6C/i) });
  });

  it('[CARD-03] oversized answer: refused with E_CARD, never delivered', async () => {
    const { dk, steps } = await withCard('hostile-oversized');
    open = dk;
    expect(steps[1]).toMatchObject({ code: 'E_CARD', message: expect.stringMatching(/bytes|long|size/i) });
  });

  it('[CARD-04] mute card: E_CARD after the reader gives up, and the kernel stays healthy', async () => {
    const { dk, steps } = await withCard('hostile-mute');
    open = dk;
    expect(steps[1]).toMatchObject({ code: expect.stringMatching(/E_CARD|E_NO_CARD/) });
    expect(dk.kernel.status().domains[0]?.state).toBe('ready');
  });

  it('[CARD-05] malformed TLV is passed as bytes: judging content is the applet\'s job, the broker does not parse it', async () => {
    const { dk, steps } = await withCard('hostile-malformed-tlv');
    open = dk;
    expect(steps[0]).toEqual({ len: 8, sw: 0x9000 });
  });

  it('[CARD-06] bad status words: a one-byte answer is an E_CARD error, odd SWs reach the applet as they are', async () => {
    const { dk, steps } = await withCard('hostile-bad-sw');
    open = dk;
    const codes = steps.slice(1, 4).map((s) => (s.code as string) ?? (s.sw as number));
    expect(codes).toContain('E_CARD');
  });

  it('[CARD-07] an ATR that changes at each reset: the changed card is routed afresh, as a new insertion', async () => {
    const { dk, steps } = await withCard('hostile-atr-changer');
    open = dk;
    expect(steps[0]).toMatchObject({ sw: 0x9000 });
    // The end-of-lease reset showed another ATR: the domain was told the card left, and it was probed again.
    await until(() => dk.kernel.audit.entriesSince(0).filter((e) => e.event === 'card.offered').length === 2, 5000, 're-routing');
    const events = dk.kernel.audit.entriesSince(0).map((e) => e.event);
    expect(events.indexOf('card.removed')).toBeGreaterThan(events.indexOf('lease.revoked'));
    await until(() => dk.kernel.broker.cardsFor('alpha').length > 0, 5000, 'offered again');
    const second = (await dk.kernel.call('alpha', 'onIntent', [{ from: 't', action: 'x', payload: {} }], 20_000)) as Array<Record<string, unknown>>;
    expect(second[0]).toMatchObject({ sw: 0x9000 });
  });
});
