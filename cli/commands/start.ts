/** `di start`: boot the emulated terminal on embedded defaults and keep it running. */
import { InvalidArgumentError, type Command } from 'commander';
import { Kernel } from '../../platform/kernel/kernel.js';
import { loadConfig } from '../../platform/kernel/config.js';
import { runConsole } from '../console.js';
import { serveControl } from '../control.js';
import { startAcquirer } from '../../emulator/acquirer/server.js';
import { startAmo } from '../../emulator/amo/server.js';
import { emulatorKeyDir } from '../../emulator/cards/profiles.js';
import { startTerminalServer } from '../../emulator/terminal/server.js';
import { join } from 'node:path';
import { HOSTLINK_DEFAULT_PORT } from '../../platform/wire/hostlink.js';
import { shortFingerprint } from '../../platform/kernel/hostlink/proof.js';

/** `dataDirOption` is the global --data-dir when given: it wins over a config file's dataDir, which wins over the default. */
export function registerStartCommand(program: Command, ctx: { dataDirOption: () => string | undefined }): void {
  program
    .command('start')
    .description('boot the emulated terminal (kernel, slot broker, one host per domain) and keep it running')
    .option('--config <file>', 'kernel configuration JSON (overrides embedded defaults)')
    .option('--once', 'boot, print the status and stop (smoke test)')
    .option('--port <port>', 'port of the web terminal on 127.0.0.1 (0 = any free port)', parsePort, 8080)
    .option('--no-web', 'do not serve the web terminal (console only)')
    .option('--tla-port <port>', `port of the TLA host link (the practice computer's link) on 127.0.0.1 (default ${HOSTLINK_DEFAULT_PORT}; 0 = any free port)`, parsePort)
    .option('--no-tla', 'do not serve the TLA host link')
    .action(async (o: { config?: string; once?: boolean; port: number; web: boolean; tlaPort?: number; tla: boolean }) => {
      const given = ctx.dataDirOption();
      const loaded = loadConfig(o.config, given !== undefined ? { dataDir: given } : {});
      // The host link is on by default here (off in the kernel's defaults, so tests booting many
      // kernels bind nothing). --once is a smoke test: an ephemeral port, unless one is asked for.
      const tlaPort = o.tlaPort ?? (o.once ? 0 : loaded.hostLink.port);
      const config = { ...loaded, hostLink: { ...loaded.hostLink, enabled: o.tla, port: tlaPort } };
      const kernel = await Kernel.boot({ config });
      // The emulated acquirer runs beside the kernel on loopback, at the endpoint the payment policy
      // names, reached only through the kernel's transport.
      const endpoint = [...kernel.policies.values()].flatMap((p) => p.network.endpoints).find((e) => e.kind === 'acquirer');
      const acquirer = endpoint
        ? await startAcquirer({ port: endpoint.port, host: endpoint.host, keyDir: emulatorKeyDir(), journalPath: join(config.dataDir, 'acquirer', 'journal.jsonl') }).catch((e: Error) => {
            console.log(`  acquirer emulator not started: ${e.message}`);
            return null;
          })
        : null;
      // The emulated Assurance Maladie likewise, at the SMTP and POP3 endpoints of the health policy,
      // with the mailbox account the kernel's POP3 transport logs in with.
      const endpoints = [...kernel.policies.values()].flatMap((p) => p.network.endpoints);
      const smtpEp = endpoints.find((e) => e.kind === 'smtp');
      const pop3Ep = endpoints.find((e) => e.kind === 'pop3');
      const amo =
        smtpEp && pop3Ep
          ? await startAmo({ smtpPort: smtpEp.port, pop3Port: pop3Ep.port, dataDir: join(config.dataDir, 'amo'), keyDir: emulatorKeyDir(), mailbox: config.mailbox }).catch((e: Error) => {
              console.log(`  AMO emulator not started: ${e.message}`);
              return null;
            })
          : null;
      const control = o.once ? null : await serveControl(kernel, config.dataDir);
      // The web terminal: the device's face, on loopback, behind a per-run access token.
      const web =
        o.once || !o.web
          ? null
          : await startTerminalServer({ kernel, amo, port: o.port }).catch((e: Error) => {
              console.log(`  web terminal not started: ${e.message}${(e as { code?: string }).code === 'EADDRINUSE' ? ' (try --port 0 or another port)' : ''}`);
              return null;
            });
      const st = kernel.status();
      console.log(`Dispositif Intégré: kernel up (data ${config.dataDir})`);
      for (const d of st.domains) console.log(`  domain ${d.domain.padEnd(16)} ${d.state} (pid ${d.pid ?? '-'})`);
      for (const r of st.refused) console.log(`  REFUSED ${r.source}: ${r.reason}`);
      console.log(`  reader: ${config.reader.driver}, ${config.reader.driver === 'emulated' ? kernel.reader.slotCount : config.reader.pcscReaders.length || 'all'} slots`);
      if (acquirer && endpoint) console.log(`  acquirer emulator on ${endpoint.host}:${acquirer.port}`);
      if (amo) console.log(`  AMO emulator: SMTP 127.0.0.1:${amo.smtpPort}, POP3 127.0.0.1:${amo.pop3Port}`);
      const link = kernel.hostLink;
      if (link) {
        const a = link.address();
        console.log(`Lien TLA (ordinateur du cabinet) : ${a.host}:${a.port} — terminal ${link.deviceId}, empreinte ${shortFingerprint(link.fingerprint)}, ${link.paired().length} ordinateur(s) associé(s)`);
      } else console.log(`Lien TLA (ordinateur du cabinet) : ${o.tla ? 'non démarré (voir REFUSED ci-dessus)' : 'désactivé (--no-tla)'}`);
      if (o.once) {
        await kernel.shutdown();
        await acquirer?.close();
        await amo?.close();
        process.exitCode = st.refused.length > 0 ? 1 : 0;
        return;
      }
      if (web) console.log(`Terminal web : ${web.url}`);
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
      control?.close();
      await web?.close();
      await kernel.shutdown();
      await acquirer?.close();
      await amo?.close();
    });
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || !Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port number from 0 to 65535');
  return n;
}
