/**
 * The web terminal's websocket protocol (docs/TERMINAL.md): JSON text messages, one object each.
 * Page -> server messages are untrusted: `parseClientMessage` checks the type, every field's type and
 * range, and refuses unknown fields, with a French message the page can show. It never throws.
 */
import { KEYS, type Key } from '../../platform/kernel/terminal.js';

export const PROTOCOL_VERSION = 1;
/** A page message above this many bytes is answered with an error (and not parsed). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Hard limit: above it the websocket library closes the connection (1009). */
export const MAX_FRAME_BYTES = 256 * 1024;

const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** A paired computer's certificate fingerprint: SHA-256, 64 lower-case hex digits (as kernel.hostLink.paired() gives them). */
const FINGERPRINT = /^[0-9a-f]{64}$/;

// ---- page -> server ------------------------------------------------------------------------------

export type ClientMessage =
  | { type: 'key'; key: Key; id?: string }
  | { type: 'answer'; choice: number; id?: string }
  | { type: 'insert'; slot: number; profile: string; id?: string }
  | { type: 'remove'; slot: number; id?: string }
  | { type: 'action'; id: string; domain: string; action: string; payload: Record<string, unknown> }
  /** « Associer un ordinateur »: the kernel draws a one-time code on the device screen (never sent to the page). */
  | { type: 'pair.begin'; id?: string }
  | { type: 'pair.cancel'; id?: string }
  /** « Oublier »: the computer with that certificate fingerprint is no longer paired. */
  | { type: 'unpair'; fingerprint: string; id?: string }
  /** The emulated network cable: plugged in (true) or pulled out (false). */
  | { type: 'network'; online: boolean; id?: string };

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; code: string; message: string; id?: string };

const FIELDS: Record<ClientMessage['type'], { required: string[]; optional: string[] }> = {
  key: { required: ['key'], optional: ['id'] },
  answer: { required: ['choice'], optional: ['id'] },
  insert: { required: ['slot', 'profile'], optional: ['id'] },
  remove: { required: ['slot'], optional: ['id'] },
  action: { required: ['id', 'domain', 'action'], optional: ['payload'] },
  'pair.begin': { required: [], optional: ['id'] },
  'pair.cancel': { required: [], optional: ['id'] },
  unpair: { required: ['fingerprint'], optional: ['id'] },
  network: { required: ['online'], optional: ['id'] },
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

function fail(code: string, message: string, id?: string): ParseResult {
  return id === undefined ? { ok: false, code, message } : { ok: false, code, message, id };
}

/** Depth and size of a JSON value (the kernel validates wire values again; this keeps garbage out early). */
function tooDeep(v: unknown, depth: number): boolean {
  if (depth > 16) return true;
  if (Array.isArray(v)) return v.some((x) => tooDeep(x, depth + 1));
  if (v !== null && typeof v === 'object') return Object.values(v).some((x) => tooDeep(x, depth + 1));
  return false;
}

/** Parses and checks one message from the page. `raw` is the websocket text frame. */
export function parseClientMessage(raw: string, byteLength: number): ParseResult {
  if (byteLength > MAX_MESSAGE_BYTES) return fail('E_TOO_LARGE', `Message trop long (${byteLength} octets, maximum ${MAX_MESSAGE_BYTES})`);
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return fail('E_JSON', 'Message illisible : JSON attendu');
  }
  if (!isPlainObject(v)) return fail('E_MESSAGE', 'Message invalide : objet JSON attendu');
  // The id is echoed in the error when it is well formed, so the page can match its request.
  const id = typeof v.id === 'string' && ID.test(v.id) ? v.id : undefined;
  if (typeof v.type !== 'string') return fail('E_MESSAGE', 'Message invalide : champ « type » manquant', id);
  if (!Object.prototype.hasOwnProperty.call(FIELDS, v.type)) {
    return fail('E_TYPE', `Type de message inconnu : « ${v.type.slice(0, 32)} » (connus : ${Object.keys(FIELDS).join(', ')})`, id);
  }
  const type = v.type as ClientMessage['type'];
  const spec = FIELDS[type];
  for (const k of Object.keys(v)) {
    if (k !== 'type' && !spec.required.includes(k) && !spec.optional.includes(k)) return fail('E_FIELD', `Champ inconnu « ${k.slice(0, 32)} » pour un message ${type}`, id);
  }
  for (const k of spec.required) if (!(k in v)) return fail('E_FIELD', `Champ « ${k} » manquant pour un message ${type}`, id);
  if ('id' in v && id === undefined) return fail('E_FIELD', 'Identifiant « id » invalide (1 à 64 caractères A-Z a-z 0-9 _ . : -)');
  const withId = <T extends object>(m: T): T & { id?: string } => (id === undefined ? m : { ...m, id });
  const slotOk = (s: unknown): s is number => typeof s === 'number' && Number.isInteger(s) && s >= 0 && s < 16;
  switch (type) {
    case 'key':
      if (typeof v.key !== 'string' || !KEYS.includes(v.key as Key)) return fail('E_FIELD', `Touche inconnue (touches : ${KEYS.join(' ')})`, id);
      return { ok: true, message: withId({ type, key: v.key as Key }) };
    case 'answer':
      if (typeof v.choice !== 'number' || !Number.isInteger(v.choice) || v.choice < 0 || v.choice > 63) return fail('E_FIELD', 'Choix invalide : entier de 0 à 63 attendu', id);
      return { ok: true, message: withId({ type, choice: v.choice }) };
    case 'insert':
      if (!slotOk(v.slot)) return fail('E_FIELD', 'Lecteur invalide : entier de 0 à 15 attendu', id);
      if (typeof v.profile !== 'string' || !NAME.test(v.profile)) return fail('E_FIELD', 'Profil de carte invalide', id);
      return { ok: true, message: withId({ type, slot: v.slot, profile: v.profile }) };
    case 'remove':
      if (!slotOk(v.slot)) return fail('E_FIELD', 'Lecteur invalide : entier de 0 à 15 attendu', id);
      return { ok: true, message: withId({ type, slot: v.slot }) };
    case 'action': {
      if (id === undefined) return fail('E_FIELD', 'Une action demande un identifiant « id » (1 à 64 caractères A-Z a-z 0-9 _ . : -)');
      if (typeof v.domain !== 'string' || !NAME.test(v.domain)) return fail('E_FIELD', 'Domaine invalide', id);
      if (typeof v.action !== 'string' || !NAME.test(v.action)) return fail('E_FIELD', 'Nom d’action invalide', id);
      const payload = v.payload === undefined ? {} : v.payload;
      if (!isPlainObject(payload)) return fail('E_FIELD', 'Les paramètres « payload » doivent être un objet JSON', id);
      if (tooDeep(payload, 0)) return fail('E_FIELD', 'Paramètres trop imbriqués', id);
      return { ok: true, message: { type, id, domain: v.domain, action: v.action, payload } };
    }
    case 'pair.begin':
    case 'pair.cancel':
      return { ok: true, message: withId({ type }) };
    case 'unpair':
      if (typeof v.fingerprint !== 'string' || !FINGERPRINT.test(v.fingerprint)) return fail('E_FIELD', 'Empreinte invalide : 64 chiffres hexadécimaux en minuscules attendus (celle de la liste des ordinateurs associés)', id);
      return { ok: true, message: withId({ type, fingerprint: v.fingerprint }) };
    case 'network':
      if (typeof v.online !== 'boolean') return fail('E_FIELD', 'État du réseau invalide : « online » doit valoir true (connecté) ou false (coupé)', id);
      return { ok: true, message: withId({ type, online: v.online }) };
  }
}

