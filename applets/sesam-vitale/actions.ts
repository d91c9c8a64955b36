/**
 * onAction's dispatch table. Payloads come from the terminal, the web simulator, `di demo` or
 * tests: this is a trust boundary, so each payload is checked strictly (unknown fields, wrong types)
 * and every failure comes back as `{ ok: false, error: { code, message (French), field } }`.
 * Mutating actions run under the one mutex (pipeline/lock.ts).
 */
import type { StoreOp, Transferable } from '../../platform/sdk/api.js';
import type { ActInput, Beneficiary, CareContext, Insured, InvoiceRecord, SeriesInput } from './model.js';
import { bad, beneficiary, bool, date, insured, int, isObj, NIR, obj, optInt, optStr, PayloadError, str, type Obj } from './invoice/payload.js';
import type { InvoiceInput } from './invoice/validate.js';
import { actsOfLines } from './invoice/build.js';
import { CardError } from './cards/errors.js';
import { ActionError, billingEntity, currentSituation, practitionerRef, session } from './session.js';
import { maskNir, screens } from './screens.js';
import { withLock } from './pipeline/lock.js';
import { createAndSecure, duplicateLines, InvalidInvoice, isHeld, loadInvoice, secureCreated, withState, type Secured } from './pipeline/invoices.js';
import { sendFiles, transmit } from './pipeline/transmit.js';
import { fetchReturns } from './pipeline/returns.js';
import { computeStatus, failedForNetwork, todayUtc } from './pipeline/status.js';
import { payInvoice } from './pipeline/payment.js';
import { keys, listAs, put, toStored } from './pipeline/keys.js';
import { currentDayData, findPatient, pricingTables } from './tla/day-data.js';
import { refOfInvoice } from './tla/unload.js';

// ---- payload checks (shared with the host link's data.load: invoice/payload.ts) -------------------

const CODE = /^[A-Z0-9]{1,8}$/;

function act(v: unknown, i: number): ActInput {
  const f = `acts[${i}].`;
  const o = obj(v, `acts[${i}]`, ['date', 'code', 'coefficient', 'quantity', 'activity', 'phase', 'modifiers', 'excess']);
  const a: ActInput = { date: date(o, 'date', f), code: str(o, 'code', f, CODE, 'code d’acte') };
  if (o.coefficient !== undefined) {
    if (typeof o.coefficient !== 'number' || !Number.isFinite(o.coefficient) || o.coefficient <= 0 || o.coefficient > 1000) bad(`${f}coefficient`, 'coefficient : nombre positif attendu');
    a.coefficient = o.coefficient;
  }
  const q = optInt(o, 'quantity', f, 1, 9999);
  if (q !== undefined) a.quantity = q;
  const act_ = optStr(o, 'activity', f, /^[0-9]$/, 'activité CCAM');
  if (act_ !== undefined) a.activity = act_;
  const ph = optStr(o, 'phase', f, /^[0-9]$/, 'phase CCAM');
  if (ph !== undefined) a.phase = ph;
  if (o.modifiers !== undefined) {
    if (!Array.isArray(o.modifiers) || o.modifiers.length > 4 || !o.modifiers.every((m) => typeof m === 'string' && /^[A-Z0-9]{1,2}$/.test(m))) bad(`${f}modifiers`, 'modificateurs : liste de codes attendue');
    a.modifiers = [...(o.modifiers as string[])];
  }
  const ex = optInt(o, 'excess', f, 0, 10_000_000);
  if (ex !== undefined) a.excess = ex;
  return a;
}

function acts(v: unknown): ActInput[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > 999) bad('acts', 'actes : liste de 1 à 999 actes attendue');
  return v.map(act);
}

function context(v: unknown): CareContext {
  const o = obj(v, 'context', ['nature', 'atNumber', 'aldRelated', 'parcours', 'orientingPractitioner', 'tiersPayantAmo', 'tiersPayantAmc']);
  const f = 'context.';
  const nature = str(o, 'nature', f, /^(maladie|maternite|at)$/, 'nature') as CareContext['nature'];
  const c: CareContext = {
    nature,
    aldRelated: bool(o, 'aldRelated', f),
    parcours: str(o, 'parcours', f, /^(traitant|oriente|hors|exempt)$/, 'parcours de soins') as CareContext['parcours'],
    tiersPayantAmo: bool(o, 'tiersPayantAmo', f),
    tiersPayantAmc: bool(o, 'tiersPayantAmc', f),
  };
  const at = optStr(o, 'atNumber', f, /^[0-9A-Z]{1,12}$/, 'numéro d’accident du travail');
  if (at !== undefined) c.atNumber = at;
  const op = optStr(o, 'orientingPractitioner', f, /^[0-9]{9,12}$/, 'identifiant du médecin orienteur');
  if (op !== undefined) c.orientingPractitioner = op;
  return c;
}

