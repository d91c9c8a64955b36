/**
 * Payment applet, first cut: recognises EMV cards routed to the payment domain (SELECT of the PSE)
 * and refuses charge intents until the EMV kernel exists, answering status "error" honestly.
 */
import { buildApdu, parseResponse } from '../../platform/sdk/apdu.js';
import { fromHex } from '../../platform/sdk/hex.js';
import type { CardEvent, IntentRequest } from '../../platform/sdk/api.js';

const PSE = fromHex('315041592E5359532E4444463031');

async function onStart(): Promise<void> {
  await platform.ui.show({ title: 'Paiement', lines: ['Prêt'] });
}

async function onCardInserted(e: CardEvent): Promise<void> {
  const lease = await platform.slots.acquire(e.slot, { timeoutMs: 2000 });
  try {
    const r = parseResponse(await lease.transmit(buildApdu({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: PSE, le: 256 })));
    await platform.ui.show({ title: 'Paiement', lines: [r.sw === 0x9000 || r.sw >> 8 === 0x61 ? 'Carte bancaire détectée' : 'Carte bancaire sans PSE'] });
  } finally {
    await lease.release();
  }
}

async function onIntent(req: IntentRequest): Promise<{ status: string; transactionRef: string }> {
  await platform.log('warn', 'charge intent refused: the EMV transaction is not available in this version', { from: req.from, action: req.action });
  return { status: 'error', transactionRef: '' };
}

Object.assign(globalThis, { onStart, onCardInserted, onIntent });
