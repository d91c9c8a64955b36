// `di`: the command line. Each command group lives in cli/commands/.
import { Command } from 'commander';
import { resolve } from 'node:path';
import { registerStartCommand } from './commands/start.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerAppletCommands } from './commands/applet.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerCardsCommands } from './commands/cards.js';
import { registerAcquirerCommands } from './commands/acquirer.js';
import { registerSecurityCommands } from './commands/security.js';
import { registerStatusCommand } from './commands/status.js';
import { registerAmoCommands } from './commands/amo.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerTlaCommands } from './commands/tla.js';

const program = new Command();
program
  .name('di')
  .description('Dispositif Intégré multi-application: kernel, emulator and tools')
  .option('--data-dir <dir>', 'data directory for audit, stores, keys, packages (default ./.di-data)');

const dataDirOption = (): string | undefined => {
  const d = program.opts<{ dataDir?: string }>().dataDir;
  return d === undefined ? undefined : resolve(d);
};
const dataDir = () => dataDirOption() ?? resolve('.di-data');
registerStartCommand(program, { dataDirOption });
registerEvalCommand(program);
registerBenchCommand(program);
registerAppletCommands(program, { dataDir, trustAnchors: () => [] });
registerAuditCommands(program, { dataDir });
registerCardsCommands(program);
registerAcquirerCommands(program);
registerAmoCommands(program);
registerSecurityCommands(program);
registerStatusCommand(program, { dataDir });
registerDemoCommand(program, { dataDirOption });
registerTlaCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  console.error(`di: ${(e as Error).message}`);
  process.exitCode = 2;
}
