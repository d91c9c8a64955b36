/**
 * The TLA host link's protocol: the contract between the device (platform/kernel/hostlink, serving)
 * and the practice's computer (tla/, the client). One TLS 1.3 connection with both sides holding a
 * self-signed certificate, pinned by SHA-256 fingerprint after pairing; on it, frames as on the host
 * pipe (wire/frames.ts: 4-byte length, one msgpack body), one request answered before the next.
 *
 * The operations follow the public list of the SSV API's TLA functions: identify the reader, read and
 * set its date, load the day's data, unload the invoices, unload the beneficiaries read, erase.
 */

export const HOSTLINK_PROTOCOL = 'di-tla/1';
export const HOSTLINK_DEFAULT_PORT = 7710;
/** Both directions: a day's data (tariff tables, patients) and an unload page fit well under it. */
export const HOSTLINK_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Answered by the kernel itself: the device's identity, its clock, pairing. */
export const KERNEL_HOST_OPS = ['pair', 'identify', 'date.get', 'date.set'] as const;
export type KernelHostOp = (typeof KERNEL_HOST_OPS)[number];

/**
 * Forwarded to the one domain whose policy grants them (`hostLink.ops`), as its onHostRequest
 * handler's `{ op, args }`; the domain answers from its own store only.
 */
export const DOMAIN_HOST_OPS = ['data.load', 'fse.unload', 'beneficiaries.unload', 'erase'] as const;
export type DomainHostOp = (typeof DOMAIN_HOST_OPS)[number];

export type HostOp = KernelHostOp | DomainHostOp;

export type HostLinkValue = null | boolean | number | string | Uint8Array | HostLinkValue[] | { [k: string]: HostLinkValue };

/** Host -> device. `id` is the host's (uint32), echoed in the answer. */
export interface HostRequest {
  v: 1;
  id: number;
  op: HostOp;
  args: { [k: string]: HostLinkValue };
}

export type HostLinkErrorCode =
  /** The host's certificate is not paired with this device: nothing but `pair` is served. */
  | 'E_UNPAIRED'
  /** Pairing refused: no code on the screen, code expired or used, wrong proof, too many tries. */
  | 'E_PAIRING'
  /** The frame is not a request (undecodable, wrong shape, too large): answered, then the link is closed. */
  | 'E_FRAME'
  /** The request's arguments are wrong; the message names the field. */
  | 'E_REQUEST'
  /** No such operation, or no domain's policy grants it. */
  | 'E_OP'
  /** The domain that serves the operation is not running. */
  | 'E_UNAVAILABLE'
  /** Another request of this host is in progress, or the device is busy (too many links). */
  | 'E_BUSY'
  /** The domain refused (its own code and message follow in `domainCode`). */
  | 'E_DOMAIN'
  | 'E_INTERNAL';

/** Device -> host. */
export type HostResponse =
  | { v: 1; id: number; ok: true; result: { [k: string]: HostLinkValue } }
  | { v: 1; id: number | null; ok: false; error: { code: HostLinkErrorCode; message: string; domainCode?: string; field?: string } };

// ---- kernel operations -------------------------------------------------------------------------

/**
 * `pair`: key = scrypt(code as typed, without spaces; salt = "di-tla-pair/1" + device cert SHA-256 +
 * host cert SHA-256 (raw 32 bytes each); N = 2^14, r = 8, p = 1; 32 bytes).
 * hostProof = HMAC-SHA256(key, "host"), deviceProof = HMAC-SHA256(key, "device").
 * Binding both certificates means a relay (a third TLS endpoint in the middle) sees a different
 * fingerprint and the proofs do not match.
 */
