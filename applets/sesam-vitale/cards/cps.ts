/**
 * The CPS as docs/cards/cps.md lays it out (an IAS-ECC-like card; the layout is this project's
 * own): read the holder and situations, have the kernel verify the PIN (the applet never sees it),
 * and sign a SHA-256 hash with the signature key (MSE SET DST, PSO HASH, PSO CDS).
 */
import { fromHex } from '../../../platform/sdk/hex.js';
import type { Lease, PinVerifyResult } from '../../../platform/sdk/api.js';
import type { CpsHolder, CpsRead, CpsSituation } from '../model.js';
import { Fields, oneTemplate, parseCardTlv, readTransparent, send, sendOk } from './card-io.js';
import { CardError, malformedError, statusError } from './errors.js';

export const CPS_AID = 'E828BD080F8025000001FF0010';
export const CPS_PIN_REFERENCE = 0x81;

const SFI = { cardInfo: 1, holder: 2, situations: 3 } as const;
const FID = { signCert: 0x0202, caCert: 0x0203 } as const;
const FLAG = { signFse: 0x01, signLot: 0x02, remplacant: 0x04 } as const;
const DIGITS = /^[0-9]+$/;

export async function selectCps(lease: Lease): Promise<void> {
  await sendOk('CPS', lease, 'la sélection de l’application CPS', { ins: 0xa4, p1: 0x04, p2: 0x00, data: fromHex(CPS_AID), le: 256 });
}

async function readCert(lease: Lease, fid: number, what: string): Promise<Uint8Array> {
  await sendOk('CPS', lease, `la sélection du ${what}`, { ins: 0xa4, p1: 0x02, p2: 0x0c, data: Uint8Array.of(fid >> 8, fid & 0xff) });
  const der = await readTransparent('CPS', lease, `la lecture du ${what}`, { ins: 0xb0, p1: 0, p2: 0 });
  // A DER certificate is one SEQUENCE: anything else (or trailing bytes) is not a certificate.
  const nodes = parseCardTlv('CPS', `la lecture du ${what}`, der);
  if (nodes.length !== 1 || nodes[0]!.tag !== 0x30) throw malformedError('CPS', `la lecture du ${what}`, 'certificat X.509 attendu');
  return der;
}

function parseHolder(bytes: Uint8Array): CpsHolder {
  const step = 'la lecture du porteur';
  const f = new Fields('CPS', step, oneTemplate('CPS', step, bytes, 0xe1));
  const t = f.byte(0x80);
  if (t !== 0x08 && t !== 0x00) throw malformedError('CPS', step, 'type d’identifiant inconnu');
  return {
    idType: t === 0x08 ? 'RPPS' : 'ADELI',
    id: f.text(0x81, DIGITS),
    nationalId: f.text(0x82, DIGITS),
    civilite: f.text(0x83),
    nom: f.text(0x84),
    prenom: f.text(0x85),
    profession: f.text(0x86, /^[0-9]{2}$/),
    specialite: f.text(0x87, /^[0-9]{2}$/),
  };
}

function parseSituations(bytes: Uint8Array): CpsSituation[] {
  const step = 'la lecture des situations';
  const nodes = parseCardTlv('CPS', step, bytes);
  if (nodes.length === 0) throw malformedError('CPS', step, 'aucune situation');
  return nodes.map((n) => {
    if (n.tag !== 0xe2 || !n.children) throw malformedError('CPS', step, 'modèle E2 attendu');
    const f = new Fields('CPS', step, n);
    const flags = f.byte(0x86);
    const mode = f.text(0x81, /^[LSB]$/) as CpsSituation['mode'];
    const s: CpsSituation = {
      number: f.byte(0x80),
      mode,
      billingNumber: f.text(0x82, /^[0-9]{9}$/),
      conventionCode: f.text(0x83, /^[0-9]$/),
      tariffZone: f.text(0x84, /^[0-9]{2}$/),
      specialite: f.text(0x85, /^[0-9]{2}$/),
      canSignFse: (flags & FLAG.signFse) !== 0,
      canSignLot: (flags & FLAG.signLot) !== 0,
      remplacant: (flags & FLAG.remplacant) !== 0,
    };
    const rs = f.optText(0x87);
    if (rs !== undefined) s.raisonSociale = rs;
    const rb = f.optText(0x88, /^[0-9]{9}$/);
    if (rb !== undefined) s.replacedBillingNumber = rb;
    return s;
  });
}

export async function readCps(lease: Lease): Promise<CpsRead> {
  await selectCps(lease);
  const info = await readTransparent('CPS', lease, 'la lecture des informations carte', { ins: 0xb0, p1: 0x80 | SFI.cardInfo, p2: 0 });
  const infoStep = 'la lecture des informations carte';
  const cardNumber = new Fields('CPS', infoStep, oneTemplate('CPS', infoStep, info, 0xe0)).text(0x81, /^[0-9]{10}$/);
  const holder = parseHolder(await readTransparent('CPS', lease, 'la lecture du porteur', { ins: 0xb0, p1: 0x80 | SFI.holder, p2: 0 }));
  const situations = parseSituations(await readTransparent('CPS', lease, 'la lecture des situations', { ins: 0xb0, p1: 0x80 | SFI.situations, p2: 0 }));
  const signCertDer = await readCert(lease, FID.signCert, 'certificat de signature');
  const caCertDer = await readCert(lease, FID.caCert, 'certificat de l’autorité');
  // Leave the CPS application current: the kernel's VERIFY and the signature need it.
  await selectCps(lease);
  return { cardNumber, holder, situations, signCertDer, caCertDer };
}

/**
 * SELECT first: leaving the application drops the PIN status, and the kernel's VERIFY goes to
 * whatever application is current. The kernel reads the keypad; no digit passes through here.
 */
export async function verifyCpsPin(lease: Lease, prompt: string): Promise<PinVerifyResult> {
  await selectCps(lease);
  try {
    return await platform.pin.verify(lease, { reference: CPS_PIN_REFERENCE, format: 'ascii-ff', prompt });
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'E_LEASE' || code === 'E_NO_CARD' || code === 'E_NOT_ROUTED') throw new CardError('CPS', 'removed', 'Carte CPS retirée ou plus disponible');
    throw new CardError('CPS', 'transport', `Carte CPS : saisie du code impossible (${typeof code === 'string' ? code : 'erreur'})`);
  }
}

/** PKCS#1 v1.5 signature over DigestInfo(SHA-256, hash) with key 02: what signCms's signHash needs. */
export async function cpsSignHash(lease: Lease, sha256: Uint8Array): Promise<Uint8Array> {
  if (sha256.length !== 32) throw new RangeError('cpsSignHash: a SHA-256 hash is 32 bytes');
  await sendOk('CPS', lease, 'MSE SET (clé de signature)', { ins: 0x22, p1: 0x41, p2: 0xb6, data: Uint8Array.of(0x84, 0x01, 0x02, 0x80, 0x01, 0x42) });
  const h = new Uint8Array(34);
  h[0] = 0x90;
  h[1] = 0x20;
  h.set(sha256, 2);
  await sendOk('CPS', lease, 'PSO HASH', { ins: 0x2a, p1: 0x90, p2: 0xa0, data: h });
  const r = await send('CPS', lease, { ins: 0x2a, p1: 0x9e, p2: 0x9a, le: 256 });
  if (r.sw !== 0x9000) throw statusError('CPS', 'la signature', r.sw);
  if (r.data.length !== 256) throw malformedError('CPS', 'la signature', `${r.data.length} octets au lieu de 256`);
  return r.data;
}
