/**
 * The CPS card model as registered with the emulator: profile schema, profile checks that JSON
 * Schema cannot express (identifier keys, dates), and the asynchronous factory that obtains the
 * card's two RSA-2048 identities from the emulator's test PKI.
 */
import { createPrivateKey } from 'node:crypto';
import { basename } from 'node:path';
import { Ajv } from 'ajv';
import { fromHex } from '../../../../platform/sdk/hex.js';
import type { CardModel } from '../../card.js';
import { buildAtr, type Protocol } from '../../framework/atr.js';
import type { DfSpec } from '../../framework/filesystem.js';
import { CardProfileError, type CardModelDefinition, type ModelContext } from '../../registry.js';
import { loadOrCreatePki, type IssuedIdentity } from '../../pki/index.js';
import {
  CPS_AID_HEX,
  CPS_AUTH_KEY_REFERENCE,
  CPS_PIN_LENGTH,
  CPS_PIN_REFERENCE,
  CPS_PUK_LENGTH,
  CPS_PUK_REFERENCE,
  CPS_SIGN_KEY_REFERENCE,
  CpsCard,
  DEFAULT_SIGNATURE_MS,
} from './card.js';
import {
  billingNumberKey,
  CPS_LAYOUT_VERSION,
  encodeCardInfo,
  encodeHolder,
  encodeSituations,
  luhnValid,
  nationalId,
  type HolderData,
  type SituationData,
} from './data.js';

export * from './card.js';
export * from './data.js';

export const CPS_KIND = 'cps';
export const CPS_AID = fromHex(CPS_AID_HEX);
export const CPS_PIN_MAX_TRIES = 3;
export const CPS_PUK_MAX_TRIES = 3;

/** Elementary files of the CPS application (FID, SFI). The layout is this project's own. */
export const CPS_FILES = {
  cardInfo: { fid: 0x0100, sfi: 1 },
  holder: { fid: 0x0101, sfi: 2 },
  situations: { fid: 0x0102, sfi: 3 },
  authCertificate: { fid: 0x0201, sfi: 4 },
  signCertificate: { fid: 0x0202, sfi: 5 },
  caCertificate: { fid: 0x0203, sfi: 6 },
} as const;

/** Plain ASCII historical bytes: tells a human reading pcsc_scan output which emulated card this is. */
const ATR_HISTORICAL = Uint8Array.from('DI-CPS-TEST', (c) => c.charCodeAt(0));

/** Profession labels (NOS TRE_G15) used as the certificate title; unknown codes print as the code. */
const PROFESSION_LABELS: Record<string, string> = {
  '10': 'Médecin',
  '21': 'Pharmacien',
  '40': 'Chirurgien-dentiste',
  '50': 'Sage-femme',
  '60': 'Infirmier',
  '70': 'Masseur-kinésithérapeute',
  '80': 'Pédicure-podologue',
  '91': 'Orthophoniste',
  '92': 'Orthoptiste',
};

export interface CpsProfile {
  kind: 'cps';
  description: string;
  protocol?: Protocol;
  cardNumber?: string;
  pin: { value: string; triesLeft?: number };
  puk: { value: string; triesLeft?: number };
  holder: {
    idType: 'RPPS' | 'ADELI';
    id: string;
    civilite: 'M' | 'MME' | 'DR' | 'PR';
    nom: string;
    prenom: string;
    profession: string;
    specialite: string;
  };
  situations: Array<{
    number?: number;
    mode?: 'L' | 'S' | 'B';
    billingNumber: string;
    conventionCode: '0' | '1' | '2' | '3';
    tariffZone: string;
    specialite?: string;
    canSignFse: boolean;
    canSignLot: boolean;
    remplacant?: boolean;
    replacedBillingNumber?: string;
    raisonSociale?: string;
  }>;
  certificates?: {
    auth?: { notBefore?: string; notAfter?: string };
    signature?: { notBefore?: string; notAfter?: string };
  };
  processingMs?: { signature?: number; default?: number };
}

