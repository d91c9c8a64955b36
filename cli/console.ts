/**
 * The terminal's text console for `di start`: the screen as the foreground applet draws it, and
 * commands to insert and remove card profiles and press keypad keys. (The web terminal replaces it
 * as the device's face; this stays as the scriptable one.)
 */
import { createInterface } from 'node:readline';
import type { Kernel } from '../platform/kernel/kernel.js';
import type { TerminalView } from '../platform/kernel/terminal.js';
import { cardProfiles, loadCard } from '../emulator/cards/profiles.js';
import { parseKeys } from './eval-harness.js';
import { shortFingerprint } from '../platform/kernel/hostlink/proof.js';

const NO_LINK = 'lien avec l’ordinateur du cabinet désactivé (di start sans --no-tla pour l’activer)';

/**
 * The paired computer a fingerprint names: the whole of it, or a unique beginning of at least 8 hex
 * digits (spaces ignored, so the short form the screen shows works). Returns an error text otherwise.
 */
export function findPaired(paired: Array<{ fingerprint: string; name: string }>, given: string): { fingerprint: string; name: string } | string {
  const want = given.replace(/\s+/g, '').toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(want)) return 'empreinte invalide : 8 à 64 chiffres hexadécimaux (voir « paired »)';
  const hits = paired.filter((p) => p.fingerprint.startsWith(want));
  if (hits.length === 0) return `aucun ordinateur associé avec l’empreinte ${given} (voir « paired »)`;
  if (hits.length > 1) return `plusieurs ordinateurs commencent par ${given} : donnez plus de chiffres`;
  return hits[0]!;
}

const HELP = `commandes :
  insert <lecteur> <profil>   insérer une carte (profils : ${cardProfiles().map((p) => p.name).join(', ')})
  remove <lecteur>            retirer la carte
  keys <touches>              taper au clavier, ex. keys 1234OK (ANNULER, CORR)
  answer <n>                  choisir la réponse n (1, 2, …) à la question affichée
  status                      domaines, hôtes, cartes
  action <domaine> <nom> [json]  lancer une action de l’applet (ex. action sesam-vitale status {})
  pair                        associer un ordinateur : le code s’affiche sur l’écran du terminal
  pair cancel                 annuler l’association en cours
  paired                      ordinateurs associés
  unpair <empreinte>          oublier un ordinateur (empreinte complète ou ses premiers chiffres, ex. AB12CD34)
  network on|off              brancher ou couper le câble réseau du terminal
  quit                        arrêter le terminal`;

export function renderView(v: TerminalView): string {
  const width = 40;
  const line = (s: string) => `| ${s.slice(0, width).padEnd(width)} |`;
  const out = [`+${'-'.repeat(width + 2)}+`, line(`${v.screen.title ?? ''}${v.domain ? `  [${v.domain}]` : ''}`), `|${'-'.repeat(width + 2)}|`];
  for (const l of v.screen.lines) out.push(line(l));
  if (v.question) {
    out.push(line(v.question.text));
    v.question.choices.forEach((c, i) => out.push(line(`${i + 1}. ${c}`)));
  }
  if (v.pinEntry) out.push(line(`${v.pinEntry.prompt}  ${'*'.repeat(v.pinEntry.digits)}`));
  out.push(`+${'-'.repeat(width + 2)}+`);
  return out.join('\n');
}