function series(v: unknown): SeriesInput | undefined {
  if (v === undefined) return undefined;
  const o = obj(v, 'series', ['prescriberId', 'prescriptionDate']);
  return { prescriberId: str(o, 'prescriberId', 'series.', /^[0-9]{9,12}$/, 'identifiant du prescripteur'), prescriptionDate: date(o, 'prescriptionDate', 'series.') };
}

// ---- helpers ---------------------------------------------------------------------------------------

async function today(): Promise<string> {
  return todayUtc(await platform.clock.now());
}

function needSigner(): { situation: NonNullable<ReturnType<typeof currentSituation>>; cps: NonNullable<typeof session.cps> } {
  const cps = session.cps;
  const situation = currentSituation();
  if (!cps || !situation) throw new ActionError('E_CPS', 'Insérez la carte CPS du praticien', 'cps');
  if (!situation.canSignFse) throw new ActionError('E_SITUATION', 'Situation sans droit de signer les FSE', 'situation');
  return { situation, cps };
}

function rightsOpen(b: Beneficiary, day: string): boolean {
  return b.rights.start <= day && (b.rights.end === undefined || day <= b.rights.end);
}

async function secured(s: Secured): Promise<Transferable> {
  await platform.ui.show(s.degraded ? screens.degraded(s.invoiceNo, s.patientToPay) : screens.secured(s.invoiceNo, s.dreNo, s.patientToPay, s.deadline));
  return toStored({ ok: true, invoiceNo: s.invoiceNo, dreNo: s.dreNo, totals: s.totals, deadline: s.deadline, patientToPay: s.patientToPay });
}

async function billingOrThrow(): Promise<string> {
  const s = currentSituation();
  if (!s) throw new ActionError('E_CPS', 'Insérez la carte CPS du praticien', 'cps');
  return billingEntity(s);
}

async function invoiceOrThrow(no: number): Promise<{ billing: string; rec: InvoiceRecord }> {
  const billing = await billingOrThrow();
  const rec = await loadInvoice(billing, no);
  if (!rec) throw new ActionError('E_UNKNOWN', `Facture n° ${no} inconnue pour ce numéro de facturation`, 'invoiceNo');
  return { billing, rec };
}

/** Prices with the tariff table the practice computer loaded (for the dates it covers), if any. */
async function withTables(input: InvoiceInput): Promise<void> {
  const t = await pricingTables();
  if (t) input.tables = t;
}

/** `patient: { nir | index, beneficiary }` of fse.degraded, from the day's data. */
async function loadedPatient(v: unknown): Promise<{ ins: Insured; ben: Beneficiary }> {
  const o = obj(v, 'patient', ['nir', 'index', 'beneficiary']);
  if ((o.nir === undefined) === (o.index === undefined)) bad('patient', 'patient : nir ou index attendu (un des deux)');
  const ref = o.nir !== undefined ? { nir: str(o, 'nir', 'patient.', NIR, 'NIR') } : { index: int(o, 'index', 'patient.', 0, 9999) };
  const bi = int(o, 'beneficiary', 'patient.', 0, 15);
  const d = await currentDayData();
  if (!d) throw new ActionError('E_NO_DAY_DATA', 'Aucune donnée du jour chargée : chargez-les depuis l’ordinateur du cabinet ou saisissez l’assuré', 'patient');
  const pt = findPatient(d, ref);
  if (!pt) throw new ActionError('E_UNKNOWN', 'Patient absent des données du jour', ref.nir !== undefined ? 'patient.nir' : 'patient.index');
  const ben = pt.beneficiaries[bi];
  if (!ben) bad('patient.beneficiary', 'Bénéficiaire inexistant pour ce patient');
  return { ins: pt.insured, ben };
}

// ---- actions ---------------------------------------------------------------------------------------

type Handler = (payload: Obj) => Promise<Transferable>;