const ISO_DATE = '^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2}))?$';
const NAME = { type: 'string', minLength: 1, maxLength: 60, pattern: '^[^\\u0000-\\u001f]+$' };
const validity = {
  type: 'object',
  additionalProperties: false,
  properties: { notBefore: { type: 'string', pattern: ISO_DATE }, notAfter: { type: 'string', pattern: ISO_DATE } },
};
const ms = { type: 'integer', minimum: 0, maximum: 10_000 };

export const cpsProfileSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'description', 'pin', 'puk', 'holder', 'situations'],
  properties: {
    kind: { const: 'cps' },
    description: { type: 'string', minLength: 1 },
    protocol: { enum: ['T=0', 'T=1'] },
    cardNumber: { type: 'string', pattern: '^[0-9]{10}$' },
    pin: {
      type: 'object',
      additionalProperties: false,
      required: ['value'],
      properties: { value: { type: 'string', pattern: `^[0-9]{${CPS_PIN_LENGTH}}$` }, triesLeft: { type: 'integer', minimum: 0, maximum: CPS_PIN_MAX_TRIES } },
    },
    puk: {
      type: 'object',
      additionalProperties: false,
      required: ['value'],
      properties: { value: { type: 'string', pattern: `^[0-9]{${CPS_PUK_LENGTH}}$` }, triesLeft: { type: 'integer', minimum: 0, maximum: CPS_PUK_MAX_TRIES } },
    },
    holder: {
      type: 'object',
      additionalProperties: false,
      required: ['idType', 'id', 'civilite', 'nom', 'prenom', 'profession', 'specialite'],
      properties: {
        idType: { enum: ['RPPS', 'ADELI'] },
        id: { type: 'string', pattern: '^([0-9]{11}|[0-9]{9})$' },
        civilite: { enum: ['M', 'MME', 'DR', 'PR'] },
        nom: NAME,
        prenom: NAME,
        profession: { type: 'string', pattern: '^[0-9]{2}$' },
        specialite: { type: 'string', pattern: '^[0-9]{2}$' },
      },
    },
    situations: {
      type: 'array',
      minItems: 1,
      maxItems: 16,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['billingNumber', 'conventionCode', 'tariffZone', 'canSignFse', 'canSignLot'],
        properties: {
          number: { type: 'integer', minimum: 1, maximum: 255 },
          mode: { enum: ['L', 'S', 'B'] },
          billingNumber: { type: 'string', pattern: '^[0-9]{8,9}$' },
          conventionCode: { enum: ['0', '1', '2', '3'] },
          tariffZone: { type: 'string', pattern: '^[0-9]{2}$' },
          specialite: { type: 'string', pattern: '^[0-9]{2}$' },
          canSignFse: { type: 'boolean' },
          canSignLot: { type: 'boolean' },
          remplacant: { type: 'boolean' },
          replacedBillingNumber: { type: 'string', pattern: '^[0-9]{9}$' },
          raisonSociale: NAME,
        },
      },
    },
    certificates: {
      type: 'object',
      additionalProperties: false,
      properties: { auth: validity, signature: validity },
    },
    processingMs: {
      type: 'object',
      additionalProperties: false,
      properties: { signature: ms, default: ms },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: false });
const validateSchema = ajv.compile(cpsProfileSchema);

function fail(file: string, field: string, reason: string): never {
  throw new CardProfileError(file, field, reason);
}

function date(file: string, field: string, v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (!Number.isFinite(d.getTime())) fail(file, field, `${JSON.stringify(v)} is not a valid date`);
  return d;
}

export interface CheckedCpsProfile {
  profile: CpsProfile;
  holder: HolderData;
  situations: SituationData[];
  validity: { auth: { notBefore?: Date; notAfter?: Date }; signature: { notBefore?: Date; notAfter?: Date } };
}

