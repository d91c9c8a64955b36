/**
 * Evidence for the `di security` report: a test attaches what it saw (audit excerpts, measurements,
 * CLI output) to its task's `meta`; vitest's JSON reporter carries `meta` into the results file and
 * the runner (test/security/runner.ts) prints it under the attack.
 */
export interface EvidenceContext {
  task: { meta: object };
}

export function evidence(ctx: EvidenceContext, label: string, value: unknown): void {
  const meta = ctx.task.meta as { evidence?: Record<string, unknown> };
  meta.evidence ??= {};
  meta.evidence[label] = value;
}

/** A compact audit excerpt: seq, domain, event and fields of the entries that matter. */
export function auditExcerpt(entries: ReadonlyArray<{ seq: number; domain: string | null; event: string; fields: unknown }>, max = 8): string[] {
  return entries.slice(-max).map((e) => `#${e.seq} ${e.domain ?? 'kernel'} ${e.event} ${JSON.stringify(e.fields)}`);
}
