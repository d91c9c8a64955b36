/** crypto.digest, crypto.random, clock.now, log: small services with no authority beyond themselves. */
import { createHash, randomBytes } from 'node:crypto';
import type { KernelServices } from '../services.js';
import type { OpHandler } from '../router.js';
import { bytes, int, str } from './args.js';
import { KernelError } from '../errors.js';

const DIGESTS: Record<string, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };
const LEVELS = ['debug', 'info', 'warn', 'error'];

export function basicOps(k: KernelServices): Record<'crypto.digest' | 'crypto.random' | 'clock.now' | 'log', OpHandler> {
  return {
    'crypto.digest': async (_ctx, args) => {
      const alg = str('crypto.digest', args, 'alg', { max: 16 });
      const node = DIGESTS[alg];
      if (!node) throw new KernelError('E_ARGS', `crypto.digest: algorithm must be one of ${Object.keys(DIGESTS).join(', ')}`);
      const data = bytes('crypto.digest', args, 'data', { max: 16 * 1024 * 1024 });
      return new Uint8Array(createHash(node).update(data).digest());
    },
    'crypto.random': async (_ctx, args) => new Uint8Array(randomBytes(int('crypto.random', args, 'n', { min: 1, max: 4096 }))),
    'clock.now': async () => {
      const g = k.config.clockGranularityMs;
      return Math.floor(k.clock.now() / g) * g;
    },
    log: async (ctx, args) => {
      const level = str('log', args, 'level', { max: 8 });
      if (!LEVELS.includes(level)) throw new KernelError('E_ARGS', `log: level must be one of ${LEVELS.join(', ')}`);
      const message = str('log', args, 'message', { max: 4096 });
      k.logger.write(ctx.domain, level, message, args.fields ?? null);
      return null;
    },
  };
}
