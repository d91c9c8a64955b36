/**
 * More denial of service: deep recursion, catastrophic regular expressions, huge APDUs. Each must
 * be contained to the guilty domain's call; the kernel (and the `di eval` sentinel domain) stays healthy.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runEval } from '../../cli/eval-harness.js';
import { auditExcerpt, evidence } from './evidence.js';

function script(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'di-sec-dos-'));
  const f = join(dir, 'applet.js');
  writeFileSync(f, body);
  return f;
}

describe('denial of service, more', () => {
  it('[DOS-05] unbounded recursion is a RangeError inside the isolate; deep values are refused before any host recursion', async (ctx) => {
    const r = await runEval({
      applet: script(`globalThis.main = async () => {
        const out = {};
        try { const f = (n) => f(n + 1) + 1; f(0); } catch (e) { out.plain = e.constructor.name; }
        try { JSON.parse('[' + '1,'.repeat(10) + '1]', function r(k, v) { return r.call(this, k, v); }); } catch (e) { out.callback = e.constructor.name; }
        let deep = []; for (let i = 0; i < 100000; i++) deep = [deep];
        try { await platform.log('info', 'x', { deep }); out.deep = 'sent'; } catch (e) { out.deep = e.code; }
        try { await platform.crypto.digest('SHA-256', { length: 1e9 }); } catch (e) { out.fake = e.code; }
        out.after = await platform.clock.now() % 100;
        return out;
      };`),
    });
    evidence(ctx, 'result', r.result);
    expect(r.outcome).toBe('completed');
    expect(r.result).toEqual({ plain: 'RangeError', callback: 'RangeError', deep: 'E_ARGS', fake: 'E_ARGS', after: 0 });
    expect(r.kernelHealthy).toBe(true);
  });

  it('[DOS-06] a catastrophic regular expression is terminated by the watchdog; the sentinel domain still serves', async (ctx) => {
    const r = await runEval({ applet: script(`globalThis.main = async () => /^(a+)+$/.test('a'.repeat(40) + 'b');`) });
    const breach = r.audit.filter((e) => e.event === 'watchdog.breach');
    evidence(ctx, 'outcome', { outcome: r.outcome, reason: r.reason });
    evidence(ctx, 'audit', auditExcerpt(breach));
    expect(r.outcome).toBe('terminated');
    expect(r.reason).toMatch(/cpu|wall/);
    expect(breach.length).toBeGreaterThan(0);
    expect(r.kernelHealthy).toBe(true);
  });

  it('[DOS-10] a 70,000-byte APDU is refused, a maximal (65,542-byte) extended APDU is bounded work; the lease and host stay usable', async (ctx) => {
    const r = await runEval({
      policy: resolve('test/fixtures/eval/test-card-policy.json'),
      card: 'test-card',
      applet: script(`globalThis.main = async () => {
        const l = await platform.slots.acquire(0, { timeoutMs: 1000 });
        const out = {};
        const huge = new Uint8Array(70000); huge[0] = 0x80; huge[1] = 0xEE;
        try { await l.transmit(huge); out.huge = 'sent'; } catch (e) { out.huge = e.code; }
        const ext = new Uint8Array(7 + 65535); ext[0] = 0x80; ext[1] = 0xEE; ext[4] = 0; ext[5] = 0xFF; ext[6] = 0xFF;
        try { await l.transmit(ext); out.ext = 'sent'; } catch (e) { out.ext = e.code; }
        const lie = new Uint8Array([0x80, 0xEE, 0, 0, 0xFF, 1, 2, 3]);
        try { await l.transmit(lie); out.lie = 'sent'; } catch (e) { out.lie = e.code; }
        const ok = await l.transmit(new Uint8Array([0x80, 0xEE, 0, 0, 1, 0x42, 0]));
        out.after = Array.from(ok).join(',');
        await l.release();
        return out;
      };`),
    });
    evidence(ctx, 'result', r.result);
    expect(r.outcome).toBe('completed');
    const res = r.result as Record<string, string>;
    expect(res.huge).toBe('E_ARGS');
    // 65,542 bytes is within ISO 7816-4's extended maximum (the broker's cap is 65,544): delivered, at no harm.
    expect(res.ext).toBe('sent');
    expect(res.lie).toBe('E_APDU_MALFORMED');
    expect(res.after).toBe('66,144,0');
    expect(r.audit.some((e) => e.event === 'host.violation' || e.event === 'host.exit')).toBe(false);
    expect(r.kernelHealthy).toBe(true);
  });
});
