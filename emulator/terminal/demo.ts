/**
 * `di demo`: a practitioner's scripted day, played on the real platform from end to end. Usable by
 * the CLI and by tests (bootDemoPlatform + playDay can also play on a platform already booted).
 *
 * Boot: Kernel.boot in development mode with both applets bundled from source (bundleApplet, as
 * `di applet pack` bundles them) under the real policies of policies/, each patched copy pointing its
 * endpoints (SMTP, POP3, acquirer) at emulators started on ephemeral loopback ports. This is the
 * simplest route: installed packages would need a policy file re-signed for each port change.
 *
 * The day: the médecin généraliste's CPS (situation chosen on screen, PIN typed on the keypad), two
 * Vitale cards refused on screen (NIR key wrong, rights closed), N patients drawn from the Vitale
 * profiles by a seeded generator (consultations G, visits VG + MD + IK, DREs under tiers payant
 * AMO + AMC, one work accident the AMO rejects by a rule kept as data, one degraded-mode FSE, patient
 * parts paid by card: emv-online approved, emv-refus declined, PIN on the keypad), the nurse's CPS for
 * a series (AMI + IFD + IK over several days of one prescription), end-of-day transmission by both,
 * ARL and RSP fetched until everything is answered, the rejected invoice corrected and sent again.
 *
 * Keys are pressed on the kernel's keypad (Terminal.press) when the screen asks for them: the demo
 * sees only what the page would see (a question, a PIN entry with a digit count).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel, type DevApplet } from '../../platform/kernel/kernel.js';
import { defaultConfig } from '../../platform/kernel/config.js';
import { bundleApplet } from '../../platform/kernel/packages/pack.js';
import { loadPolicyFile } from '../../platform/kernel/policy/loader.js';
import { repoRoot } from '../../platform/kernel/paths.js';
import type { Policy } from '../../platform/kernel/policy/types.js';
import type { Key, TerminalView } from '../../platform/kernel/terminal.js';
import { startAmo, type Amo, type AmoRules } from '../amo/server.js';
import { startAcquirer, type AcquirerServer } from '../acquirer/server.js';
import { emulatorKeyDir, loadCard } from '../cards/profiles.js';

type R = Record<string, unknown>;

export interface DemoSummary {
  fse: number;
  dre: number;
  lots: number;
  filesSent: number;
  arlPositive: number;
  arlNegative: number;
  paid: number;
  payments: { approved: number; declined: number };
  /** Acknowledged invoices (fse.* ok results) the AMO neither accepted nor rejected. */
  lost: number;
  durationMs: number;
  /** What happened, in French, one line per event (for the page and the text output). */
  journal: string[];
}

/** The keys `di demo --json` prints, in order. */
export const DEMO_JSON_KEYS = ['fse', 'dre', 'lots', 'filesSent', 'arlPositive', 'arlNegative', 'paid', 'payments', 'lost', 'durationMs'] as const;

export function demoJson(s: DemoSummary): Pick<DemoSummary, (typeof DEMO_JSON_KEYS)[number]> {
  return { fse: s.fse, dre: s.dre, lots: s.lots, filesSent: s.filesSent, arlPositive: s.arlPositive, arlNegative: s.arlNegative, paid: s.paid, payments: { approved: s.payments.approved, declined: s.payments.declined }, lost: s.lost, durationMs: s.durationMs };
}

export interface DemoOptions {
  patients: number;
  seed?: number;
  /** Kept after the run; default a fresh temporary directory, removed at the end. */
  dataDir?: string;
  onProgress?(done: number, total: number, label: string): void;
  /** Called with the live platform once the day is over, before it stops (tests read the AMO here). */
  onEnd?(platform: DemoPlatform): void | Promise<void>;
}

export interface DemoPlatform {
  kernel: Kernel;
  amo: Amo;
  acquirer: AcquirerServer;
  dataDir: string;
  close(): Promise<void>;
}

/** The one rule the demo's AMO applies beyond its fixed checks: work accidents are not recognised. */
export const DEMO_AMO_RULES: AmoRules = { reject: [{ when: { nature: 'at' }, reason: { code: 'R01', text: 'AT NON RECONNU PAR LA CAISSE' } }] };

