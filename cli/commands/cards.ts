/**
 * `di cards list|check|serve`: the emulator's card profiles, their validation, and serving one into a
 * real pcscd through vsmartcard's vpcd (so any PC/SC application, `pcsc_scan` included, sees it).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { toHex } from '../../platform/sdk/hex.js';
import { cardProfiles, loadCard } from '../../emulator/cards/profiles.js';
import { checkAllProfiles } from '../../emulator/cards/registry.js';
import { serveCardToVpcd, VPCD_DEFAULT_PORT, vpcdPortForSlot, type VpcdBridgeStatus } from '../../emulator/reader/vpcd.js';

function intOption(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} takes an integer ${min}..${max}, got "${v}"`);
    return n;
  };
}

function describeStatus(s: VpcdBridgeStatus): string {
  switch (s.type) {
    case 'connected':
      return `card inserted: connected to vpcd at ${s.host}:${s.port}`;
    case 'disconnected':
      return `card out of the reader: ${s.reason}`;
    case 'power':
      return `power ${s.action}${s.atr !== null ? `, ATR ${toHex(s.atr)}` : ''}`;
    case 'mute':
      return `mute card: ${s.detail}`;
    case 'error':
      return `error: ${s.detail}`;
  }
}

export function registerCardsCommands(program: Command): void {
  const cards = program.command('cards').description("the emulator's card profiles; serve one into a real pcscd");

  cards
    .command('list')
    .description('list card profiles (name, model, description)')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const list = cardProfiles().map((p) => ({ name: p.name, kind: p.kind, description: p.describe }));
      if (o.json) {
        console.log(JSON.stringify(list, null, 2));
        return;
      }
      const w = Math.max(4, ...list.map((p) => p.name.length));
      const k = Math.max(4, ...list.map((p) => p.kind.length));
      console.log(`${'NAME'.padEnd(w)}  ${'KIND'.padEnd(k)}  DESCRIPTION`);
      for (const p of list) console.log(`${p.name.padEnd(w)}  ${p.kind.padEnd(k)}  ${p.description}`);
    });

  cards
    .command('check')
    .description('validate every card profile against its model schema; exit 1 naming file and field')
    .action(() => {
      const errors = checkAllProfiles();
      if (errors.length === 0) {
        console.log(`all ${cardProfiles().length} card profiles are valid`);
        return;
      }
      for (const e of errors) console.error(`${e.file}: ${e.field}: ${e.reason}`);
      console.error(`${errors.length} invalid card profile(s)`);
      process.exitCode = 1;
    });

  cards
    .command('serve')
    .description(
      'serve an emulated card into a running pcscd through vsmartcard-vpcd until Ctrl-C ' +
        '(slot N connects to vpcd port <port> + N; stock reader.conf: 35963 for slot 0, 35964 for slot 1)',
    )
    .requiredOption('--profile <name>', 'card profile (see `di cards list`)')
    .option('--slot <n>', 'vpcd reader slot', intOption('--slot', 0, 9), 0)
    .option('--port <port>', "vpcd port of slot 0 (reader.conf CHANNELID)", intOption('--port', 1, 65535), VPCD_DEFAULT_PORT)
    .option('--host <host>', 'where pcscd (vpcd) runs', '127.0.0.1')
    .option('--quiet', 'print only errors')
    .action(async (o: { profile: string; slot: number; port: number; host: string; quiet?: boolean }) => {
      const card = await loadCard(o.profile);
      const port = vpcdPortForSlot(o.slot, o.port);
      const log = (s: VpcdBridgeStatus): void => {
        if (o.quiet && s.type !== 'error' && s.type !== 'mute') return;
        console.log(`[${new Date().toISOString()}] ${describeStatus(s)}`);
      };
      console.log(`serving card profile "${o.profile}" (${card.kind}) to vpcd ${o.host}:${port} (slot ${o.slot}); Ctrl-C to stop`);
      const bridge = serveCardToVpcd({ card, host: o.host, port, onStatus: log });
      const hint = setTimeout(() => {
        if (!bridge.connected) {
          console.error(
            `still waiting for vpcd at ${o.host}:${port}: is pcscd running (e.g. \`pcscd --foreground\`) with vsmartcard-vpcd installed ` +
              '(/etc/reader.conf.d/vpcd)? Retrying until Ctrl-C.',
          );
        }
      }, 3000);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      clearTimeout(hint);
      await bridge.close();
      console.log(`card removed; served ${bridge.apduCount} APDUs`);
    });
}
