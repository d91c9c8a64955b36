/**
 * Errors the kernel returns to a domain. Codes are stable (evaluators and applets match on them);
 * messages say what was wrong and never carry secrets (they pass through redactText anyway).
 */
import type { WireError } from '../wire/messages.js';

export type KernelErrorCode =
  | 'E_ARGS' // a platform call's arguments are malformed
  | 'E_POLICY' // the domain's policy does not grant this
  | 'E_LEASE'
  | 'E_NOT_ROUTED'
  | 'E_BUSY'
  | 'E_APDU_MALFORMED'
  | 'E_APDU_DENIED'
  | 'E_CARD'
  | 'E_NO_CARD'
  | 'E_SLOT'
  | 'E_QUOTA'
  | 'E_STORE'
  | 'E_RATE' // rate limit exceeded
  | 'E_QUEUE' // too many calls in flight (back-pressure)
  | 'E_DEADLINE'
  | 'E_NET'
  | 'E_INTENT'
  | 'E_UI'
  | 'E_PIN'
  | 'E_UNAVAILABLE' // the target domain or service is down
  | 'E_APPLET' // the applet's own handler threw
  | 'E_TERMINATED' // the applet was terminated by the watchdog during the call
  | 'E_INTERNAL';

export class KernelError extends Error {
  constructor(
    readonly code: KernelErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KernelError';
  }
}

/**
 * Codes a domain may be told as they are. Node's own errors also carry a string `code` (EEXIST,
 * EISDIR…) with kernel paths in their message: those are internal and reported as such.
 */
const DOMAIN_CODES: ReadonlySet<string> = new Set([
  'E_ARGS', 'E_POLICY', 'E_LEASE', 'E_NOT_ROUTED', 'E_BUSY', 'E_APDU_MALFORMED', 'E_APDU_DENIED', 'E_CARD', 'E_NO_CARD', 'E_SLOT',
  'E_QUOTA', 'E_STORE', 'E_KEY', 'E_VALUE', 'E_RATE', 'E_QUEUE', 'E_DEADLINE', 'E_NET', 'E_INTENT', 'E_UI', 'E_PIN', 'E_UNAVAILABLE',
  'E_APPLET', 'E_TERMINATED',
]);

/** Converts anything thrown inside the kernel into what may be told to a domain. */
export function toWireError(err: unknown, redact: (s: string) => string): WireError {
  if (err !== null && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    const e = err as { code: string; message?: unknown };
    if (DOMAIN_CODES.has(e.code)) return { code: e.code, message: redact(String(e.message ?? e.code)).slice(0, 1024) };
  }
  // Unexpected errors may carry host paths or internals: tell the domain only that it happened.
  return { code: 'E_INTERNAL', message: 'internal kernel error (see the kernel log)' };
}
