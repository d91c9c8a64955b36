/**
 * The capability router: every platform call of every domain passes here. It enforces, per domain,
 * request-id uniqueness, a bound on calls in flight (back-pressure), a token-bucket rate limit and a
 * deadline per call, then hands the call to the capability that implements the op.
 */
import type { Policy } from './policy/types.js';
import type { RequestMessage, RequestOp, WireError, WireValue } from '../wire/messages.js';
import { KernelError, toWireError } from './errors.js';

export interface CallContext {
  domain: string;
  policy: Policy;
  /** Aborted on deadline, host death or breach: long waits (slot, PIN, UI) must stop. */
  signal: AbortSignal;
}

export type OpArgs = { [key: string]: WireValue };
/** Resolving to `undefined` means "no value" (e.g. store.get of a missing key): the reply carries none. */
export type OpHandler = (ctx: CallContext, args: OpArgs) => Promise<WireValue | undefined>;
export type OpTable = { [K in RequestOp]: OpHandler };

export type Reply = (id: number, result: { ok: true; value: WireValue | undefined } | { ok: false; error: WireError }) => void;

export class ProtocolViolation extends Error {}

interface Gate {
  policy: Policy;
  inFlight: Map<number, AbortController>;
  tokens: number;
  refilledAt: number;
}

export interface RouterOptions {
  ops: OpTable;
  /** Deadline for one call (ms), by op; waits that are part of the call (slot, PIN, UI) are included. */
  deadlineMs(op: RequestOp, args: OpArgs, policy: Policy): number;
  redact(s: string): string;
  /** Called for refusals worth auditing (rate, queue, policy). */
  onRefusal?(domain: string, op: string, error: WireError): void;
  now?: () => number;
}

export class Router {
  private readonly gates = new Map<string, Gate>();
  private readonly now: () => number;

  constructor(private readonly opts: RouterOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  attach(domain: string, policy: Policy): void {
    this.gates.set(domain, { policy, inFlight: new Map(), tokens: policy.limits.ratePerSecond, refilledAt: this.now() });
  }

  /** Aborts everything in flight for a domain without replying (its isolate or process is gone). */
  cancelAll(domain: string): void {
    const gate = this.gates.get(domain);
    if (!gate) return;
    for (const ac of gate.inFlight.values()) ac.abort(new KernelError('E_TERMINATED', 'the caller was terminated'));
    gate.inFlight.clear();
  }

  inFlight(domain: string): number {
    return this.gates.get(domain)?.inFlight.size ?? 0;
  }

  /** Throws ProtocolViolation for a request the host could not honestly have sent. */
  dispatch(domain: string, msg: RequestMessage, reply: Reply): void {
    const gate = this.gates.get(domain);
    if (!gate) throw new ProtocolViolation(`request from unknown domain ${domain}`);
    if (gate.inFlight.has(msg.id)) throw new ProtocolViolation(`request id ${msg.id} reused while still in flight`);
    const refuse = (error: WireError) => {
      this.opts.onRefusal?.(domain, msg.op, error);
      reply(msg.id, { ok: false, error });
    };
    if (gate.inFlight.size >= gate.policy.limits.queueLength) {
      refuse({ code: 'E_QUEUE', message: `too many platform calls in flight (limit ${gate.policy.limits.queueLength}); await earlier calls first` });
      return;
    }
    if (!this.take(gate)) {
      refuse({ code: 'E_RATE', message: `rate limit exceeded (${gate.policy.limits.ratePerSecond} calls/s)` });
      return;
    }
    const op = msg.op as RequestOp;
    const handler = this.opts.ops[op];
    const ac = new AbortController();
    gate.inFlight.set(msg.id, ac);
    const deadline = this.opts.deadlineMs(op, msg.args, gate.policy);
    const timer = setTimeout(() => ac.abort(new KernelError('E_DEADLINE', `${op} did not complete within ${deadline} ms`)), deadline);
    const aborted = new Promise<never>((_, reject) => {
      ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true });
    });
    Promise.race([handler({ domain, policy: gate.policy, signal: ac.signal }, msg.args), aborted])
      .then(
        (value) => ({ ok: true as const, value }),
        (err: unknown) => ({ ok: false as const, error: toWireError(err, this.opts.redact) }),
      )
      .then((result) => {
        clearTimeout(timer);
        // Cancelled by cancelAll: the isolate that asked is gone, nobody to answer.
        if (gate.inFlight.get(msg.id) !== ac) return;
        gate.inFlight.delete(msg.id);
        if (!result.ok && (result.error.code === 'E_POLICY' || result.error.code === 'E_LEASE' || result.error.code === 'E_APDU_DENIED')) {
          this.opts.onRefusal?.(domain, op, result.error);
        }
        reply(msg.id, result);
      });
  }

  private take(gate: Gate): boolean {
    const now = this.now();
    const rate = gate.policy.limits.ratePerSecond;
    gate.tokens = Math.min(rate, gate.tokens + ((now - gate.refilledAt) / 1000) * rate);
    gate.refilledAt = now;
    if (gate.tokens < 1) return false;
    gate.tokens -= 1;
    return true;
  }
}
