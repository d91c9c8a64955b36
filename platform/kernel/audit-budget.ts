/**
 * Bounds what one domain can make the kernel write to the audit log. Refusals and host events are
 * audited in full up to a budget per window; beyond it they are counted, and one summary entry says
 * how many were left out. An applet granted nothing must not be able to fill the disk or burn an
 * fsync per call.
 */
import type { AuditLog } from './audit.js';

export class AuditBudget {
  private readonly windows = new Map<string, { start: number; used: number; suppressed: Map<string, number> }>();

  constructor(
    /** The kernel's audit log, or a sink with its append (the host link's, which writes kernel entries). */
    private readonly audit: { append: (...a: Parameters<AuditLog['append']>) => unknown },
    private readonly perWindow = 20,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  append(event: string, domain: string, fields: Record<string, unknown>): void {
    const t = this.now();
    let w = this.windows.get(domain);
    if (!w || t - w.start >= this.windowMs) {
      if (w) this.flush(domain, w);
      w = { start: t, used: 0, suppressed: new Map() };
      this.windows.set(domain, w);
    }
    if (w.used < this.perWindow) {
      w.used++;
      this.audit.append(event, domain, fields);
      return;
    }
    w.suppressed.set(event, (w.suppressed.get(event) ?? 0) + 1);
  }

  /** Writes pending summaries (at the end of a window, and at shutdown). */
  flushAll(): void {
    for (const [domain, w] of this.windows) this.flush(domain, w);
    this.windows.clear();
  }

  private flush(domain: string, w: { suppressed: Map<string, number> }): void {
    if (w.suppressed.size === 0) return;
    this.audit.append('audit.suppressed', domain, { counts: Object.fromEntries(w.suppressed), windowMs: this.windowMs });
    w.suppressed.clear();
  }
}
