/**
 * onHostRequest's dispatch: the practice computer's domain operations over the host link (the
 * kernel forwards only the operations the policy grants in `hostLink.ops`; wire/hostlink.ts has
 * the shapes). The host's arguments are a trust boundary: every field is checked (unknown fields
 * refused, types, bounds) and a refusal is `{ ok: false, error: { code: 'E_ARGS', message (French,
 * names the field), field } }`. Every operation writes (loads, marks held, erases): all run under
 * the applet's one mutex. The device shows that it is serving the computer.
 */
import type { Transferable } from '../../../platform/sdk/api.js';
import { isObj, PayloadError, type Obj } from '../invoice/payload.js';
import { ActionError } from '../session.js';
import { withLock } from '../pipeline/lock.js';
import { toStored } from '../pipeline/keys.js';
import { screens } from '../screens.js';
import { loadDayData } from './day-data.js';
import { unloadBeneficiaries, unloadInvoices } from './unload.js';
import { erase } from './erase.js';

type Op = (args: Obj) => Promise<{ result: object; line: string }>;

const OPS: Record<string, { label: string; run: Op }> = {
  'data.load': {
    label: 'Chargement des données du jour',
    run: async (a) => {
      const r = await loadDayData(a);
      return { result: r, line: `Données du ${r.day} : ${r.patients} patient(s), ${r.situations} situation(s)${r.tariff ? `, barème ${r.tariff}` : ''}` };
    },
  },
  'fse.unload': {
    label: 'Déchargement des factures sécurisées',
    run: async (a) => {
      const r = await unloadInvoices(a);
      return { result: r, line: `Factures transmises à l’ordinateur : ${r.items.length} (détenues : ${r.held})` };
    },
  },
  'beneficiaries.unload': {
    label: 'Déchargement des lectures Vitale',
    run: async (a) => {
      const r = await unloadBeneficiaries(a);
      return { result: r, line: `Lectures Vitale transmises : ${r.items.length}` };
    },
  },
  erase: {
    label: 'Effacement de ce que l’ordinateur a reçu',
    run: async (a) => {
      const r = await erase(a);
      return { result: r, line: `Effacées : ${r.erased.invoices} facture(s), ${r.erased.beneficiaries} lecture(s)${r.refused.length > 0 ? ` ; refusées : ${r.refused.length}` : ''}` };
    },
  },
};

function failure(code: string, message: string, field?: string): Transferable {
  return { ok: false, error: field === undefined ? { code, message } : { code, message, field } };
}

async function show(lines: string[]): Promise<void> {
  try {
    await platform.ui.show(screens.hostSync(lines));
  } catch {
    // The screen is the practitioner's information only: the operation goes on without it.
  }
}

/** Never throws: every refusal is a French `{ ok: false, error }` the host can show. */
export async function handleHostRequest(request: unknown): Promise<Transferable> {
  if (!isObj(request) || typeof request.op !== 'string') return failure('E_ARGS', 'requête invalide : op attendu', 'op');
  const entry = Object.prototype.hasOwnProperty.call(OPS, request.op) ? OPS[request.op] : undefined;
  if (!entry) return failure('E_OP', `opération inconnue : ${request.op.slice(0, 40)}`, 'op');
  const args = request.args === undefined ? {} : request.args;
  if (!isObj(args)) return failure('E_ARGS', 'args : objet attendu', 'args');
  try {
    return await withLock(async () => {
      await show([entry.label]);
      const { result, line } = await entry.run(args);
      await show([entry.label, line]);
      return toStored({ ok: true, ...result });
    });
  } catch (err) {
    if (err instanceof PayloadError) return failure('E_ARGS', err.message.startsWith(err.field) ? err.message : `${err.field || 'args'} : ${err.message}`, err.field);
    if (err instanceof ActionError) return failure(err.code, err.message, err.field || undefined);
    const code = (err as { code?: unknown } | null)?.code;
    await platform.log('error', 'host request failed', { op: request.op, error: typeof code === 'string' ? code : err instanceof Error ? err.name : 'unknown' });
    return failure(typeof code === 'string' ? code : 'E_INTERNAL', 'opération impossible : erreur interne de l’appareil (voir son journal)');
  }
}
