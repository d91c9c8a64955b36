/**
 * `di status`: what is pending, late or rejected on the running terminal, asked through its control
 * socket (cli/control.ts) so that no second kernel opens the same stores. The health applet computes
 * the answer (its `status` action); this only prints it, in French, or as JSON.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { askControl } from '../control.js';
import type { StatusResult } from '../../applets/sesam-vitale/pipeline/status.js';

/** The health applet's `status` result, as its own module defines it. */
type BillingStatus = StatusResult;
type Due = StatusResult['late'][number];

const STATE_LABELS: Record<string, string> = {
  created: 'à sécuriser',
  secured: 'sécurisées',
  'in-lot': 'en lot',
  sent: 'envoyées',
  'arl-positive': 'ARL positive',
  'arl-negative': 'ARL négative',
  paid: 'payées',
  rejected: 'rejetées',
  unloaded: 'déchargées (ordinateur du cabinet)',
};

const euros = (c: number) => `${Math.floor(c / 100)},${String(c % 100).padStart(2, '0')} EUR`;
const day = (iso: string) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;

export function renderStatus(s: BillingStatus): string {
  const out: string[] = [`État de la facturation au ${day(s.today)}`];
  out.push('  Factures : ' + Object.entries(s.byState).map(([k, n]) => `${STATE_LABELS[k] ?? k} ${n}`).join(', '));
  if (s.toSecure.length > 0) out.push(`  À sécuriser (CPS nécessaire) : n° ${s.toSecure.join(', ')}`);
  out.push(`  Lots en attente : ${s.lotsPending}`);
  if (s.portable.offline) {
    const since = s.portable.since !== undefined ? ` depuis ${new Date(s.portable.since).toISOString().slice(11, 16)} UTC` : '';
    out.push(`  Hors réseau — mode portable${since} : ${s.portable.filesWaiting} fichier(s), ${s.portable.invoicesWaiting} facture(s) en attente${s.portable.nextDeadline ? ` ; prochaine échéance ${day(s.portable.nextDeadline)}` : ''}`);
  }
  if (s.heldForHost > 0) out.push(`  Déchargées vers l’ordinateur, à effacer après sa confirmation : ${s.heldForHost}`);
  for (const f of s.filesWaiting) {
    const next = new Date(f.nextAttemptAt).toISOString().slice(11, 16);
    out.push(`  Fichier ${f.fileId} non envoyé (${f.attempts} essai(s)${f.lastError ? ` : ${f.lastError}` : ''}) ; prochain essai après ${next} UTC`);
  }
  const list = (label: string, xs: Due[]) => {
    if (xs.length > 0) out.push(`  ${label} : ` + xs.map((x) => `n° ${x.invoiceNo} (${day(x.deadline)})`).join(', '));
  };
  list('EN RETARD', s.late);
  list("À transmettre aujourd'hui", s.dueToday);
  list('À transmettre bientôt', s.dueSoon);
  for (const r of s.rejectsToRedo) out.push(`  Rejet à refaire : n° ${r.invoiceNo} (${r.source} ${r.code} : ${r.text})`);
  out.push(`  Paiements reçus : ${s.paid.count} facture(s), ${euros(s.paid.amount)}`);
  const p = s.payments;
  out.push(`  Encaissements par carte : ${p.approved} accepté(s) (${euros(p.amount)}), ${p.declined} refusé(s) ou en échec`);
  if (p.pending > 0) out.push(`  Paiement(s) interrompu(s) à vérifier : ${p.pending}`);
  return out.join('\n');
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What the socket answered has the shape renderStatus reads (an older or foreign terminal may not). */
function isBillingStatus(v: unknown): v is BillingStatus {
  if (!isObj(v) || v.ok !== true || typeof v.today !== 'string' || !isObj(v.byState) || typeof v.lotsPending !== 'number') return false;
  const lists = ['toSecure', 'filesWaiting', 'late', 'dueToday', 'dueSoon', 'rejectsToRedo'] as const;
  if (!lists.every((k) => Array.isArray(v[k]))) return false;
  const nums = (o: unknown, ks: string[]) => isObj(o) && ks.every((k) => typeof o[k] === 'number');
  const portable = isObj(v.portable) && typeof v.portable.offline === 'boolean' && nums(v.portable, ['filesWaiting', 'invoicesWaiting']);
  return nums(v.paid, ['count', 'amount']) && nums(v.payments, ['approved', 'declined', 'pending', 'amount']) && portable && typeof v.heldForHost === 'number';
}

export function registerStatusCommand(program: Command, ctx: { dataDir: () => string }): void {
  program
    .command('status')
    .description('pending, late and rejected invoices of the running terminal (ask `di start` on the same data dir)')
    .option('--json', 'print the applet status as JSON')
    .action(async (o: { json?: boolean }) => {
      const dataDir = resolve(ctx.dataDir());
      const a = await askControl(dataDir, { op: 'action', domain: 'sesam-vitale', action: 'status', payload: {} });
      if (a === null) {
        console.error(`di status: no terminal is running on ${dataDir}; start it with "di start" (same --data-dir) and ask again`);
        process.exitCode = 3;
        return;
      }
      if (!a.ok || !isBillingStatus(a.result)) {
        console.error(`di status: the terminal answered: ${a.ok ? 'an unexpected status shape' : a.error}`);
        process.exitCode = 1;
        return;
      }
      const s = a.result;
      console.log(o.json ? JSON.stringify(s, null, 2) : renderStatus(s));
      // Late invoices are a condition a script should see.
      if (s.late.length > 0) process.exitCode = 4;
    });
}
