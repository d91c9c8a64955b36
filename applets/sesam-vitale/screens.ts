/**
 * Every screen of the applet, in French. Screens never show a PIN digit; a NIR appears only masked
 * (first 5 characters + key) on summary screens. At most 12 lines of at most 64 characters.
 */
import type { Screen } from '../../platform/sdk/api.js';
import type { Beneficiary, CpsRead, CpsSituation, IsoDate } from './model.js';

const TITLE = 'SESAM-Vitale';
const MAX_LINES = 12;
const MAX_CHARS = 64;

function screen(lines: string[], title = TITLE, keys?: string[]): Screen {
  const fitted = lines.slice(0, MAX_LINES).map((l) => (l.length > MAX_CHARS ? `${l.slice(0, MAX_CHARS - 1)}…` : l));
  return keys ? { title, lines: fitted, keys } : { title, lines: fitted };
}

export function euros(cents: number): string {
  const neg = cents < 0;
  const c = Math.abs(Math.round(cents));
  const s = `${Math.floor(c / 100)},${String(c % 100).padStart(2, '0')} €`;
  return neg ? `-${s}` : s;
}

export function maskNir(nir: string): string {
  return nir.length === 15 ? `${nir.slice(0, 5)}•••••••• ${nir.slice(13)}` : '•••';
}

/** ISO date as JJ/MM/AAAA; card birth dates (AAAAMMJJ, maybe lunar) as on the card. */
export function frDate(iso: IsoDate): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  return m ? `${m[3]}/${m[2]}/${m[1]}` : iso;
}

export function frBirth(d: string): string {
  return /^\d{8}$/.test(d) ? `${d.slice(6, 8)}/${d.slice(4, 6)}/${d.slice(0, 4)}` : d;
}

export function hhmm(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')} UTC`;
}

export function situationLabel(s: CpsSituation): string {
  return `${s.number}. ${s.raisonSociale ?? 'Situation'} (${s.billingNumber})`;
}

export function beneficiaryLabel(b: Beneficiary): string {
  return `${b.usualName ?? b.surname} ${b.firstName}, né(e) ${frBirth(b.birthDate)}, rang ${b.birthRank}`;
}

export interface PortableLines {
  since?: number;
  filesWaiting: number;
  invoicesWaiting: number;
  nextDeadline: IsoDate | null;
}

/** Portable mode in a few lines: what waits for the network, the nearest deadline, the late ones. */
export function portableLines(p: PortableLines, late: number, today: IsoDate): string[] {
  return [
    `Hors réseau — mode portable${p.since !== undefined ? ` depuis ${hhmm(p.since)}` : ''}`,
    `${p.filesWaiting} fichier(s) / ${p.invoicesWaiting} facture(s) en attente`,
    ...(p.nextDeadline ? [p.nextDeadline < today ? `Échéance dépassée : ${frDate(p.nextDeadline)}` : `Prochaine échéance : ${frDate(p.nextDeadline)}`] : []),
    ...(late > 0 ? [`Factures en retard : ${late}`] : []),
  ];
}

