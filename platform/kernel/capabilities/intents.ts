/**
 * intents.request: a domain asks another for a service both policies name. Only the fields the
 * target's policy declares for the result travel back, with their declared types; everything else
 * (card data, cryptograms…) is dropped by the kernel whatever the target's applet returns.
 */
import type { KernelServices } from '../services.js';
import type { OpHandler } from '../router.js';
import { obj, str } from './args.js';
import { KernelError } from '../errors.js';
import type { WireValue } from '../../wire/messages.js';
import { approxSize } from './args.js';

export function intentOps(k: KernelServices): Record<'intents.request', OpHandler> {
  return {
    'intents.request': async (ctx, args) => {
      const op = 'intents.request';
      const target = str(op, args, 'target', { max: 32 });
      const payload = obj(op, args, 'payload');
      const action = payload.action;
      if (typeof action !== 'string' || action.length > 32) throw new KernelError('E_ARGS', `${op}: payload.action must be a string`);
      const grant = ctx.policy.intents.request.find((g) => g.target === target);
      if (!grant || !grant.actions.includes(action)) {
        throw new KernelError('E_POLICY', `${op}: the ${ctx.domain} policy does not allow asking ${target} for ${action}`);
      }
      const targetPolicy = k.policy(target);
      const handle = targetPolicy?.intents.handle.find((h) => h.action === action);
      if (!targetPolicy || !handle) throw new KernelError('E_POLICY', `${op}: ${target} does not offer ${action}`);
      if (approxSize(payload) > 16 * 1024) throw new KernelError('E_ARGS', `${op}: payload larger than 16 KiB`);
      const { action: _a, ...rest } = payload;
      k.audit.append('intent.request', ctx.domain, { target, action });
      let raw: WireValue;
      try {
        raw = await k.intents.deliver(ctx.domain, target, action, rest, ctx.signal);
      } catch (e) {
        // The target's error text is the target's data: it stays on the target's side of the wall.
        const code = (e as { code?: string }).code ?? 'E_INTERNAL';
        k.audit.append('intent.failed', target, { from: ctx.domain, action, code, detail: (e as Error).message });
        const why = code === 'E_DEADLINE' ? 'did not answer in time' : code === 'E_UNAVAILABLE' || code === 'E_TERMINATED' ? 'is not available' : 'could not serve it';
        throw new KernelError('E_INTENT', `${target} ${why} (${action})`);
      }
      const result: { [key: string]: WireValue } = {};
      if (raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !(raw instanceof Uint8Array)) {
        for (const [field, type] of Object.entries(handle.result)) {
          const v = raw[field];
          if (v !== undefined && typeof v === type && (typeof v !== 'string' || v.length <= 256)) result[field] = v;
        }
      }
      k.audit.append('intent.result', ctx.domain, { target, action, status: typeof result.status === 'string' ? result.status : null });
      return result;
    },
  };
}
