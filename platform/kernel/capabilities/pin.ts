/**
 * pin.verify: secure PIN entry. The kernel reads the keypad, builds VERIFY and sends it through the
 * broker; the domain learns only { ok, triesLeft, blocked }. Digits live in one Uint8Array that is
 * zeroed on every path, and are never put in a string, a log line or an error.
 */
import type { KernelServices } from '../services.js';
import type { OpHandler } from '../router.js';
import { int, str } from './args.js';
import { KernelError } from '../errors.js';
import { buildVerify, PIN_FORMATS, type PinFormat } from '../pin-block.js';

export function pinOps(k: KernelServices): Record<'pin.verify', OpHandler> {
  return {
    'pin.verify': async (ctx, args) => {
      const op = 'pin.verify';
      if (!ctx.policy.ui.pinEntry) throw new KernelError('E_POLICY', `${op}: the ${ctx.domain} policy does not grant secure PIN entry (ui.pinEntry)`);
      const token = str(op, args, 'token', { max: 64, pattern: /^[0-9a-f]{64}$/ });
      const reference = int(op, args, 'reference', { min: 0, max: 255 });
      const format = str(op, args, 'format', { max: 20 });
      if (!PIN_FORMATS.includes(format as PinFormat)) throw new KernelError('E_ARGS', `${op}: format must be one of ${PIN_FORMATS.join(', ')}`);
      const prompt = str(op, args, 'prompt', { max: 80, optional: true }) ?? 'Saisissez votre code puis OK';
      // Check the lease and the reference before the keypad is read: no PIN is typed for nothing.
      const lease = k.broker.checkLease(ctx.domain, token);
      const cardClass = ctx.policy.cardClasses.find((c) => c.name === lease.cardClass);
      if (!cardClass?.pinReferences.includes(reference)) {
        throw new KernelError('E_POLICY', `${op}: PIN reference ${reference} is not listed for card class ${lease.cardClass} in the ${ctx.domain} policy`);
      }
      const { minDigits, maxDigits, entryTimeoutMs } = k.config.pin;
      // A person is typing: the lease must not idle out under them.
      const unhold = k.broker.holdLease(ctx.domain, token);
      try {
        // The kernel names the card the PIN goes to: an applet cannot pass a health card off as a bank card.
        const read = await k.terminal.readPin(ctx.domain, `${prompt} — carte ${lease.cardClass}`, { minDigits, maxDigits, timeoutMs: entryTimeoutMs }, ctx.signal);
        if (read.status !== 'ok') {
          k.audit.append('pin.entry', ctx.domain, { result: read.status });
          return { ok: false, triesLeft: null, blocked: false, aborted: read.status };
        }
        let apdu: Uint8Array | null = null;
        let resp: Uint8Array;
        try {
          apdu = buildVerify(reference, format as PinFormat, read.digits, read.length);
        } finally {
          read.digits.fill(0);
        }
        try {
          resp = await k.broker.transmitPinVerify(ctx.domain, token, apdu);
        } finally {
          apdu.fill(0);
        }
        const sw = resp.length >= 2 ? ((resp[resp.length - 2] as number) << 8) | (resp[resp.length - 1] as number) : 0;
        let result: { ok: boolean; triesLeft: number | null; blocked: boolean };
        if (sw === 0x9000) result = { ok: true, triesLeft: null, blocked: false };
        else if ((sw & 0xfff0) === 0x63c0) result = { ok: false, triesLeft: sw & 0x0f, blocked: (sw & 0x0f) === 0 };
        else if (sw === 0x6983 || sw === 0x6984) result = { ok: false, triesLeft: 0, blocked: true };
        else throw new KernelError('E_CARD', `${op}: the card answered VERIFY with status ${sw.toString(16).toUpperCase().padStart(4, '0')}`);
        k.audit.append('pin.verify', ctx.domain, { reference, ...result });
        return result;
      } finally {
        unhold();
      }
    },
  };
}
