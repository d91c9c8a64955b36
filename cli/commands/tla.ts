/**
 * `di tla …`: the practice computer's side of the TLA host link (tla/, docs/TLA.md): pair with the
 * device by the code on its screen, identify it, read or set its date, load the day's data, unload
 * and erase the invoices and beneficiaries, transmit the unloaded invoices to the AMO, list what this
 * computer holds.
 *
 * Exit codes: 0 done; 1 failed (the message says why); 2 wrong usage; 3 device unreachable;
 * 4 files left waiting (the AMO did not take them: run again later); 5 refused (not paired, pairing
 * refused, or not the paired device).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { resolve } from 'node:path';
import { defaultHostName, TlaClient, TlaError, type DeviceAddress } from '../../tla/client.js';
import { shortFingerprint } from '../../tla/identity.js';
import { TlaStore } from '../../tla/store.js';
import { syncDevice, type SyncReport } from '../../tla/sync.js';
import { DEFAULT_AMO, transmitStored, type TransmitReport } from '../../tla/transmit.js';
import { CPS_PIN_ENV, openCps } from '../../tla/cps-signer.js';
import { sampleDay } from '../../tla/sample-day.js';
import { HOSTLINK_DEFAULT_PORT, type DayDataArgs } from '../../platform/wire/hostlink.js';
import { DEFAULT_POP3, DEFAULT_POP3_PASSWORD, fetchReturns, POP3_PASSWORD_ENV, type FetchReturnsReport } from '../../tla/returns.js';

export const EXIT = { failed: 1, usage: 2, unreachable: 3, waiting: 4, refused: 5 } as const;

interface Common {
  dir: string;
  device: DeviceAddress;
  json?: boolean;
}

export function parseHostPort(flag: string, defaultPort: number): (v: string) => DeviceAddress {
  return (v) => {
    const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+))(?::([0-9]{1,5}))?$/.exec(v.trim());
    const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
    if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`${flag} takes host:port (e.g. 127.0.0.1:${defaultPort}), got "${v}"`);
    return { host: (m[1] ?? m[2]) as string, port };
  };
}

function isoOption(v: string): number {
  const ms = Date.parse(v);
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}/.test(v) || Number.isNaN(ms)) throw new InvalidArgumentError(`--set takes an ISO date and time (e.g. 2025-03-14T09:30:00Z), got "${v}"`);
  return ms;
}

function withCommon(c: Command): Command {
  return c
    .option('--dir <dir>', "this computer's TLA directory (identity, store)", '.di-tla')
    .option('--device <host:port>', 'the device', parseHostPort('--device', HOSTLINK_DEFAULT_PORT), { host: '127.0.0.1', port: HOSTLINK_DEFAULT_PORT })
    .option('--json', 'print the result as JSON');
}

/** The exit code a TlaError means. */
export function exitCodeOf(e: unknown): number {
  if (!(e instanceof TlaError)) return EXIT.failed;
  switch (e.code) {
    case 'E_CONNECT':
    case 'E_TIMEOUT':
    case 'E_CLOSED':
      return EXIT.unreachable;
    case 'E_UNPAIRED':
    case 'E_PAIRING':
    case 'E_DEVICE_MISMATCH':
    case 'E_NOT_PAIRED':
    case 'E_PROOF':
      return EXIT.refused;
    case 'E_ARGS':
      return EXIT.usage;
    default:
      return EXIT.failed;
  }
}

/** Bytes never reach the terminal: JSON shows their length only. */
function jsonSafe(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: v.length };
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}

function out(o: Common, data: unknown, text: string): void {
  console.log(o.json ? JSON.stringify(jsonSafe(data), null, 2) : text);
}

function fail(o: Common, err: unknown): void {
  const code = err instanceof TlaError ? err.code : 'E_FAILED';
  const msg = err instanceof Error ? err.message : String(err);
  const detail = err instanceof TlaError && err.domainCode ? ` [${err.domainCode}${err.field ? ` : ${err.field}` : ''}]` : err instanceof TlaError && err.field ? ` [${err.field}]` : '';
  if (o.json) console.log(JSON.stringify({ ok: false, error: { code, message: msg, ...(err instanceof TlaError && err.domainCode ? { domainCode: err.domainCode } : {}) } }));
  console.error(`di tla : ${msg}${detail}`);
  process.exitCode = exitCodeOf(err);
}

