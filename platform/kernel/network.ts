/**
 * The emulated device's network cable. Unplugged, the kernel's network transports (smtp, pop3,
 * acquirer) refuse at once with E_NET, without trying to connect: the device works as a portable
 * one, queueing what it would send. Not persisted: a device boots with its cable as it is (online).
 */
import { EventEmitter } from 'node:events';
import { KernelError } from './errors.js';

export const OFFLINE_MESSAGE = 'réseau indisponible : appareil hors réseau';

export interface NetworkLinkEvents {
  change: [online: boolean];
}

export class NetworkLink extends EventEmitter<NetworkLinkEvents> {
  private state: boolean;

  constructor(
    private readonly audit?: (event: 'network.online' | 'network.offline', fields: Record<string, unknown>) => void,
    online = true,
  ) {
    super();
    this.state = online;
  }

  get online(): boolean {
    return this.state;
  }

  /** Plugs (true) or unplugs (false) the cable; audited and announced only when the state changes. */
  setOnline(v: boolean): void {
    if (typeof v !== 'boolean') throw new TypeError('NetworkLink.setOnline: expected true or false');
    if (v === this.state) return;
    this.state = v;
    this.audit?.(v ? 'network.online' : 'network.offline', {});
    this.emit('change', v);
  }

  /** Throws E_NET when the cable is unplugged; the transports call it before any connection. */
  assertOnline(): void {
    if (!this.state) throw new KernelError('E_NET', OFFLINE_MESSAGE);
  }
}
