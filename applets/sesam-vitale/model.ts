/**
 * The SESAM-Vitale applet's domain model: the types every module of the applet (cards, tariff,
 * invoices, formats, pipeline) and the AMO emulator (which imports the formats) agree on.
 * Amounts are integer centimes; calendar dates are ISO `YYYY-MM-DD` strings (formats convert them to
 * AAMMJJ); birth dates stay as the Vitale card gives them (AAAAMMJJ, possibly lunar).
 */

export type Cents = number;
export type IsoDate = string;

// ---- Practitioner (CPS) -------------------------------------------------------------------------

export interface CpsHolder {
  idType: 'RPPS' | 'ADELI';
  id: string;
  /** Type digit + identifier, e.g. `819999000011`. */
  nationalId: string;
  civilite: string;
  nom: string;
  prenom: string;
  /** NOS profession code: 10 médecin, 60 infirmier, 70 masseur-kinésithérapeute. */
  profession: string;
  /** Assurance Maladie specialty: 01 médecine générale, 24 infirmier, 26 MK. */
  specialite: string;
}

export interface CpsSituation {
  number: number;
  mode: 'L' | 'S' | 'B';
  /** 9 digits: 8 + key. */
  billingNumber: string;
  conventionCode: string;
  tariffZone: string;
  specialite: string;
  canSignFse: boolean;
  canSignLot: boolean;
  remplacant: boolean;
  replacedBillingNumber?: string;
  raisonSociale?: string;
}

export interface CpsRead {
  cardNumber: string;
  holder: CpsHolder;
  situations: CpsSituation[];
  /** Signature certificate (key 02) and the issuing CA certificate, DER. */
  signCertDer: Uint8Array;
  caCertDer: Uint8Array;
}

/** What an invoice keeps of the practitioner: the chosen situation. */
export interface PractitionerRef {
  nationalId: string;
  nom: string;
  prenom: string;
  specialite: string;
  billingNumber: string;
  situationNumber: number;
  conventionCode: string;
  tariffZone: string;
  remplacant: boolean;
  replacedBillingNumber?: string;
}

// ---- Insured and beneficiaries (Vitale) ---------------------------------------------------------

export interface Insured {
  /** 15 characters: 13 + key; Corsica keeps 2A/2B. */
  nir: string;
  regime: string;
  caisse: string;
  centre: string;
  codeGestion: string;
}

export interface Rights {
  start: IsoDate;
  /** Absent: open-ended. */
  end?: IsoDate;
  ald: boolean;
  exoneration: string;
}

export interface Amc {
  number: string;
  contractType: string;
  tiersPayant: boolean;
  start: IsoDate;
  end: IsoDate;
  name?: string;
}

export interface Beneficiary {
  surname: string;
  usualName?: string;
  firstName: string;
  /** AAAAMMJJ as on the card; lunar dates (month/day 00) allowed. */
  birthDate: string;
  birthRank: number;
  quality: string;
  nir?: string;
  nationality: string;
  rights: Rights;
  amc?: Amc;
}

export interface VitaleRead {
  serialNumber: string;
  insured: Insured;
  beneficiaries: Beneficiary[];
  /** The card's X.509 certificate (7F21 content), DER. */
  certDer: Uint8Array;
}

// ---- Care context and acts -----------------------------------------------------------------------

/** Parcours de soins: `traitant` (seen by or sent by the médecin traitant), `hors` (out of it: lower rate), `exempt` (urgence, under 16, specialist of direct access, auxiliaires médicaux). */
export type Parcours = 'traitant' | 'oriente' | 'hors' | 'exempt';
export type Nature = 'maladie' | 'maternite' | 'at';

export interface CareContext {
  nature: Nature;
  /** Accident du travail number when nature is `at`. */
  atNumber?: string;
  /** Acts in relation with the beneficiary's ALD (rate 100 % only then). */
  aldRelated: boolean;
  parcours: Parcours;
  /** Médecin traitant declared / the orienting doctor's identifier, when parcours is `oriente`. */
  orientingPractitioner?: string;
  /** Tiers payant on the AMO part (the patient does not advance it). */
  tiersPayantAmo: boolean;
  /** Tiers payant on the AMC part (needs an AMC with tiers payant at the care date; produces a DRE). */
  tiersPayantAmc: boolean;
}

/** An act as the practitioner enters it. */
export interface ActInput {
  date: IsoDate;
  /** NGAP letter key (`C`, `G`, `AMI`, `IK`…) or CCAM code (`DEQP003`). */
  code: string;
  /** NGAP coefficient (AMI 1, AMK 7.5…); default 1. */
  coefficient?: number;
  /** Number of identical acts (IK: the kilometres); default 1. */
  quantity?: number;
  /** CCAM activity (1 = main act) and phase (0); NGAP acts have none. */
  activity?: string;
  phase?: string;
  /** CCAM modifiers (F, P, S, U…) or NGAP majorations carried on the act. */
  modifiers?: string[];
  /** Amount charged above the base (dépassement), centimes; secteur 2 only. */
  excess?: Cents;
}