/** Schema plus the checks JSON Schema cannot express; errors name the file and the JSON pointer. */
export function checkCpsProfile(data: unknown, file: string): CheckedCpsProfile {
  if (!validateSchema(data)) {
    const e = validateSchema.errors?.[0];
    const extra = e?.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : '';
    fail(file, e?.instancePath || '/', `${e?.message ?? 'invalid'}${extra}`);
  }
  const p = data as unknown as CpsProfile;
  const h = p.holder;
  if (h.idType === 'RPPS') {
    if (h.id.length !== 11) fail(file, '/holder/id', `an RPPS identifier has 11 digits, got ${h.id.length}`);
    if (!luhnValid(h.id)) fail(file, '/holder/id', 'RPPS identifier fails its Luhn key (last digit)');
  } else if (h.id.length !== 9) {
    fail(file, '/holder/id', `an ADELI identifier has 9 digits, got ${h.id.length}`);
  }
  const numbers = new Set<number>();
  const situations = p.situations.map((s, i): SituationData => {
    const at = `/situations/${i}`;
    let billing = s.billingNumber;
    if (billing.length === 8) billing += String(billingNumberKey(billing));
    else if (billingNumberKey(billing.slice(0, 8)) !== Number(billing[8])) {
      fail(file, `${at}/billingNumber`, `key digit ${billing[8]} is wrong (expected ${billingNumberKey(billing.slice(0, 8))}); give the 8 digits alone to have it computed`);
    }
    const number = s.number ?? i + 1;
    if (numbers.has(number)) fail(file, `${at}/number`, `situation number ${number} is used twice`);
    numbers.add(number);
    const remplacant = s.remplacant ?? false;
    if (s.replacedBillingNumber !== undefined && !remplacant) fail(file, `${at}/replacedBillingNumber`, 'only a remplaçant situation names a replaced practitioner');
    const out: SituationData = {
      number,
      mode: s.mode ?? 'L',
      billingNumber: billing,
      conventionCode: s.conventionCode,
      tariffZone: s.tariffZone,
      specialite: s.specialite ?? h.specialite,
      canSignFse: s.canSignFse,
      canSignLot: s.canSignLot,
      remplacant,
    };
    if (s.raisonSociale !== undefined) out.raisonSociale = s.raisonSociale;
    if (s.replacedBillingNumber !== undefined) out.replacedBillingNumber = s.replacedBillingNumber;
    return out;
  });
  const validity: CheckedCpsProfile['validity'] = { auth: {}, signature: {} };
  for (const which of ['auth', 'signature'] as const) {
    const c = p.certificates?.[which];
    const at = `/certificates/${which}`;
    const nb = date(file, `${at}/notBefore`, c?.notBefore);
    const na = date(file, `${at}/notAfter`, c?.notAfter);
    if (nb && na && nb.getTime() >= na.getTime()) fail(file, `${at}/notAfter`, 'must be after notBefore');
    if (na && !nb) fail(file, `${at}/notBefore`, 'required with notAfter (a default notBefore could fall after it)');
    if (nb) validity[which].notBefore = nb;
    if (na) validity[which].notAfter = na;
  }
  const holder: HolderData = {
    idType: h.idType,
    identifier: h.id,
    civilite: h.civilite,
    nom: h.nom,
    prenom: h.prenom,
    profession: h.profession,
    specialite: h.specialite,
  };
  return { profile: p, holder, situations, validity };
}

/** A stable 10-digit card number from the profile name when the profile gives none. */
function defaultCardNumber(name: string): string {
  let x = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) x = Math.imul(x ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return `80${String(x % 100_000_000).padStart(8, '0')}`;
}

export interface CpsCardMaterial {
  auth: IssuedIdentity;
  sign: IssuedIdentity;
}

