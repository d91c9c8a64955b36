/** Boots a kernel in a temporary data dir with development (unsigned) applets, for integration tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel, type DevApplet } from '../../platform/kernel/kernel.js';
import { defaultConfig, type KernelConfig } from '../../platform/kernel/config.js';
import { nothingPolicy } from '../../platform/kernel/policy/loader.js';
import type { Policy, CardClass } from '../../platform/kernel/policy/types.js';

export const TEST_AID = 'F044495445535401';

export function testCardClass(name = 'test-card', extra: Partial<CardClass> = {}): CardClass {
  return {
    name,
    atr: { value: '3B', mask: 'FF' },
    aids: [TEST_AID],
    apdu: [
      { cla: '00', ins: 'A4', name: 'SELECT' },
      { cla: '00', ins: 'B0', name: 'READ BINARY' },
      { cla: '00', ins: 'B2', name: 'READ RECORD' },
      { cla: '80', ins: 'EE', name: 'ECHO' },
    ],
    pinReferences: [1],
    ...extra,
  };
}

/** A policy granting what tests need; `patch` overrides any part. */
export function devPolicy(domain: string, patch: Partial<Policy> = {}): Policy {
  const base = nothingPolicy(domain);
  const limits = { ...base.limits, cpuMsPerCall: 500, wallMsPerCall: 1000, handlerDeadlineMs: 20_000, ...(patch.limits ?? {}) };
  return { ...base, store: { quotaBytes: 1 << 20 }, ui: { foreground: true, pinEntry: true }, ...patch, limits };
}

export interface DevKernel {
  kernel: Kernel;
  dataDir: string;
  close(): Promise<void>;
}

export async function bootDev(applets: DevApplet[], config: Partial<KernelConfig> = {}): Promise<DevKernel> {
  const dataDir = mkdtempSync(join(tmpdir(), 'di-test-'));
  const kernel = await Kernel.boot({
    config: { ...defaultConfig(dataDir), ...config, supervisor: { backoffInitialMs: 50, backoffMaxMs: 500, stableAfterMs: 30_000, readyTimeoutMs: 15_000, ...(config.supervisor ?? {}) } },
    devApplets: applets,
  });
  return {
    kernel,
    dataDir,
    close: async () => {
      await kernel.shutdown();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function applet(policy: Policy, script: string): DevApplet {
  return { policy, script, filename: `${policy.domain}.js` };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `f` returns truthy (or throws after timeoutMs). */
export async function until<T>(f: () => T | undefined | false | null, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
