/**
 * `di amo`: the emulated Assurance Maladie alone (SMTP in, POP3 mailbox out, ARL and RSP), for a
 * terminal started elsewhere or for looking at what it answers. Loopback only.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_POP3_PORT, DEFAULT_SMTP_PORT, parseAmoRules, startAmo } from '../../emulator/amo/server.js';

function portOption(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`${name} takes an integer 0..65535, got "${v}"`);
    return n;
  };
}

function paymentOption(v: string): 'immediate' | 'manual' {
  if (v !== 'immediate' && v !== 'manual') throw new InvalidArgumentError(`--payment takes "immediate" or "manual", got "${v}"`);
  return v;
}

interface AmoCliOptions {
  smtpPort: number;
  pop3Port: number;
  keyDir?: string;
  rules?: string;
  payment: 'immediate' | 'manual';
  json?: boolean;
}

export function registerAmoCommands(program: Command): void {
  program
    .command('amo')
    .description('run the emulated Assurance Maladie (SMTP in, checks, ARL/RSP to the POP3 mailbox) until Ctrl-C')
    .option('--smtp-port <n>', 'SMTP port (0: any free port)', portOption('--smtp-port'), DEFAULT_SMTP_PORT)
    .option('--pop3-port <n>', 'POP3 port (0: any free port)', portOption('--pop3-port'), DEFAULT_POP3_PORT)
    .option('--key-dir <dir>', 'emulator key directory (the cards must use the same one)')
    .option('--rules <file>', 'extra rejection rules (JSON, see docs/amo.md); default none')
    .option('--payment <mode>', 'immediate: RSP right after the ARL; manual: on SIGUSR2', paymentOption, 'immediate')
    .option('--json', 'print events as JSON lines')
    .action(async (o: AmoCliOptions) => {
      const base = resolve(program.opts<{ dataDir?: string }>().dataDir ?? '.di-data');
      const dataDir = join(base, 'amo');
      const rules = o.rules !== undefined ? parseAmoRules(JSON.parse(readFileSync(o.rules, 'utf8')) as unknown) : undefined;
      const amo = await startAmo({
        smtpPort: o.smtpPort,
        pop3Port: o.pop3Port,
        dataDir,
        payment: o.payment,
        ...(o.keyDir !== undefined ? { keyDir: o.keyDir } : {}),
        ...(rules ? { rules } : {}),
      });
      const say = (event: string, data: Record<string, unknown>, text: string): void => {
        console.log(o.json ? JSON.stringify({ event, ...data }) : text);
      };
      say('listening', { host: '127.0.0.1', smtpPort: amo.smtpPort, pop3Port: amo.pop3Port, dataDir, payment: o.payment },
        `AMO emulator: SMTP 127.0.0.1:${amo.smtpPort}, POP3 127.0.0.1:${amo.pop3Port} (store ${dataDir}, payment ${o.payment}); Ctrl-C to stop`);
      const onSettle = (): void => {
        const n = amo.settle();
        void amo.whenIdle().then(() => say('settled', { invoices: n }, `settled: ${n} invoice(s) paid`));
      };
      process.on('SIGUSR2', onSettle);
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      process.off('SIGUSR2', onSettle);
      await amo.close();
      const s = amo.stats();
      say('stopped', { stats: s }, `AMO stopped: ${s.filesReceived} message(s), ${s.duplicates} duplicate(s), ${s.lots} lot(s), ${s.invoicesAccepted} accepted, ${s.invoicesRejected} rejected, ${s.rspSent} RSP`);
    });
}
