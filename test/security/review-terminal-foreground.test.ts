/**
 * Review: the screen and keypad belong to one foreground domain at a time (DESIGN §4).
 *
 * 1. Terminal.withForeground is re-entrant for the owner, but only the outermost holder releases:
 *    a domain that nests pin.verify inside its own ui.ask keeps a live PIN collector after its
 *    question ends and the foreground is released. Keys typed for the NEXT domain's question then
 *    land in the first domain's PIN buffer (and are sent as a VERIFY to that domain's card).
 * 2. The wait queue is one FIFO of requests, not of domains: a domain that queues many questions
 *    makes another domain wait behind all of them (foreground starvation).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, applet, devPolicy, testCardClass, until, type DevKernel } from '../support/dev-kernel.js';
import { createCard } from '../../emulator/cards/profiles.js';

const HEALTH = `
globalThis.onIntent = async (req) => {
  const p = req.payload;
  if (p.op === 'stale-pin') {
    const lease = await platform.slots.acquire(0, { timeoutMs: 1000 });
    // The question takes the foreground; the PIN entry nests under it (same owner), and
    // outlives it.
    const ask = platform.ui.ask({ text: 'health question', choices: ['a'], timeoutMs: 150 });
    const pin = platform.pin.verify(lease, { reference: 1, format: 'ascii-ff', prompt: 'health PIN' });
    const r = await Promise.allSettled([ask, pin]);
    await lease.release().catch(() => undefined);
    return { ask: r[0].status, pin: r[1].status === 'fulfilled' ? r[1].value : { code: r[1].reason.code } };
  }
  if (p.op === 'flood') {
    const all = [];
    for (let i = 1; i <= 5; i++) all.push(platform.ui.ask({ text: 'health ' + i, choices: ['a'], timeoutMs: 8000 }).catch((e) => ({ code: e.code })));
    return { answers: await Promise.all(all) };
  }
};
`;
const PAYMENT = `
globalThis.onIntent = async (req) => platform.ui.ask({ text: req.payload.text, choices: ['Oui', 'Non'], timeoutMs: req.payload.timeoutMs || 3000 });
`;
const GATE = `globalThis.onIntent = async () => platform.ui.ask({ text: 'gate', choices: ['a'], timeoutMs: 8000 });`;

describe('review: foreground ownership of the keypad', () => {
  let dk: DevKernel;
  const call = (d: string, payload: Record<string, unknown>) =>
    dk.kernel.call(d, 'onIntent', [{ from: 't', action: 'x', payload: payload as never }], 15_000) as Promise<Record<string, unknown>>;

  beforeAll(async () => {
    dk = await bootDev(
      [
        applet(devPolicy('health', { cardClasses: [testCardClass('hcard')] }), HEALTH),
        applet(devPolicy('payment'), PAYMENT),
        applet(devPolicy('gate'), GATE),
      ],
      { pin: { entryTimeoutMs: 6000, minDigits: 4, maxDigits: 12 } },
    );
    dk.kernel.insertCard(0, createCard('test-card'));
    await until(() => dk.kernel.broker.cardsFor('health').length > 0);
  });
  afterAll(async () => dk.close());

  it('[XDOM-10] keys typed for another domain\'s question never reach a PIN entry left over from a released foreground', async () => {
    const t = dk.kernel.terminal;
    const health = call('health', { op: 'stale-pin' });
    // The PIN entry nested under health's own open question is refused: one keypad entry at a time.
    const h = await health;
    expect(h.pin).toEqual({ code: 'E_UI' });
    expect(t.current().pinEntry).toBe(null);
    await until(() => t.foreground() === null, 5000, 'health question over');
    const payment = call('payment', { text: 'Payer 23,00 EUR ?' });
    await until(() => t.current().question?.text === 'Payer 23,00 EUR ?', 5000, 'payment question on screen');
    // The practitioner answers the question on screen: key 1 = first choice.
    t.press('1');
    const answer = await payment;
    expect(answer).toEqual({ choice: 0 });
  });

  it('[DOS-15] a domain that queues many questions does not starve another domain of the screen', async () => {
    const t = dk.kernel.terminal;
    const waiting = () => (t as unknown as { waiting: unknown[] }).waiting.length;
    const gate = call('gate', {});
    await until(() => t.current().question?.text === 'gate', 5000, 'gate holds the screen');
    const flood = call('health', { op: 'flood' });
    await until(() => waiting() === 5, 5000, 'health queued 5 questions');
    const payment = call('payment', { text: 'Payer ?', timeoutMs: 8000 });
    await until(() => waiting() === 6, 5000, 'payment queued');
    t.press('1'); // answers gate
    await until(() => t.current().question?.text === 'health 1', 5000, 'health 1 on screen');
    t.press('1'); // answers health's first question
    await until(() => t.current().question !== null && t.current().question?.text !== 'health 1', 5000, 'next question');
    const next = t.current().question?.text;
    // Cleanup: cancel everything left.
    for (let i = 0; i < 10 && (t.current().question || waiting() > 0); i++) {
      t.press('ANNULER');
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.allSettled([gate, flood, payment]);
    // Secure outcome: turns alternate between domains; payment comes before health's 2nd question.
    expect(next).toBe('Payer ?');
  });
});
