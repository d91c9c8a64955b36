/** slots.* and lease.*: all card access goes through the broker, which checks the token and the allowlist. */
import type { KernelServices } from '../services.js';
import type { OpHandler } from '../router.js';
import { int, str, bytes } from './args.js';

const TOKEN = /^[0-9a-f]{64}$/;

export function slotOps(k: KernelServices): Record<'slots.acquire' | 'slots.list' | 'lease.transmit' | 'lease.reset' | 'lease.release', OpHandler> {
  return {
    'slots.acquire': async (ctx, args) => {
      const slot = int('slots.acquire', args, 'slot', { min: 0, max: 15 });
      const timeoutMs = int('slots.acquire', args, 'timeoutMs', { min: 0, max: 60_000, optional: true }) ?? 5_000;
      const lease = await k.broker.acquire(ctx.domain, slot, timeoutMs);
      k.audit.append('lease.acquire', ctx.domain, { slot, cardClass: lease.cardClass });
      return { slot: lease.slot, token: lease.token, cardClass: lease.cardClass, atr: lease.atr };
    },
    'slots.list': async (ctx) => k.broker.cardsFor(ctx.domain).map((c) => ({ slot: c.slot, cardClass: c.cardClass, atr: c.atr })),
    'lease.transmit': async (ctx, args) => {
      const token = str('lease.transmit', args, 'token', { max: 64, pattern: TOKEN });
      const apdu = bytes('lease.transmit', args, 'apdu', { max: 65_544 });
      return k.broker.transmit(ctx.domain, token, apdu);
    },
    'lease.reset': async (ctx, args) => k.broker.reset(ctx.domain, str('lease.reset', args, 'token', { max: 64, pattern: TOKEN })),
    'lease.release': async (ctx, args) => {
      await k.broker.release(ctx.domain, str('lease.release', args, 'token', { max: 64, pattern: TOKEN }));
      return null;
    },
  };
}