/** Resolves 'quit' when the operator typed quit, 'eof' when the input ended. */
export function runConsole(kernel: Kernel, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<'quit' | 'eof'> {
  const say = (s: string) => output.write(s + '\n');
  kernel.terminal.on('view', (v) => say(renderView(v)));
  kernel.audit.onAppend((e) => {
    if (e.event === 'card.offered') say(`[lecteur ${String(e.fields.slot)}] carte ${String(e.fields.cardClass)} confiée au domaine ${e.domain}`);
    else if (e.event === 'card.refused') say(`[lecteur ${String(e.fields.slot)}] carte refusée : ${String(e.fields.reason)}`);
    else if (e.event === 'card.removed') say(`[lecteur ${String(e.fields.slot)}] carte retirée`);
    else if (e.event === 'watchdog.breach' || e.event === 'host.exit' || e.event === 'host.violation') say(`[${e.domain}] ${e.event} ${JSON.stringify(e.fields)}`);
  });
  say(renderView(kernel.terminal.current()));
  say(HELP);
  const rl = createInterface({ input, terminal: false });
  let quit = false;
  return new Promise((resolve) => {
    rl.on('close', () => resolve(quit ? 'quit' : 'eof'));
    rl.on('line', (raw) => {
      const [cmd, ...args] = raw.trim().split(/\s+/);
      try {
        switch (cmd) {
          case '':
          case undefined:
            return;
          case 'insert': {
            const slot = Number(args[0]);
            loadCard(args[1] ?? '')
              .then((card) => kernel.insertCard(slot, card))
              .catch((e: Error) => say(`erreur : ${e.message}`));
            return;
          }
          case 'remove':
            kernel.removeCard(Number(args[0]));
            return;
          case 'keys':
            kernel.terminal.typeKeys(parseKeys(args.join('')));
            return;
          case 'answer':
            if (!kernel.terminal.answer(Number(args[0]) - 1)) say('aucune question de ce numéro à l’écran');
            return;
          case 'status': {
            const st = kernel.status();
            for (const d of st.domains) say(`  ${d.domain.padEnd(14)} ${d.state.padEnd(10)} redémarrages ${d.restarts}  pid ${d.pid ?? '-'}`);
            for (const d of st.domains) for (const c of kernel.broker.cardsFor(d.domain)) say(`  lecteur ${c.slot}: ${c.cardClass} -> ${d.domain}`);
            say(`  réseau : ${kernel.network.online ? 'connecté' : 'coupé'}`);
            const hl = kernel.hostLink;
            if (!hl) say(`  ${NO_LINK}`);
            else {
              const a = hl.address();
              say(`  lien ordinateur : ${a.host}:${a.port}, terminal ${hl.deviceId} (${shortFingerprint(hl.fingerprint)}), ${hl.paired().length} ordinateur(s) associé(s)`);
            }
            return;
          }
          case 'pair': {
            const hl = kernel.hostLink;
            if (!hl) return say(`erreur : ${NO_LINK}`);
            if (args[0] === 'cancel') {
              hl.cancelPairing();
              say('association annulée');
              return;
            }
            if (args.length > 0) return say('usage : pair | pair cancel');
            // The code is on the device screen (drawn just above by the view event), nowhere else.
            const { expiresAt } = hl.beginPairing();
            say(`code d’association affiché sur l’écran du terminal, valable jusqu’à ${new Date(expiresAt).toLocaleTimeString('fr-FR')} : saisissez-le sur l’ordinateur (di tla pair)`);
            return;
          }
          case 'paired': {
            const hl = kernel.hostLink;
            if (!hl) return say(`erreur : ${NO_LINK}`);
            const list = hl.paired();
            if (list.length === 0) say('aucun ordinateur associé');
            for (const p of list) say(`  ${shortFingerprint(p.fingerprint)}  ${p.name}  associé le ${new Date(p.pairedAt).toLocaleString('fr-FR')}  (${p.fingerprint})`);
            return;
          }
          case 'unpair': {
            const hl = kernel.hostLink;
            if (!hl) return say(`erreur : ${NO_LINK}`);
            if (args.length === 0) return say('usage : unpair <empreinte> (voir « paired »)');
            const found = findPaired(hl.paired(), args.join(''));
            if (typeof found === 'string') return say(`erreur : ${found}`);
            say(hl.unpair(found.fingerprint) ? `ordinateur « ${found.name} » oublié : il ne peut plus se connecter` : `erreur : ${found.name} n’était plus associé`);
            return;
          }
          case 'network': {
            const want = args[0] === 'on' ? true : args[0] === 'off' ? false : null;
            if (want === null || args.length !== 1) return say(`usage : network on|off (actuellement ${kernel.network.online ? 'on' : 'off'})`);
            kernel.network.setOnline(want);
            say(want ? 'réseau connecté' : 'réseau coupé : le terminal travaille hors ligne');
            return;
          }
          case 'action': {
            const [domain, name] = args;
            if (!domain || !name) {
              say('usage : action <domaine> <nom> [json]');
              return;
            }
            // The JSON is what follows the name, spaces included.
            const rest = raw.trim().replace(/^action\s+\S+\s+\S+\s*/, '');
            let payload: unknown = {};
            try {
              if (rest !== '') payload = JSON.parse(rest);
            } catch {
              say('erreur : le paramètre doit être un objet JSON, ex. {"uid":"a1"}');
              return;
            }
            kernel
              .action(domain, name, payload)
              .then((r) => say(`[${domain}] ${name} -> ${JSON.stringify(r, (_k, v: unknown) => (v instanceof Uint8Array ? `hex:${Buffer.from(v).toString('hex')}` : v))}`))
              .catch((e: Error & { code?: string }) => say(`erreur : ${e.code ? `${e.code} ` : ''}${e.message}`));
            return;
          }
          case 'quit':
          case 'exit':
            quit = true;
            rl.close();
            return;
          default:
            say(`commande inconnue : ${cmd}\n${HELP}`);
        }
      } catch (e) {
        say(`erreur : ${(e as Error).message}`);
      }
    });
  });
}
