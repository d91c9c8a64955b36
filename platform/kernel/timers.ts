/**
 * Policy timers: the kernel calls a domain's onTimer handler every `everyMs` for each timer its
 * policy lists (nothing by default; the sandbox has no timers of its own). A timer whose previous
 * call has not returned is skipped, not queued, so a slow handler cannot pile calls up; a domain
 * that is down or has no onTimer is skipped too.
 */
import type { Policy } from './policy/types.js';

export class DomainTimers {
  private readonly intervals: NodeJS.Timeout[] = [];

  constructor(
    private readonly fire: (domain: string, name: string) => Promise<unknown>,
    private readonly ready: (domain: string) => boolean,
  ) {}

  start(policy: Policy): void {
    for (const t of policy.timers ?? []) {
      let running = false;
      const h = setInterval(() => {
        if (running || !this.ready(policy.domain)) return;
        running = true;
        this.fire(policy.domain, t.name)
          .catch(() => undefined) // a failing call is the host's business (audited as such); the next tick comes anyway
          .finally(() => {
            running = false;
          });
      }, t.everyMs);
      h.unref();
      this.intervals.push(h);
    }
  }

  stop(): void {
    for (const h of this.intervals.splice(0)) clearInterval(h);
  }
}