const SLOT_CPS = 0;
const SLOT_VITALE = 1;
const SLOT_EMV = 2;
const PIN = '1234';

function patched(policy: Policy, ports: { smtp: number; pop3: number; acquirer: number }): Policy {
  return {
    ...policy,
    network: {
      ...policy.network,
      endpoints: policy.network.endpoints.map((e) => ({ ...e, port: e.kind === 'smtp' ? ports.smtp : e.kind === 'pop3' ? ports.pop3 : e.kind === 'acquirer' ? ports.acquirer : e.port })),
    },
  };
}

/** Kernel (both applets, development mode) + AMO (immediate payment, the demo's rule) + acquirer, on loopback. */
export async function bootDemoPlatform(opts: { dataDir?: string; amoRules?: AmoRules } = {}): Promise<DemoPlatform> {
  const temporary = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'di-demo-'));
  const keyDir = emulatorKeyDir();
  const root = repoRoot();
  const [healthScript, paymentScript] = await Promise.all([bundleApplet(join(root, 'applets', 'sesam-vitale'), 'main.ts'), bundleApplet(join(root, 'applets', 'payment-stub'), 'main.ts')]);
  const acquirer = await startAcquirer({ port: 0, keyDir, journalPath: join(dataDir, 'acquirer', 'journal.jsonl') });
  let amo: Amo | undefined;
  try {
    amo = await startAmo({ smtpPort: 0, pop3Port: 0, dataDir: join(dataDir, 'amo'), keyDir, payment: 'immediate', rules: opts.amoRules ?? DEMO_AMO_RULES });
    const ports = { smtp: amo.smtpPort, pop3: amo.pop3Port, acquirer: acquirer.port };
    const applets: DevApplet[] = [
      { policy: patched(loadPolicyFile(join(root, 'policies', 'sesam-vitale.json')), ports), script: healthScript, filename: 'sesam-vitale/applet.js' },
      { policy: patched(loadPolicyFile(join(root, 'policies', 'payment.json')), ports), script: paymentScript, filename: 'payment-stub/applet.js' },
    ];
    const base = defaultConfig(join(dataDir, 'kernel'));
    const kernel = await Kernel.boot({ config: { ...base, reader: { ...base.reader, slots: 3 } }, devApplets: applets });
    const a = amo;
    return {
      kernel,
      amo: a,
      acquirer,
      dataDir,
      async close() {
        await kernel.shutdown();
        await acquirer.close();
        await a.close();
        if (temporary) rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await acquirer.close();
    await amo?.close();
    if (temporary) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
}

// ---- deterministic draws ----------------------------------------------------------------------------

/** mulberry32: small and seedable; the same seed replays the same day (or the same kill points). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], rnd: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

interface ProfileJson {
  insured: { nir: string; regime: string; caisse: string; centre: string; codeGestion: string };
  beneficiaries: Array<{ surname: string; usualName?: string; firstName: string; birthDate: string; birthRank: number; quality: string; nir?: string; nationality: string; rights: { start: string; end?: string; ald: boolean; exoneration: string } }>;
}

function profileJson(name: string): ProfileJson {
  return JSON.parse(readFileSync(join(repoRoot(), 'emulator', 'cards', 'profiles', `${name}.json`), 'utf8')) as ProfileJson;
}

const isoOf = (yyyymmdd: string): string => `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`;

/** A Vitale card profile and the beneficiary the practitioner picks on it. */
interface Patient {
  profile: string;
  index: number;
}

type Kind = 'at' | 'dre' | 'g-pay' | 'visit' | 'degraded' | 'g-declined' | 'g';

/** General patients (FSE without tiers payant); the AMC card is kept for DREs; invalid-NIR and expired-rights cards only for the refusals. */
const GENERAL: Patient[] = [
  { profile: 'vitale-assure-seul', index: 0 },
  { profile: 'vitale-famille-jumeaux', index: 0 },
  { profile: 'vitale-famille-jumeaux', index: 1 },
  { profile: 'vitale-famille-jumeaux', index: 2 },
  { profile: 'vitale-famille-jumeaux', index: 3 },
  { profile: 'vitale-ald', index: 0 },
];
const AMC: Patient[] = [
  { profile: 'vitale-amc-tiers-payant', index: 0 },
  { profile: 'vitale-amc-tiers-payant', index: 1 },
];

/** The day's médecin encounters: the required events first (as many as N allows), the rest drawn. */
function planDay(n: number, rnd: () => number): Array<{ kind: Kind; patient: Patient; km: number }> {
  const required: Kind[] = ['at', 'dre', 'g-pay', 'visit', 'degraded', 'g-declined'];
  const kinds: Kind[] = required.slice(0, n);
  while (kinds.length < n) {
    const x = rnd();
    kinds.push(x < 0.35 ? 'g' : x < 0.55 ? 'g-pay' : x < 0.8 ? 'visit' : 'dre');
  }
  const order = shuffle(kinds, rnd);
  let general = shuffle(GENERAL, rnd);
  let amc = shuffle(AMC, rnd);
  return order.map((kind) => {
    let patient: Patient;
    if (kind === 'dre') {
      if (amc.length === 0) amc = shuffle(AMC, rnd);
      patient = amc.shift()!;
    } else {
      // The degraded FSE needs a NIR typed in: the insured's own, or a beneficiary's own.
      if (general.length === 0) general = shuffle(GENERAL, rnd);
      const i = kind === 'degraded' ? general.findIndex((p) => degradedIdentity(p) !== null) : 0;
      patient = i >= 0 ? general.splice(i, 1)[0]! : GENERAL.find((p) => degradedIdentity(p) !== null)!;
    }
    return { kind, patient, km: 2 + Math.floor(rnd() * 12) };
  });
}

function degradedIdentity(p: Patient): { insured: R; beneficiary: R } | null {
  const j = profileJson(p.profile);
  const b = j.beneficiaries[p.index]!;
  const nir = b.nir ?? (b.quality === '00' ? j.insured.nir : undefined);
  if (!nir) return null;
  const rights: R = { start: isoOf(b.rights.start), ald: b.rights.ald, exoneration: b.rights.exoneration };
  if (b.rights.end) rights.end = isoOf(b.rights.end);
  const beneficiary: R = { surname: b.surname, firstName: b.firstName, birthDate: b.birthDate, birthRank: b.birthRank, quality: b.quality, nir, nationality: b.nationality, rights };
  if (b.usualName) beneficiary.usualName = b.usualName;
  return { insured: { ...j.insured }, beneficiary };
}

function label(p: Patient): string {
  const b = profileJson(p.profile).beneficiaries[p.index]!;
  return `${b.usualName ?? b.surname} ${b.firstName}`;
}

// ---- the practitioner's hands -------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const euros = (c: number): string => `${Math.floor(c / 100)},${String(c % 100).padStart(2, '0')} €`;
const todayIso = (): string => new Date().toISOString().slice(0, 10);
function daysBefore(iso: string, n: number): string {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
}

/** Answers what the screen asks, as the practitioner would: a choice, or the PIN on the keypad. */
class Hands {
  /** Which choice to pick for a question on screen (null: leave it). */
  choose: (q: NonNullable<TerminalView['question']>, domain: string | null) => number | null = () => null;
  private pins = 0;
  private readonly onView = (v: TerminalView) => setImmediate(() => this.react(v));

  constructor(private readonly kernel: Kernel) {
    kernel.terminal.on('view', this.onView);
  }

  /** The next PIN entry(ies) on screen get the PIN typed on the keypad. */
  armPin(times = 1): void {
    this.pins = times;
    this.react(this.kernel.terminal.current());
  }

  private react(_v: TerminalView): void {
    const v = this.kernel.terminal.current();
    if (v.pinEntry && v.pinEntry.digits === 0 && this.pins > 0) {
      this.pins--;
      for (const d of PIN) this.kernel.terminal.press(d as Key);
      this.kernel.terminal.press('OK');
    } else if (v.question) {
      const c = this.choose(v.question, v.domain);
      if (c !== null) this.kernel.terminal.answer(c);
    }
  }

  release(): void {
    this.kernel.terminal.off('view', this.onView);
  }
}

// ---- the day ---------------------------------------------------------------------------------------

export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const t0 = Date.now();
  const p = await bootDemoPlatform(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir });
  try {
    const s = await playDay(p, { ...opts, startedAt: t0 });
    await opts.onEnd?.(p);
    return s;
  } finally {
    await p.close();
  }
}

