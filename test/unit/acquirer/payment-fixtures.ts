/**
 * Applets for the payment intent and confinement tests. HEALTH_SCRIPT runs under the real
 * sesam-vitale policy and keeps everything its handlers receive. STAND_IN_PAYMENT_SCRIPT is a small
 * payment applet doing a real EMV flow with raw APDUs (SELECT PSE/AID, GPO, READ RECORD, kernel PIN
 * entry, GENERATE AC, acquirer, second GENERATE AC), used while applets/payment-stub is rewritten;
 * it deliberately returns card data with its result so the tests show the kernel drops it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicyFile } from '../../../platform/kernel/policy/loader.js';
import type { Policy } from '../../../platform/kernel/policy/types.js';
import { repoRoot } from '../../../platform/kernel/paths.js';
import type { DevApplet } from '../../../platform/kernel/kernel.js';

/** The real policies; the payment one pointed at the test's acquirer port (the policy says 8583). */
export function realPolicies(acquirerPort: number): { health: Policy; payment: Policy } {
  const health = structuredClone(loadPolicyFile(join(repoRoot(), 'policies', 'sesam-vitale.json')));
  const payment = structuredClone(loadPolicyFile(join(repoRoot(), 'policies', 'payment.json')));
  payment.network.endpoints = payment.network.endpoints.map((e) => (e.kind === 'acquirer' ? { ...e, port: acquirerPort } : e));
  return { health, payment };
}

export const HEALTH_SCRIPT = `
let n = 0;
const keep = async (what, value) => {
  globalThis.received = (globalThis.received || []).concat([{ what, value }]);
  await platform.store.put('received:' + String(++n).padStart(4, '0'), { what, value });
};
const tx = async (lease, apdu) => { const r = await lease.transmit(apdu); await keep('apdu-response', r); return r; };
globalThis.onCardInserted = async (e) => { await keep('card-event', e); };
globalThis.onCardRemoved = async (e) => { await keep('card-removed', e); };
globalThis.onIntent = async (req) => {
  await keep('harness', req);
  const p = req.payload;
  if (p.op === 'charge') {
    try {
      const r = await platform.intents.request('payment', { action: 'charge', amount: p.amount, currency: 'EUR', reference: p.reference });
      await keep('intent-result', r);
      await platform.log('info', 'paiement termine', { result: r });
      return { result: r };
    } catch (e) {
      await keep('intent-error', { code: e.code, message: e.message });
      return { code: e.code, message: e.message };
    }
  }
  if (p.op === 'read-vitale') {
    const cards = await platform.slots.list();
    await keep('slots', cards);
    const v = cards.find((c) => c.cardClass === 'vitale');
    const lease = await platform.slots.acquire(v.slot, { timeoutMs: 2000 });
    await keep('lease', { slot: lease.slot, cardClass: lease.cardClass, atr: lease.atr });
    try {
      await tx(lease, new Uint8Array([0x00, 0xA4, 0x04, 0x00, 0x0B, 0xD2, 0x50, 0x00, 0x00, 0x02, 0x56, 0x49, 0x54, 0x41, 0x4C, 0x45, 0x00]));
      const insured = await tx(lease, new Uint8Array([0x00, 0xB0, 0x81, 0x00, 0x00]));
      const benef = await tx(lease, new Uint8Array([0x00, 0xB2, 0x01, 0x14, 0x00]));
      await platform.log('info', 'carte Vitale lue', { bytes: insured.length + benef.length });
      return { insured, benef };
    } finally { await lease.release(); }
  }
  if (p.op === 'received') return { received: globalThis.received || [] };
  return { unknown: p.op };
};
`;

