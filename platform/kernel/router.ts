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

/**
 * One call in flight. Its AbortSignal is made only when a capability asks for it: an AbortController
 * and its listener cost more than a whole card exchange, and most ops (an APDU, a store read) never
 * wait on anything the signal could cut short. A signal asked for after the abort comes out aborted,
 * with the same reason.
 */
class InFlightCall {
  private controller: AbortController | null = null;
  private reason: unknown = undefined;
  private aborted = false;

  constructor(private readonly onAbort: (reason: unknown) => void) {}

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.onAbort(reason);
  }
}

interface Gate {
  policy: Policy;
  inFlight: Map<number, InFlightCall>;
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
    // Forgotten before the aborts run, so that no call answers: the isolate that asked is gone.
    const calls = [...gate.inFlight.values()];
    gate.inFlight.clear();
    for (const call of calls) call.abort(new KernelError('E_TERMINATED', 'the caller was terminated'));
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
    const deadline = this.opts.deadlineMs(op, msg.args, gate.policy);
    let settled = false;
    const finish = (result: { ok: true; value: WireValue | undefined } | { ok: false; error: WireError }): void => {
      // First outcome wins: the handler, the deadline or a cancellation; later ones are dropped.
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Cancelled by cancelAll: the isolate that asked is gone, nobody to answer.
      if (gate.inFlight.get(msg.id) !== call) return;
      gate.inFlight.delete(msg.id);
      if (!result.ok && (result.error.code === 'E_POLICY' || result.error.code === 'E_LEASE' || result.error.code === 'E_APDU_DENIED')) {
        this.opts.onRefusal?.(domain, op, result.error);
      }
      reply(msg.id, result);
    };
    const fail = (err: unknown): void => finish({ ok: false, error: toWireError(err, this.opts.redact) });
    const call = new InFlightCall(fail);
    gate.inFlight.set(msg.id, call);
    const timer = setTimeout(() => call.abort(new KernelError('E_DEADLINE', `${op} did not complete within ${deadline} ms`)), deadline);
    const ctx: CallContext = {
      domain,
      policy: gate.policy,
      get signal() {
        return call.signal;
      },
    };
    let pending: Promise<WireValue | undefined>;
    try {
      pending = handler(ctx, msg.args);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then((value) => finish({ ok: true, value }), fail);
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