export async function playDay(p: DemoPlatform, opts: Omit<DemoOptions, 'dataDir' | 'onEnd'> & { startedAt?: number }): Promise<DemoSummary> {
  const started = opts.startedAt ?? Date.now();
  const n = Math.max(1, Math.min(200, Math.floor(opts.patients)));
  const rnd = seededRandom(opts.seed ?? 20240607);
  const { kernel, amo } = p;
  const journal: string[] = [];
  const plan = planDay(n, rnd);
  // Boot, CPS, two refusals, the patients, nurse CPS, series, two transmissions, returns, correction, returns.
  const total = 1 + 1 + 2 + n + 1 + 1 + 2 + 1 + 1 + 1;
  let done = 0;
  const step = (raw: string) => {
    // Screens may show a NIR; the day's journal keeps only its first five characters.
    const what = raw.replace(/\b([0-9]{5})[0-9AB]{8,10}\b/g, (_m, head: string) => `${head}…`);
    done++;
    journal.push(what);
    opts.onProgress?.(Math.min(done, total), total, what);
  };
  const note = (what: string) => journal.push(what);
  const hands = new Hands(kernel);
  const act = (action: string, payload: R = {}) => kernel.action('sesam-vitale', action, payload) as Promise<R>;
  const waitFor = async <T>(f: () => Promise<T | null | undefined | false> | T | null | undefined | false, what: string, timeoutMs = 30_000): Promise<T> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const v = await f();
      if (v) return v;
      if (Date.now() > until) throw new Error(`démo : délai dépassé en attendant ${what}`);
      await sleep(25);
    }
  };
  /** Takes the card out of a slot, if there is one. */
  const pull = (slot: number) => {
    try {
      kernel.removeCard(slot);
    } catch {
      // Nothing in the slot.
    }
  };
  const screenText = () => {
    const v = kernel.terminal.current();
    return [v.screen.title ?? '', ...v.screen.lines].join(' | ');
  };

  // Acknowledged invoices: what the device told the practitioner it secured, by billing number.
  const acknowledged: Array<{ billing: string; kind: 'FSE' | 'DRE'; no: number }> = [];
  let billing = '';
  const ack = (r: R, what: string): R => {
    if (r.ok !== true) throw new Error(`démo : ${what} refusée : ${JSON.stringify(r.error ?? r)}`);
    acknowledged.push({ billing, kind: 'FSE', no: r.invoiceNo as number });
    if (typeof r.dreNo === 'number') acknowledged.push({ billing, kind: 'DRE', no: r.dreNo });
    return r;
  };
  let lots = 0;
  let filesSent = 0;

  try {
    await waitFor(() => kernel.handlers.get('sesam-vitale')?.includes('onAction') && kernel.handlers.get('payment')?.includes('onIntent'), 'le démarrage des applications', 30_000);
    step('Terminal démarré : SESAM-Vitale et paiement prêts, Assurance Maladie et banque émulées');

    const insertCps = async (profile: string, situation: number) => {
      if ((await act('session.state')).cps) {
        pull(SLOT_CPS);
        await waitFor(async () => !(await act('session.state')).cps, 'le retrait de la CPS');
      }
      hands.choose = (q) => (/situation/i.test(q.text) ? situation : null);
      hands.armPin();
      kernel.insertCard(SLOT_CPS, await loadCard(profile));
      const s = await waitFor(async () => {
        const st = await act('session.state');
        return (st.cps as R | undefined)?.pinVerified === true ? st : null;
      }, `la CPS ${profile}`);
      const cps = s.cps as R;
      billing = ((cps.situations as R[])[cps.situation as number]!.billingNumber as string) ?? '';
      return `${cps.prenom as string} ${cps.nom as string}`;
    };
    const removeVitale = async () => {
      pull(SLOT_VITALE);
      await waitFor(async () => !(await act('session.state')).vitale, 'le retrait de la carte Vitale');
    };
    const insertVitale = async (pt: Patient) => {
      await removeVitale();
      hands.choose = (q) => (/bénéficiaire/i.test(q.text) ? pt.index : null);
      kernel.insertCard(SLOT_VITALE, await loadCard(pt.profile));
      return waitFor(async () => {
        const st = await act('session.state');
        const v = st.vitale as R | undefined;
        return v && v.selected === pt.index ? st : null;
      }, `la carte Vitale ${pt.profile}`);
    };

    const who = await insertCps('cps-medecin-generaliste', 0);
    step(`CPS du médecin généraliste (${who}) : situation 1 choisie, code porteur saisi au clavier`);

    // Two cards refused on screen.
    pull(SLOT_VITALE);
    kernel.insertCard(SLOT_VITALE, await loadCard('vitale-nir-invalide'));
    const bad = await waitFor(() => (screenText().includes('Carte Vitale refusée') ? screenText() : null), 'le refus de la carte au NIR faux');
    pull(SLOT_VITALE);
    step(`Carte Vitale refusée à l'écran : ${bad}`);
    await insertVitale({ profile: 'vitale-droits-expires', index: 0 });
    const closed = await waitFor(() => (screenText().includes('Droits fermés') ? screenText() : null), 'l’écran des droits fermés');
    const refused = await act('fse.create', { acts: [{ date: todayIso(), code: 'G' }], context: { nature: 'maladie', aldRelated: false, parcours: 'traitant', tiersPayantAmo: false, tiersPayantAmc: false } });
    if (refused.ok !== false) throw new Error('démo : une FSE a été acceptée pour des droits fermés');
    step(`Droits fermés à l'écran : ${closed} — FSE refusée : ${String((refused.error as R).message)}`);
    await removeVitale();

    // The patients.
    const today = todayIso();
    let atPatient: { patient: Patient; invoiceNo: number } | null = null;
    let declinedDone = false;
    for (const [i, e] of plan.entries()) {
      const name = label(e.patient);
      const ctx = { nature: 'maladie', aldRelated: false, parcours: 'traitant', tiersPayantAmo: false, tiersPayantAmc: false };
      let r: R;
      let what: string;
      if (e.kind === 'degraded') {
        await removeVitale();
        const id = degradedIdentity(e.patient)!;
        r = ack(await act('fse.degraded', { ...id, acts: [{ date: today, code: 'G' }], context: ctx }), 'la FSE dégradée');
        what = `FSE dégradée n° ${r.invoiceNo as number} (sans carte Vitale, duplicata papier de ${(r.duplicate as unknown[]).length} lignes)`;
      } else {
        await insertVitale(e.patient);
        if (e.kind === 'dre') {
          r = ack(await act('fse.create', { acts: [{ date: today, code: 'G' }], context: { ...ctx, tiersPayantAmo: true, tiersPayantAmc: true } }), 'la FSE avec DRE');
          what = `consultation G en tiers payant AMO + AMC : FSE n° ${r.invoiceNo as number} et DRE n° ${String(r.dreNo)}`;
        } else if (e.kind === 'visit') {
          r = ack(await act('fse.create', { acts: [{ date: today, code: 'VG' }, { date: today, code: 'MD' }, { date: today, code: 'IK', quantity: e.km }], context: ctx }), 'la FSE de visite');
          what = `visite VG + MD + IK ${e.km} km : FSE n° ${r.invoiceNo as number}`;
        } else if (e.kind === 'at') {
          r = ack(await act('fse.create', { acts: [{ date: today, code: 'G' }], context: { ...ctx, nature: 'at', atNumber: `AT${String(100_000 + Math.floor(rnd() * 899_999))}` } }), 'la FSE d’accident du travail');
          atPatient = { patient: e.patient, invoiceNo: r.invoiceNo as number };
          what = `consultation G pour accident du travail : FSE n° ${r.invoiceNo as number}`;
        } else {
          const ald = profileJson(e.patient.profile).beneficiaries[e.patient.index]!.rights.ald;
          r = ack(await act('fse.create', { acts: [{ date: today, code: 'G' }], context: { ...ctx, aldRelated: ald } }), 'la FSE');
          what = `consultation G${ald ? ' (ALD)' : ''} : FSE n° ${r.invoiceNo as number}`;
        }
      }
      const toPay = typeof r.patientToPay === 'number' ? r.patientToPay : 0;
      what += `, reste à charge ${euros(toPay)}`;
      const wantsCard = e.kind === 'g-pay' || e.kind === 'g-declined' || (e.kind === 'visit' && rnd() < 0.5);
      if (wantsCard && toPay > 0) {
        const declined = e.kind === 'g-declined' && !declinedDone;
        if (declined) declinedDone = true;
        const pay = await payByCard(r.invoiceNo as number, declined ? 'emv-refus' : 'emv-online');
        what += declined ? ` ; paiement par carte refusé (${pay.status}), réglé autrement` : ` ; payé par carte (${pay.status})`;
      }
      step(`Patient ${i + 1}/${n} ${name} : ${what}`);
    }
    await removeVitale();

    async function payByCard(invoiceNo: number, profile: string): Promise<R> {
      kernel.insertCard(SLOT_EMV, await loadCard(profile));
      await waitFor(() => kernel.broker.cardsFor('payment').length > 0, 'la carte bancaire');
      // The payment applet may ask to confirm the application: "Valider".
      hands.choose = (q, domain) => (domain === 'payment' ? (q.choices.indexOf('Valider') >= 0 ? q.choices.indexOf('Valider') : null) : null);
      hands.armPin();
      try {
        const r = await act('fse.pay', { invoiceNo });
        if (typeof r.status !== 'string') throw new Error(`démo : paiement sans issue : ${JSON.stringify(r)}`);
        return r;
      } finally {
        hands.armPin(0);
        pull(SLOT_EMV);
        await waitFor(() => kernel.broker.cardsFor('payment').length === 0, 'le retrait de la carte bancaire');
      }
    }

    // The nurse: a series of one prescription over several days.
    const nurse = await insertCps('cps-infirmiere', 0);
    step(`CPS échangée : infirmière (${nurse}), code porteur saisi au clavier`);
    const sp = plan.find((x) => x.kind !== 'dre' && x.kind !== 'degraded')?.patient ?? GENERAL[0]!;
    await insertVitale(sp);
    const days = 4;
    const km = 3 + Math.floor(rnd() * 6);
    const sessions = Array.from({ length: days }, (_, k) => daysBefore(today, days - 1 - k));
    const seriesActs = sessions.flatMap((d) => [
      { date: d, code: 'AMI', coefficient: 1 },
      { date: d, code: 'IFD' },
      { date: d, code: 'IK', quantity: km },
    ]);
    const ald = profileJson(sp.profile).beneficiaries[sp.index]!.rights.ald;
    const sr = ack(
      await act('fse.create', {
        acts: seriesActs,
        context: { nature: 'maladie', aldRelated: ald, parcours: 'exempt', tiersPayantAmo: false, tiersPayantAmc: false },
        series: { prescriberId: '19999000011', prescriptionDate: daysBefore(today, days + 2) },
      }),
      'la FSE de série',
    );
    await removeVitale();
    step(`Série infirmière pour ${label(sp)} : ${days} séances AMI + IFD + IK ${km} km du ${sessions[0]} au ${today}, FSE n° ${sr.invoiceNo as number}`);

    // End of day: each practitioner signs and sends her lots.
    const transmitNow = async (who: string) => {
      const t = await act('transmit');
      if (t.ok !== true) throw new Error(`démo : transmission refusée : ${JSON.stringify(t.errors)}`);
      lots += t.lotsBuilt as number;
      filesSent += (t.filesSent as unknown[]).length;
      return `${who} : ${t.lotsBuilt as number} lot(s) signé(s) par la CPS, ${(t.filesSent as unknown[]).length} fichier(s) envoyé(s)`;
    };
    step(`Télétransmission de fin de journée, ${await transmitNow('infirmière')}`);
    await insertCps('cps-medecin-generaliste', 0);
    step(`Télétransmission de fin de journée, ${await transmitNow('médecin (CPS remise, code saisi)')}`);

    // Returns until every file has its ARL and every accepted invoice its RSP.
    const fetchAll = async () => {
      let arl = 0;
      let rsp = 0;
      const rejects: R[] = [];
      for (let k = 0; k < 400; k++) {
        await amo.whenIdle();
        const r = await act('returns.fetch');
        if (r.ok !== true) throw new Error(`démo : relève impossible : ${String(r.error)}`);
        arl += r.arl as number;
        rsp += r.rsp as number;
        rejects.push(...(r.rejects as R[]));
        const st = await act('status');
        const by = st.byState as Record<string, number>;
        if ((by['in-lot'] ?? 0) + (by.sent ?? 0) + (by['arl-positive'] ?? 0) === 0 && (st.filesWaiting as unknown[]).length === 0 && st.lotsPending === 0) return { arl, rsp, rejects, st };
        await sleep(20);
      }
      throw new Error('démo : des fichiers restent sans ARL ou des factures sans RSP');
    };
    const first = await fetchAll();
    step(`Relève : ${first.arl} ARL et ${first.rsp} RSP reçus ; rejets : ${first.rejects.map((x) => `facture n° ${String(x.invoiceNo)} (${String(x.code)} ${String(x.text)})`).join(', ') || 'aucun'}`);

    // The rejected work accident, corrected (the visit was not a work accident) and sent again.
    const toRedo = (first.st.rejectsToRedo as R[]).map((x) => x.invoiceNo as number);
    for (const no of toRedo) {
      if (atPatient && atPatient.invoiceNo === no) await insertVitale(atPatient.patient);
      const c = ack(await act('fse.correct', { invoiceNo: no, context: { nature: 'maladie', aldRelated: false, parcours: 'traitant', tiersPayantAmo: false, tiersPayantAmc: false } }), 'la correction');
      note(`FSE n° ${no} corrigée (maladie au lieu d'accident du travail) : nouvelle FSE n° ${c.invoiceNo as number}`);
    }
    await removeVitale();
    step(`Corrections : ${toRedo.length} FSE refaite(s) ; ${await transmitNow('médecin')}`);
    const second = await fetchAll();
    step(`Relève : ${second.arl} ARL et ${second.rsp} RSP reçus`);

    // The summary, from the device's own status; lost is checked against what the AMO recorded.
    const st = second.st;
    const by = st.byState as Record<string, number>;
    await amo.whenIdle();
    const seen = new Set(amo.files().flatMap((f) => f.invoices.map((i) => `${f.billingNumber}|${i.kind}|${i.invoiceNo}`)));
    const lost = acknowledged.filter((a) => !seen.has(`${a.billing}|${a.kind}|${a.no}`)).length;
    const payments = st.payments as { approved: number; declined: number };
    return {
      fse: acknowledged.filter((a) => a.kind === 'FSE').length,
      dre: acknowledged.filter((a) => a.kind === 'DRE').length,
      lots,
      filesSent,
      arlPositive: (by['arl-positive'] ?? 0) + (by.paid ?? 0) + (by.rejected ?? 0),
      arlNegative: by['arl-negative'] ?? 0,
      paid: (st.paid as { count: number }).count,
      payments: { approved: payments.approved, declined: payments.declined },
      lost,
      durationMs: Date.now() - started,
      journal,
    };
  } finally {
    hands.release();
  }
}

/** The summary as a French table (text output of `di demo`). */
export function summaryTableFr(s: DemoSummary): string {
  const rows: Array<[string, string]> = [
    ['FSE sécurisées', String(s.fse)],
    ['DRE (complémentaire)', String(s.dre)],
    ['Lots signés', String(s.lots)],
    ['Fichiers envoyés', String(s.filesSent)],
    ['Factures acceptées (ARL positif)', String(s.arlPositive)],
    ['Factures rejetées (ARL négatif)', String(s.arlNegative)],
    ['Factures payées (RSP)', String(s.paid)],
    ['Paiements carte acceptés', String(s.payments.approved)],
    ['Paiements carte refusés', String(s.payments.declined)],
    ['Factures perdues', String(s.lost)],
    ['Durée', `${(s.durationMs / 1000).toFixed(1).replace('.', ',')} s`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const v = Math.max(...rows.map(([, x]) => x.length));
  const line = `+${'-'.repeat(w + 2)}+${'-'.repeat(v + 2)}+`;
  return [line, `| ${'Bilan de la journée'.padEnd(w + v + 3)} |`, line, ...rows.map(([k, x]) => `| ${k.padEnd(w)} | ${x.padStart(v)} |`), line].join('\n');
}
