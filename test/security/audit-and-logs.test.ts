/**
 * Logs and audit: card data an applet logs is masked; the audit log is written only by the kernel and
 * its hash chain makes on-disk tampering visible to `di audit verify` (the real CLI, dist/cli.js).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { bootDev, applet, devPolicy, type DevKernel } from '../support/dev-kernel.js';
import { evidence } from './evidence.js';

const PAN = '4970109876543213'; // Luhn-valid, fictitious
const TRACK2 = `${PAN}=27122011234567890`;
const TRACK2_NIBBLES = `${PAN}D27122011234567890`;
const MARK = 'FORGED-ENTRY-7f3a';

const SCRIPT = `
globalThis.onIntent = async (req) => {
  if (req.payload.op === 'card') {
    await platform.log('info', 'card ${PAN} read, track ${TRACK2}', { pan: '${PAN}', track2: '${TRACK2_NIBBLES}', pin: '1357', pinBlock: '241357FFFFFFFFFF', nested: { cardNumber: '4970 1098 7654 3213' } });
    return 'ok';
  }
  if (req.payload.op === 'forge') {
    const line = '{"seq":999,"ts":"2030-01-01T00:00:00.000Z","domain":null,"event":"package.verified","fields":{"note":"${MARK}"},"prev":"0","hash":"0"}';
    await platform.log('info', 'x\\n' + line + '\\n', { event: 'package.verified', seq: 999, note: '${MARK}' });
    return 'ok';
  }
  return 'ok';
};
`;

function verifyCli(file: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', resolve('dist/cli.js'), 'audit', 'verify', '--file', file], { encoding: 'utf8' });
  return { status: r.status, out: (r.stdout + r.stderr).trim() };
}

describe('logs and audit', () => {
  let dk: DevKernel;
  let closed = false;
  beforeAll(async () => {
    dk = await bootDev([applet(devPolicy('alpha'), SCRIPT)]);
  });
  afterAll(async () => {
    if (!closed) await dk.close();
  });
  const call = (op: string) => dk.kernel.call('alpha', 'onIntent', [{ from: 't', action: 'x', payload: { op } }]);

  it('[LOG-05] PAN, track 2 and PIN fields an applet logs are masked or removed in its log', async (ctx) => {
    expect(await call('card')).toBe('ok');
    const text = readFileSync(join(dk.dataDir, 'logs', 'alpha.log'), 'utf8');
    evidence(ctx, 'alpha.log', text.trim().split('\n').slice(-1));
    expect(text).toContain('497010******3213');
    expect(text).not.toContain(PAN);
    expect(text).not.toContain(PAN.slice(0, 12));
    expect(text).not.toContain('27122011234567890');
    expect(text).not.toContain('1357');
    expect(text).not.toMatch(/4970 1098 7654 3213/);
    expect(JSON.stringify(dk.kernel.audit.entriesSince(0))).not.toContain(PAN);
  });

  it('[LOG-07] an applet cannot forge audit entries: an audit-shaped log message stays one escaped line of its own log', async (ctx) => {
    const before = dk.kernel.audit.lastSeq;
    expect(await call('forge')).toBe('ok');
    const entries = dk.kernel.audit.entriesSince(before);
    evidence(ctx, 'audit since', entries.map((e) => `#${e.seq} ${e.domain} ${e.event}`));
    expect(JSON.stringify(entries)).not.toContain(MARK);
    expect(readFileSync(join(dk.dataDir, 'audit.log'), 'utf8')).not.toContain(MARK);
    const lines = readFileSync(join(dk.dataDir, 'logs', 'alpha.log'), 'utf8').trim().split('\n');
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    expect(lines.filter((l) => l.includes(MARK))).toHaveLength(1);
    expect(lines.some((l) => (JSON.parse(l) as { event?: string }).event === 'package.verified')).toBe(false);
  });

  describe('on disk', () => {
    let file: string;
    let lines: string[];
    let tmp: string;
    beforeAll(async () => {
      for (let i = 0; i < 3; i++) await call('noop');
      await dk.kernel.shutdown();
      tmp = mkdtempSync(join(tmpdir(), 'di-sec-audit-'));
      file = join(tmp, 'audit.log');
      copyFileSync(join(dk.dataDir, 'audit.log'), file);
      rmSync(dk.dataDir, { recursive: true, force: true });
      closed = true;
      lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    });
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));
    const variant = (name: string, ls: string[]) => {
      const f = join(tmp, `${name}.log`);
      writeFileSync(f, ls.join('\n') + '\n');
      return f;
    };

    it('[LOG-06] `di audit verify` accepts the intact log and exits 1 naming the line for an edited, deleted or reordered entry', (ctx) => {
      const intact = verifyCli(file);
      expect(intact.status).toBe(0);
      expect(lines.length).toBeGreaterThan(4);
      const edited = lines.map((l, i) => (i === 2 ? l.replace(/"domain":"alpha"|"domain":null/, '"domain":"kernel-x"') : l));
      const deleted = lines.filter((_l, i) => i !== 2);
      const reordered = [...lines];
      [reordered[2], reordered[3]] = [reordered[3]!, reordered[2]!];
      const results = { intact, edited: verifyCli(variant('edited', edited)), deleted: verifyCli(variant('deleted', deleted)), reordered: verifyCli(variant('reordered', reordered)) };
      evidence(ctx, 'di audit verify', Object.fromEntries(Object.entries(results).map(([k, v]) => [k, `exit ${v.status}: ${v.out}`])));
      for (const k of ['edited', 'deleted', 'reordered'] as const) {
        expect(results[k].status).toBe(1);
        expect(results[k].out).toMatch(/BROKEN at line \d+/);
      }
    });

    it('[LOG-07] a forged entry inserted or appended on disk with a made-up hash breaks the chain', (ctx) => {
      const last = JSON.parse(lines[lines.length - 1]!) as { seq: number; hash: string };
      const forged = JSON.stringify({ seq: last.seq + 1, ts: new Date().toISOString(), domain: null, event: 'package.verified', fields: { note: MARK }, prev: last.hash, hash: 'f'.repeat(64) });
      const inserted = [...lines.slice(0, 3), forged, ...lines.slice(3)];
      const r1 = verifyCli(variant('inserted', inserted));
      const r2 = verifyCli(variant('appended', [...lines, forged]));
      evidence(ctx, 'di audit verify', { inserted: `exit ${r1.status}: ${r1.out}`, appended: `exit ${r2.status}: ${r2.out}` });
      evidence(ctx, 'residual', 'the chain is unkeyed: whoever can write the file and recompute every later hash is detected only against a copy of the last hash kept elsewhere');
      expect(r1.status).toBe(1);
      expect(r2.status).toBe(1);
    });
  });
});