export function buildCpsCard(checked: CheckedCpsProfile, name: string, material: CpsCardMaterial): CpsCard {
  const p = checked.profile;
  const protocol: Protocol = p.protocol ?? 'T=1';
  const app: DfSpec = {
    type: 'df',
    fid: 0x7f10,
    aid: CPS_AID,
    label: 'CPS application (IAS-ECC-like)',
    children: [
      {
        type: 'transparent',
        ...CPS_FILES.cardInfo,
        label: 'card info',
        data: encodeCardInfo({
          layoutVersion: CPS_LAYOUT_VERSION,
          cardNumber: p.cardNumber ?? defaultCardNumber(name),
          authKeyRef: CPS_AUTH_KEY_REFERENCE,
          signKeyRef: CPS_SIGN_KEY_REFERENCE,
          pinRef: CPS_PIN_REFERENCE,
        }),
      },
      { type: 'transparent', ...CPS_FILES.holder, label: 'holder', data: encodeHolder(checked.holder) },
      { type: 'transparent', ...CPS_FILES.situations, label: 'practice situations', data: encodeSituations(checked.situations) },
      { type: 'transparent', ...CPS_FILES.authCertificate, label: 'authentication certificate', data: material.auth.certificateDer },
      { type: 'transparent', ...CPS_FILES.signCertificate, label: 'signature certificate', data: material.sign.certificateDer },
      { type: 'transparent', ...CPS_FILES.caCertificate, label: 'issuing CA certificate', data: material.sign.chainDer[0]! },
    ],
  };
  return new CpsCard({
    kind: CPS_KIND,
    atr: buildAtr({ protocol, historical: ATR_HISTORICAL, ta1: 0x18 }),
    protocol,
    fileSystem: { type: 'df', children: [app] },
    pins: [
      { reference: CPS_PIN_REFERENCE, value: p.pin.value, format: 'ascii-ff', maxTries: CPS_PIN_MAX_TRIES, triesLeft: p.pin.triesLeft ?? CPS_PIN_MAX_TRIES },
      { reference: CPS_PUK_REFERENCE, value: p.puk.value, format: 'ascii-ff', maxTries: CPS_PUK_MAX_TRIES, triesLeft: p.puk.triesLeft ?? CPS_PUK_MAX_TRIES },
    ],
    keys: { auth: createPrivateKey(material.auth.privateKeyPem), sign: createPrivateKey(material.sign.privateKeyPem) },
    signatureMs: p.processingMs?.signature ?? DEFAULT_SIGNATURE_MS,
    defaultMs: p.processingMs?.default ?? 0,
  });
}

/** Profile name from its file: the PKI cache id of the card's keys. */
function profileName(source: string): string {
  return basename(source, '.json');
}

export async function createCpsCard(data: unknown, source: string, ctx: ModelContext): Promise<CpsCard> {
  const checked = checkCpsProfile(data, source);
  const name = profileName(source);
  const h = checked.holder;
  const pki = await loadOrCreatePki(ctx.keyDir);
  const subject = {
    commonName: `${h.prenom} ${h.nom}`,
    serialNumber: nationalId(h.idType, h.identifier),
    title: PROFESSION_LABELS[h.profession] ?? h.profession,
  };
  const organization = checked.situations[0]?.raisonSociale;
  const subjectWithOrg = organization !== undefined ? { ...subject, organization } : subject;
  const identity = (usage: 'auth' | 'sign', v: { notBefore?: Date; notAfter?: Date }) =>
    pki.issue({ id: `cps:${name}:${usage}`, ca: 'health', subject: subjectWithOrg, usage, ...v });
  const [auth, sign] = await Promise.all([identity('auth', checked.validity.auth), identity('sign', checked.validity.signature)]);
  return buildCpsCard(checked, name, { auth, sign });
}

export const cpsModel: CardModelDefinition = {
  kind: CPS_KIND,
  describe: 'CPS (Carte de Professionnel de Santé), IAS-ECC-like: holder and practice situations, PIN/PUK, RSA-2048 authentication and signature keys from the emulator test PKI',
  schema: cpsProfileSchema,
  createAsync(profile: unknown, source: string, ctx: ModelContext): Promise<CardModel> {
    return createCpsCard(profile, source, ctx);
  },
};