/** What a computer may call itself (PairArgs.hostName): checked by the device, and by the client before sending. */
export const HOST_NAME = /^[\p{L}\p{N} ._'’()\-/@#&+]{1,48}$/u;
export const PAIR_SALT_PREFIX = 'di-tla-pair/1';
export const PAIR_SCRYPT = { N: 1 << 14, r: 8, p: 1, keyLen: 32 } as const;
export interface PairArgs {
  /** What the practice names this computer, shown on the device (1..48 printable characters). */
  hostName: string;
  hostProof: Uint8Array;
}
export interface PairResult {
  deviceId: string;
  deviceProof: Uint8Array;
}

export interface IdentifyResult {
  deviceId: string;
  model: string;
  software: string;
  protocol: typeof HOSTLINK_PROTOCOL;
  /** Device clock (ms since epoch) when answering. */
  now: number;
  /** The domain that serves the domain operations, and the operations it is granted. */
  domain: string | null;
  ops: string[];
  /** The name this device knows the host by. */
  hostName: string;
}

export interface DateResult {
  /** Device clock, ms since epoch. */
  now: number;
  /** Device clock minus the system clock it runs on, ms. */
  offsetMs: number;
}
/** `date.set`: the new device time, 2020-01-01 .. 2099-12-31. */
export interface DateSetArgs {
  now: number;
}

// ---- domain operations (SESAM-Vitale) ----------------------------------------------------------
// The shapes below are those of the sesam-vitale applet (applets/sesam-vitale/tla/); the kernel only
// forwards them and checks they are wire values within the frame limit.

/** `data.load`: the day's data, replacing the previous load as a whole. */
export interface DayDataArgs {
  day: string; // YYYY-MM-DD
  /** Practitioner situations expected today (the CPS situation matching one is chosen without asking). */
  situations?: Array<{ billingNumber: string; situationNumber?: number; label?: string }>;
  /** Known patients: insured + beneficiaries, as the applet's model (Insured, Beneficiary). */
  patients?: Array<{ insured: { [k: string]: HostLinkValue }; beneficiaries: Array<{ [k: string]: HostLinkValue }> }>;
  /** Tariff tables in the shape tariff/load.ts reads (docs/tariff.md). */
  tariff?: { [k: string]: HostLinkValue };
}
export interface DayDataResult {
  day: string;
  situations: number;
  patients: number;
  beneficiaries: number;
  tariff: string | null;
}

/** `fse.unload` and `beneficiaries.unload`: one page after `after` (the previous page's `next`). */
export interface UnloadArgs {
  after?: string;
  /** Items per page, 1..50 (default 20); the device may return fewer to stay within the frame limit. */
  max?: number;
}

/**
 * One secured invoice as the device stores it. The bytes are those signed on the device: the host
 * puts `record`, `cpsSignature`, `vitaleAuth` and `vitaleCertDer` in its lots unchanged.
 */
export interface UnloadedInvoice {
  ref: string; // `<billingNumber>/<invoiceNo>`: what `erase` names
  billingNumber: string;
  invoiceNo: number;
  kind: 'FSE' | 'DRE';
  destination: string;
  careDate: string;
  createdAt: string;
  deadline: string;
  amo: number;
  amc: number;
  record: Uint8Array;
  cpsSignature: Uint8Array;
  vitaleAuth?: Uint8Array;
  vitaleCertDer?: Uint8Array;
}
export interface InvoiceUnloadResult {
  items: UnloadedInvoice[];
  /** Cursor for the next page; null when this page is the last. */
  next: string | null;
  /** Invoices held for the host (unloaded, not yet erased) in all, this page included. */
  held: number;
}

export interface UnloadedBeneficiaries {
  ref: string; // what `erase` names
  readAt: number;
  vitaleSerial: string;
  insured: { [k: string]: HostLinkValue };
  beneficiaries: Array<{ [k: string]: HostLinkValue }>;
}
export interface BeneficiaryUnloadResult {
  items: UnloadedBeneficiaries[];
  next: string | null;
  held: number;
}

/** `erase`: what the host has stored durably. Only what was unloaded can be erased; twice is a no-op. */
export interface EraseArgs {
  invoices?: string[];
  beneficiaries?: string[];
}
export interface EraseResult {
  erased: { invoices: number; beneficiaries: number };
  /** Already erased before (a repeated erase after a cut). */
  already: { invoices: number; beneficiaries: number };
  /** Not erased, with the reason (unknown ref, never unloaded). */
  refused: Array<{ ref: string; reason: string }>;
}
