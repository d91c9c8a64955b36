/**
 * `di demo`: a practitioner's scripted day on the real platform (emulator/terminal/demo.ts): the
 * médecin's consultations, visits, DREs, a degraded FSE, card payments, the nurse's series, end-of-day
 * transmission, ARL and RSP back, a correction, and a summary table in French (or JSON with --json).
 * A progress bar on stderr when it is a terminal, plain lines otherwise.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { demoJson, runDemo, summaryTableFr } from '../../emulator/terminal/demo.js';

function progressBar(done: number, total: number, label: string): string {
  const width = 24;
  const full = Math.round((done / Math.max(1, total)) * width);
  const cols = process.stderr.columns ?? 100;
  const head = `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(done).padStart(String(total).length)}/${total} `;
  const room = Math.max(10, cols - head.length - 1);
  return head + (label.length > room ? `${label.slice(0, room - 1)}…` : label);
}

export function registerDemoCommand(program: Command, ctx: { dataDirOption: () => string | undefined }): void {
  program
    .command('demo')
    .description("play a practitioner's day end to end (cards, FSE/DRE, payments, series, transmission, ARL/RSP) and print a summary")
    .option('--patients <n>', 'patients seen by the médecin', '12')
    .option('--seed <n>', 'seed of the deterministic draw of patients', '20240607')
    .option('--json', 'print the summary as JSON only')
    .option('--data-dir <dir>', 'keep the day in this data directory (default: a temporary one, removed)')
    .action(async (o: { patients: string; seed: string; json?: boolean; dataDir?: string }) => {
      const patients = Number(o.patients);
      const seed = Number(o.seed);
      if (!Number.isInteger(patients) || patients < 1 || patients > 200) throw new Error('--patients: an integer from 1 to 200');
      if (!Number.isInteger(seed)) throw new Error('--seed: an integer');
      const dataDir = o.dataDir !== undefined ? resolve(o.dataDir) : ctx.dataDirOption();
      const tty = process.stderr.isTTY === true;
      let drawn = false;
      const s = await runDemo({
        patients,
        seed,
        ...(dataDir !== undefined ? { dataDir } : {}),
        onProgress: (done, total, label) => {
          if (tty) {
            process.stderr.write(`\r\x1b[2K${progressBar(done, total, label)}`);
            drawn = true;
          } else process.stderr.write(`[${done}/${total}] ${label}\n`);
        },
      });
      if (drawn) process.stderr.write('\r\x1b[2K');
      if (o.json) {
        process.stdout.write(`${JSON.stringify(demoJson(s))}\n`);
      } else {
        if (tty) for (const l of s.journal) process.stdout.write(`  ${l}\n`);
        process.stdout.write(`${summaryTableFr(s)}\n`);
        if (dataDir !== undefined) process.stdout.write(`Données conservées dans ${dataDir}\n`);
      }
      if (s.lost !== 0) process.exitCode = 1;
    });
}
