/**
 * The running terminal's control socket and `di status` rendering: requests reach kernel.action
 * (which enforces the policy) or kernel.status; bad requests are answered with an error and the
 * socket keeps serving; the socket file is the operator's only (0600); nobody answering = null.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { askControl, controlPath, serveControl } from '../../../cli/control.js';
import { renderStatus } from '../../../cli/commands/status.js';
import type { Kernel } from '../../../platform/kernel/kernel.js';
import { KernelError } from '../../../platform/kernel/errors.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeKernel(calls: unknown[]): Kernel {
  return {
    status: () => ({ domains: [], refused: [], foreground: null }),
    action: async (domain: string, action: string, payload: unknown) => {
      calls.push({ domain, action, payload });
      if (action !== 'status') throw new KernelError('E_POLICY', `action ${action} is not in the ${domain} policy`);
      return { ok: true, bytes: Uint8Array.of(1, 2) };
    },
  } as unknown as Kernel;
}

describe('control socket', () => {
  it('serves kernel.status and policy-checked actions; refuses what it does not know; 0600', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'di-ctl-'));
    dirs.push(dir);
    const calls: unknown[] = [];
    const server = await serveControl(fakeKernel(calls), dir);
    try {
      expect(statSync(controlPath(dir)).mode & 0o777).toBe(0o600);
      expect(await askControl(dir, { op: 'kernel.status' })).toEqual({ ok: true, result: { domains: [], refused: [], foreground: null } });
      expect(await askControl(dir, { op: 'action', domain: 'sesam-vitale', action: 'status', payload: {} })).toEqual({ ok: true, result: { ok: true, bytes: 'hex:0102' } });
      const refused = await askControl(dir, { op: 'action', domain: 'sesam-vitale', action: 'fse.erase', payload: {} });
      expect(refused).toEqual({ ok: false, error: expect.stringContaining('not in the sesam-vitale policy') });
      // Garbage on the wire: answered, and the socket still serves.
      const garbage = await new Promise<string>((resolve) => {
        const s = createConnection(controlPath(dir));
        s.setEncoding('utf8');
        s.once('connect', () => s.write('{"op":"reboot"}\nnot json\n'));
        let buf = '';
        s.on('data', (c: string) => {
          buf += c;
          if (buf.split('\n').length > 2) {
            s.destroy();
            resolve(buf);
          }
        });
      });
      expect(garbage).toContain('unknown op \\"reboot\\"');
      expect(garbage.split('\n')[1]).toContain('"ok":false');
      expect(await askControl(dir, { op: 'kernel.status' })).toMatchObject({ ok: true });
      expect(calls).toHaveLength(2);
    } finally {
      server.close();
    }
  });

  it('answers null when no terminal runs there, and takes over a socket file a killed terminal left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'di-ctl-'));
    dirs.push(dir);
    expect(await askControl(dir, { op: 'kernel.status' })).toBeNull();
    const first = await serveControl(fakeKernel([]), dir);
    first.close(); // a stale socket file may stay behind, as after a SIGKILL
    await new Promise((r) => setTimeout(r, 20));
    const second = await serveControl(fakeKernel([]), dir);
    try {
      expect(await askControl(dir, { op: 'kernel.status' })).toMatchObject({ ok: true });
    } finally {
      second.close();
    }
  });
});

describe('di status rendering', () => {
  it('puts late invoices, files waiting, rejects and payments in French', () => {
    const text = renderStatus({
      ok: true,
      today: '2026-11-30',
      byState: { created: 1, secured: 2, 'in-lot': 0, sent: 3, 'arl-positive': 0, 'arl-negative': 1, paid: 4, rejected: 0, unloaded: 0 },
      toSecure: [7],
      lotsPending: 1,
      filesWaiting: [{ fileId: 'F751990011000002', attempts: 2, lastError: 'E_NET connection refused', nextAttemptAt: Date.UTC(2026, 10, 30, 14, 5) }],
      late: [{ invoiceNo: 5, deadline: '2026-11-25' }],
      dueToday: [],
      dueSoon: [{ invoiceNo: 8, deadline: '2026-12-02' }],
      rejectsToRedo: [{ invoiceNo: 3, code: 'R01', text: 'AT NON RECONNU', source: 'ARL' }],
      paid: { count: 4, amount: 12000 },
      payments: { approved: 2, declined: 1, pending: 1, amount: 1650 },
      portable: { offline: true, since: Date.UTC(2026, 10, 30, 9, 0), filesWaiting: 1, invoicesWaiting: 2, nextDeadline: '2026-11-25' },
      heldForHost: 0,
    });
    expect(text).toContain('EN RETARD : n° 5 (25/11/2026)');
    expect(text).toContain('Fichier F751990011000002 non envoyé (2 essai(s) : E_NET connection refused) ; prochain essai après 14:05 UTC');
    expect(text).toContain('Rejet à refaire : n° 3 (ARL R01 : AT NON RECONNU)');
    expect(text).toContain('À sécuriser (CPS nécessaire) : n° 7');
    expect(text).toContain('Encaissements par carte : 2 accepté(s) (16,50 EUR), 1 refusé(s) ou en échec');
    expect(text).toContain('Paiement(s) interrompu(s) à vérifier : 1');
  });
});
