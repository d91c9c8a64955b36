// `di audit verify|show`: check and read the kernel's hash-chained audit log (platform/kernel/audit.ts).
import { Command, InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readAuditEntries, verifyAuditFile, type AuditEntry } from '../../platform/kernel/audit.js';
import { redactText } from '../../platform/kernel/redact.js';

export interface AuditCommandContext {
  dataDir: () => string;
}

function auditPath(ctx: AuditCommandContext, file: string | undefined): string {
  return file !== undefined ? resolve(file) : join(ctx.dataDir(), 'audit.log');
}

function parseSeq(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`--since takes a sequence number (integer ≥ 0), got "${value}"`);
  return n;
}

function formatEntry(e: AuditEntry): string {
  const fields = Object.keys(e.fields).length === 0 ? '' : ` ${JSON.stringify(e.fields)}`;
  // Entries are redacted when written; masking again protects against a hand-edited file.
  return redactText(`#${e.seq} ${e.ts} ${e.domain ?? 'kernel'} ${e.event}${fields}`);
}

export function registerAuditCommands(program: Command, ctx: AuditCommandContext): void {
  const audit = program.command('audit').description("check and read the kernel's audit log");

  audit
    .command('verify')
    .description('check the hash chain of the audit log; exit 1 when it is broken')
    .option('--file <path>', 'audit file (default: <data-dir>/audit.log)')
    .option('--json', 'print the result as JSON')
    .action((opts: { file?: string; json?: boolean }) => {
      const path = auditPath(ctx, opts.file);
      const result = verifyAuditFile(path);
      if (opts.json) {
        console.log(JSON.stringify({ file: path, ...result }));
      } else if (result.ok) {
        console.log(`audit chain OK: ${result.entries} entries`);
      } else if (result.firstBadLine === undefined) {
        console.log(`audit chain BROKEN: ${result.reason ?? 'unknown reason'}`);
      } else {
        console.log(`audit chain BROKEN at line ${result.firstBadLine}: ${result.reason ?? 'unknown reason'}`);
        if (result.torn) {
          console.log(
            `  (a torn write, not tampering: the ${result.entries} entries before it verify; the kernel will not append until it is set aside)`,
          );
        }
      }
      if (!result.ok) process.exitCode = 1;
    });

  audit
    .command('show')
    .description('print audit entries')
    .option('--file <path>', 'audit file (default: <data-dir>/audit.log)')
    .option('--since <seq>', 'only entries after this sequence number', parseSeq)
    .option('--domain <domain>', "only entries of this domain ('kernel' for the kernel's own)")
    .option('--json', 'one JSON entry per line')
    .action((opts: { file?: string; since?: number; domain?: string; json?: boolean }) => {
      const path = auditPath(ctx, opts.file);
      if (!existsSync(path)) {
        console.error(`di audit show: no audit log at ${path}`);
        process.exitCode = 1;
        return;
      }
      const { entries, problems } = readAuditEntries(path, {
        ...(opts.since !== undefined && { sinceSeq: opts.since }),
        ...(opts.domain !== undefined && { domain: opts.domain }),
      });
      for (const e of entries) console.log(opts.json ? JSON.stringify(e) : formatEntry(e));
      for (const p of problems) console.error(`di audit show: line ${p.line} skipped: ${redactText(p.reason)}`);
      if (problems.length > 0) process.exitCode = 1;
    });
}
