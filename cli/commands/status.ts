/**
 * `di status`: what is pending, late or rejected on the running terminal, asked through its control
 * socket (cli/control.ts) so that no second kernel opens the same stores. The health applet computes
 * the answer (its `status` action); this only prints it, in French, or as JSON.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { askControl } from '../control.js';

interface Due {
  invoiceNo: number;
  deadline: string;
}

/** The sesam-vitale applet's `status` result (applets/sesam-vitale/pipeline/status.ts), as far as printed here. */
interface BillingStatus {
  ok: true;
  today: string;
  byState: Record<string, number>;
  toSecure: number[];
  lotsPending: number;
  filesWaiting: Array<{ fileId: string; attempts: number; lastError?: string; nextAttemptAt: number }>;
  late: Due[];
  dueToday: Due[];
  dueSoon: Due[];
  rejectsToRedo: Array<{ invoiceNo: number; code: string; text: string; source: string }>;
  paid: { count: number; amount: number };
  payments?: { approved: number; declined: number; pending: number; amount: number };
}

const STATE_LABELS: Record<string, string> = {
  created: 'à sécuriser',
  secured: 'sécurisées',
  'in-lot': 'en lot',
  sent: 'envoyées',
  'arl-positive': 'ARL positive',
  'arl-negative': 'ARL négative',
  paid: 'payées',
  rejected: 'rejetées',
};

const euros = (c: number) => `${Math.floor(c / 100)},${String(c % 100).padStart(2, '0')} EUR`;
const day = (iso: string) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;

export function renderStatus(s: BillingStatus): string {
  const out: string[] = [`État de la facturation au ${day(s.today)}`];
  out.push('  Factures : ' + Object.entries(s.byState).map(([k, n]) => `${STATE_LABELS[k] ?? k} ${n}`).join(', '));
  if (s.toSecure.length > 0) out.push(`  À sécuriser (CPS nécessaire) : n° ${s.toSecure.join(', ')}`);
  out.push(`  Lots en attente : ${s.lotsPending}`);
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
  if (s.payments) {
    const p = s.payments;
    out.push(`  Encaissements par carte : ${p.approved} accepté(s) (${euros(p.amount)}), ${p.declined} refusé(s) ou en échec`);
    if (p.pending > 0) out.push(`  Paiement(s) interrompu(s) à vérifier : ${p.pending}`);
  }
  return out.join('\n');
}

function isBillingStatus(v: unknown): v is BillingStatus {
  return v !== null && typeof v === 'object' && (v as { ok?: unknown }).ok === true && typeof (v as { today?: unknown }).today === 'string';
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
