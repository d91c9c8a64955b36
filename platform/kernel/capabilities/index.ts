/** The full op table: one capability module per family of DESIGN §6. */
import type { KernelServices } from '../services.js';
import type { OpArgs, OpTable } from '../router.js';
import type { Policy } from '../policy/types.js';
import type { RequestOp } from '../../wire/messages.js';
import { slotOps } from './slots.js';
import { pinOps } from './pin.js';
import { uiOps } from './ui.js';
import { storeOps } from './store.js';
import { netOps } from './net.js';
import { intentOps } from './intents.js';
import { basicOps } from './basics.js';

export function buildOpTable(k: KernelServices): OpTable {
  return { ...slotOps(k), ...pinOps(k), ...uiOps(k), ...storeOps(k), ...netOps(k), ...intentOps(k), ...basicOps(k) };
}

/** Deadline per call: waits that belong to the call (slot queue, PIN pad, a question, an intent) are included. */
export function deadlineFor(k: KernelServices) {
  return (op: RequestOp, args: OpArgs, policy: Policy): number => {
    switch (op) {
      case 'slots.acquire':
        return (typeof args.timeoutMs === 'number' ? Math.min(args.timeoutMs, 60_000) : 5_000) + 2_000;
      case 'pin.verify':
        return k.config.pin.entryTimeoutMs + 15_000;
      case 'ui.ask':
        return 610_000;
      case 'intents.request':
        return (k.policy(typeof args.target === 'string' ? args.target : '')?.limits.handlerDeadlineMs ?? 60_000) + 5_000;
      case 'net.send':
      case 'net.fetch':
        return 60_000;
      case 'lease.transmit':
      case 'lease.reset':
        return 30_000;
      default:
        return Math.min(policy.limits.handlerDeadlineMs, 10_000);
    }
  };
}
