/**
 * SESAM-Vitale applet, first cut: recognises the Vitale and CPS cards the broker routes to this
 * domain and says so on screen. FSE/DRE, lots, signature and transmission are built on this shell.
 */
import { buildApdu, parseResponse } from '../../platform/sdk/apdu.js';
import { fromHex } from '../../platform/sdk/hex.js';
import type { CardEvent } from '../../platform/sdk/api.js';

const AIDS: Record<string, string> = {
  vitale: 'D250000002564954414C45',
  cps: 'E828BD080F8025000001FF0010',
};

const LABELS: Record<string, string> = { vitale: 'Carte Vitale', cps: 'Carte CPS' };

async function onStart(): Promise<void> {
  await platform.ui.show({ title: 'SESAM-Vitale', lines: ['Insérez la carte CPS', 'puis la carte Vitale'] });
}

async function onCardInserted(e: CardEvent): Promise<void> {
  const lease = await platform.slots.acquire(e.slot, { timeoutMs: 2000 });
  try {
    const aid = AIDS[e.cardClass];
    if (!aid) return;
    const r = parseResponse(await lease.transmit(buildApdu({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: fromHex(aid), le: 256 })));
    const ok = r.sw === 0x9000 || r.sw >> 8 === 0x61;
    await platform.ui.show({
      title: 'SESAM-Vitale',
      lines: [`${LABELS[e.cardClass] ?? e.cardClass} lecteur ${e.slot + 1}`, ok ? 'Carte reconnue' : 'Carte illisible : retirez-la'],
    });
    await platform.log('info', 'card recognised', { cardClass: e.cardClass, slot: e.slot, ok });
  } finally {
    await lease.release();
  }
}

async function onCardRemoved(e: { slot: number }): Promise<void> {
  await platform.ui.show({ title: 'SESAM-Vitale', lines: [`Carte retirée du lecteur ${e.slot + 1}`] });
}

Object.assign(globalThis, { onStart, onCardInserted, onCardRemoved });
