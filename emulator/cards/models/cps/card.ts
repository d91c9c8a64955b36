/**
 * The CPS as an IAS-ECC-like card: one application (AID E828BD080F8025000001FF0010) with holder,
 * situation and certificate EFs, a PIN (0x81) with a PUK (0x82), and two RSA-2048 private keys used
 * through MSE SET / PSO HASH / PSO COMPUTE DIGITAL SIGNATURE and INTERNAL AUTHENTICATE.
 *
 * The card signs whatever hash it is given once the PIN is verified: whether a situation may sign
 * FSEs or lots is recorded in its flags for the software to honour, as on the real card.
 */
import { constants, createHash, privateEncrypt, type KeyObject } from 'node:crypto';
import { parseTlv, type TlvNode } from '../../../../platform/sdk/tlv.js';
import type { CommandApdu } from '../../framework/apdu.js';
import { IsoCard, ok, status, type CardResponse, type IsoCardConfig } from '../../framework/iso-card.js';
import { SW, swTriesLeft } from '../../framework/status.js';
import type { DfSpec } from '../../framework/filesystem.js';

export const CPS_AID_HEX = 'E828BD080F8025000001FF0010';
export const CPS_PIN_REFERENCE = 0x81;
export const CPS_PUK_REFERENCE = 0x82;
export const CPS_AUTH_KEY_REFERENCE = 0x01;
export const CPS_SIGN_KEY_REFERENCE = 0x02;
/** IAS-ECC style algorithm references (OpenSC iasecc): RSA PKCS#1 v1.5 (02), with SHA-256 hash input (42). */
export const CPS_ALG_RSA_PKCS1 = 0x02;
export const CPS_ALG_RSA_PKCS1_SHA256 = 0x42;
export const CPS_PIN_LENGTH = 4;
export const CPS_PUK_LENGTH = 8;
export const DEFAULT_SIGNATURE_MS = 200;

const SHA256_LENGTH = 32;
/** DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1). */
const SHA256_DIGEST_INFO_PREFIX = Uint8Array.from([0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20]);
/** PKCS#1 v1.5 type 1 padding needs 11 bytes of a 256-byte modulus. */
const RSA_2048_MAX_INPUT = 256 - 11;

export interface CpsKeys {
  auth: KeyObject;
  sign: KeyObject;
}

export interface CpsCardConfig extends IsoCardConfig {
  keys: CpsKeys;
  signatureMs: number;
  defaultMs: number;
}

interface SecurityEnvironment {
  /** The application the environment was set in: leaving it drops the environment. */
  app: DfSpec;
  dst?: { keyRef: number; alg: number };
  at?: { keyRef: number; alg: number };
  hash?: Uint8Array;
}

export function sha256DigestInfo(hash: Uint8Array): Uint8Array {
  const out = new Uint8Array(SHA256_DIGEST_INFO_PREFIX.length + hash.length);
  out.set(SHA256_DIGEST_INFO_PREFIX, 0);
  out.set(hash, SHA256_DIGEST_INFO_PREFIX.length);
  return out;
}

/** A PIN or PUK block in ascii-ff form: exactly `length` ASCII digits, then FF to 8 bytes. */
function pinDigits(block: Uint8Array, length: number): string | undefined {
  if (block.length !== 8) return undefined;
  let digits = '';
  for (let i = 0; i < 8; i++) {
    const b = block[i]!;
    if (i < length) {
      if (b < 0x30 || b > 0x39) return undefined;
      digits += String.fromCharCode(b);
    } else if (b !== 0xff) {
      return undefined;
    }
  }
  return digits;
}

function parseOrNull(data: Uint8Array): TlvNode[] | null {
  try {
    return parseTlv(data);
  } catch {
    return null;
  }
}

export class CpsCard extends IsoCard {
  readonly #keys: CpsKeys;
  readonly #signatureMs: number;
  readonly #defaultMs: number;
  #env: SecurityEnvironment | null = null;