async function withClient<T>(o: Common, f: (c: TlaClient) => Promise<T>, extra: { forPairing?: boolean } = {}): Promise<T | undefined> {
  let client: TlaClient | undefined;
  try {
    client = await TlaClient.connect({ dir: resolve(o.dir), device: o.device, ...(extra.forPairing ? { forPairing: true } : {}) });
    return await f(client);
  } catch (err) {
    fail(o, err);
    return undefined;
  } finally {
    client?.close();
  }
}

const when = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';

/** Where `di tla pair` also takes the code from (scripts), rather than argv. */
export const PAIR_CODE_ENV = 'DI_TLA_PAIR_CODE';

/**
 * The pairing code: --code, DI_TLA_PAIR_CODE, or typed at the terminal. Typed is best: a code on
 * the command line is in every user's process list while it is valid, and whoever pairs first with
 * it gets the device's health data.
 */
async function pairCode(flag: string | undefined): Promise<string> {
  if (flag !== undefined) return flag;
  const env = process.env[PAIR_CODE_ENV];
  if (env !== undefined && env !== '') return env;
  if (!process.stdin.isTTY) throw new TlaError('E_ARGS', `code d'association : tapez-le quand il est demandé (dans un terminal), ou donnez-le dans la variable ${PAIR_CODE_ENV}`, undefined, 'code');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question("Code d'association affiché sur l'appareil : ");
  } finally {
    rl.close();
  }
}

