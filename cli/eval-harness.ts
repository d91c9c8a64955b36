/**
 * `di eval`: runs an evaluator's script as an applet in a fresh kernel (its own temporary data dir,
 * emulated reader), calls its global `main()`, and reports one JSON verdict. The script is unsigned:
 * this is development mode, and the audit says so. A sentinel domain runs beside it so that
 * `kernelHealthy` means "the rest of the device still serves", not just "the kernel did not crash".
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kernel } from '../platform/kernel/kernel.js';
import { defaultConfig } from '../platform/kernel/config.js';
import { validatePolicy, nothingPolicy } from '../platform/kernel/policy/loader.js';
import type { Policy } from '../platform/kernel/policy/types.js';
import { verifyAuditFile, type AuditEntry } from '../platform/kernel/audit.js';
import { loadCard } from '../emulator/cards/profiles.js';
import type { Key } from '../platform/kernel/terminal.js';
import type { WireValue } from '../platform/wire/messages.js';

export interface EvalOptions {
  applet: string;
  policy?: string;
  card?: string;
  /** Keys typed ahead on the keypad, e.g. "1234OK" (for scripts that call platform.pin.verify). */
  keys?: string;
  /** Deadline for main() (ms); the policy's handlerDeadlineMs otherwise. */
  timeoutMs?: number;
  /** Keep the run's data directory (printed in the result) instead of deleting it. */
  keepData?: boolean;
}

export interface EvalResult {
  outcome: 'completed' | 'terminated' | 'crashed';
  reason: string | null;
  result: WireValue;
  audit: AuditEntry[];
  kernelHealthy: boolean;
  dataDir?: string;
}

const SENTINEL = 'kernel-sentinel';
const SENTINEL_SCRIPT = 'globalThis.main = async () => "alive";';

export function parseKeys(s: string): Key[] {
  const keys: Key[] = [];
  const re = /(OK|ANNULER|CORR|[0-9])/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) keys.push(m[1] as Key);
  if (re.lastIndex !== s.length && keys.join('').length !== s.length) throw new Error(`--keys: cannot read ${JSON.stringify(s)}; use digits and OK, ANNULER, CORR`);
  return keys;
}

export async function runEval(opts: EvalOptions): Promise<EvalResult> {
  const script = readFileSync(resolve(opts.applet), 'utf8');
  let policy: Policy;
  if (opts.policy) {
    const file = resolve(opts.policy);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${opts.policy}: not readable JSON (${(e as Error).message})`);
    }
    policy = validatePolicy(json, opts.policy);
  } else {
    policy = nothingPolicy('eval');
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'di-eval-'));
  const base = defaultConfig(dataDir);
  // A one-shot run: no spare host kept warm.
  const config = { ...base, clockGranularityMs: 100, supervisor: { ...base.supervisor, spareHost: false } };
  const kernel = await Kernel.boot({
    config,
    devApplets: [
      { policy, script, filename: 'eval/' + opts.applet.split('/').pop() },
      { policy: nothingPolicy(SENTINEL), script: SENTINEL_SCRIPT, filename: 'sentinel.js' },
    ],
  });
  const startSeq = 0;
  let outcome: EvalResult['outcome'] = 'completed';
  let reason: string | null = null;
  let result: WireValue = null;
  try {
    const hostReady = kernel.handlers.get(policy.domain);
    if (!hostReady) {
      outcome = 'crashed';
      reason = 'the applet did not load (see the audit for host.start-failed)';
    } else if (!hostReady.includes('main')) {
      outcome = 'crashed';
      reason = 'the script defines no global async function main()';
    } else {
      if (opts.card) {
        kernel.insertCard(0, await loadCard(opts.card));
        await new Promise((r) => setTimeout(r, 50));
      }
      if (opts.keys) kernel.terminal.typeKeys(parseKeys(opts.keys));
      try {
        result = await kernel.call(policy.domain, 'main', [], opts.timeoutMs ?? policy.limits.handlerDeadlineMs);
      } catch (e) {
        const code = (e as { code?: string }).code;
        const msg = (e as Error).message;
        if (code === 'E_TERMINATED' || code === 'E_DEADLINE') {
          outcome = 'terminated';
          reason = msg;
        } else {
          outcome = 'crashed';
          reason = code === 'E_APPLET' ? `main() threw: ${msg}` : msg;
        }
      }
    }
    const healthy = await checkHealth(kernel);
    const audit = kernel.audit.entriesSince(startSeq);
    return { outcome, reason, result, audit, kernelHealthy: healthy, ...(opts.keepData && { dataDir }) };
  } finally {
    await kernel.shutdown();
    if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The kernel is healthy when its audit chain verifies and another domain (the sentinel) still answers. */
async function checkHealth(kernel: Kernel): Promise<boolean> {
  try {
    const chain = verifyAuditFile(join(kernel.config.dataDir, 'audit.log'));
    if (!chain.ok) return false;
    const alive = await kernel.call(SENTINEL, 'main', [], 5_000);
    return alive === 'alive';
  } catch {
    return false;
  }
}
