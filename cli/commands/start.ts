/** `di start`: boot the emulated terminal on embedded defaults and keep it running. */
import type { Command } from 'commander';
import { Kernel } from '../../platform/kernel/kernel.js';
import { loadConfig } from '../../platform/kernel/config.js';
import { runConsole } from '../console.js';
import { startAcquirer } from '../../emulator/acquirer/server.js';
import { emulatorKeyDir } from '../../emulator/cards/profiles.js';
import { join } from 'node:path';

export function registerStartCommand(program: Command, ctx: { dataDir: () => string }): void {
  program
    .command('start')
    .description('boot the emulated terminal (kernel, slot broker, one host per domain) and keep it running')
    .option('--config <file>', 'kernel configuration JSON (overrides embedded defaults)')
    .option('--once', 'boot, print the status and stop (smoke test)')
    .action(async (o: { config?: string; once?: boolean }) => {
      const config = loadConfig(o.config, { dataDir: ctx.dataDir() });
      // The emulated back ends run beside the kernel as servers on loopback, reached only through its transports.
      const acquirer = await startAcquirer({ port: 8583, keyDir: emulatorKeyDir(), journalPath: join(config.dataDir, 'acquirer', 'journal.jsonl') }).catch((e: Error) => {
        console.log(`  acquirer emulator not started: ${e.message}`);
        return null;
      });
      const kernel = await Kernel.boot({ config });
      const st = kernel.status();
      console.log(`Dispositif Intégré: kernel up (data ${config.dataDir})`);
      for (const d of st.domains) console.log(`  domain ${d.domain.padEnd(16)} ${d.state} (pid ${d.pid ?? '-'})`);
      for (const r of st.refused) console.log(`  REFUSED ${r.source}: ${r.reason}`);
      console.log(`  reader: ${config.reader.driver}, ${config.reader.driver === 'emulated' ? kernel.reader.slotCount : config.reader.pcscReaders.length || 'all'} slots`);
      if (acquirer) console.log(`  acquirer emulator on 127.0.0.1:${acquirer.port}`);
      if (o.once) {
        await kernel.shutdown();
        await acquirer?.close();
        process.exitCode = st.refused.length > 0 ? 1 : 0;
        return;
      }
      console.log('Ctrl-C or "quit" to stop.');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
        // "quit" stops the terminal; the end of a non-interactive input (a service manager's
        // closed stdin) does not.
        runConsole(kernel, process.stdin, process.stdout).then((how) => {
          if (how === 'quit' || process.stdin.isTTY) resolve();
        });
      });
      await kernel.shutdown();
      await acquirer?.close();
    });
}