/** Acts in series: dated sessions of one prescription. */
export interface SeriesInput {
  prescriberId: string;
  prescriptionDate: IsoDate;
}

export interface PricedLine {
  date: IsoDate;
  code: string;
  kind: 'NGAP' | 'CCAM';
  coefficient: number;
  quantity: number;
  activity?: string;
  phase?: string;
  modifiers: string[];
  /** Unit value of the letter key or CCAM price on the act's date (tariff table in force). */
  unitPrice: Cents;
  /** Amount charged to the patient for the line (base + excess). */
  charged: Cents;
  /** Reimbursement base (base de remboursement). */
  base: Cents;
  /** AMO rate in percent (30, 60, 70, 100). */
  rate: number;
  amo: Cents;
  amc: Cents;
  /** What remains for the patient (ticket modérateur not covered, excess, participation). */
  patient: Cents;
}

export interface Totals {
  charged: Cents;
  base: Cents;
  amo: Cents;
  amc: Cents;
  patient: Cents;
  /** Participation forfaitaire deducted from the AMO part (not paid by the AMC). */
  participation: Cents;
}

export interface Pricing {
  lines: PricedLine[];
  totals: Totals;
  /** The table version used (tables are dated): e.g. `NGAP-2024-12-22`. */
  tableVersion: string;
}

// ---- Invoices, lots, files -----------------------------------------------------------------------

export type InvoiceKind = 'FSE' | 'DRE';

export type InvoiceState =
  | 'created' // numbered and stored, not yet signed
  | 'secured' // signed by the CPS (and authenticated by the Vitale card unless degraded)
  | 'in-lot'
  | 'sent'
  | 'arl-positive'
  | 'arl-negative'
  | 'paid'
  | 'rejected'
  // handed to the practice computer over the host link and erased from the device (the computer
  // transmits it): terminal for the device, which keeps its data for the status, not its bytes
  | 'unloaded';

/** Everything a formatted invoice carries (formats/invoice.ts encodes exactly this). */
export interface InvoiceData {
  kind: InvoiceKind;
  /** 9 digits, monotonic per billing number, never reused. */
  invoiceNo: number;
  /** For a DRE: the FSE it is split from. For a corrected invoice: the rejected one. */
  relatedNo?: number;
  correctedFrom?: number;
  createdAt: IsoDate;
  /** The care date (for a series, the last session). */
  careDate: IsoDate;
  practitioner: PractitionerRef;
  insured: Insured;
  beneficiary: Beneficiary;
  context: CareContext;
  series?: SeriesInput;
  /** SESAM dégradé: no Vitale card; the paper duplicate goes to the caisse. */
  degraded: boolean;
  /** Vitale card serial number (absent in degraded mode). */
  vitaleSerial?: string;
  pricing: Pricing;
}

export interface InvoiceRecord {
  data: InvoiceData;
  state: InvoiceState;
  history: Array<{ state: InvoiceState; at: number; note?: string }>;
  /** Destination organism: `AMO-<régime><caisse><centre>` for an FSE, `AMC-<number>` for a DRE. */
  destination: string;
  /** Transmission deadline (3 working days when the patient pays, 8 under tiers payant). */
  deadline: IsoDate;
  /** formats/invoice.ts encoding of `data`: what is hashed and signed. */
  record?: Uint8Array;
  /** CMS SignedData (detached) over `record`, by the CPS signature key. */
  cpsSignature?: Uint8Array;
  /** Vitale INTERNAL AUTHENTICATE over SHA-256(record), and the card certificate. */
  vitaleAuth?: Uint8Array;
  vitaleCertDer?: Uint8Array;
  lotNo?: number;
  /** For an FSE: the DRE split from it (under tiers payant AMC). */
  dreNo?: number;
  /** Set from the ARL / RSP. */
  reject?: { code: string; text: string; source: 'ARL' | 'RSP' };
  paid?: { amount: Cents; date: IsoDate };
  /** A rejected invoice re-sent under a new number. */
  replacedBy?: number;
  /**
   * Clock ms when the practice computer unloaded this 'secured' invoice (host link): from then on it
   * is never put in a device lot (the computer transmits it), until erased ('unloaded') or released.
   */
  hostHeldAt?: number;
}

export interface LotRecord {
  lotNo: number;
  destination: string;
  invoiceNos: number[];
  /** formats/lot.ts body, then its CMS SignedData (attached) by the CPS. */
  body: Uint8Array;
  signed: Uint8Array;
  fileNo?: number;
  arl?: 'positive' | 'negative';
}

export type FileState = 'ready' | 'sent' | 'acknowledged';

export interface FileRecord {
  fileNo: number;
  /** Stable across re-sends: the receiver deduplicates on it. */
  fileId: string;
  destination: string;
  lotNos: number[];
  state: FileState;
  attempts: number;
  /** clock ms of the next attempt after a failure (back-off). */
  nextAttemptAt: number;
  lastError?: string;
  /** Clock ms of the first failure for want of network (E_NET) in the current run of them. */
  offlineSince?: number;
  sentAt?: number;
}
