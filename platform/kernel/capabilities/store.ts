/** store.*: the domain's own SQLite database; the domain id comes from the kernel, never from the call. */
import type { KernelServices } from '../services.js';
import type { OpHandler } from '../router.js';
import { int, str } from './args.js';
import { KernelError } from '../errors.js';
import type { StoreOp } from '../../sdk/api.js';
import type { WireValue } from '../../wire/messages.js';

export function storeOps(k: KernelServices): Record<'store.get' | 'store.put' | 'store.delete' | 'store.list' | 'store.transaction', OpHandler> {
  const key = (op: string, args: Parameters<OpHandler>[1]) => str(op, args, 'key', { max: 512 });
  return {
    'store.get': async (ctx, args) => {
      const v = k.store(ctx.domain).get(key('store.get', args));
      return v as WireValue | undefined;
    },
    'store.put': async (ctx, args) => {
      if (!('value' in args)) throw new KernelError('E_ARGS', 'store.put: argument value is missing');
      k.store(ctx.domain).put(key('store.put', args), args.value as never);
      return null;
    },
    'store.delete': async (ctx, args) => k.store(ctx.domain).delete(key('store.delete', args)),
    'store.list': async (ctx, args) => {
      const prefix = str('store.list', args, 'prefix', { max: 512, optional: true });
      const limit = int('store.list', args, 'limit', { min: 1, max: 10_000, optional: true });
      return k.store(ctx.domain).list({ ...(prefix !== undefined && { prefix }), ...(limit !== undefined && { limit }) });
    },
    'store.transaction': async (ctx, args) => {
      const ops = args.ops;
      if (!Array.isArray(ops) || ops.length > 1000) throw new KernelError('E_ARGS', 'store.transaction: ops must be an array of at most 1000 operations');
      const checked: StoreOp[] = ops.map((o, i) => {
        if (o === null || typeof o !== 'object' || Array.isArray(o) || o instanceof Uint8Array) {
          throw new KernelError('E_ARGS', `store.transaction: ops[${i}] must be an object`);
        }
        const kk = o.key;
        if (typeof kk !== 'string') throw new KernelError('E_ARGS', `store.transaction: ops[${i}].key must be a string`);
        if (o.op === 'put') {
          if (!('value' in o)) throw new KernelError('E_ARGS', `store.transaction: ops[${i}].value is missing`);
          return { op: 'put', key: kk, value: o.value as never };
        }
        if (o.op === 'delete') return { op: 'delete', key: kk };
        throw new KernelError('E_ARGS', `store.transaction: ops[${i}].op must be "put" or "delete"`);
      });
      k.store(ctx.domain).transaction(checked);
      return null;
    },
  };
}