export function sessionState(): Transferable {
  const out: Obj = { ok: true };
  const c = session.cps;
  if (c) {
    out.cps = {
      nom: c.read.holder.nom,
      prenom: c.read.holder.prenom,
      situations: c.read.situations.map((s, index) => ({ index, number: s.number, billingNumber: s.billingNumber, raisonSociale: s.raisonSociale ?? null, canSignFse: s.canSignFse, canSignLot: s.canSignLot, remplacant: s.remplacant })),
      situation: c.situationIndex,
      pinVerified: c.pinVerified,
    };
  }
  return toStored(out);
}

const ACTIONS: Record<string, { mutates: boolean; run: Handler }> = {
  'session.state': {
    mutates: false,
    run: async (p) => {
      obj(p, '', []);
      const out = sessionState() as Obj;
      const v = session.vitale;
      if (v) {
        const day = await today();
        out.vitale = {
          beneficiaries: v.read.beneficiaries.map((b, index) => ({ index, surname: b.usualName ?? b.surname, firstName: b.firstName, birthDate: b.birthDate, birthRank: b.birthRank, quality: b.quality, rightsOpenToday: rightsOpen(b, day) })),
          selected: v.selected,
        };
      }
      return toStored(out);
    },
  },
  'situation.select': {
    mutates: true,
    run: async (p) => {
      const index = int(obj(p, '', ['index']), 'index', '', 0, 15);
      const c = session.cps;
      if (!c) throw new ActionError('E_CPS', 'Insérez la carte CPS du praticien', 'cps');
      if (index >= c.read.situations.length) bad('index', 'Situation inexistante sur cette carte');
      c.situationIndex = index;
      await platform.ui.show(screens.cpsRead(c.read, c.read.situations[index] ?? null));
      return { ok: true, situation: index };
    },
  },
  'beneficiary.select': {
    mutates: true,
    run: async (p) => {
      const index = int(obj(p, '', ['index']), 'index', '', 0, 15);
      const v = session.vitale;
      if (!v) throw new ActionError('E_VITALE', 'Insérez la carte Vitale du patient', 'vitale');
      if (index >= v.read.beneficiaries.length) bad('index', 'Bénéficiaire inexistant sur cette carte');
      v.selected = index;
      const day = await today();
      const b = v.read.beneficiaries[index]!;
      await platform.ui.show(rightsOpen(b, day) ? screens.vitaleRead(v.read.beneficiaries, maskNir(v.read.insured.nir), index, true) : screens.rightsClosed(b, day));
      return { ok: true, selected: index, rightsOpenToday: rightsOpen(b, day) };
    },
  },
  'fse.create': {
    mutates: true,
    run: async (p) => {
      const o = obj(p, '', ['acts', 'context', 'series', 'beneficiary']);
      const a = acts(o.acts);
      const ctx = context(o.context);
      const ser = series(o.series);
      const { situation, cps } = needSigner();
      const v = session.vitale;
      if (!v) throw new ActionError('E_VITALE', 'Insérez la carte Vitale du patient', 'vitale');
      const idx = o.beneficiary === undefined ? v.selected : int(o, 'beneficiary', '', 0, 15);
      const ben = v.read.beneficiaries[idx];
      if (!ben) bad('beneficiary', 'Bénéficiaire inexistant sur cette carte');
      const input: InvoiceInput = { practitioner: practitionerRef(cps.read, situation), situation, insured: v.read.insured, beneficiary: ben, context: ctx, acts: a, degraded: false, vitaleSerial: v.read.serialNumber };
      if (ser) input.series = ser;
      await withTables(input);
      return secured(await createAndSecure({ input, today: await today(), vitaleSerial: v.read.serialNumber }));
    },
  },
  'fse.degraded': {
    mutates: true,
    run: async (p) => {
      const o = obj(p, '', ['insured', 'beneficiary', 'patient', 'acts', 'context', 'series']);
      let ins: Insured;
      let ben: Beneficiary;
      if (o.patient !== undefined) {
        // A patient of the day's data loaded by the practice computer, instead of typing the identity.
        if (o.insured !== undefined || o.beneficiary !== undefined) bad('patient', 'patient : à donner seul, sans insured ni beneficiary');
        ({ ins, ben } = await loadedPatient(o.patient));
      } else {
        ins = insured(o.insured);
        ben = beneficiary(o.beneficiary);
      }
      const a = acts(o.acts);
      const ctx = context(o.context);
      const ser = series(o.series);
      const { situation, cps } = needSigner();
      const input: InvoiceInput = { practitioner: practitionerRef(cps.read, situation), situation, insured: ins, beneficiary: ben, context: ctx, acts: a, degraded: true };
      if (ser) input.series = ser;
      await withTables(input);
      const s = await createAndSecure({ input, today: await today() });
      const r = (await secured(s)) as Obj;
      const rec = await loadInvoice(billingEntity(situation), s.invoiceNo);
      return toStored({ ...r, duplicate: rec ? duplicateLines(rec) : [] });
    },
  },
  'fse.correct': {
    mutates: true,
    run: async (p) => {
      const o = obj(p, '', ['invoiceNo', 'acts', 'context']);
      const no = int(o, 'invoiceNo', '', 1, 999_999_999);
      const newActs = o.acts === undefined ? undefined : acts(o.acts);
      const newCtx = o.context === undefined ? undefined : context(o.context);
      const { situation, cps } = needSigner();
      const { rec } = await invoiceOrThrow(no);
      if (rec.data.kind !== 'FSE') throw new ActionError('E_STATE', `La facture n° ${no} est une DRE : corrigez la FSE`, 'invoiceNo');
      if (rec.state !== 'arl-negative' && rec.state !== 'rejected') throw new ActionError('E_STATE', `La FSE n° ${no} n’est pas rejetée`, 'invoiceNo');
      if (rec.replacedBy !== undefined) throw new ActionError('E_STATE', `La FSE n° ${no} est déjà remplacée par la n° ${rec.replacedBy}`, 'invoiceNo');
      const d = rec.data;
      // Authenticated again when the same insured's card is in; otherwise the correction goes in degraded mode.
      const v = session.vitale;
      const withCard = !!v && v.read.insured.nir === d.insured.nir;
      const input: InvoiceInput = {
        practitioner: practitionerRef(cps.read, situation),
        situation,
        insured: d.insured,
        beneficiary: d.beneficiary,
        context: newCtx ?? d.context,
        acts: newActs ?? actsOfLines(d.pricing.lines),
        degraded: !withCard,
      };
      if (withCard) input.vitaleSerial = v.read.serialNumber;
      if (d.series) input.series = d.series;
      await withTables(input);
      const s = await createAndSecure({ input, today: await today(), correctedFrom: no, ...(withCard ? { vitaleSerial: v.read.serialNumber } : {}) });
      return toStored({ ...((await secured(s)) as Obj), correctedFrom: no });
    },
  },
  'fse.secure': {
    mutates: true,
    run: async (p) => {
      const no = int(obj(p, '', ['invoiceNo']), 'invoiceNo', '', 1, 999_999_999);
      needSigner();
      return secured(await secureCreated(await billingOrThrow(), no));
    },
  },
  'fse.duplicate': {
    mutates: false,
    run: async (p) => {
      const no = int(obj(p, '', ['invoiceNo']), 'invoiceNo', '', 1, 999_999_999);
      const { rec } = await invoiceOrThrow(no);
      return { ok: true, lines: duplicateLines(rec) };
    },
  },
  'fse.pay': {
    mutates: true,
    run: async (p) => {
      const o = obj(p, '', ['invoiceNo', 'confirmRetry']);
      const no = int(o, 'invoiceNo', '', 1, 999_999_999);
      const confirm = o.confirmRetry === undefined ? false : bool(o, 'confirmRetry', '');
      const billing = await billingOrThrow();
      const r = await payInvoice(billing, no, confirm);
      await platform.ui.show(screens.payment(r.status, r.amount));
      return { ok: r.status === 'approved', status: r.status, transactionRef: r.transactionRef, amount: r.amount };
    },
  },
  transmit: {
    mutates: true,
    run: async (p) => {
      const o = obj(p, '', ['force']);
      const force = o.force === undefined ? false : bool(o, 'force', '');
      const day = await today();
      const r = await transmit(force, day);
      // Files go in order: the first still waiting says whether the device is out of network; only
      // then is the full status (invoices, deadlines) read for the portable screen.
      const first = r.filesWaiting[0];
      const st = first !== undefined && failedForNetwork(first) ? await computeStatus(day) : undefined;
      await platform.ui.show(st?.portable.offline ? screens.portable(st.portable, st.late.length, day) : screens.transmit(r.filesSent, r.filesWaiting, r.lotsBuilt));
      return toStored(r);
    },
  },
  'returns.fetch': {
    mutates: true,
    run: async (p) => {
      obj(p, '', []);
      const r = await fetchReturns();
      // Files waiting for a retry go with the fetch: there is no timer in the sandbox.
      await sendFiles(false);
      await platform.ui.show(r.ok ? screens.returns(r.arlSeen, r.paid, r.rejects.length) : screens.returnsFailed(r.error ?? 'erreur'));
      return toStored({ ok: r.ok, arl: r.arl, rsp: r.rsp, corrupt: r.corrupt, rejects: r.rejects, leftForHost: r.leftForHost, ...(r.error ? { error: r.error } : {}) });
    },
  },
  'visits.list': {
    mutates: false,
    run: async (p) => {
      obj(p, '', []);
      const d = await currentDayData();
      if (!d) return { ok: true, day: null, loadedAt: null, patients: [] };
      // NIRs masked: the list is for the screen; fse.degraded names a patient by `patient.index`.
      const patients = d.patients.map((x, index) => ({
        index,
        nirMasked: maskNir(x.insured.nir),
        beneficiaries: x.beneficiaries.map((b, i) => ({ index: i, surname: b.usualName ?? b.surname, firstName: b.firstName, birthDate: b.birthDate, birthRank: b.birthRank, rightsOpenToday: rightsOpen(b, d.day) })),
      }));
      return toStored({ ok: true, day: d.day, loadedAt: d.loadedAt, patients });
    },
  },
  'tla.release': {
    mutates: true,
    run: async (p) => {
      obj(p, '', []);
      // The practitioner's way back when the practice computer is gone: held, not erased invoices
      // return to the device's own transmission.
      const now = await platform.clock.now();
      const ops: StoreOp[] = [];
      const released: string[] = [];
      for (const { key, value } of await listAs<InvoiceRecord>(keys.invoices())) {
        if (!isHeld(value)) continue;
        const back = withState(value, 'secured', now, 'reprise par l’appareil (ordinateur du cabinet)');
        delete back.hostHeldAt;
        ops.push(put(key, back));
        released.push(refOfInvoice(value));
      }
      if (ops.length > 0) await platform.store.transaction(ops);
      await platform.ui.show(screens.released(released.length));
      return { ok: true, released };
    },
  },
  status: {
    mutates: false,
    run: async (p) => {
      // `show`: the practitioner asked for the deadlines screen; tools (di status, the day view) only read.
      const o = obj(p, '', ['show']);
      const s = await computeStatus(await today());
      if (o.show !== undefined && bool(o, 'show', '')) await platform.ui.show(s.portable.offline ? screens.portable(s.portable, s.late.length, s.today) : screens.deadlines(s.late, s.dueToday.length, s.dueSoon.length));
      return toStored(s);
    },
  },
};