export const screens = {
  home: (toSecure: number[] = [], portable?: { status: PortableLines; late: number; today: IsoDate }): Screen =>
    screen([
      'Insérez la carte CPS',
      'puis la carte Vitale du patient',
      ...(portable ? ['', ...portableLines(portable.status, portable.late, portable.today)] : []),
      ...(toSecure.length > 0 ? ['', `Factures à sécuriser : ${toSecure.length}`, ...toSecure.slice(0, 6).map((n) => `  FSE n° ${n}`)] : []),
    ]),
  cpsRead: (read: CpsRead, s: CpsSituation | null): Screen =>
    screen([`${read.holder.civilite} ${read.holder.prenom} ${read.holder.nom}`, s ? `Situation : ${situationLabel(s)}` : 'Choisissez la situation', s && !s.canSignFse ? 'Cette situation ne peut pas signer de FSE' : '']),
  pinOk: (): Screen => screen(['Code porteur vérifié', 'Carte CPS prête']),
  pinAborted: (why: 'cancelled' | 'timeout'): Screen => screen([why === 'cancelled' ? 'Saisie du code annulée' : 'Saisie du code : délai dépassé', 'Signature impossible sans le code']),
  wrongPin: (triesLeft: number | null): Screen =>
    screen(['Code porteur faux', triesLeft === null ? 'Essais restants : inconnus' : `Essais restants : ${triesLeft}`]),
  cpsBlocked: (): Screen => screen(['Carte CPS bloquée', 'Débloquez-la avec le code de déblocage', 'puis insérez-la de nouveau']),
  cardError: (message: string): Screen => screen(['Lecture de la carte impossible', message, 'Retirez la carte']),
  vitaleRead: (bens: Beneficiary[], nirMasked: string, selected: number | null, rightsOpen: boolean | null): Screen =>
    screen([
      `Carte Vitale : assuré ${nirMasked}`,
      ...bens.map((b, i) => `${i === selected ? '>' : ' '} ${beneficiaryLabel(b)}`),
      ...(rightsOpen === null ? [] : [rightsOpen ? 'Droits ouverts ce jour' : 'Droits fermés ce jour']),
    ]),
  rightsClosed: (b: Beneficiary, today: IsoDate): Screen =>
    screen(['Droits fermés', beneficiaryLabel(b), `au ${frDate(today)}${b.rights.end ? ` (fin le ${frDate(b.rights.end)})` : ''}`, 'Facturation impossible pour ce bénéficiaire']),
  badNir: (maskedNir: string): Screen => screen(['Carte Vitale refusée', 'Clé du NIR incorrecte', `NIR ${maskedNir}`, 'Retirez la carte']),
  secured: (no: number, dreNo: number | undefined, patientToPay: number, deadline: IsoDate): Screen =>
    screen([`FSE sécurisée n° ${no}`, ...(dreNo ? [`DRE n° ${dreNo} pour la complémentaire`] : []), `Montant à régler : ${euros(patientToPay)}`, `À transmettre avant le ${frDate(deadline)}`]),
  degraded: (no: number, patientToPay: number): Screen =>
    screen([`FSE dégradée n° ${no}`, 'Imprimez le duplicata papier', 'et adressez-le à la caisse', `Montant à régler : ${euros(patientToPay)}`]),
  lotsToSend: (n: number): Screen => screen([`Lots à transmettre : ${n}`]),
  transmit: (sent: string[], waiting: Array<{ fileId: string; nextAttemptAt: number }>, lotsBuilt: number): Screen =>
    screen([
      `Lots constitués : ${lotsBuilt}`,
      ...sent.map((f) => `Fichier envoyé : ${f}`),
      ...waiting.map((w) => `En attente : ${w.fileId} (nouvelle tentative à ${hhmm(w.nextAttemptAt)})`),
    ]),
  returnsFailed: (why: string): Screen => screen(['Relève des retours impossible', why.slice(0, 64), 'Réessayez plus tard']),
  returns: (arl: Array<{ lotNo: number; status: 'positive' | 'negative'; reason?: string }>, paid: number, rejected: number): Screen =>
    screen([
      ...arl.map((a) => (a.status === 'positive' ? `ARL positive : lot ${a.lotNo}` : `ARL négative : lot ${a.lotNo} (${a.reason ?? 'motif non donné'})`)),
      ...(paid > 0 ? [`Paiements reçus : ${paid}`] : []),
      ...(rejected > 0 ? [`Rejets à reprendre : ${rejected}`] : []),
      ...(arl.length === 0 && paid === 0 && rejected === 0 ? ['Aucun retour nouveau'] : []),
    ]),
  payment: (status: string, amount: number): Screen =>
    screen([status === 'approved' ? 'Paiement reçu' : 'Paiement non abouti', `Montant : ${euros(amount)}`]),
  deadlines: (late: Array<{ invoiceNo: number; deadline: IsoDate }>, dueToday: number, dueSoon: number): Screen =>
    screen([
      ...late.map((l) => `En retard : FSE n° ${l.invoiceNo} (échéance ${frDate(l.deadline)})`),
      `À transmettre aujourd’hui : ${dueToday}`,
      `À transmettre sous 2 jours : ${dueSoon}`,
    ]),
  refused: (message: string): Screen => screen(['Opération refusée', message]),
  released: (n: number): Screen => screen([n > 0 ? `Factures reprises par l’appareil : ${n}` : 'Aucune facture détenue par l’ordinateur', ...(n > 0 ? ['Elles partiront avec la prochaine transmission'] : [])]),
  /** While the practice computer is served over the host link. */
  hostSync: (lines: string[]): Screen => screen(['Synchronisation avec l’ordinateur du cabinet', '', ...lines]),
  /** Home, in portable mode: what waits for the network and the nearest deadline. */
  portable: (p: PortableLines, late: number, today: IsoDate): Screen => screen([...portableLines(p, late, today), 'Envoi automatique au retour du réseau']),
};
