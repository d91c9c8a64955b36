/**
 * `di acquirer`: the emulated acquirer / issuer host alone, for a terminal started elsewhere or for
 * poking at the protocol. It answers on loopback only unless told otherwise.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from '../../platform/kernel/paths.js';
import { DEFAULT_ACQUIRER_PORT, parseRules, startAcquirer } from '../../emulator/acquirer/server.js';

function portOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port takes an integer 0..65535, got "${v}"`);
  return n;
}

interface AcquirerCliOptions {
  port: number;
  host: string;
  keyDir?: string;
  journal?: string;
  rules?: string;
}

export function registerAcquirerCommands(program: Command): void {
  program
    .command('acquirer')
    .description('run the emulated acquirer host (ARQC check, ARPC, reversals, batch) until Ctrl-C')
    .option('--port <n>', 'TCP port', portOption, DEFAULT_ACQUIRER_PORT)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--key-dir <dir>', 'emulator key directory (the cards must use the same one)')
    .option('--journal <file>', 'journal file (JSON Lines); default <data-dir>/acquirer/journal.jsonl')
    .option('--rules <file>', 'decision rules (JSON, see docs/acquirer.md); default built-in')
    .action(async (o: AcquirerCliOptions) => {
      const dataDir = resolve(program.opts<{ dataDir?: string }>().dataDir ?? '.di-data');
      const keyDir = o.keyDir ?? process.env.DI_EMULATOR_KEYS ?? join(repoRoot(), '.di-data', 'emulator-keys');
      const journalPath = o.journal ?? join(dataDir, 'acquirer', 'journal.jsonl');
      const rules = o.rules !== undefined ? parseRules(JSON.parse(readFileSync(o.rules, 'utf8')) as unknown) : undefined;
      const server = await startAcquirer({ port: o.port, host: o.host, keyDir, journalPath, ...(rules ? { rules } : {}) });
      console.log(`acquirer emulator listening on ${o.host}:${server.port} (journal ${journalPath}); Ctrl-C to stop`);
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await server.close();
      console.log(`acquirer stopped; ${server.journal().length} journal entries`);
    });
}
