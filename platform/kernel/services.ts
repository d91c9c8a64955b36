/** What the capabilities reach in the kernel. Built once at boot; capabilities get nothing else. */
import type { SlotBroker } from '../slot-broker/types.js';
import type { Policy } from './policy/types.js';
import type { Terminal } from './terminal.js';
import type { DomainStore } from './store.js';
import type { WireValue } from '../wire/messages.js';
import type { NetworkEndpoint } from './policy/types.js';
import type { KernelConfig } from './config.js';
import type { DeviceClock } from './clock.js';
import type { NetworkLink } from './network.js';

/** A kernel-owned client for one endpoint kind (SMTP, POP3, acquirer…). */
export interface Transport {
  send(endpoint: NetworkEndpoint, message: WireValue, signal: AbortSignal): Promise<WireValue>;
  fetch(endpoint: NetworkEndpoint, request: WireValue, signal: AbortSignal): Promise<WireValue>;
}

export interface DomainLogger {
  write(domain: string, level: string, message: string, fields: unknown): void;
}

export interface IntentDispatcher {
  /** Calls `target`'s onIntent handler with the screen handed over; returns the raw result. */
  deliver(from: string, target: string, action: string, payload: { [k: string]: WireValue }, signal: AbortSignal): Promise<WireValue>;
}

export interface KernelServices {
  config: KernelConfig;
  broker: SlotBroker;
  terminal: Terminal;
  /** Domain-attributed audit: budgeted per domain (see audit-budget.ts). */
  audit: { append(event: string, domain: string, fields: Record<string, unknown>): void };
  store(domain: string): DomainStore;
  policy(domain: string): Policy | undefined;
  transports: Map<NetworkEndpoint['kind'], Transport>;
  logger: DomainLogger;
  intents: IntentDispatcher;
  /** The device clock (system time + the persisted offset): what platform.clock.now reads. */
  clock: DeviceClock;
  /** The device's network cable; the transports refuse while it is unplugged. */
  network: NetworkLink;
}
