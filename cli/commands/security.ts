/**
 * `di security [--report FILE] [--json] [--fuzz-minutes N]`: runs the attack catalogue
 * (test/security/**), writes a Markdown and an HTML report, prints a JSON summary with --json and
 * exits non-zero when any attack was not held.
 */
import { Command, InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import { repoRoot } from '../../platform/kernel/paths.js';
import { runSecurity, writeReports } from '../../test/security/runner.js';

function minutes(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 24 * 60) throw new InvalidArgumentError(`--fuzz-minutes takes a number of minutes (0..1440), got "${v}"`);
  return n;
}

export function registerSecurityCommands(program: Command): void {
  program
    .command('security')
    .description('run the isolation and confinement suite (the attack catalogue); Markdown + HTML report; --json summary')
    .option('--report <file>', 'report path (FILE.md and FILE.html are written)', 'security-report.md')
    .option('--json', 'print { total, passed, failed, families } as JSON')
    .option('--fuzz-minutes <n>', 'run the fuzz properties for about N minutes in total instead of a few hundred runs each', minutes)
    .option('--verbose', "show vitest's output")
    .action(async (o: { report: string; json?: boolean; fuzzMinutes?: number; verbose?: boolean }) => {
      const run = await runSecurity({
        root: repoRoot(),
        ...(o.fuzzMinutes !== undefined && { fuzzMinutes: o.fuzzMinutes }),
        ...(o.verbose && { onOutput: (c: string) => process.stderr.write(c) }),
      });
      const files = writeReports(run, resolve(o.report));
      if (o.json) {
        process.stdout.write(JSON.stringify(run.summary, null, 2) + '\n');
      } else {
        const s = run.summary;
        console.log(`di security: ${s.passed}/${s.total} attacks held, ${s.failed} failed (${Math.round(run.durationMs / 1000)} s)`);
        for (const a of run.attacks.filter((x) => x.result === 'failed')) console.log(`  FAILED ${a.id}: ${a.attack}`);
        console.log(`report: ${files.markdown}, ${files.html}`);
      }
      if (run.summary.failed > 0 || run.summary.total === 0) process.exitCode = 1;
    });
}
