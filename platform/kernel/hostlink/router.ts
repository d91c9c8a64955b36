/**
 * Domain operations of the host link: forwarded to the one domain whose policy grants them
 * (`hostLink.ops`), as its onHostRequest({ op, args }), with the screen held for that domain so the
 * device shows its sync screen. The applet's answer is checked before anything of it leaves.
 */
import type { DomainHostOp, HostLinkValue } from '../../wire/hostlink.js';
import type { WireValue } from '../../wire/messages.js';
import { isPlainObject, validateWireValue } from '../../wire/validate.js';
import { KernelError } from '../errors.js';
import { redactText } from '../redact.js';
import type { HostOutcome } from './server.js';

/** What the router needs from the kernel. */
export interface HostLinkGateway {
  /** The domain holding `hostLink` in its policy, with its ops; null when none is loaded. */
  serving(): { domain: string; ops: readonly string[] } | null;
  /** True when the domain runs and exports onHostRequest. */
  ready(domain: string): boolean;
  /** Calls onHostRequest({ op, args }) with the screen held for the domain; the raw answer. */
  call(domain: string, op: DomainHostOp, args: { [k: string]: WireValue }, signal: AbortSignal): Promise<WireValue>;
}

export const MAX_DOMAIN_MESSAGE_CHARS = 300;
const DOMAIN_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * What a domain's message may not carry to the host: card numbers (redactText) and any other long
 * digit run, such as a NIR (13 digits + key), kept to its first digit. A NIR born in Corsica has
 * 2A or 2B for its department, which breaks the digit run in two short ones: that shape is masked
 * on its own (with or without its key).
 */
const CORSICAN_NIR = /\d(?:[ .]?\d){4}[ .]?2[AB](?:[ .]?\d){6,8}/gi;
const mask = (run: string): string => `${run[0]}${'*'.repeat(run.length - 1)}`;
export function redactDomainText(text: string, max: number): string {
  return redactText(text)
    .replace(CORSICAN_NIR, mask)
    .replace(/\d(?:[ .]?\d){10,}/g, mask)
    .slice(0, max);
}

const malformed = (domain: string, why: string): HostOutcome => ({
  ok: false,
  error: { code: 'E_INTERNAL', message: `${domain} gave a malformed answer (${why}); nothing of it was sent` },
});

/** Maps an applet's answer to the host's: { ok: true, ...result } or { ok: false, error: { code, message, field? } }. */
export function mapDomainAnswer(domain: string, answer: unknown): HostOutcome {
  if (!isPlainObject(answer)) return malformed(domain, 'not an object');
  if (answer.ok === true) {
    const result: { [k: string]: HostLinkValue } = {};
    for (const [k, v] of Object.entries(answer)) if (k !== 'ok') result[k] = v as HostLinkValue;
    try {
      validateWireValue(result, 'result');
    } catch (e) {
      return malformed(domain, (e as Error).message.slice(0, 120));
    }
    return { ok: true, result };
  }
  if (answer.ok === false) {
    const err = answer.error;
    if (!isPlainObject(err)) return malformed(domain, 'ok: false without an error object');
    if (typeof err.code !== 'string' || !DOMAIN_CODE.test(err.code)) return malformed(domain, 'error.code is not a short code');
    if (typeof err.message !== 'string') return malformed(domain, 'error.message is not a string');
    if (err.field !== undefined && typeof err.field !== 'string') return malformed(domain, 'error.field is not a string');
    const message = redactDomainText(err.message, MAX_DOMAIN_MESSAGE_CHARS);
    return {
      ok: false,
      error: { code: 'E_DOMAIN', message, domainCode: err.code, ...(err.field !== undefined ? { field: redactDomainText(err.field, 64) } : {}) },
    };
  }
  return malformed(domain, 'ok is neither true nor false');
}

export async function routeDomainOp(gateway: HostLinkGateway, op: DomainHostOp, args: { [k: string]: HostLinkValue }, signal: AbortSignal): Promise<HostOutcome & { domain?: string }> {
  const serving = gateway.serving();
  if (!serving || !serving.ops.includes(op)) {
    return { ok: false, error: { code: 'E_OP', message: `no domain of this device is granted ${op} (policy hostLink.ops)`, field: 'op' } };
  }
  const { domain } = serving;
  if (!gateway.ready(domain)) {
    return { ok: false, error: { code: 'E_UNAVAILABLE', message: `${domain} is not running (or serves no host requests): try again in a moment` }, domain };
  }
  let answer: WireValue;
  try {
    answer = await gateway.call(domain, op, args as { [k: string]: WireValue }, signal);
  } catch (e) {
    if (e instanceof KernelError && e.code === 'E_UNAVAILABLE') {
      return { ok: false, error: { code: 'E_UNAVAILABLE', message: redactDomainText(e.message, MAX_DOMAIN_MESSAGE_CHARS) }, domain };
    }
    const code = e instanceof KernelError ? e.code : 'E_INTERNAL';
    const why = e instanceof Error ? redactDomainText(e.message, 200) : 'unknown failure';
    return { ok: false, error: { code: 'E_INTERNAL', message: `${domain} could not answer ${op} (${code}: ${why})` }, domain };
  }
  return { ...mapDomainAnswer(domain, answer), domain };
}
