/**
 * Review: intents. DESIGN §4: "only the result status and references travel back".
 * - green: the result filter keeps only declared fields, with declared types, drops huge strings;
 * - red: the target's *error* path is a second channel. When the target's onIntent throws, its
 *   message (up to 1 KiB, only PAN-masked) is handed to the requesting domain as the error of
 *   intents.request: cryptograms, cardholder names, track 2 in hex-nibble form cut by truncation...
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, applet, devPolicy, type DevKernel } from '../support/dev-kernel.js';

const PAN = '4970109876543213'; // Luhn-valid
const CRYPTOGRAM = 'A1B2C3D4E5F60718';

const PAYMENT = `
globalThis.onIntent = async (req) => {
  const p = req.payload;
  switch (p.mode) {
    case 'extra': return { status: 'approved', transactionRef: 'T-1', authCode: 'A1', pan: '${PAN}', track2: 'x', cryptogram: '${CRYPTOGRAM}', nested: { pan: '${PAN}' } };
    case 'types': return { status: 42, transactionRef: ['T'], authCode: { a: 1 }, approved: 'yes', amount: '2300' };
    case 'huge': return { status: 'approved', transactionRef: 'R'.repeat(5000), authCode: 'x'.repeat(257) };
    case 'bytes': return new Uint8Array([1, 2, 3]);
    case 'array': return ['approved', '${PAN}'];
    case 'ok': return { status: 'approved', transactionRef: 'T-2', authCode: 'OK1', approved: true, amount: 2300 };
    case 'throw': throw new Error('GENERATE AC failed: 9F26 ' + '${CRYPTOGRAM}' + ' holder DUPONT/JEANNE exp 2712 ' + p.secret);
  }
};
`;
const HEALTH = `
globalThis.onIntent = async (req) => {
  try {
    return { result: await platform.intents.request('payment', { action: 'charge', amount: 2300, mode: req.payload.mode, secret: req.payload.secret }) };
  } catch (e) { return { code: e.code, message: e.message }; }
};
`;

describe('review: intents', () => {
  let dk: DevKernel;
  const ask = (mode: string, secret = '') =>
    dk.kernel.call('health', 'onIntent', [{ from: 't', action: 'x', payload: { mode, secret } }], 15_000) as Promise<{ result?: Record<string, unknown>; code?: string; message?: string }>;

  beforeAll(async () => {
    dk = await bootDev([
      applet(devPolicy('payment', {
        intents: { request: [], handle: [{ action: 'charge', result: { status: 'string', transactionRef: 'string', authCode: 'string', approved: 'boolean', amount: 'number' } }] },
      }), PAYMENT),
      applet(devPolicy('health', { intents: { request: [{ target: 'payment', actions: ['charge'] }], handle: [] } }), HEALTH),
    ]);
  });
  afterAll(async () => dk.close());

  it('[XDOM-06] only declared fields with declared types travel back (extra fields, wrong types, huge strings dropped)', async () => {
    expect((await ask('extra')).result).toEqual({ status: 'approved', transactionRef: 'T-1', authCode: 'A1' });
    expect((await ask('types')).result).toEqual({});
    expect((await ask('huge')).result).toEqual({ status: 'approved' });
    expect((await ask('bytes')).result).toEqual({});
    expect((await ask('array')).result).toEqual({});
    expect((await ask('ok')).result).toEqual({ status: 'approved', transactionRef: 'T-2', authCode: 'OK1', approved: true, amount: 2300 });
    const audit = JSON.stringify(dk.kernel.audit.entriesSince(0));
    expect(audit).not.toContain(PAN);
    expect(audit).not.toContain(CRYPTOGRAM);
  });

  it('[XDOM-07] the target\'s error message does not travel to the requesting domain', async () => {
    // Track 2 in the hex-nibble form a card returns (tag 57), as an EMV stub would dump it.
    const track2 = '4970109876543213D27122011234567890';
    const r = await ask('throw', 'track2 ' + track2);
    expect(r.code).toBeDefined();
    const msg = String(r.message);
    expect(msg).not.toContain(CRYPTOGRAM);
    expect(msg).not.toContain('DUPONT');
    expect(msg).not.toContain('2712');
  });
});
