/**
 * Messages between the kernel and a domain host, one per frame (see frames.ts).
 * Both sides validate every decoded frame against these shapes (validate.ts) before acting on it:
 * a host that sends a malformed frame is killed by the kernel.
 */
import type { HandlerName } from '../sdk/api.js';

/** Data that may cross: msgpack-encodable plain values. */
export type WireValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | WireValue[]
  | { [key: string]: WireValue };

export interface WireError {
  /** Stable machine code, e.g. 'E_POLICY', 'E_LEASE', 'E_APDU', 'E_DEADLINE', 'E_QUOTA'. */
  code: string;
  message: string;
}

/** Limits the host enforces on its isolate; taken from the domain policy. */
export interface HostLimits {
  memoryMb: number;
  cpuMsPerCall: number;
  wallMsPerCall: number;
}

// ---- kernel -> host ----

/** First frame: the applet to run. The host answers `ready` or `fatal`. */
export interface InitMessage {
  t: 'init';
  domain: string;
  script: string;
  /** Name used in stack traces, e.g. "sesam-vitale/applet.js". */
  filename: string;
  limits: HostLimits;
  /** Clock granularity for Date and platform.clock inside the isolate (ms). */
  clockGranularityMs: number;
  /**
   * Largest frame body the kernel accepts from this host (the policy's maxMessageBytes). The host
   * refuses a larger request or result to the applet instead of sending it and being killed as a
   * protocol violator. Absent: the wire default.
   */
  maxFrameBytes?: number;
}

/** Invoke a global handler the applet defined. */
export interface CallMessage {
  t: 'call';
  id: number;
  handler: HandlerName;
  args: WireValue[];
}

/** Kernel's reply to a host `req`. */
export interface ReplyMessage {
  t: 'reply';
  id: number;
  ok: boolean;
  value?: WireValue;
  error?: WireError;
}

export type KernelToHost = InitMessage | CallMessage | ReplyMessage;

// ---- host -> kernel ----

export interface ReadyMessage {
  t: 'ready';
  /** Globals the applet defined among HANDLER_NAMES. */
  handlers: HandlerName[];
}

/** A platform call made by the applet, e.g. op 'slots.acquire', args { slot: 0, timeoutMs: 1000 }. */
export interface RequestMessage {
  t: 'req';
  id: number;
  op: string;
  args: { [key: string]: WireValue };
}

/** Result of a kernel `call`. */
export interface ResultMessage {
  t: 'result';
  id: number;
  ok: boolean;
  value?: WireValue;
  error?: WireError;
}

/**
 * The isolate broke a limit or died. The host has already disposed it and re-created a fresh one
 * (answering with a new `ready`), or exits if it cannot.
 */
export interface BreachMessage {
  t: 'breach';
  kind: 'cpu' | 'wall' | 'memory' | 'deadline' | 'crash';
  detail: string;
  /** The call that was running, if any. */
  callId?: number;
}

export interface FatalMessage {
  t: 'fatal';
  detail: string;
}

export type HostToKernel = ReadyMessage | RequestMessage | ResultMessage | BreachMessage | FatalMessage;

/** Ops the host may send in `req`; anything else is a protocol violation. */
export const REQUEST_OPS = [
  'slots.acquire',
  'slots.list',
  'lease.transmit',
  'lease.reset',
  'lease.release',
  'pin.verify',
  'ui.show',
  'ui.ask',
  'store.get',
  'store.put',
  'store.delete',
  'store.list',
  'store.transaction',
  'net.send',
  'net.fetch',
  'intents.request',
  'crypto.digest',
  'crypto.random',
  'clock.now',
  'log',
] as const;
export type RequestOp = (typeof REQUEST_OPS)[number];

/**
 * The `args` object of each request op, as the in-isolate shim sends it and the kernel validates it.
 * (Lease methods send the lease's `token` string; the kernel is the one that checks it.)
 */
export interface OpArgsMap {
  'slots.acquire': { slot: number; timeoutMs?: number };
  'slots.list': Record<string, never>;
  'lease.transmit': { token: string; apdu: Uint8Array };
  'lease.reset': { token: string };
  'lease.release': { token: string };
  'pin.verify': { token: string; reference: number; format: string; prompt?: string };
  'ui.show': { screen: WireValue };
  'ui.ask': { question: WireValue };
  'store.get': { key: string };
  'store.put': { key: string; value: WireValue };
  'store.delete': { key: string };
  'store.list': { prefix?: string; limit?: number };
  'store.transaction': { ops: WireValue[] };
  'net.send': { endpoint: string; message: WireValue };
  'net.fetch': { endpoint: string; request?: WireValue };
  'intents.request': { target: string; payload: WireValue };
  'crypto.digest': { alg: string; data: Uint8Array };
  'crypto.random': { n: number };
  'clock.now': Record<string, never>;
  log: { level: string; message: string; fields?: WireValue };
}
