/**
 * The Vitale 2 card: two applications, health data as BER-TLV, a card certificate and INTERNAL
 * AUTHENTICATE with the card's RSA key. The real file layout is not public; the one here is
 * invented (docs/cards/vitale.md) and keeps the public facts: the two AIDs, beneficiaries under
 * tag 65 (80 surname, 81 first name, 82 birth date, 93 NIR, 90 nationality), rights 66/80, the
 * certificate under 7F21.
 *
 *   MF 3F00  = application MF_VITALE (AID D2500000024D465F564954414C45): card-level objects
 *     EF 2F00 (SFI 30) EF.DIR, one record per application: 61 { 4F AID, 50 label }
 *     EF 2F02 (SFI 2)  card identification: 73 { 80 serial, 81 type, 82 issue date, 83 issuer, 84 version }
 *     EF 2F10 (SFI 16) card certificate: 7F21 <X.509 DER>
 *   DF 1000  = application VITALE (AID D250000002564954414C45): health insurance data
 *     EF 1001 (SFI 1)  insured: 64 { 80 régime, 81 caisse, 82 centre, 83 code gestion, 93 NIR }
 *     EF 1002 (SFI 2)  beneficiaries, one record each: 65 { ... 66 rights, 67 AMC }
 */
import { createPrivateKey, createPublicKey, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { concatBytes, fromHex, toHex } from '../../../../platform/sdk/hex.js';
import { encodeTlv } from '../../../../platform/sdk/tlv.js';
import type { CommandApdu } from '../../framework/apdu.js';
import type { DfSpec } from '../../framework/filesystem.js';
import { IsoCard, ok, status, type CardResponse } from '../../framework/iso-card.js';
import { SW } from '../../framework/status.js';
import type { VitaleAmc, VitaleBeneficiary, VitaleProfile, VitaleRights } from './profile.js';

/** Health insurance application ("VITALE" after the RID). */
export const VITALE_AID = fromHex('D250000002564954414C45');
/** Card-level application ("MF_VITALE"), here the MF itself. */
export const MF_VITALE_AID = fromHex('D2500000024D465F564954414C45');

export const VITALE_FID = {
  mf: 0x3f00,
  dir: 0x2f00,
  cardInfo: 0x2f02,
  certificate: 0x2f10,
  vitaleDf: 0x1000,
  insured: 0x1001,
  beneficiaries: 0x1002,
} as const;

export const VITALE_SFI = { dir: 30, cardInfo: 2, certificate: 16, insured: 1, beneficiaries: 2 } as const;

/** Templates and, under each, its context-specific tags. Values are ASCII unless marked (byte). */
export const VITALE_TAGS = {
  cardInfo: 0x73,
  cardInfoItems: { serialNumber: 0x80, cardType: 0x81, issueDate: 0x82, issuer: 0x83, layoutVersion: 0x84 /* byte */ },
  insured: 0x64,
  insuredItems: { regime: 0x80, caisse: 0x81, centre: 0x82, codeGestion: 0x83, nir: 0x93 },
  beneficiary: 0x65,
  beneficiaryItems: {
    surname: 0x80,
    firstName: 0x81,
    birthDate: 0x82,
    birthRank: 0x83,
    quality: 0x84,
    usualName: 0x85,
    nationality: 0x90,
    nir: 0x93,
    rights: 0x66,
    amc: 0x67,
  },
  rightsItems: { start: 0x80, end: 0x81, ald: 0x82 /* byte */, exoneration: 0x83 },
  amcItems: { number: 0x80, contractType: 0x81, tiersPayant: 0x82 /* byte */, start: 0x83, end: 0x84, name: 0x85 },
  certificate: 0x7f21,
} as const;

export const VITALE_CARD_TYPE = 'VITALE 2';
export const VITALE_LAYOUT_VERSION = 1;
/** INTERNAL AUTHENTICATE challenge length bounds (invented: GET CHALLENGE gives 8, a SHA-256 is 32). */
export const VITALE_CHALLENGE_MIN = 8;
export const VITALE_CHALLENGE_MAX = 128;

const DEFAULT_COMMAND_MS = 2;
const DEFAULT_SIGNATURE_MS = 200;

/** The card's key and certificate, as the PKI's IssuedIdentity carries them. */
export interface VitaleCardKey {
  privateKeyPem: string;
  certificateDer: Uint8Array;
}

export interface VitaleCardOptions {
  /** For error messages: the profile file. */
  source?: string;
  random?: (n: number) => Uint8Array;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const tlv = (tag: number, value: Uint8Array): Uint8Array => encodeTlv(tag, value);
const text = (tag: number, s: string): Uint8Array => tlv(tag, ascii(s));
const flag = (tag: number, v: boolean): Uint8Array => tlv(tag, Uint8Array.of(v ? 1 : 0));

function rightsTlv(r: VitaleRights): Uint8Array {
  const t = VITALE_TAGS.rightsItems;
  const parts = [text(t.start, r.start)];
  if (r.end !== undefined) parts.push(text(t.end, r.end));
  parts.push(flag(t.ald, r.ald ?? false), text(t.exoneration, r.exoneration ?? '0'));
  return tlv(VITALE_TAGS.beneficiaryItems.rights, concatBytes(...parts));
}

function amcTlv(a: VitaleAmc): Uint8Array {
  const t = VITALE_TAGS.amcItems;
  const parts = [text(t.number, a.number), text(t.contractType, a.contractType), flag(t.tiersPayant, a.tiersPayant), text(t.start, a.start), text(t.end, a.end)];
  if (a.name !== undefined) parts.push(text(t.name, a.name));
  return tlv(VITALE_TAGS.beneficiaryItems.amc, concatBytes(...parts));
}

/** One beneficiary record (tag 65). The insured (qualité 00) carries the insured's NIR when the profile gives none. */
export function beneficiaryRecord(b: VitaleBeneficiary, insuredNir: string): Uint8Array {
  const t = VITALE_TAGS.beneficiaryItems;
  const parts = [text(t.surname, b.surname)];
  if (b.usualName !== undefined) parts.push(text(t.usualName, b.usualName));
  parts.push(text(t.firstName, b.firstName), text(t.birthDate, b.birthDate), text(t.birthRank, String(b.birthRank)), text(t.quality, b.quality));
  const nir = b.nir ?? (b.quality === '00' ? insuredNir : undefined);
  if (nir !== undefined) parts.push(text(t.nir, nir));
  parts.push(text(t.nationality, b.nationality), rightsTlv(b.rights));
  if (b.amc) parts.push(amcTlv(b.amc));
  return tlv(VITALE_TAGS.beneficiary, concatBytes(...parts));
}

export function insuredData(p: VitaleProfile): Uint8Array {
  const t = VITALE_TAGS.insuredItems;
  const i = p.insured;
  return tlv(VITALE_TAGS.insured, concatBytes(text(t.nir, i.nir), text(t.regime, i.regime), text(t.caisse, i.caisse), text(t.centre, i.centre), text(t.codeGestion, i.codeGestion)));
}

export function cardInfoData(p: VitaleProfile): Uint8Array {
  const t = VITALE_TAGS.cardInfoItems;
  return tlv(
    VITALE_TAGS.cardInfo,
    concatBytes(text(t.serialNumber, p.card.serialNumber), text(t.cardType, VITALE_CARD_TYPE), text(t.issueDate, p.card.issueDate), text(t.issuer, p.card.issuer), tlv(t.layoutVersion, Uint8Array.of(VITALE_LAYOUT_VERSION))),
  );
}

function dirRecord(aid: Uint8Array, label: string): Uint8Array {
  return tlv(0x61, concatBytes(tlv(0x4f, aid), text(0x50, label)));
}

function fileSystem(p: VitaleProfile, certificateDer: Uint8Array): DfSpec {
  const certificate = tlv(VITALE_TAGS.certificate, certificateDer);
  return {
    type: 'df',
    aid: MF_VITALE_AID,
    label: 'MF_VITALE',
    fciProprietary: text(0x50, 'MF_VITALE'),
    children: [
      { type: 'records', fid: VITALE_FID.dir, sfi: VITALE_SFI.dir, label: 'EF.DIR', records: [dirRecord(MF_VITALE_AID, 'MF_VITALE'), dirRecord(VITALE_AID, 'VITALE')] },
      { type: 'transparent', fid: VITALE_FID.cardInfo, sfi: VITALE_SFI.cardInfo, label: 'card identification', data: cardInfoData(p) },
      { type: 'transparent', fid: VITALE_FID.certificate, sfi: VITALE_SFI.certificate, label: 'card certificate', data: certificate },
      {
        type: 'df',
        fid: VITALE_FID.vitaleDf,
        aid: VITALE_AID,
        label: 'VITALE',
        fciProprietary: text(0x50, 'VITALE'),
        children: [
          { type: 'transparent', fid: VITALE_FID.insured, sfi: VITALE_SFI.insured, label: 'insured', data: insuredData(p) },
          { type: 'records', fid: VITALE_FID.beneficiaries, sfi: VITALE_SFI.beneficiaries, label: 'beneficiaries', records: p.beneficiaries.map((b) => beneficiaryRecord(b, p.insured.nir)) },
        ],
      },
    ],
  };
}

function spki(key: KeyObject): string {
  return toHex(new Uint8Array(key.export({ type: 'spki', format: 'der' })));
}

export class VitaleCard extends IsoCard {
  readonly profile: VitaleProfile;
  readonly certificateDer: Uint8Array;
  // TS-private, not #private: the constructor must check the key before calling super.
  private readonly key: KeyObject;
  private readonly certificateObject: Uint8Array;

  constructor(profile: VitaleProfile, key: VitaleCardKey, options: VitaleCardOptions = {}) {
    const source = options.source ?? 'vitale-2 profile';
    const privateKey = createPrivateKey(key.privateKeyPem);
    if (privateKey.asymmetricKeyType !== 'rsa') throw new Error(`${source}: the Vitale card key must be RSA, got ${String(privateKey.asymmetricKeyType)}`);
    const certificate = new X509Certificate(key.certificateDer);
    // A key that does not match its certificate would make every INTERNAL AUTHENTICATE fail later, far from the cause.
    if (spki(certificate.publicKey) !== spki(createPublicKey(privateKey))) {
      throw new Error(`${source}: the card certificate (${certificate.subject.replace(/\n/g, ', ')}) does not certify the card's private key`);
    }
    const signatureMs = profile.timing?.signatureMs ?? DEFAULT_SIGNATURE_MS;
    super({
      kind: profile.kind,
      atr: { protocol: profile.protocol ?? 'T=1', historical: ascii('DIVITALE2') },
      fileSystem: fileSystem(profile, key.certificateDer),
      processing: { defaultMs: profile.timing?.commandMs ?? DEFAULT_COMMAND_MS, byIns: { 0x88: signatureMs } },
      ...(options.random ? { random: options.random } : {}),
    });
    this.profile = profile;
    this.certificateDer = key.certificateDer.slice();
    this.key = privateKey;
    this.certificateObject = tlv(VITALE_TAGS.certificate, key.certificateDer);
    this.register({ cla: 0x00, ins: 0xca, name: 'GET DATA', handler: (c) => this.getData(c) });
    this.register({ cla: 0x00, ins: 0x88, name: 'INTERNAL AUTHENTICATE', handler: (c) => this.internalAuthenticate(c) });
  }

  /** Card-level data objects, whichever application is current. */
  private getData(cmd: CommandApdu): CardResponse {
    if (cmd.ne === null || cmd.data.length > 0) return status(SW.WRONG_LENGTH);
    const tag = (cmd.p1 << 8) | cmd.p2;
    if (tag === VITALE_TAGS.certificate) return ok(this.certificateObject);
    return status(SW.REFERENCE_NOT_FOUND);
  }

  /** RSASSA-PKCS1-v1_5 with SHA-256 over the challenge; no PIN on a Vitale card. */
  private internalAuthenticate(cmd: CommandApdu): CardResponse {
    // P1 = algorithm, P2 = key reference: 00 00 "known by the card" is the only pair modelled.
    if (cmd.p1 !== 0 || cmd.p2 !== 0) return status(SW.WRONG_P1P2);
    if (cmd.ne === null) return status(SW.WRONG_LENGTH);
    const n = cmd.data.length;
    if (n < VITALE_CHALLENGE_MIN || n > VITALE_CHALLENGE_MAX) return status(SW.WRONG_LENGTH);
    return ok(new Uint8Array(sign('sha256', cmd.data, this.key)));
  }
}

/** Build a card from a checked profile (see parseVitaleProfile) and the card's key. */
export function createVitaleCard(profile: VitaleProfile, key: VitaleCardKey, options: VitaleCardOptions = {}): VitaleCard {
  return new VitaleCard(profile, key, options);
}
