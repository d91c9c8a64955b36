/**
 * The CPS holder and situation data as BER-TLV. The real CPS3 (IAS-ECC) file layout is not public:
 * the tags and files here are this project's own, documented in docs/cards/cps.md and versioned by
 * CPS_LAYOUT_VERSION. Values are ASCII digits or UTF-8 text unless said otherwise.
 */
import { encodeTlv, parseTlv, findTag, type TlvNode } from '../../../../platform/sdk/tlv.js';
import { concatBytes } from '../../../../platform/sdk/hex.js';

export const CPS_LAYOUT_VERSION = 1;

export const TAG = {
  cardInfo: 0xe0,
  holder: 0xe1,
  situation: 0xe2,
} as const;

/** Inside E0 (EF 0100). */
export const CARD_INFO_TAG = { layoutVersion: 0x80, cardNumber: 0x81, cardType: 0x82, authKeyRef: 0x83, signKeyRef: 0x84, pinRef: 0x85 } as const;

/** Inside E1 (EF 0101). */
export const HOLDER_TAG = {
  idType: 0x80,
  identifier: 0x81,
  nationalId: 0x82,
  civilite: 0x83,
  nom: 0x84,
  prenom: 0x85,
  profession: 0x86,
  specialite: 0x87,
} as const;

/** Inside each E2 (EF 0102). */
export const SITUATION_TAG = {
  number: 0x80,
  mode: 0x81,
  billingNumber: 0x82,
  conventionCode: 0x83,
  tariffZone: 0x84,
  specialite: 0x85,
  flags: 0x86,
  raisonSociale: 0x87,
  replacedBillingNumber: 0x88,
} as const;

/** Bits of the situation flags byte (tag 86). */
export const SITUATION_FLAG = { signFse: 0x01, signLot: 0x02, remplacant: 0x04 } as const;

/** Identifier type byte (tag 80 of E1) and the prefix of the national identifier (tag 82). */
export const ID_TYPE = { ADELI: 0x00, RPPS: 0x08 } as const;
export type IdType = keyof typeof ID_TYPE;

export interface HolderData {
  idType: IdType;
  identifier: string;
  civilite: string;
  nom: string;
  prenom: string;
  profession: string;
  specialite: string;
}

export interface SituationData {
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
  raisonSociale?: string;
  replacedBillingNumber?: string;
}