// ---- server -> page ------------------------------------------------------------------------------

export interface ViewMessage {
  type: 'view';
  domain: string | null;
  foreground: string | null;
  screen: { title: string; lines: string[]; keys: string[] };
  question: { title: string; text: string; choices: string[] } | null;
  /** The digit COUNT only: no digit ever leaves the kernel. */
  pinEntry: { prompt: string; digits: number } | null;
}

export interface SlotInfo {
  slot: number;
  present: boolean;
  /** The profile inserted from this page (null: empty, or a card inserted another way). */
  profile: string | null;
  cardClass?: string;
  domain?: string;
  refused?: string;
}

export interface AuditLine {
  seq: number;
  ts: string;
  event: string;
  domain: string | null;
  /** Short text of the (already redacted) fields. */
  fields: string;
}

export interface ProfileInfo {
  name: string;
  kind: string;
  describe: string;
}

export interface PairedHostInfo {
  fingerprint: string;
  /** "AB12 CD34 EF56 7890", as the device screen shows it. */
  short: string;
  name: string;
  pairedAt: number;
}

/**
 * The device's link to the outside: its network cable and its TLA host link. Never the pairing code:
 * that shows on the device screen only (the `view`), as on the real device.
 */
export interface DeviceMessage {
  type: 'device';
  online: boolean;
  /** null: the host link is off (config.hostLink.enabled false, `di start --no-tla`). */
  hostLink: {
    address: { host: string; port: number };
    deviceId: string;
    /** Short form of the device's certificate fingerprint. */
    fingerprint: string;
    paired: PairedHostInfo[];
    /** A pairing code is on the device screen until then (ms since the epoch), or null. */
    pairingUntil: number | null;
  } | null;
}

export type ServerMessage =
  | { type: 'hello'; protocol: number; slotCount: number; profiles: ProfileInfo[]; domains: Array<{ domain: string; actions: string[] }>; amo: boolean; day: boolean }
  | ViewMessage
  | { type: 'slots'; slots: SlotInfo[] }
  | { type: 'audit'; entries: AuditLine[] }
  | { type: 'amo'; available: boolean; stats: Record<string, number> | null; files: unknown[]; error?: string }
  | { type: 'day'; available: boolean; status: unknown; at: string | null; error?: string }
  | {
      type: 'session';
      lastInvoice: { invoiceNo: number; patientToPay?: number; dreNo?: number; degraded?: boolean } | null;
      inflight: Array<{ domain: string; action: string }>;
      /** The last action's outcome, for every page (a page reloaded mid-action learns it here). */
      lastOutcome: { domain: string; action: string; ok: boolean; message?: string; at: string } | null;
    }
  | DeviceMessage
  | { type: 'result'; id: string; ok: boolean; result?: unknown; error?: { code: string; message: string } }
  | { type: 'error'; code: string; message: string; id?: string };

/** Bytes do not survive JSON: shown as hex, as the console does. */
export function toJson(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v).toString('hex')}`;
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(toJson);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return v;
}
