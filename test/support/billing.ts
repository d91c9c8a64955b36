/**
 * Boots the real SESAM-Vitale applet (bundled as `di applet pack` does) under the real policy, with
 * its SMTP/POP3 endpoints pointed at an AMO emulator on ephemeral loopback ports, plus a payment
 * domain (a stand-in by default, or the real payment applet and acquirer). Shared by the billing
 * integration, end-to-end, crash and bench code.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootDev, until, type DevKernel } from './dev-kernel.js';
import { bundleApplet } from '../../platform/kernel/packages/pack.js';
import { loadPolicyFile } from '../../platform/kernel/policy/loader.js';
import { repoRoot } from '../../platform/kernel/paths.js';
import type { Policy } from '../../platform/kernel/policy/types.js';
import type { DevApplet } from '../../platform/kernel/kernel.js';
import type { KernelConfig } from '../../platform/kernel/config.js';
import type { Key } from '../../platform/kernel/terminal.js';
import { startAmo, type Amo, type AmoOptions } from '../../emulator/amo/server.js';
import { loadCard } from '../../emulator/cards/profiles.js';

export type R = Record<string, unknown>;

const bundles = new Map<string, Promise<string>>();

/** The applet's bundle, made once per test process. */
export function appletBundle(id: 'sesam-vitale' | 'payment-stub'): Promise<string> {
  let b = bundles.get(id);
  if (!b) {
    b = bundleApplet(join(repoRoot(), 'applets', id), 'main.ts');
    bundles.set(id, b);
  }
  return b;
}

/** The real sesam-vitale policy with its mail endpoints moved to the given ports. */
export function billingPolicy(smtpPort: number, pop3Port: number): Policy {
  const real = loadPolicyFile(join(repoRoot(), 'policies', 'sesam-vitale.json'));
  return { ...real, network: { ...real.network, endpoints: real.network.endpoints.map((e) => ({ ...e, port: e.kind === 'smtp' ? smtpPort : e.kind === 'pop3' ? pop3Port : e.port })) } };
}

/** A payment domain that approves every charge without a card (the intent grant needs the domain). */
export function paymentStandIn(): DevApplet {
  return {
    policy: loadPolicyFile(join(repoRoot(), 'policies', 'payment.json')),
    script: `globalThis.onIntent = async (r) => ({ status: 'approved', transactionRef: 'PAY-' + String(r.payload.reference) });`,
    filename: 'payment.js',
  };
}

export interface Billing {
  dk: DevKernel;
  amo: Amo;
  amoDir: string;
  act(action: string, payload?: R): Promise<R>;
  /** Polls session.state until `pred` holds. */
  waitState(pred: (s: R) => boolean, what: string, timeoutMs?: number): Promise<R>;
  /** Inserts a CPS, answers the situation question (when there are several) and types the PIN. */
  insertCps(slot: number, profile: string, pin?: string, situation?: number): Promise<R>;
  insertVitale(slot: number, profile: string): Promise<R>;
  close(): Promise<void>;
}

export async function bootBilling(
  opts: { amo?: Partial<AmoOptions>; payment?: DevApplet; config?: Partial<KernelConfig>; extra?: DevApplet[] } = {},
): Promise<Billing> {
  const amoDir = mkdtempSync(join(tmpdir(), 'di-amo-'));
  const amo = await startAmo({ smtpPort: 0, pop3Port: 0, dataDir: amoDir, payment: 'immediate', ...opts.amo });
  const dk = await bootDev(
    [{ policy: billingPolicy(amo.smtpPort, amo.pop3Port), script: await appletBundle('sesam-vitale'), filename: 'sesam-vitale/applet.js' }, opts.payment ?? paymentStandIn(), ...(opts.extra ?? [])],
    opts.config,
  );
  await until(() => dk.kernel.handlers.get('sesam-vitale')?.includes('onAction'), 20_000, 'sesam-vitale ready');
  const act = (action: string, payload: R = {}) => dk.kernel.action('sesam-vitale', action, payload) as Promise<R>;
  const waitState = async (pred: (s: R) => boolean, what: string, timeoutMs = 30_000): Promise<R> => {
    const t0 = Date.now();
    for (;;) {
      const s = await act('session.state');
      if (pred(s)) return s;
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}; last state ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    dk,
    amo,
    amoDir,
    act,
    waitState,
    async insertCps(slot, profile, pin = '1234', situation = 0) {
      dk.kernel.insertCard(slot, await loadCard(profile));
      // Answer what the terminal asks, as the practitioner would: the situation, then the PIN.
      const t0 = Date.now();
      let typed = false;
      for (;;) {
        const v = dk.kernel.terminal.current();
        if (v.question) dk.kernel.terminal.answer(situation);
        else if (v.pinEntry && !typed) {
          typed = true;
          dk.kernel.terminal.typeKeys([...[...pin].map((d) => d as Key), 'OK']);
        }
        const s = await act('session.state');
        if ((s.cps as R | undefined)?.pinVerified === true) return s;
        if (Date.now() - t0 > 30_000) throw new Error(`timed out waiting for CPS ${profile}; last state ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async insertVitale(slot, profile) {
      dk.kernel.insertCard(slot, await loadCard(profile));
      return waitState((s) => s.vitale !== undefined && s.vitale !== null, `Vitale ${profile} read`);
    },
    async close() {
      await dk.close();
      await amo.close();
      rmSync(amoDir, { recursive: true, force: true });
    },
  };
}

/** Today as the applet sees it (UTC). */
export const todayIso = (): string => new Date().toISOString().slice(0, 10);

export const CONTEXT = { nature: 'maladie', aldRelated: false, parcours: 'traitant', tiersPayantAmo: false, tiersPayantAmc: false } as const;
