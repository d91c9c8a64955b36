/** `di eval`: run an evaluator's script as an applet and print one JSON verdict. */
import type { Command } from 'commander';
import { runEval } from '../eval-harness.js';

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('run a script (defining a global async function main()) as an applet in a fresh, unsigned development platform; prints one JSON object')
    .requiredOption('--applet <file>', 'the script to run as an applet')
    .option('--policy <file>', 'domain policy JSON (default: a policy that grants nothing)')
    .option('--card <profile>', 'card profile inserted into slot 0 before main() runs')
    .option('--keys <keys>', 'keys typed ahead on the keypad, e.g. 1234OK')
    .option('--timeout-ms <ms>', 'deadline for main()', (v) => Number.parseInt(v, 10))
    .option('--keep-data', 'keep the run\'s data directory')
    .action(async (o: { applet: string; policy?: string; card?: string; keys?: string; timeoutMs?: number; keepData?: boolean }) => {
      const r = await runEval(o);
      process.stdout.write(JSON.stringify(r, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v), 2) + '\n');
      process.exitCode = r.kernelHealthy ? 0 : 3;
    });
}