export interface CardInfo {
  layoutVersion: number;
  cardNumber: string;
  authKeyRef: number;
  signKeyRef: number;
  pinRef: number;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function text(s: string): Uint8Array {
  return utf8.encode(s);
}

/** Luhn mod-10 check digit of a digit string (ISO/IEC 7812-1 annex B). */
export function luhnDigit(digits: string): number {
  if (!/^[0-9]+$/.test(digits)) throw new RangeError(`luhnDigit: ${JSON.stringify(digits)} is not a digit string`);
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    // Doubling starts from the rightmost digit of the payload (the key will sit to its right).
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

export function luhnValid(digits: string): boolean {
  return /^[0-9]{2,}$/.test(digits) && luhnDigit(digits.slice(0, -1)) === digits.charCodeAt(digits.length - 1) - 48;
}

/**
 * The billing number's key digit. The official rule is not in the public sources we used; this
 * emulator uses Luhn over the 8 digits (documented in docs/cards/cps.md).
 */
export function billingNumberKey(eightDigits: string): number {
  if (!/^[0-9]{8}$/.test(eightDigits)) throw new RangeError(`billing number must be 8 digits before its key, got ${eightDigits.length} characters`);
  return luhnDigit(eightDigits);
}

export function nationalId(idType: IdType, identifier: string): string {
  return `${ID_TYPE[idType]}${identifier}`;
}

export function encodeCardInfo(info: CardInfo): Uint8Array {
  return encodeTlv(
    TAG.cardInfo,
    concatBytes(
      encodeTlv(CARD_INFO_TAG.layoutVersion, Uint8Array.of(info.layoutVersion)),
      encodeTlv(CARD_INFO_TAG.cardNumber, text(info.cardNumber)),
      encodeTlv(CARD_INFO_TAG.cardType, text('CPS')),
      encodeTlv(CARD_INFO_TAG.authKeyRef, Uint8Array.of(info.authKeyRef)),
      encodeTlv(CARD_INFO_TAG.signKeyRef, Uint8Array.of(info.signKeyRef)),
      encodeTlv(CARD_INFO_TAG.pinRef, Uint8Array.of(info.pinRef)),
    ),
  );
}

export function encodeHolder(h: HolderData): Uint8Array {
  return encodeTlv(
    TAG.holder,
    concatBytes(
      encodeTlv(HOLDER_TAG.idType, Uint8Array.of(ID_TYPE[h.idType])),
      encodeTlv(HOLDER_TAG.identifier, text(h.identifier)),
      encodeTlv(HOLDER_TAG.nationalId, text(nationalId(h.idType, h.identifier))),
      encodeTlv(HOLDER_TAG.civilite, text(h.civilite)),
      encodeTlv(HOLDER_TAG.nom, text(h.nom)),
      encodeTlv(HOLDER_TAG.prenom, text(h.prenom)),
      encodeTlv(HOLDER_TAG.profession, text(h.profession)),
      encodeTlv(HOLDER_TAG.specialite, text(h.specialite)),
    ),
  );
}

export function encodeSituation(s: SituationData): Uint8Array {
  const flags = (s.canSignFse ? SITUATION_FLAG.signFse : 0) | (s.canSignLot ? SITUATION_FLAG.signLot : 0) | (s.remplacant ? SITUATION_FLAG.remplacant : 0);
  const parts = [
    encodeTlv(SITUATION_TAG.number, Uint8Array.of(s.number)),
    encodeTlv(SITUATION_TAG.mode, text(s.mode)),
    encodeTlv(SITUATION_TAG.billingNumber, text(s.billingNumber)),
    encodeTlv(SITUATION_TAG.conventionCode, text(s.conventionCode)),
    encodeTlv(SITUATION_TAG.tariffZone, text(s.tariffZone)),
    encodeTlv(SITUATION_TAG.specialite, text(s.specialite)),
    encodeTlv(SITUATION_TAG.flags, Uint8Array.of(flags)),
  ];
  if (s.raisonSociale !== undefined) parts.push(encodeTlv(SITUATION_TAG.raisonSociale, text(s.raisonSociale)));
  if (s.replacedBillingNumber !== undefined) parts.push(encodeTlv(SITUATION_TAG.replacedBillingNumber, text(s.replacedBillingNumber)));
  return encodeTlv(TAG.situation, concatBytes(...parts));
}

export function encodeSituations(list: SituationData[]): Uint8Array {
  return concatBytes(...list.map(encodeSituation));
}

// ---- decoding (what an applet would do; used by tests and tools) --------------------------------

function child(node: TlvNode, tag: number, what: string): Uint8Array {
  const c = node.children?.find((n) => n.tag === tag);
  if (!c) throw new Error(`${what}: tag ${tag.toString(16).toUpperCase()} missing`);
  return c.value;
}

function optionalText(node: TlvNode, tag: number): string | undefined {
  const c = node.children?.find((n) => n.tag === tag);
  return c ? utf8Decoder.decode(c.value) : undefined;
}

function str(node: TlvNode, tag: number, what: string): string {
  return utf8Decoder.decode(child(node, tag, what));
}

function byte(node: TlvNode, tag: number, what: string): number {
  const v = child(node, tag, what);
  if (v.length !== 1) throw new Error(`${what}: tag ${tag.toString(16).toUpperCase()} must be 1 byte, is ${v.length}`);
  return v[0]!;
}

export function decodeCardInfo(bytes: Uint8Array): CardInfo {
  const node = findTag(parseTlv(bytes), TAG.cardInfo);
  if (!node) throw new Error('card info: no E0 template');
  return {
    layoutVersion: byte(node, CARD_INFO_TAG.layoutVersion, 'card info'),
    cardNumber: str(node, CARD_INFO_TAG.cardNumber, 'card info'),
    authKeyRef: byte(node, CARD_INFO_TAG.authKeyRef, 'card info'),
    signKeyRef: byte(node, CARD_INFO_TAG.signKeyRef, 'card info'),
    pinRef: byte(node, CARD_INFO_TAG.pinRef, 'card info'),
  };
}

export function decodeHolder(bytes: Uint8Array): HolderData {
  const node = findTag(parseTlv(bytes), TAG.holder);
  if (!node) throw new Error('holder: no E1 template');
  const type = byte(node, HOLDER_TAG.idType, 'holder');
  const idType = (Object.keys(ID_TYPE) as IdType[]).find((k) => ID_TYPE[k] === type);
  if (!idType) throw new Error(`holder: unknown identifier type ${type}`);
  return {
    idType,
    identifier: str(node, HOLDER_TAG.identifier, 'holder'),
    civilite: str(node, HOLDER_TAG.civilite, 'holder'),
    nom: str(node, HOLDER_TAG.nom, 'holder'),
    prenom: str(node, HOLDER_TAG.prenom, 'holder'),
    profession: str(node, HOLDER_TAG.profession, 'holder'),
    specialite: str(node, HOLDER_TAG.specialite, 'holder'),
  };
}

export function decodeSituations(bytes: Uint8Array): SituationData[] {
  return parseTlv(bytes)
    .filter((n) => n.tag === TAG.situation)
    .map((node, i) => {
      const what = `situation ${i + 1}`;
      const flags = byte(node, SITUATION_TAG.flags, what);
      const mode = str(node, SITUATION_TAG.mode, what);
      if (mode !== 'L' && mode !== 'S' && mode !== 'B') throw new Error(`${what}: mode ${JSON.stringify(mode)} is not L, S or B`);
      const s: SituationData = {
        number: byte(node, SITUATION_TAG.number, what),
        mode,
        billingNumber: str(node, SITUATION_TAG.billingNumber, what),
        conventionCode: str(node, SITUATION_TAG.conventionCode, what),
        tariffZone: str(node, SITUATION_TAG.tariffZone, what),
        specialite: str(node, SITUATION_TAG.specialite, what),
        canSignFse: (flags & SITUATION_FLAG.signFse) !== 0,
        canSignLot: (flags & SITUATION_FLAG.signLot) !== 0,
        remplacant: (flags & SITUATION_FLAG.remplacant) !== 0,
      };
      const rs = optionalText(node, SITUATION_TAG.raisonSociale);
      if (rs !== undefined) s.raisonSociale = rs;
      const replaced = optionalText(node, SITUATION_TAG.replacedBillingNumber);
      if (replaced !== undefined) s.replacedBillingNumber = replaced;
      return s;
    });
}
