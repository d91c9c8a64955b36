/**
 * Kernel configuration. Every field has an embedded default so that `di start` boots a complete
 * emulated terminal with no file at all; a JSON file can override any part (validated here).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { repoRoot } from './paths.js';
import { HOSTLINK_DEFAULT_PORT } from '../wire/hostlink.js';

export interface KernelConfig {
  /** Where stores, audit, logs, keys and built packages live. */
  dataDir: string;
  /** Installed policies (one JSON per domain). */
  policyDir: string;
  /** Signed packages, one directory per applet id. */
  packageDir: string;
  /** Applet sources packed with the development key when no package exists (development mode). */
  appletSourceDir: string;
  /** PEM certificates trusted to sign applet packages; empty = the development root in dataDir/keys. */
  trustAnchors: string[];
  /** Domains to boot (policy domain ids); empty = every policy in policyDir. */
  domains: string[];
  /** driver 'pcsc': slots are the PC/SC readers of a running pcscd (pcscReaders in slot order, or all, sorted). */
  reader: { driver: 'emulated' | 'pcsc'; slots: number; timing: boolean; baudRate: number; pcscReaders: string[] };
  clockGranularityMs: number;
  /** spareHost: keep one host process started ahead of need, so a crashed domain is back in tens of ms. */
  supervisor: { backoffInitialMs: number; backoffMaxMs: number; stableAfterMs: number; readyTimeoutMs: number; spareHost?: boolean };
  broker: { leaseIdleTimeoutMs: number; leaseMaxMs: number };
  pin: { entryTimeoutMs: number; minDigits: number; maxDigits: number };
  /**
   * The practitioner's mailbox the pop3 transport logs into (the AMO's returns arrive there).
   * The defaults match the AMO emulator; a real cabinet sets its own in the config file.
   */
  mailbox: { user: string; password: string };
  /**
   * The TLA host link (platform/kernel/hostlink): a TLS server for the paired practice computer.
   * Off by default (tests boot many kernels); `di start` turns it on. port 0 = any free port.
   */
  hostLink: { enabled: boolean; host: string; port: number };
}

export function defaultConfig(dataDir = resolve(process.cwd(), '.di-data')): KernelConfig {
  const root = repoRoot();
  return {
    dataDir,
    policyDir: resolve(root, 'policies'),
    packageDir: resolve(dataDir, 'packages'),
    appletSourceDir: resolve(root, 'applets'),
    trustAnchors: [],
    domains: [],
    reader: { driver: 'emulated', slots: 3, timing: false, baudRate: 9600, pcscReaders: [] },
    clockGranularityMs: 100,
    supervisor: { backoffInitialMs: 100, backoffMaxMs: 10_000, stableAfterMs: 30_000, readyTimeoutMs: 10_000, spareHost: true },
    broker: { leaseIdleTimeoutMs: 30_000, leaseMaxMs: 10 * 60_000 },
    pin: { entryTimeoutMs: 60_000, minDigits: 4, maxDigits: 12 },
    mailbox: { user: 'cabinet', password: 'cabinet-test' },
    hostLink: { enabled: false, host: '127.0.0.1', port: HOSTLINK_DEFAULT_PORT },
  };
}

export class ConfigError extends Error {
  constructor(file: string, field: string, reason: string) {
    super(`${file}: ${field}: ${reason}`);
    this.name = 'ConfigError';
  }
}

type Plain = { [k: string]: unknown };
const isPlain = (v: unknown): v is Plain => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Overlays `patch` on `base`, refusing unknown keys and type changes so a typo is an error, not a silent default. */
function overlay(base: Plain, patch: unknown, file: string, path: string): Plain {
  if (!isPlain(patch)) throw new ConfigError(file, path || '/', 'must be an object');
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const here = `${path}/${k}`;
    if (!(k in base)) throw new ConfigError(file, here, `unknown setting (known: ${Object.keys(base).join(', ')})`);
    const b = base[k];
    if (isPlain(b)) out[k] = overlay(b, v, file, here);
    else if (Array.isArray(b)) {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ConfigError(file, here, 'must be an array of strings');
      out[k] = v;
    } else if (typeof v !== typeof b) throw new ConfigError(file, here, `must be a ${typeof b}`);
    else out[k] = v;
  }
  return out;
}

export function loadConfig(file?: string, overrides: Partial<KernelConfig> = {}): KernelConfig {
  let cfg = defaultConfig(overrides.dataDir);
  let filePackageDir = false;
  // packageDir follows the data dir unless the file says otherwise.
  if (file) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(file, '/', `not readable JSON (${(e as Error).message})`);
    }
    cfg = overlay(cfg as unknown as Plain, json, file, '') as unknown as KernelConfig;
    // A data dir set in the file carries its packages along, unless the file places them elsewhere.
    const set = json as { dataDir?: unknown; packageDir?: unknown };
    filePackageDir = typeof set.packageDir === 'string';
    if (typeof set.dataDir === 'string') {
      cfg.dataDir = resolve(set.dataDir);
      if (typeof set.packageDir !== 'string') cfg.packageDir = resolve(cfg.dataDir, 'packages');
    }
  }
  if (overrides.dataDir !== undefined && overrides.packageDir === undefined && !filePackageDir) {
    overrides = { ...overrides, packageDir: resolve(overrides.dataDir, 'packages') };
  }
  cfg = { ...cfg, ...overrides };
  if (cfg.reader.slots < 1 || cfg.reader.slots > 8) throw new ConfigError(file ?? '(defaults)', '/reader/slots', 'must be 1..8');
  if (cfg.reader.driver !== 'emulated' && cfg.reader.driver !== 'pcsc') throw new ConfigError(file ?? '(defaults)', '/reader/driver', 'must be "emulated" or "pcsc"');
  if (!Number.isInteger(cfg.hostLink.port) || cfg.hostLink.port < 0 || cfg.hostLink.port > 65535) {
    throw new ConfigError(file ?? '(defaults)', '/hostLink/port', 'must be an integer 0..65535 (0 = any free port)');
  }
  if (cfg.hostLink.host.length === 0) throw new ConfigError(file ?? '(defaults)', '/hostLink/host', 'must name the address to listen on, e.g. "127.0.0.1"');
  return cfg;
}
