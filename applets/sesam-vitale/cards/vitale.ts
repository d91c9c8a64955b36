/**
 * The Vitale 2 card as docs/cards/vitale.md lays it out (invented layout keeping the public tags):
 * insured (64), beneficiaries (65, one record each, until 6A83), the card certificate (7F21) and
 * INTERNAL AUTHENTICATE. Birth dates stay as on the card (lunar dates allowed, never parsed).
 */
import { fromHex } from '../../../platform/sdk/hex.js';
import type { Lease } from '../../../platform/sdk/api.js';
import type { Amc, Beneficiary, Insured, Rights, VitaleRead } from '../model.js';
import { cardDateToIso, Fields, oneTemplate, parseCardTlv, readTransparent, send, sendOk } from './card-io.js';
import { malformedError, statusError } from './errors.js';

export const VITALE_AID = 'D250000002564954414C45';
const MF_VITALE_AID = 'D2500000024D465F564954414C45';
/** A card has at most 16 beneficiaries (profile schema); a card that keeps answering is broken. */
const MAX_RECORDS = 16;

const NIR = /^[0-9]{5}([0-9]{2}|2[AB])[0-9]{8}$/;
const NAME = /^[A-Z0-9][A-Z0-9 '-]{0,26}$/;

function parseInsured(bytes: Uint8Array): Insured {
  const step = 'la lecture de l’assuré';
  const f = new Fields('Vitale', step, oneTemplate('Vitale', step, bytes, 0x64));
  return {
    nir: f.text(0x93, NIR),
    regime: f.text(0x80, /^[0-9]{2}$/),
    caisse: f.text(0x81, /^[0-9]{3}$/),
    centre: f.text(0x82, /^[0-9]{4}$/),
    codeGestion: f.text(0x83, /^[0-9]{2}$/),
  };
}

function flag(step: string, v: number | undefined): boolean {
  if (v === undefined || v === 0) return false;
  if (v === 1) return true;
  throw malformedError('Vitale', step, 'indicateur ni 00 ni 01');
}

function parseBeneficiary(bytes: Uint8Array, rec: number): Beneficiary {
  const step = `la lecture du bénéficiaire ${rec}`;
  const f = new Fields('Vitale', step, oneTemplate('Vitale', step, bytes, 0x65));
  const rightsNode = f.child(0x66);
  if (!rightsNode?.children) throw malformedError('Vitale', step, 'droits absents');
  const r = new Fields('Vitale', step, rightsNode);
  const rights: Rights = {
    start: cardDateToIso('Vitale', step, r.text(0x80)),
    ald: flag(step, r.optByte(0x82)),
    exoneration: r.optText(0x83, /^[0-9A-Z]$/) ?? '0',
  };
  const end = r.optText(0x81);
  if (end !== undefined) rights.end = cardDateToIso('Vitale', step, end);
  const b: Beneficiary = {
    surname: f.text(0x80, NAME),
    firstName: f.text(0x81, NAME),
    birthDate: f.text(0x82, /^[0-9]{4}(0[0-9]|1[0-2])([0-2][0-9]|3[01])$/),
    birthRank: Number(f.text(0x83, /^[1-9]$/)),
    quality: f.text(0x84, /^[0-9]{2}$/),
    nationality: f.text(0x90, /^[A-Z]{3}$/),
    rights,
  };
  const usual = f.optText(0x85, NAME);
  if (usual !== undefined) b.usualName = usual;
  const nir = f.optText(0x93, NIR);
  if (nir !== undefined) b.nir = nir;
  const amcNode = f.child(0x67);
  if (amcNode) {
    if (!amcNode.children) throw malformedError('Vitale', step, 'AMC mal formée');
    const a = new Fields('Vitale', step, amcNode);
    const amc: Amc = {
      number: a.text(0x80, /^[0-9]{8,10}$/),
      contractType: a.text(0x81, /^[0-9]{2}$/),
      tiersPayant: flag(step, a.byte(0x82)),
      start: cardDateToIso('Vitale', step, a.text(0x83)),
      end: cardDateToIso('Vitale', step, a.text(0x84)),
    };
    const name = a.optText(0x85);
    if (name !== undefined) amc.name = name;
    b.amc = amc;
  }
  return b;
}

async function readCertificate(lease: Lease): Promise<Uint8Array> {
  const step = 'la lecture du certificat';
  const data = await sendOk('Vitale', lease, step, { ins: 0xca, p1: 0x7f, p2: 0x21, le: 256 });
  const nodes = parseCardTlv('Vitale', step, data);
  const c = nodes[0];
  if (nodes.length !== 1 || !c || c.tag !== 0x7f21) throw malformedError('Vitale', step, 'objet 7F21 attendu');
  const inner = c.children ?? parseCardTlv('Vitale', step, c.value);
  if (inner.length !== 1 || inner[0]!.tag !== 0x30) throw malformedError('Vitale', step, 'certificat X.509 attendu');
  return c.value;
}

async function readSerial(lease: Lease): Promise<string> {
  // The serial number lives in the card-level application (EF 2F02, SFI 2 of the MF).
  const step = 'la lecture de l’identification carte';
  await sendOk('Vitale', lease, 'la sélection de MF_VITALE', { ins: 0xa4, p1: 0x04, p2: 0x00, data: fromHex(MF_VITALE_AID), le: 256 });
  const bytes = await readTransparent('Vitale', lease, step, { ins: 0xb0, p1: 0x82, p2: 0 });
  return new Fields('Vitale', step, oneTemplate('Vitale', step, bytes, 0x73)).text(0x80, /^[0-9]{10}$/);
}

export async function readVitale(lease: Lease): Promise<VitaleRead> {
  const serialNumber = await readSerial(lease);
  await sendOk('Vitale', lease, 'la sélection de l’application VITALE', { ins: 0xa4, p1: 0x04, p2: 0x00, data: fromHex(VITALE_AID), le: 256 });
  const insured = parseInsured(await readTransparent('Vitale', lease, 'la lecture de l’assuré', { ins: 0xb0, p1: 0x81, p2: 0 }));
  const beneficiaries: Beneficiary[] = [];
  for (let rec = 1; ; rec++) {
    const r = await send('Vitale', lease, { ins: 0xb2, p1: rec, p2: (2 << 3) | 4, le: 256 });
    if (r.sw === 0x6a83) break;
    if (r.sw !== 0x9000) throw statusError('Vitale', `la lecture du bénéficiaire ${rec}`, r.sw);
    if (rec > MAX_RECORDS) throw malformedError('Vitale', 'la lecture des bénéficiaires', `plus de ${MAX_RECORDS} bénéficiaires`);
    beneficiaries.push(parseBeneficiary(r.data, rec));
  }
  if (beneficiaries.length === 0) throw malformedError('Vitale', 'la lecture des bénéficiaires', 'aucun bénéficiaire');
  const certDer = await readCertificate(lease);
  return { serialNumber, insured, beneficiaries, certDer };
}

/** RSASSA-PKCS1-v1_5 / SHA-256 over the challenge (8..128 bytes) with the card key: 256 bytes. */
export async function vitaleAuthenticate(lease: Lease, challenge: Uint8Array): Promise<Uint8Array> {
  if (challenge.length < 8 || challenge.length > 128) throw new RangeError('vitaleAuthenticate: challenge of 8..128 bytes');
  const r = await send('Vitale', lease, { ins: 0x88, p1: 0, p2: 0, data: challenge, le: 256 });
  if (r.sw !== 0x9000) throw statusError('Vitale', 'l’authentification', r.sw);
  if (r.data.length !== 256) throw malformedError('Vitale', 'l’authentification', `${r.data.length} octets au lieu de 256`);
  return r.data;
}