  constructor(config: CpsCardConfig) {
    super(config);
    this.#keys = config.keys;
    this.#signatureMs = config.signatureMs;
    this.#defaultMs = config.defaultMs;
    this.register({ cla: 0x00, ins: 0x22, name: 'MSE SET', handler: (c) => this.#mse(c) });
    this.register({ cla: 0x00, ins: 0x2a, name: 'PSO', handler: (c) => this.#pso(c) });
    this.register({ cla: 0x00, ins: 0x88, name: 'INTERNAL AUTHENTICATE', handler: (c) => this.#internalAuthenticate(c) });
    this.register({ cla: 0x00, ins: 0x2c, name: 'RESET RETRY COUNTER', handler: (c) => this.#resetRetryCounter(c) });
    this.register({ cla: 0x00, ins: 0x24, name: 'CHANGE REFERENCE DATA', handler: (c) => this.#changeReferenceData(c) });
  }

  protected override onReset(): void {
    this.#env = null;
  }

  /** Leaving the application drops its security environment, as the framework drops the PIN status. */
  protected override select(cmd: CommandApdu): CardResponse {
    const before = this.fs.applicationOf(this.currentDf);
    const res = super.select(cmd);
    if (this.fs.applicationOf(this.currentDf) !== before) this.#env = null;
    return res;
  }

  override processingMs(apdu: Uint8Array): number {
    const [, ins, p1, p2] = apdu;
    if (ins === 0x88 || (ins === 0x2a && p1 === 0x9e && p2 === 0x9a)) return this.#signatureMs;
    return this.#defaultMs;
  }

  /** The CPS application if it is the current one; keys and the environment live there. */
  #currentApp(): DfSpec | null {
    const app = this.fs.applicationOf(this.currentDf);
    return app === this.fs.mf ? null : app;
  }

  #environment(): SecurityEnvironment | null {
    const app = this.#currentApp();
    if (!app) return null;
    if (this.#env?.app !== app) this.#env = { app };
    return this.#env;
  }

  // ---- MSE SET (00 22 41 B6 | 41 A4) --------------------------------------------------------------

  #mse(cmd: CommandApdu): CardResponse {
    if (cmd.p1 !== 0x41 || (cmd.p2 !== 0xb6 && cmd.p2 !== 0xa4)) return status(SW.WRONG_P1P2);
    if (cmd.ne !== null) return status(SW.WRONG_LENGTH);
    const env = this.#environment();
    if (!env) return status(SW.CONDITIONS_NOT_SATISFIED);
    const nodes = parseOrNull(cmd.data);
    if (!nodes || nodes.length === 0) return status(SW.WRONG_DATA);
    let keyRef: number | undefined;
    let alg: number | undefined;
    for (const n of nodes) {
      if (n.value.length !== 1) return status(SW.WRONG_DATA);
      if (n.tag === 0x84 && keyRef === undefined) keyRef = n.value[0];
      else if (n.tag === 0x80 && alg === undefined) alg = n.value[0];
      else return status(SW.WRONG_DATA);
    }
    if (keyRef === undefined) return status(SW.WRONG_DATA);
    if (cmd.p2 === 0xb6) {
      if (keyRef !== CPS_SIGN_KEY_REFERENCE) return status(SW.REFERENCE_NOT_FOUND);
      const a = alg ?? CPS_ALG_RSA_PKCS1_SHA256;
      if (a !== CPS_ALG_RSA_PKCS1_SHA256) return status(SW.WRONG_DATA);
      env.dst = { keyRef, alg: a };
      // A new signing environment starts a new signature: a hash from before does not carry over.
      delete env.hash;
    } else {
      if (keyRef !== CPS_AUTH_KEY_REFERENCE) return status(SW.REFERENCE_NOT_FOUND);
      const a = alg ?? CPS_ALG_RSA_PKCS1;
      if (a !== CPS_ALG_RSA_PKCS1) return status(SW.WRONG_DATA);
      env.at = { keyRef, alg: a };
    }
    return status(SW.OK);
  }

  // ---- PSO (00 2A 90 A0 HASH | 00 2A 9E 9A COMPUTE DIGITAL SIGNATURE) ------------------------------

  #pso(cmd: CommandApdu): CardResponse {
    if (cmd.p1 === 0x90 && cmd.p2 === 0xa0) return this.#psoHash(cmd);
    if (cmd.p1 === 0x9e && cmd.p2 === 0x9a) return this.#psoSign(cmd);
    return status(SW.WRONG_P1P2);
  }

  #psoHash(cmd: CommandApdu): CardResponse {
    if (cmd.ne !== null) return status(SW.WRONG_LENGTH);
    const env = this.#environment();
    if (!env?.dst) return status(SW.CONDITIONS_NOT_SATISFIED);
    const nodes = parseOrNull(cmd.data);
    const n = nodes?.length === 1 ? nodes[0]! : null;
    // 90: the hash computed outside; 80 is accepted too, as some middleware sends the hash under it.
    if (!n || (n.tag !== 0x90 && n.tag !== 0x80)) return status(SW.WRONG_DATA);
    if (n.value.length !== SHA256_LENGTH) return status(SW.WRONG_LENGTH);
    env.hash = n.value.slice();
    return status(SW.OK);
  }

  #psoSign(cmd: CommandApdu): CardResponse {
    if (cmd.data.length > 0 || cmd.ne === null) return status(SW.WRONG_LENGTH);
    const env = this.#environment();
    if (!env?.dst) return status(SW.CONDITIONS_NOT_SATISFIED);
    if (!this.isVerified(CPS_PIN_REFERENCE)) return status(SW.SECURITY_NOT_SATISFIED);
    if (!env.hash) return status(SW.CONDITIONS_NOT_SATISFIED);
    const hash = env.hash;
    // One hash, one signature: a second PSO CDS needs a new PSO HASH.
    delete env.hash;
    return ok(this.#rsaSign(this.#keys.sign, sha256DigestInfo(hash)));
  }

  // ---- INTERNAL AUTHENTICATE (00 88 00 00) ---------------------------------------------------------

  #internalAuthenticate(cmd: CommandApdu): CardResponse {
    if (cmd.p1 !== 0x00 || cmd.p2 !== 0x00) return status(SW.WRONG_P1P2);
    if (cmd.data.length === 0 || cmd.ne === null) return status(SW.WRONG_LENGTH);
    if (cmd.data.length > RSA_2048_MAX_INPUT) return status(SW.WRONG_LENGTH);
    if (!this.#environment()) return status(SW.CONDITIONS_NOT_SATISFIED);
    if (!this.isVerified(CPS_PIN_REFERENCE)) return status(SW.SECURITY_NOT_SATISFIED);
    // The authentication key is the only one MSE SET AT accepts, so it is also the default.
    return ok(this.#rsaSign(this.#keys.auth, cmd.data));
  }

  /** PKCS#1 v1.5 signature primitive over an already formatted input (DigestInfo or challenge). */
  #rsaSign(key: KeyObject, input: Uint8Array): Uint8Array {
    return new Uint8Array(privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, input));
  }

  // ---- RESET RETRY COUNTER (00 2C) and CHANGE REFERENCE DATA (00 24) ------------------------------

  #resetRetryCounter(cmd: CommandApdu): CardResponse {
    if (cmd.p1 > 0x03) return status(SW.WRONG_P1P2);
    if (cmd.ne !== null) return status(SW.WRONG_LENGTH);
    if (cmd.p2 !== CPS_PIN_REFERENCE) return status(SW.REFERENCE_NOT_FOUND);
    const pin = this.pins.get(CPS_PIN_REFERENCE);
    const puk = this.pins.get(CPS_PUK_REFERENCE);
    if (!pin || !puk) return status(SW.REFERENCE_NOT_FOUND);
    const withPuk = cmd.p1 === 0x00 || cmd.p1 === 0x01;
    const withNewPin = cmd.p1 === 0x00 || cmd.p1 === 0x02;
    const expected = (withPuk ? 8 : 0) + (withNewPin ? 8 : 0);
    if (cmd.data.length !== expected) return status(SW.WRONG_LENGTH);
    let newPin: string | undefined;
    if (withNewPin) {
      newPin = pinDigits(cmd.data.subarray(withPuk ? 8 : 0), CPS_PIN_LENGTH);
      // Checked before the PUK so a malformed new PIN does not cost a PUK try.
      if (newPin === undefined) return status(SW.WRONG_DATA);
    }
    if (withPuk) {
      switch (puk.check(cmd.data.subarray(0, 8))) {
        case 'ok':
          break;
        case 'wrong':
          this.setVerified(CPS_PUK_REFERENCE, false);
          return status(swTriesLeft(puk.triesLeft));
        case 'blocked':
          return status(SW.AUTH_BLOCKED);
        case 'wrong-length':
          return status(SW.WRONG_LENGTH);
      }
    } else if (!this.isVerified(CPS_PUK_REFERENCE)) {
      // P1 02/03: the PUK was presented earlier by VERIFY 00 20 00 82.
      return status(SW.SECURITY_NOT_SATISFIED);
    }
    pin.resetRetryCounter(newPin);
    // Unblocking does not log the holder in: the PIN must still be presented.
    this.setVerified(CPS_PIN_REFERENCE, false);
    this.setVerified(CPS_PUK_REFERENCE, false);
    return status(SW.OK);
  }

  #changeReferenceData(cmd: CommandApdu): CardResponse {
    if (cmd.p1 !== 0x00) return status(SW.WRONG_P1P2);
    if (cmd.ne !== null) return status(SW.WRONG_LENGTH);
    if (cmd.p2 !== CPS_PIN_REFERENCE) return status(SW.REFERENCE_NOT_FOUND);
    const pin = this.pins.get(CPS_PIN_REFERENCE);
    if (!pin) return status(SW.REFERENCE_NOT_FOUND);
    if (cmd.data.length !== 16) return status(SW.WRONG_LENGTH);
    const newPin = pinDigits(cmd.data.subarray(8), CPS_PIN_LENGTH);
    if (newPin === undefined) return status(SW.WRONG_DATA);
    switch (pin.check(cmd.data.subarray(0, 8))) {
      case 'ok':
        pin.change(newPin);
        this.setVerified(CPS_PIN_REFERENCE, true);
        return status(SW.OK);
      case 'wrong':
        this.setVerified(CPS_PIN_REFERENCE, false);
        return status(swTriesLeft(pin.triesLeft));
      case 'blocked':
        this.setVerified(CPS_PIN_REFERENCE, false);
        return status(SW.AUTH_BLOCKED);
      case 'wrong-length':
        return status(SW.WRONG_LENGTH);
    }
  }
}

/** For tests and tools: the SHA-256 of a message, as the workstation computes it before PSO HASH. */
export function sha256(message: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(message).digest());
}