export const STAND_IN_PAYMENT_SCRIPT = `
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('').toUpperCase();
const unhex = (s) => { const o = new Uint8Array(s.length / 2); for (let i = 0; i < o.length; i++) o[i] = parseInt(s.substr(2 * i, 2), 16); return o; };
const cat = (...p) => { const o = new Uint8Array(p.reduce((a, b) => a + b.length, 0)); let k = 0; for (const x of p) { o.set(x, k); k += x.length; } return o; };
function tlv(b, out = new Map()) {
  let i = 0;
  while (i < b.length) {
    if (b[i] === 0x00 || b[i] === 0xff) { i++; continue; }
    const first = b[i++]; let t = first;
    if ((first & 0x1f) === 0x1f) { do { t = t * 256 + b[i]; } while (b[i++] & 0x80); }
    let l = b[i++];
    if (l & 0x80) { const n = l & 0x7f; l = 0; for (let j = 0; j < n; j++) l = l * 256 + b[i++]; }
    const v = b.subarray(i, i + l); i += l;
    if (first & 0x20) tlv(v, out); else if (!out.has(t)) out.set(t, v);
  }
  return out;
}
function dol(d) { const e = []; for (let i = 0; i < d.length;) { let t = d[i++]; if ((t & 0x1f) === 0x1f) t = t * 256 + d[i++]; e.push([t, d[i++]]); } return e; }
const fill = (d, values) => cat(...dol(d).map(([t, l]) => values.get(t) || new Uint8Array(l)));
const cmd = (cla, ins, p1, p2, data) => cat(Uint8Array.of(cla, ins, p1, p2, data.length), data, Uint8Array.of(0));
const seen = [];
const keep = (what, value) => { seen.push({ what, value }); };
async function tx(lease, apdu) {
  const r = await lease.transmit(apdu);
  keep('apdu-response', r);
  const sw = r[r.length - 2] * 256 + r[r.length - 1];
  if (sw !== 0x9000) throw new Error('carte : SW ' + sw.toString(16));
  return r.subarray(0, r.length - 2);
}
function parseAc(b) {
  const m = tlv(b);
  if (m.has(0x80)) { const v = m.get(0x80); return { cid: v[0], atc: v.slice(1, 3), ac: v.slice(3, 11), iad: v.slice(11) }; }
  return { cid: m.get(0x9f27)[0], atc: m.get(0x9f36), ac: m.get(0x9f26), iad: m.get(0x9f10) };
}
let secrets = null;
globalThis.onCardInserted = async (e) => { keep('card-event', e); };
globalThis.onIntent = async (req) => {
  keep('intent', req);
  if (req.action === 'dump') return { seen, secrets };
  if (req.action === 'probe-reverse') {
    const out = {};
    for (const a of ['charge', 'read-vitale', 'fse']) {
      try { await platform.intents.request('sesam-vitale', { action: a }); out[a] = 'allowed'; } catch (e) { out[a] = e.code; }
    }
    return out;
  }
  const { amount, reference } = req.payload;
  const euros = Math.floor(amount / 100) + ',' + String(amount % 100).padStart(2, '0');
  await platform.ui.show({ title: 'Paiement', lines: ['Montant : ' + euros + ' EUR', 'Insérez ou présentez la carte'] });
  const cards = await platform.slots.list();
  keep('slots', cards);
  if (cards.length === 0) return { status: 'error', transactionRef: reference };
  const lease = await platform.slots.acquire(cards[0].slot, { timeoutMs: 2000 });
  try {
    const pse = tlv(await tx(lease, cmd(0, 0xa4, 4, 0, unhex('315041592E5359532E4444463031'))));
    const dir = tlv(await tx(lease, Uint8Array.of(0, 0xb2, 1, (pse.get(0x88)[0] << 3) | 4, 0)));
    const fci = tlv(await tx(lease, cmd(0, 0xa4, 4, 0, dir.get(0x4f))));
    const d = new Date(await platform.clock.now());
    const date = String(d.getUTCFullYear() % 100).padStart(2, '0') + String(d.getUTCMonth() + 1).padStart(2, '0') + String(d.getUTCDate()).padStart(2, '0');
    const tvr = new Uint8Array(5);
    const values = new Map([[0x9f02, unhex(String(amount).padStart(12, '0'))], [0x9f1a, unhex('0250')], [0x95, tvr], [0x5f2a, unhex('0978')],
      [0x9a, unhex(date)], [0x9c, new Uint8Array(1)], [0x9f37, await platform.crypto.random(4)]]);
    const pdol = fill(fci.get(0x9f38) || new Uint8Array(0), values);
    const gpo = tlv(await tx(lease, cmd(0x80, 0xa8, 0, 0, cat(Uint8Array.of(0x83, pdol.length), pdol))));
    const g80 = gpo.get(0x80);
    const aip = g80 ? g80.slice(0, 2) : gpo.get(0x82);
    const afl = g80 ? g80.slice(2) : gpo.get(0x94);
    const data = new Map();
    for (let i = 0; i < afl.length; i += 4) {
      for (let r = afl[i + 1]; r <= afl[i + 2]; r++) tlv(await tx(lease, Uint8Array.of(0, 0xb2, r, afl[i] | 4, 0)), data);
    }
    const pin = await platform.pin.verify(lease, { reference: 0x80, format: 'emv-plaintext', prompt: 'Code confidentiel' });
    keep('pin', pin);
    const cdol1 = fill(data.get(0x8c), values);
    const first = parseAc(await tx(lease, cmd(0x80, 0xae, 0x80, 0, cdol1)));
    const pan = hex(data.get(0x5a)).replace(/F+$/, '');
    const psn = parseInt(hex(data.get(0x5f34)), 10);
    let reply = { responseCode: '91', arc: unhex('5A33') };
    if ((first.cid & 0xc0) === 0x80) {
      reply = await platform.net.send('acquirer', { type: 'authorize', ref: reference, terminalId: 'T0000001', amount, currency: 978, date, pan, psn,
        atc: first.atc, arqc: first.ac, acInput: cat(cdol1, aip, first.atc, first.iad.subarray(3, 7)), cvmResults: unhex(pin.ok ? '410302' : '410301'), tvr });
      keep('acquirer-reply', reply);
    }
    values.set(0x91, reply.issuerAuthData || new Uint8Array(10));
    values.set(0x8a, reply.arc);
    const second = (first.cid & 0xc0) === 0x80 ? parseAc(await tx(lease, cmd(0x80, 0xae, 0x40, 0, fill(data.get(0x8d), values)))) : first;
    const approved = (second.cid & 0xc0) === 0x40;
    const status = approved ? 'approved' : 'declined';
    secrets = { pan, track2: hex(data.get(0x57)), arqc: first.ac, tc: second.ac };
    await platform.store.put('txn:' + reference, { reference, panMasked: pan.slice(0, 6) + '******' + pan.slice(-4), amount, status, responseCode: reply.responseCode });
    await platform.ui.show({ title: 'Paiement', lines: [approved ? 'Paiement accepté' : 'Paiement refusé', 'Retirez la carte'] });
    // Card data handed back on purpose: the kernel must keep only status, transactionRef and authCode.
    const result = { status, transactionRef: reference, pan, track2: hex(data.get(0x57)), arqc: first.ac, arqcHex: hex(first.ac), tc: second.ac, nested: { pan }, name: 'x' };
    if (approved && reply.authCode) result.authCode = reply.authCode;
    return result;
  } finally {
    await lease.release();
  }
};
`;

export function healthApplet(policy: Policy): DevApplet {
  return { policy, script: HEALTH_SCRIPT, filename: 'sesam-vitale.js' };
}

export function standInPaymentApplet(policy: Policy): DevApplet {
  return { policy, script: STAND_IN_PAYMENT_SCRIPT, filename: 'payment-stand-in.js' };
}

/** Fields of a card profile, read as data (the tests look for them everywhere). */
export function profile<T>(name: string): T {
  return JSON.parse(readFileSync(join(repoRoot(), 'emulator', 'cards', 'profiles', `${name}.json`), 'utf8')) as T;
}
