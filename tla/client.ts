/**
 * The practice computer's client of the TLA host link (platform/wire/hostlink.ts): one TLS 1.3
 * connection (node:tls) with this computer's certificate, the device's certificate pinned by its
 * SHA-256 fingerprint once paired, frames as on the host pipe, one request answered before the next.
 *
 * Trust: before pairing the device is unknown, so the client sends it nothing but `pair` (and
 * `identify`, which carries nothing of ours). After pairing, a device whose certificate differs from
 * every pinned one is refused before any request, with both short fingerprints in the error. Every
 * answer is checked (shape, types, limits) before it is used: the device is pinned, not trusted
 * blindly.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { encodeFrame, FrameDecoder, FrameError } from '../platform/wire/frames.js';
import {
  HOSTLINK_MAX_FRAME_BYTES,
  HOSTLINK_PROTOCOL,
  HOST_NAME,
  type DateResult,
  type DayDataArgs,
  type DayDataResult,
  type EraseArgs,
  type EraseResult,
  type HostLinkErrorCode,
  type HostLinkValue,
  type HostOp,
  type IdentifyResult,
  type BeneficiaryUnloadResult,
  type InvoiceUnloadResult,
  type UnloadedBeneficiaries,
  type UnloadedInvoice,
} from '../platform/wire/hostlink.js';
import { certFingerprint, computePairProofs, normalizePairCode, proofsEqual, shortFingerprint } from '../platform/kernel/hostlink/proof.js';
import { deviceIdOf } from '../platform/kernel/hostlink/identity.js';
import { DEFAULT_TLA_DIR, loadOrCreateIdentity, type HostIdentity } from './identity.js';
import { TlaStore } from './store.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** A name the device accepts, from this computer's host name. */
export function defaultHostName(h: string): string {
  const n = h.replace(/[^\p{L}\p{N} ._'’()\-/@#&+]/gu, '-').trim().slice(0, 48).trim();
  return n.length > 0 ? n : 'Poste du cabinet';
}

/** Protocol codes from the device, plus what the client itself detects. */
export type TlaErrorCode =
  | HostLinkErrorCode
  /** The device could not be reached (refused, no route, TLS handshake failed). */
  | 'E_CONNECT'
  | 'E_TIMEOUT'
  /** The link closed before the answer. */
  | 'E_CLOSED'
  /** The device answered something that is not a valid answer. */
  | 'E_PROTOCOL'
  /** The device's certificate is not the one this computer is paired with. */
  | 'E_DEVICE_MISMATCH'
  /** This computer is not paired with this device: pair first. */
  | 'E_NOT_PAIRED'
  /** Pairing: the device's proof does not match the code (wrong code, or a relay in between). */
  | 'E_PROOF'
  /** The caller's arguments are wrong (checked before anything is sent). */
  | 'E_ARGS';

export class TlaError extends Error {
  override readonly name = 'TlaError';
  constructor(
    readonly code: TlaErrorCode,
    message: string,
    readonly domainCode?: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface DeviceAddress {
  host: string;
  port: number;
}

export interface TlaClientOptions {
  /** This computer's directory (identity, store); default ./.di-tla. */
  dir?: string;
  device: DeviceAddress;
  /** Given instead of reading them from `dir` (tests, embedding software). */
  identity?: HostIdentity;
  store?: TlaStore;
  /** Per request (ms). */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  /**
   * Accept a device that is not pinned although others are (to pair with a second device). Without
   * it such a device is refused at once (E_DEVICE_MISMATCH).
   */
  forPairing?: boolean;
}

type Args = { [k: string]: HostLinkValue };

interface Pending {
  id: number | null;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

// ---- answer checks -----------------------------------------------------------------------------

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
const bad = (what: string): TlaError => new TlaError('E_PROTOCOL', `réponse de l'appareil invalide : ${what}`);

function str(o: Record<string, unknown>, k: string, what: string, max = 200): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length > max) throw bad(`${what}.${k} n'est pas un texte`);
  return v;
}
function int(o: Record<string, unknown>, k: string, what: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad(`${what}.${k} n'est pas un entier`);
  return v;
}
function bin(o: Record<string, unknown>, k: string, what: string, optional = false): Uint8Array | undefined {
  const v = o[k];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw bad(`${what}.${k} manque`);
  }
  if (!(v instanceof Uint8Array)) throw bad(`${what}.${k} n'est pas une suite d'octets`);
  return new Uint8Array(v);
}
function strList(o: Record<string, unknown>, k: string, what: string): string[] {
  const v = o[k];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad(`${what}.${k} n'est pas une liste de textes`);
  return v as string[];
}
function nextCursor(o: Record<string, unknown>, what: string): string | null {
  const v = o.next;
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string' || v.length === 0 || v.length > 200) throw bad(`${what}.next n'est pas un curseur`);
  return v;
}

const REF = /^([0-9]{9})\/([0-9]{1,9})$/;
const DESTINATION = /^(AMO|AMC)-[0-9A-Z]{1,16}$/;
const ISO_DAY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}/;

export function checkUnloadedInvoice(v: unknown, i: number): UnloadedInvoice {
  const what = `items[${i}]`;
  if (!isObj(v)) throw bad(`${what} n'est pas un objet`);
  const ref = str(v, 'ref', what);
  const billingNumber = str(v, 'billingNumber', what);
  const invoiceNo = int(v, 'invoiceNo', what);
  const m = REF.exec(ref);
  if (!m || m[1] !== billingNumber || Number(m[2]) !== invoiceNo) throw bad(`${what}.ref ${JSON.stringify(ref.slice(0, 40))} ne correspond pas à ${billingNumber}/${invoiceNo}`);
  const kind = v.kind;
  if (kind !== 'FSE' && kind !== 'DRE') throw bad(`${what}.kind n'est ni FSE ni DRE`);
  const destination = str(v, 'destination', what);
  if (!DESTINATION.test(destination)) throw bad(`${what}.destination ${JSON.stringify(destination.slice(0, 30))} n'est pas une destination`);
  const careDate = str(v, 'careDate', what);
  const createdAt = str(v, 'createdAt', what);
  const deadline = str(v, 'deadline', what);
  for (const [k, d] of [['careDate', careDate], ['deadline', deadline]] as const) if (!ISO_DAY.test(d)) throw bad(`${what}.${k} n'est pas une date`);
  const amo = int(v, 'amo', what);
  const amc = int(v, 'amc', what);
  if (amo < 0 || amc < 0) throw bad(`${what} : montant négatif`);
  const record = bin(v, 'record', what) as Uint8Array;
  const cpsSignature = bin(v, 'cpsSignature', what) as Uint8Array;
  if (record.length === 0 || cpsSignature.length === 0) throw bad(`${what} : facture sans enregistrement ou sans signature`);
  const vitaleAuth = bin(v, 'vitaleAuth', what, true);
  const vitaleCertDer = bin(v, 'vitaleCertDer', what, true);
  if ((vitaleAuth === undefined) !== (vitaleCertDer === undefined)) throw bad(`${what} : authentification Vitale sans certificat (ou l'inverse)`);
  const out: UnloadedInvoice = { ref, billingNumber, invoiceNo, kind, destination, careDate, createdAt, deadline, amo, amc, record, cpsSignature };
  if (vitaleAuth && vitaleCertDer) {
    out.vitaleAuth = vitaleAuth;
    out.vitaleCertDer = vitaleCertDer;
  }
  return out;
}

function checkBeneficiaries(v: unknown, i: number): UnloadedBeneficiaries {
  const what = `items[${i}]`;
  if (!isObj(v)) throw bad(`${what} n'est pas un objet`);
  const ref = str(v, 'ref', what);
  if (ref.length === 0) throw bad(`${what}.ref vide`);
  const readAt = int(v, 'readAt', what);
  const vitaleSerial = str(v, 'vitaleSerial', what, 40);
  if (!isObj(v.insured)) throw bad(`${what}.insured n'est pas un objet`);
  if (!Array.isArray(v.beneficiaries) || !v.beneficiaries.every(isObj)) throw bad(`${what}.beneficiaries n'est pas une liste d'objets`);
  return { ref, readAt, vitaleSerial, insured: v.insured as Args, beneficiaries: v.beneficiaries as Args[] };
}

function checkPage<T>(r: Record<string, unknown>, item: (v: unknown, i: number) => T, what: string): { items: T[]; next: string | null; held: number } {
  if (!Array.isArray(r.items)) throw bad(`${what}.items n'est pas une liste`);
  const items = r.items.map(item);
  const held = int(r, 'held', what);
  return { items, next: nextCursor(r, what), held };
}

/** Drops undefined members (optional fields not given) and checks the rest is a wire value. */
function wire(v: unknown, path: string): HostLinkValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string' || v instanceof Uint8Array) return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TlaError('E_ARGS', `${path} n'est pas un nombre fini`);
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => wire(x, `${path}[${i}]`));
  if (typeof v === 'object') {
    const out: Args = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) out[k] = wire(x, `${path}.${k}`);
    return out;
  }
  throw new TlaError('E_ARGS', `${path} : type ${typeof v} impossible à transmettre`);
}

function wireArgs(v: object, what: string): Args {
  return wire(v, what) as Args;
}

// ---- the client ---------------------------------------------------------------------------------

function connectError(addr: DeviceAddress, err: unknown): TlaError {
  const e = err as NodeJS.ErrnoException;
  const where = `${addr.host}:${addr.port}`;
  if (e?.code === 'ECONNREFUSED') return new TlaError('E_CONNECT', `appareil injoignable à ${where} (connexion refusée) : l'appareil est-il allumé, le lien TLA activé sur ce port ?`);
  if (e?.code === 'ETIMEDOUT' || e?.code === 'EHOSTUNREACH' || e?.code === 'ENETUNREACH') return new TlaError('E_CONNECT', `appareil injoignable à ${where} (${e.code}) : vérifiez l'adresse (--device)`);
  return new TlaError('E_CONNECT', `connexion TLS impossible avec ${where} : ${(e?.message ?? String(err)).slice(0, 200)}`);
}

export class TlaClient {
  readonly identity: HostIdentity;
  readonly store: TlaStore;
  readonly device: DeviceAddress;
  /** The device certificate's SHA-256 (hex). */
  readonly deviceFingerprint: string;
  readonly socket: TLSSocket;
  readonly #ownsStore: boolean;
  readonly #timeoutMs: number;
  #paired: boolean;
  #decoder = new FrameDecoder(HOSTLINK_MAX_FRAME_BYTES);
  #pending: Pending | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #nextId = 1;
  #closed = false;
  #closeReason: TlaError | null = null;

  private constructor(o: { identity: HostIdentity; store: TlaStore; ownsStore: boolean; device: DeviceAddress; socket: TLSSocket; fingerprint: string; paired: boolean; timeoutMs: number }) {
    this.identity = o.identity;
    this.store = o.store;
    this.#ownsStore = o.ownsStore;
    this.device = o.device;
    this.socket = o.socket;
    this.deviceFingerprint = o.fingerprint;
    this.#paired = o.paired;
    this.#timeoutMs = o.timeoutMs;
    o.socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    o.socket.on('error', () => undefined);
    o.socket.on('close', () => this.#onClose());
  }

  /** Connects, checks the device's certificate against the pins. */
  static async connect(opts: TlaClientOptions): Promise<TlaClient> {
    const dir = opts.dir ?? DEFAULT_TLA_DIR;
    const identity = opts.identity ?? (await loadOrCreateIdentity(dir));
    const ownsStore = opts.store === undefined;
    const store = opts.store ?? new TlaStore(dir);
    try {
      const socket = await new Promise<TLSSocket>((resolve, reject) => {
        const s = tlsConnect({
          host: opts.device.host,
          port: opts.device.port,
          key: identity.keyPem,
          cert: identity.certPem,
          minVersion: 'TLSv1.3',
          maxVersion: 'TLSv1.3',
          ALPNProtocols: [HOSTLINK_PROTOCOL],
          // The device's certificate is self-signed: it is checked by its pinned fingerprint below,
          // not by a CA (there is none) nor by a host name (the device has none).
          rejectUnauthorized: false,
        });
        const timer = setTimeout(() => {
          s.destroy();
          reject(new TlaError('E_CONNECT', `appareil injoignable à ${opts.device.host}:${opts.device.port} : pas de réponse en ${opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS} ms`));
        }, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
        s.once('secureConnect', () => {
          clearTimeout(timer);
          resolve(s);
        });
        s.once('error', (err) => {
          clearTimeout(timer);
          s.destroy();
          reject(connectError(opts.device, err));
        });
      });
      const peer = socket.getPeerCertificate(false);
      if (!peer || !peer.raw || peer.raw.length === 0) {
        socket.destroy();
        throw new TlaError('E_CONNECT', `l'appareil à ${opts.device.host}:${opts.device.port} n'a présenté aucun certificat`);
      }
      if (socket.getProtocol() !== 'TLSv1.3') {
        socket.destroy();
        throw new TlaError('E_CONNECT', `l'appareil a négocié ${String(socket.getProtocol())} : TLS 1.3 exigé`);
      }
      const fingerprint = certFingerprint(new Uint8Array(peer.raw));
      const pins = store.devices();
      const paired = pins.some((d) => d.fingerprint === fingerprint);
      if (!paired && pins.length > 0 && !opts.forPairing) {
        socket.destroy();
        const known = pins.map((d) => `${d.deviceId} (${shortFingerprint(d.fingerprint)})`).join(', ');
        throw new TlaError(
          'E_DEVICE_MISMATCH',
          `l'appareil à ${opts.device.host}:${opts.device.port} présente l'empreinte ${shortFingerprint(fingerprint)}, ` +
            `cet ordinateur est associé à ${known} : ce n'est pas un appareil associé (appareil remplacé, ou un intermédiaire) ; ` +
            `rien n'a été envoyé. Vérifiez l'empreinte affichée sur l'appareil, puis associez-le (di tla pair) si c'est bien le vôtre.`,
        );
      }
      return new TlaClient({ identity, store, ownsStore, device: opts.device, socket, fingerprint, paired, timeoutMs: opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS });
    } catch (err) {
      if (ownsStore) store.close();
      throw err;
    }
  }

  /** Whether the device's certificate is pinned (this computer paired with it). */
  get paired(): boolean {
    return this.#paired;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (!this.#closed) this.socket.end();
    this.socket.destroySoon?.();
    if (this.#ownsStore) this.store.close();
  }

  /** Cuts the link at once (tests: a cable pulled mid-unload). */
  destroy(): void {
    this.socket.destroy();
  }

  // ---- framing -------------------------------------------------------------------------------------

  #fail(err: TlaError): void {
    this.#closeReason ??= err;
    const p = this.#pending;
    this.#pending = null;
    if (p) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    let msgs: unknown[];
    try {
      msgs = this.#decoder.push(chunk);
    } catch (err) {
      this.#fail(new TlaError('E_PROTOCOL', `réponse de l'appareil illisible : ${err instanceof FrameError ? err.message : String(err)}`));
      return;
    }
    for (const m of msgs) {
      const p = this.#pending;
      if (!p) {
        this.#fail(bad('réponse sans demande en cours'));
        return;
      }
      this.#pending = null;
      clearTimeout(p.timer);
      p.resolve(m);
    }
  }

  #onClose(): void {
    this.#closed = true;
    const p = this.#pending;
    this.#pending = null;
    if (p) {
      clearTimeout(p.timer);
      p.reject(this.#closeReason ?? new TlaError('E_CLOSED', "le lien avec l'appareil s'est fermé avant la réponse"));
    }
  }

  /** Writes `bytes` and resolves with the next frame the device sends (decoded, unchecked). */
  #exchange(bytes: Uint8Array, id: number | null): Promise<unknown> {
    const run = async (): Promise<unknown> => {
      if (this.#closed || this.socket.destroyed) throw this.#closeReason ?? new TlaError('E_CLOSED', "le lien avec l'appareil est fermé : reconnectez-vous");
      return new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#fail(new TlaError('E_TIMEOUT', `pas de réponse de l'appareil en ${this.#timeoutMs} ms ; le lien est fermé`));
        }, this.#timeoutMs);
        this.#pending = { id, resolve, reject, timer };
        this.socket.write(bytes);
      });
    };
    const r = this.#queue.then(run, run);
    this.#queue = r.catch(() => undefined);
    return r;
  }

  /**
   * Raw bytes on the link, answered by the device's next frame (tests and diagnostics: malformed
   * requests). The answer is returned as decoded, unchecked.
   */
  sendRaw(bytes: Uint8Array): Promise<unknown> {
    return this.#exchange(bytes, null);
  }

  /**
   * One request; resolves with its result, rejects with TlaError. Before pairing only `pair` and
   * `identify` go out, unless `unpairedOk` (tests: to see the device refuse).
   */
  async request(op: HostOp, args: Args = {}, o: { unpairedOk?: boolean } = {}): Promise<Record<string, unknown>> {
    if (!this.#paired && op !== 'pair' && op !== 'identify' && !o.unpairedOk) {
      throw new TlaError('E_NOT_PAIRED', `cet ordinateur n'est pas associé à l'appareil ${shortFingerprint(this.deviceFingerprint)} : associez-le d'abord (di tla pair --code <code affiché sur l'appareil>)`);
    }
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    let frame: Buffer;
    try {
      frame = encodeFrame({ v: 1, id, op, args }, HOSTLINK_MAX_FRAME_BYTES);
    } catch (err) {
      throw new TlaError('E_ARGS', `demande ${op} impossible à envoyer : ${(err as Error).message}`);
    }
    const m = await this.#exchange(frame, id);
    if (!isObj(m) || m.v !== 1 || typeof m.ok !== 'boolean') {
      this.#fail(bad('ce n’est pas une réponse du protocole'));
      throw bad(`réponse à ${op} hors protocole`);
    }
    if (m.ok === false) {
      const e = m.error;
      if (!isObj(e) || typeof e.code !== 'string' || typeof e.message !== 'string') throw bad(`erreur sans code ni message en réponse à ${op}`);
      if (m.id !== id && m.id !== null) throw bad(`réponse ${String(m.id)} à la demande ${id}`);
      throw new TlaError(e.code as HostLinkErrorCode, e.message.slice(0, 500), typeof e.domainCode === 'string' ? e.domainCode : undefined, typeof e.field === 'string' ? e.field : undefined);
    }
    if (m.id !== id) {
      this.#fail(bad(`réponse ${String(m.id)} à la demande ${id}`));
      throw bad(`réponse ${String(m.id)} à la demande ${id}`);
    }
    if (!isObj(m.result)) throw bad(`résultat de ${op} absent`);
    return m.result;
  }

  // ---- operations ---------------------------------------------------------------------------------

  /**
   * Pairs with the device whose screen shows `code`: proves knowledge of the code bound to both
   * certificates, checks the device's proof, then pins the device.
   */
  async pair(code: string, hostName: string): Promise<{ deviceId: string; fingerprint: string }> {
    const c = normalizePairCode(code);
    if (!/^[0-9]{8}$/.test(c)) throw new TlaError('E_ARGS', 'le code d’association est de 8 chiffres, tel qu’affiché sur l’appareil (ex. 1234 5678)', undefined, 'code');
    const name = hostName.trim();
    if (!HOST_NAME.test(name)) {
      throw new TlaError('E_ARGS', "le nom de l'ordinateur fait 1 à 48 lettres, chiffres, espaces ou . _ ' ( ) - / @ # & +", undefined, 'hostName');
    }
    const proofs = await computePairProofs(c, this.deviceFingerprint, this.identity.fingerprint);
    const r = await this.request('pair', { hostName: name, hostProof: proofs.hostProof });
    const deviceId = str(r, 'deviceId', 'pair', 40);
    const deviceProof = bin(r, 'deviceProof', 'pair') as Uint8Array;
    // The id is what the practitioner reads (on the screen, in di tla list): it must be the one the
    // certificate just proven gives, not a name the device picks.
    if (deviceId !== deviceIdOf(this.deviceFingerprint)) {
      this.#fail(bad(`pair.deviceId ${JSON.stringify(deviceId)} ne correspond pas au certificat de l'appareil`));
      throw bad(`pair.deviceId ${JSON.stringify(deviceId)} ne correspond pas au certificat de l'appareil (${deviceIdOf(this.deviceFingerprint)}) ; rien n'est enregistré`);
    }
    if (!proofsEqual(deviceProof, proofs.deviceProof)) {
      this.#fail(new TlaError('E_PROOF', 'preuve de l’appareil fausse'));
      throw new TlaError(
        'E_PROOF',
        `l'appareil ${shortFingerprint(this.deviceFingerprint)} n'a pas prouvé connaître le code : ce n'est pas l'appareil qui l'affiche (un intermédiaire ?). Rien n'est enregistré ; recommencez avec un nouveau code.`,
      );
    }
    this.store.pinDevice({ fingerprint: this.deviceFingerprint, deviceId, hostName: name, pairedAt: Date.now() });
    this.#paired = true;
    return { deviceId, fingerprint: this.deviceFingerprint };
  }

  async identify(): Promise<IdentifyResult> {
    const r = await this.request('identify');
    const protocol = str(r, 'protocol', 'identify');
    if (protocol !== HOSTLINK_PROTOCOL) throw bad(`protocole ${JSON.stringify(protocol)} (attendu ${HOSTLINK_PROTOCOL})`);
    const domain = r.domain;
    if (domain !== null && typeof domain !== 'string') throw bad('identify.domain');
    const deviceId = str(r, 'deviceId', 'identify');
    if (deviceId !== deviceIdOf(this.deviceFingerprint)) throw bad(`identify.deviceId ${JSON.stringify(deviceId.slice(0, 40))} ne correspond pas au certificat de l'appareil`);
    return {
      deviceId,
      model: str(r, 'model', 'identify'),
      software: str(r, 'software', 'identify'),
      protocol: HOSTLINK_PROTOCOL,
      now: int(r, 'now', 'identify'),
      domain,
      ops: strList(r, 'ops', 'identify'),
      hostName: str(r, 'hostName', 'identify'),
    };
  }

  async getDate(): Promise<DateResult> {
    const r = await this.request('date.get');
    return { now: int(r, 'now', 'date.get'), offsetMs: int(r, 'offsetMs', 'date.get') };
  }

  async setDate(ms: number): Promise<DateResult> {
    if (!Number.isSafeInteger(ms)) throw new TlaError('E_ARGS', 'la date est un nombre entier de millisecondes', undefined, 'now');
    const r = await this.request('date.set', { now: ms });
    return { now: int(r, 'now', 'date.set'), offsetMs: int(r, 'offsetMs', 'date.set') };
  }

  async loadDayData(day: DayDataArgs): Promise<DayDataResult> {
    const r = await this.request('data.load', wireArgs(day, 'data.load'));
    const tariff = r.tariff;
    if (tariff !== null && tariff !== undefined && typeof tariff !== 'string') throw bad('data.load.tariff');
    return {
      day: str(r, 'day', 'data.load'),
      situations: int(r, 'situations', 'data.load'),
      patients: int(r, 'patients', 'data.load'),
      beneficiaries: int(r, 'beneficiaries', 'data.load'),
      tariff: typeof tariff === 'string' ? tariff : null,
    };
  }

  async unloadInvoicesPage(after?: string, max?: number): Promise<InvoiceUnloadResult> {
    const r = await this.request('fse.unload', wireArgs({ after, max }, 'fse.unload'));
    return checkPage(r, checkUnloadedInvoice, 'fse.unload');
  }

  async unloadBeneficiariesPage(after?: string, max?: number): Promise<BeneficiaryUnloadResult> {
    const r = await this.request('beneficiaries.unload', wireArgs({ after, max }, 'beneficiaries.unload'));
    return checkPage(r, checkBeneficiaries, 'beneficiaries.unload');
  }

  async erase(args: EraseArgs): Promise<EraseResult> {
    const r = await this.request('erase', wireArgs(args, 'erase'));
    const counts = (k: string): { invoices: number; beneficiaries: number } => {
      const o = r[k];
      if (!isObj(o)) throw bad(`erase.${k}`);
      return { invoices: int(o, 'invoices', `erase.${k}`), beneficiaries: int(o, 'beneficiaries', `erase.${k}`) };
    };
    const refused = r.refused;
    if (!Array.isArray(refused)) throw bad('erase.refused');
    return {
      erased: counts('erased'),
      already: counts('already'),
      refused: refused.map((x, i) => {
        if (!isObj(x)) throw bad(`erase.refused[${i}]`);
        return { ref: str(x, 'ref', `erase.refused[${i}]`), reason: str(x, 'reason', `erase.refused[${i}]`, 500) };
      }),
    };
  }
}
