/**
 * Pairing a practice computer: a one-time code shown on the device screen (8 digits, 5 minutes,
 * single use, void after 3 wrong proofs), and the list of paired computers' certificate
 * fingerprints, written atomically (tmp + fsync + rename) under <dataDir>/hostlink/paired.json.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStrictJson } from '../policy/strict-json.js';
import { computePairProofs, proofsEqual } from './proof.js';
import { writeFileAtomic } from './identity.js';

export const PAIRING_TTL_MS = 5 * 60_000;
export const PAIRING_MAX_TRIES = 3;
export const MAX_PAIRED_HOSTS = 16;

/** "12345678" -> "1234 5678", as the screen shows it. */
export function formatPairCode(code: string): string {
  return `${code.slice(0, 4)} ${code.slice(4)}`;
}

export type PairCheck =
  | { ok: true; deviceProof: Uint8Array }
  | { ok: false; reason: 'none' | 'expired' | 'wrong' | 'void'; message: string };

/** One pairing window at a time; opening a new one replaces the previous code. */
export class PairingWindow {
  private open: { code: string; expiresAt: number; tries: number } | null = null;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = PAIRING_TTL_MS,
  ) {}

  begin(): { code: string; expiresAt: number } {
    const code = randomInt(0, 100_000_000).toString().padStart(8, '0');
    const expiresAt = this.now() + this.ttlMs;
    this.open = { code, expiresAt, tries: 0 };
    return { code, expiresAt };
  }

  cancel(): boolean {
    const had = this.open !== null;
    this.open = null;
    return had;
  }

  /** The open window's expiry, or null (none open, or expired). */
  pendingUntil(): number | null {
    if (this.open && this.open.expiresAt <= this.now()) this.open = null;
    return this.open?.expiresAt ?? null;
  }

  /**
   * Checks a host's proof against the open code, for these two certificates. A try is counted
   * before the (slow) key derivation, so parallel attempts cannot exceed the limit; the third wrong
   * proof voids the code, and a right one consumes it.
   */
  async check(hostProof: Uint8Array, deviceFp: string, hostFp: string): Promise<PairCheck> {
    const w = this.open;
    if (!w) {
      return { ok: false, reason: 'none', message: 'no pairing is open on the device: ask for a pairing code on the device (menu « Associer un ordinateur »), then type it' };
    }
    if (w.expiresAt <= this.now()) {
      this.open = null;
      return { ok: false, reason: 'expired', message: 'the pairing code has expired (5 minutes): ask the device for a new one' };
    }
    if (w.tries >= PAIRING_MAX_TRIES) {
      this.open = null;
      return { ok: false, reason: 'void', message: `the pairing code is void after ${PAIRING_MAX_TRIES} wrong tries: ask the device for a new one` };
    }
    w.tries++;
    const { hostProof: expected, deviceProof } = await computePairProofs(w.code, deviceFp, hostFp);
    if (this.open !== w) {
      return { ok: false, reason: 'none', message: 'the pairing was cancelled or replaced on the device meanwhile: ask the device for a new code' };
    }
    if (proofsEqual(hostProof, expected)) {
      this.open = null;
      return { ok: true, deviceProof };
    }
    if (w.tries >= PAIRING_MAX_TRIES) {
      this.open = null;
      return { ok: false, reason: 'void', message: `wrong code (or a relay between the computer and the device); after ${PAIRING_MAX_TRIES} wrong tries the code is void: ask the device for a new one` };
    }
    const left = PAIRING_MAX_TRIES - w.tries;
    return { ok: false, reason: 'wrong', message: `wrong code (or a relay between the computer and the device): ${left} ${left === 1 ? 'try' : 'tries'} left` };
  }
}

export interface PairedHost {
  fingerprint: string;
  name: string;
  pairedAt: number;
}

const FP = /^[0-9a-f]{64}$/;

/** The paired computers, by certificate fingerprint. */
export class PairedHosts {
  private readonly file: string;
  private hosts: PairedHost[];

  constructor(dir: string) {
    this.file = join(dir, 'paired.json');
    this.hosts = PairedHosts.read(this.file);
  }

  private static read(file: string): PairedHost[] {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    let json: unknown;
    try {
      // The list of trusted computers: read as strictly as a policy (no duplicate keys).
      json = parseStrictJson(text);
    } catch (e) {
      throw new Error(`${file}: not readable JSON (${(e as Error).message}); remove it to forget every paired computer (they must then pair again)`);
    }
    const list = (json as { hosts?: unknown } | null)?.hosts;
    if (!Array.isArray(list)) throw new Error(`${file}: expected { "hosts": [...] }; remove it to forget every paired computer`);
    return list.map((h: unknown, i) => {
      const o = h as Partial<PairedHost> | null;
      if (!o || typeof o.fingerprint !== 'string' || !FP.test(o.fingerprint) || typeof o.name !== 'string' || typeof o.pairedAt !== 'number') {
        throw new Error(`${file}: hosts[${i}] is not { fingerprint (64 hex), name, pairedAt }; remove the entry or the file`);
      }
      return { fingerprint: o.fingerprint, name: o.name, pairedAt: o.pairedAt };
    });
  }

  list(): PairedHost[] {
    return this.hosts.map((h) => ({ ...h }));
  }

  has(fingerprint: string): boolean {
    return this.hosts.some((h) => h.fingerprint === fingerprint);
  }

  get(fingerprint: string): PairedHost | undefined {
    const h = this.hosts.find((x) => x.fingerprint === fingerprint);
    return h ? { ...h } : undefined;
  }

  /** True when there is room for this host (already paired ones may pair again). */
  hasRoomFor(fingerprint: string): boolean {
    return this.hosts.length < MAX_PAIRED_HOSTS || this.has(fingerprint);
  }

  add(host: PairedHost): void {
    const next = [...this.hosts.filter((h) => h.fingerprint !== host.fingerprint), { ...host }];
    this.save(next);
  }

  remove(fingerprint: string): boolean {
    const next = this.hosts.filter((h) => h.fingerprint !== fingerprint);
    if (next.length === this.hosts.length) return false;
    this.save(next);
    return true;
  }

  private save(next: PairedHost[]): void {
    writeFileAtomic(this.file, `${JSON.stringify({ hosts: next }, null, 2)}\n`, 0o600);
    this.hosts = next;
  }
}