export const ACTION_NAMES = Object.keys(ACTIONS);

function failure(code: string, message: string, field = ''): Transferable {
  return { ok: false, error: { code, message, field } };
}

/** Never throws: every failure is a French `{ ok: false, error }` the practitioner can act on. */
export async function dispatch(request: unknown): Promise<Transferable> {
  if (!isObj(request) || typeof request.action !== 'string') return failure('E_PAYLOAD', 'Requête invalide');
  const entry = Object.prototype.hasOwnProperty.call(ACTIONS, request.action) ? ACTIONS[request.action] : undefined;
  if (!entry) return failure('E_ACTION', `Action inconnue : ${request.action.slice(0, 40)}`, 'action');
  const payload = request.payload === undefined ? {} : request.payload;
  if (!isObj(payload)) return failure('E_PAYLOAD', 'Les paramètres doivent être un objet', 'payload');
  try {
    return entry.mutates ? await withLock(() => entry.run(payload)) : await entry.run(payload);
  } catch (err) {
    if (err instanceof ActionError) return failure(err.code, err.message, err.field);
    if (err instanceof PayloadError) return failure('E_PAYLOAD', err.message, err.field);
    if (err instanceof InvalidInvoice) return toStored({ ok: false, error: { code: err.issues[0]?.code ?? 'E_INVALID', message: err.message, field: err.issues[0]?.field ?? '' }, issues: err.issues });
    if (err instanceof CardError) return failure(err.sw === 0x6983 ? 'E_CARD_BLOCKED' : 'E_CARD', err.message, err.card === 'CPS' ? 'cps' : 'vitale');
    const code = (err as { code?: unknown } | null)?.code;
    const name = err instanceof Error ? err.name : '';
    if (name === 'FormatError') return failure('E_FORMAT', `Mise en forme impossible : ${(err as Error).message}`);
    await platform.log('error', 'action failed', { action: request.action, error: typeof code === 'string' ? code : name || 'unknown' });
    return failure(typeof code === 'string' ? code : 'E_INTERNAL', 'Opération impossible : erreur interne (voir le journal)');
  }
}

