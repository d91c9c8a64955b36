/** net.*: a domain may only name an endpoint of its own policy; the kernel owns every connection. */
import type { KernelServices } from '../services.js';
import type { OpHandler } from '../router.js';
import { str } from './args.js';
import { KernelError } from '../errors.js';

export function netOps(k: KernelServices): Record<'net.send' | 'net.fetch', OpHandler> {
  const resolve = (op: string, ctx: Parameters<OpHandler>[0], name: string) => {
    const ep = ctx.policy.network.endpoints.find((e) => e.name === name);
    if (!ep) throw new KernelError('E_POLICY', `${op}: endpoint ${JSON.stringify(name)} is not in the ${ctx.domain} policy`);
    const t = k.transports.get(ep.kind);
    if (!t) throw new KernelError('E_NET', `${op}: this kernel has no ${ep.kind} transport configured for endpoint ${name}`);
    return { ep, t };
  };
  return {
    'net.send': async (ctx, args) => {
      const name = str('net.send', args, 'endpoint', { max: 64 });
      const { ep, t } = resolve('net.send', ctx, name);
      k.audit.append('net.send', ctx.domain, { endpoint: name, kind: ep.kind });
      return t.send(ep, args.message ?? null, ctx.signal);
    },
    'net.fetch': async (ctx, args) => {
      const name = str('net.fetch', args, 'endpoint', { max: 64 });
      const { ep, t } = resolve('net.fetch', ctx, name);
      return t.fetch(ep, args.request ?? null, ctx.signal);
    },
  };
}