/** The CPS PIN: DI_TLA_CPS_PIN, or typed on the terminal without echo. Never printed. */
async function cpsPin(): Promise<string> {
  const env = process.env[CPS_PIN_ENV];
  if (env !== undefined && env !== '') return env;
  if (!process.stdin.isTTY) throw new TlaError('E_ARGS', `code porteur CPS : donnez-le dans la variable ${CPS_PIN_ENV} (ou lancez la commande dans un terminal pour le saisir)`, undefined, 'pin');
  process.stderr.write('Code porteur CPS (non affiché) : ');
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((done, reject) => {
      let pin = '';
      const onData = (b: Buffer): void => {
        for (const ch of b.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            done(pin);
            return;
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            reject(new TlaError('E_ARGS', 'saisie du code annulée', undefined, 'pin'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') pin = pin.slice(0, -1);
          else if (/[0-9]/.test(ch) && pin.length < 8) pin += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

function renderSync(r: SyncReport): string {
  const i = r.unload.invoices;
  const b = r.unload.beneficiaries;
  const lines = [
    `Déchargement de l'appareil ${shortFingerprint(r.device)} :`,
    `  Factures : ${i.received} reçue(s) en ${i.pages} page(s), ${i.added} nouvelle(s), ${i.already} déjà enregistrée(s)`,
    `  Lectures Vitale : ${b.received} reçue(s), ${b.added} nouvelle(s), ${b.already} déjà enregistrée(s)`,
    `  Effacées sur l'appareil : ${r.erase.invoices.erased} facture(s) (${r.erase.invoices.already} déjà), ${r.erase.beneficiaries.erased} lecture(s) (${r.erase.beneficiaries.already} déjà)`,
  ];
  for (const c of [...i.conflicts, ...b.conflicts]) lines.push(`  CONFLIT : ${c} déjà enregistrée avec un autre contenu ; laissée sur l'appareil`);
  for (const x of [...r.erase.invoices.refused, ...r.erase.beneficiaries.refused]) lines.push(`  Effacement refusé : ${x.ref} (${x.reason})`);
  return lines.join('\n');
}

function renderTransmit(t: TransmitReport): string {
  const lines = [`Transmission : ${t.lotsBuilt} lot(s) constitué(s), ${t.lotsSigned} signé(s), ${t.filesBuilt} fichier(s) constitué(s), ${t.filesSent.length} envoyé(s)`];
  for (const f of t.filesSent) lines.push(`  Envoyé : ${f}`);
  for (const f of t.filesWaiting) lines.push(`  En attente : ${f.fileId} (${f.attempts} essai(s)${f.lastError ? ` : ${f.lastError}` : ''})`);
  for (const e of t.errors) lines.push(`  ${e}`);
  return lines.join('\n');
}

interface TransmitCli extends Common {
  cps?: string;
  amo: DeviceAddress;
}

async function runTransmit(o: TransmitCli): Promise<TransmitReport | undefined> {
  const store = new TlaStore(resolve(o.dir));
  try {
    const profile = o.cps;
    const t = await transmitStored(store, {
      amo: o.amo,
      ...(profile !== undefined ? { cps: async () => openCps({ profile, pin: await cpsPin() }) } : {}),
    });
    return t;
  } finally {
    store.close();
  }
}

function transmitExit(t: TransmitReport): void {
  if (t.filesWaiting.length > 0) process.exitCode = EXIT.waiting;
  else if (t.errors.length > 0) process.exitCode = EXIT.failed;
}

export function registerTlaCommands(program: Command): void {
  const tla = program.command('tla').description("the practice computer's side of the TLA host link (docs/TLA.md)");

  withCommon(tla.command('pair'))
    .description('pair this computer with the device, using the code shown on the device screen')
    .option('--code <code>', `the 8-digit code shown on the device screen (e.g. "1234 5678"); better typed when asked, or in ${PAIR_CODE_ENV}: on the command line other users of this computer see it (ps)`)
    .option('--name <name>', 'the name the device will know this computer by', defaultHostName(hostname()))
    .action(async (o: Common & { code?: string; name: string }) => {
      let code: string;
      try {
        code = await pairCode(o.code);
      } catch (err) {
        fail(o, err);
        return;
      }
      await withClient(
        o,
        async (c) => {
          const r = await c.pair(code, o.name);
          out(o, { ok: true, deviceId: r.deviceId, fingerprint: r.fingerprint, hostFingerprint: c.identity.fingerprint }, [
            `Associé à l'appareil ${r.deviceId}.`,
            `  Empreinte de l'appareil : ${shortFingerprint(r.fingerprint)} (doit être celle affichée sur l'appareil)`,
            `  Empreinte de cet ordinateur : ${shortFingerprint(c.identity.fingerprint)}`,
          ].join('\n'));
        },
        { forPairing: true },
      );
    });

  withCommon(tla.command('identify'))
    .description("the device's identity, software, clock and what it serves")
    .action(async (o: Common) => {
      await withClient(o, async (c) => {
        const r = await c.identify();
        out(o, { ok: true, ...r, fingerprint: c.deviceFingerprint }, [
          `Appareil ${r.deviceId} (${r.model}, logiciel ${r.software}, protocole ${r.protocol})`,
          `  Empreinte : ${shortFingerprint(c.deviceFingerprint)}`,
          `  Horloge : ${when(r.now)}`,
          `  Domaine : ${r.domain ?? 'aucun'} (${r.ops.join(', ') || 'aucune opération'})`,
          `  Cet ordinateur y est connu comme « ${r.hostName} »`,
        ].join('\n'));
      });
    });

  withCommon(tla.command('date'))
    .description("read the device's date, or set it (--set <ISO> or --now: this computer's clock)")
    .option('--set <iso>', 'set the device clock to this date and time', isoOption)
    .option('--now', "set the device clock to this computer's clock")
    .action(async (o: Common & { set?: number; now?: boolean }) => {
      if (o.set !== undefined && o.now) {
        console.error('di tla date : --set et --now sont exclusifs');
        process.exitCode = EXIT.usage;
        return;
      }
      await withClient(o, async (c) => {
        const target = o.now ? Date.now() : o.set;
        const r = target === undefined ? await c.getDate() : await c.setDate(target);
        const drift = Math.round(r.offsetMs / 1000);
        out(o, { ok: true, ...r, set: target !== undefined }, `${target !== undefined ? 'Date de l’appareil réglée' : 'Date de l’appareil'} : ${when(r.now)} (écart avec son horloge système : ${drift} s)`);
      });
    });

  withCommon(tla.command('load'))
    .description("load the day's data into the device (replaces the previous load)")
    .option('--file <day.json>', 'the day as JSON (DayDataArgs, docs/TLA.md)')
    .option('--sample', 'a sample day of fictitious patients (emulator profiles)')
    .action(async (o: Common & { file?: string; sample?: boolean }) => {
      if ((o.file === undefined) === (o.sample !== true)) {
        console.error('di tla load : donnez --file <day.json> ou --sample (un des deux)');
        process.exitCode = EXIT.usage;
        return;
      }
      let day: DayDataArgs;
      if (o.file !== undefined) {
        try {
          day = JSON.parse(readFileSync(o.file, 'utf8')) as DayDataArgs;
        } catch (err) {
          console.error(`di tla load : ${o.file} illisible (${(err as Error).message.slice(0, 200)})`);
          process.exitCode = EXIT.usage;
          return;
        }
        if (day === null || typeof day !== 'object' || Array.isArray(day)) {
          console.error(`di tla load : ${o.file} doit contenir un objet JSON { day, situations?, patients?, tariff? }`);
          process.exitCode = EXIT.usage;
          return;
        }
      } else day = sampleDay();
      await withClient(o, async (c) => {
        const r = await c.loadDayData(day);
        out(o, { ok: true, ...r }, `Données du ${r.day} chargées : ${r.situations} situation(s), ${r.patients} patient(s), ${r.beneficiaries} bénéficiaire(s), table tarifaire ${r.tariff ?? 'de l’appareil'}`);
      });
    });

  withCommon(tla.command('unload'))
    .description('unload every invoice and Vitale read from the device into this computer, then erase them on the device')
    .option('--page <n>', 'items per page (1..50)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 50) throw new InvalidArgumentError(`--page takes 1..50, got "${v}"`);
      return n;
    }, 20)
    .action(async (o: Common & { page: number }) => {
      await withClient(o, async (c) => {
        const r = await syncDevice(c, { pageSize: o.page });
        out(o, { ok: true, ...r }, renderSync(r));
      });
    });

  for (const name of ['transmit', 'sync'] as const) {
    withCommon(tla.command(name))
      .description(
        name === 'transmit'
          ? 'put the unloaded invoices in lots signed by the CPS and send the files to the AMO'
          : 'unload + erase (as `unload`), then transmit (as `transmit`)',
      )
      .option('--cps <profile>', `the practitioner's CPS (card profile, see di cards list); PIN in ${CPS_PIN_ENV} or typed`)
      .option('--amo <host:port>', 'the AMO SMTP server', parseHostPort('--amo', DEFAULT_AMO.port), { ...DEFAULT_AMO })
      .action(async (o: TransmitCli) => {
        let s: SyncReport | undefined;
        if (name === 'sync') {
          s = await withClient(o, (c) => syncDevice(c));
          if (s === undefined) return;
        }
        let t: TransmitReport | undefined;
        try {
          t = await runTransmit(o);
        } catch (err) {
          fail(o, err);
          return;
        }
        if (!t) return;
        out(o, { ok: t.errors.length === 0, ...(s ? { sync: s } : {}), transmit: t }, [...(s ? [renderSync(s)] : []), renderTransmit(t)].join('\n'));
        transmitExit(t);
      });
  }

  withCommon(tla.command('list'))
    .description('what this computer holds: paired devices, unloaded invoices, lots, files')
    .action((o: Common) => {
      const store = new TlaStore(resolve(o.dir));
      try {
        const s = store.summary();
        const invoices = store.invoices().map((i) => ({ ref: i.ref, kind: i.kind, destination: i.destination, careDate: i.careDate, deadline: i.deadline, amo: i.amo, amc: i.amc, lotNo: i.lotNo, erased: i.erasedAt !== null }));
        const files = store.files().map((f) => ({ fileId: f.fileId, destination: f.destination, lots: f.lotNos, state: f.state, attempts: f.attempts, lastError: f.lastError }));
        const lines = [
          `Appareils associés : ${s.devices.length === 0 ? 'aucun (di tla pair)' : s.devices.map((d) => `${d.deviceId} (${shortFingerprint(d.fingerprint)}, depuis ${when(d.pairedAt)})`).join(', ')}`,
          `Factures : ${s.invoices.total} (hors lot ${s.invoices.notInLot}, en lot ${s.invoices.inLot}, envoyées ${s.invoices.sent}; non effacées sur l'appareil ${s.invoices.toErase})`,
          `Lectures Vitale : ${s.beneficiaries.total}`,
          `Lots : ${s.lots.total} (non signés ${s.lots.unsigned}) ; fichiers : ${s.files.sent} envoyé(s), ${s.files.ready} en attente`,
          ...invoices.map((i) => `  ${i.kind} ${i.ref} ${i.destination} soins ${i.careDate} à transmettre avant le ${i.deadline}${i.lotNo !== null ? ` lot ${i.lotNo}` : ''}`),
          ...files.map((f) => `  Fichier ${f.fileId} ${f.destination} : ${f.state === 'sent' ? 'envoyé' : `en attente (${f.attempts} essai(s)${f.lastError ? ` : ${f.lastError}` : ''})`}`),
        ];
        out(o, { ok: true, summary: s, invoices, files }, lines.join('\n'));
      } finally {
        store.close();
      }
    });

  withCommon(tla.command('returns'))
    .description("fetch the AMO's returns (ARL, RSP) about this computer's files from the practice's POP3 mailbox")
    .option('--pop3 <host:port>', 'the POP3 mailbox', parseHostPort('--pop3', DEFAULT_POP3.port), { host: DEFAULT_POP3.host, port: DEFAULT_POP3.port })
    .option('--user <user>', 'the mailbox user', DEFAULT_POP3.user)
    .action(async (o: Common & { pop3: DeviceAddress; user: string }) => {
      const store = new TlaStore(resolve(o.dir));
      let r: FetchReturnsReport;
      try {
        // The password from the environment only (never an option: it would sit in the process list).
        const password = process.env[POP3_PASSWORD_ENV] ?? DEFAULT_POP3_PASSWORD;
        r = await fetchReturns(store, { pop3: { host: o.pop3.host, port: o.pop3.port, user: o.user, password } });
      } catch (err) {
        fail(o, err);
        return;
      } finally {
        store.close();
      }
      const lines = [
        `Relève ${o.pop3.host}:${o.pop3.port} : ${r.listed} message(s) ; ARL ${r.arl}, RSP ${r.rsp}, factures payées ${r.paid}, rejets ${r.rejects.length} ; supprimé(s) du serveur ${r.deleted}`,
        ...r.arlSeen.map((a) => `  Lot ${a.lotNo} (${a.billingNumber}) : ARL ${a.status === 'positive' ? 'positif' : `négatif${a.reason ? ` (${a.reason})` : ''}`}`),
        ...r.rejects.map((x) => `  Facture ${x.billingNumber}/${x.invoiceNo} rejetée (${x.source} ${x.code}) : ${x.text}`),
        ...(r.shared > 0 ? [`  ${r.shared} RSP partagé(s) avec l'appareil : notre part appliquée, laissé(s) sur le serveur`] : []),
        ...(r.leftUntouched > 0 ? [`  ${r.leftUntouched} message(s) de l'appareil ou inconnu(s) laissé(s) sur le serveur`] : []),
        ...r.corrupt.map((c) => `  Retour illisible ${c.uid} conservé : ${c.error}`),
        ...(r.corruptKept > 0 ? [`  ${r.corruptKept} retour(s) illisible(s) déjà conservé(s), laissé(s) sur le serveur`] : []),
        ...r.unreadable.map((u) => `  Message ${u.uid} illisible, laissé sur le serveur`),
        ...(r.error ? [`  ${r.error}`] : []),
      ];
      out(o, r, lines.join('\n'));
      if (!r.ok) process.exitCode = EXIT.failed;
    });
}
