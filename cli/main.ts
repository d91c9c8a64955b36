// `di`: the command line. Each command group lives in cli/commands/.
import { Command } from 'commander';

const program = new Command();
program.name('di').description('Dispositif Intégré multi-application: kernel, emulator and tools');
await program.parseAsync(process.argv);
