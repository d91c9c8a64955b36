/** The command line as users run it: the built dist/cli.js in a child process. */
import { describe, expect, it, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../platform/kernel/paths.js';

const root = repoRoot();
const fixture = (f: string) => join(root, 'test', 'fixtures', 'eval', f);
function di(args: string[], opts: { cwd?: string } = {}) {
  return spawnSync(process.execPath, ['--no-node-snapshot', join(root, 'dist', 'cli.js'), ...args], { encoding: 'utf8', cwd: opts.cwd ?? root, timeout: 60_000 });
}

beforeAll(() => {
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root });
});

describe('di eval', () => {
  it('runs a script under a policy with a card and typed keys, and prints one JSON verdict', () => {
    const r = di(['eval', '--applet', fixture('read-card.js'), '--policy', fixture('test-card-policy.json'), '--card', 'test-card', '--keys', '1234OK']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.outcome).toBe('completed');
    expect(out.kernelHealthy).toBe(true);
    expect(out.result).toEqual({ cardClass: 'test-card', pin: { ok: true, triesLeft: null, blocked: false }, echo: [0xca, 0xfe, 0x90, 0x00] });
    const events = out.audit.map((e: { event: string }) => e.event);
    expect(events).toContain('package.unsigned');
    expect(events).toContain('pin.verify');
    expect(r.stdout).not.toMatch(/31323334|"1234"/);
  });

  it('reports an endless loop as terminated, with the kernel healthy', () => {
    const r = di(['eval', '--applet', fixture('spin.js')]);
    const out = JSON.parse(r.stdout);
    expect(out.outcome).toBe('terminated');
    expect(out.reason).toMatch(/cpu|wall/);
    expect(out.kernelHealthy).toBe(true);
    expect(out.audit.some((e: { event: string }) => e.event === 'watchdog.breach')).toBe(true);
  });

  it('reports a throwing main as crashed, with the PAN in its message masked', () => {
    const out = JSON.parse(di(['eval', '--applet', fixture('throws.js')]).stdout);
    expect(out.outcome).toBe('crashed');
    expect(out.reason).toMatch(/^main\(\) threw: .*boom/);
    expect(out.reason).not.toContain('4970101234567893');
  });

  it('without --policy, grants nothing: the card is not offered', () => {
    const out = JSON.parse(di(['eval', '--applet', fixture('read-card.js'), '--card', 'test-card']).stdout);
    expect(out.outcome).toBe('crashed');
    expect(out.reason).toMatch(/main\(\) threw/);
    expect(out.audit.some((e: { event: string }) => e.event === 'card.refused')).toBe(true);
  });

  it('names an unknown card profile', () => {
    const r = di(['eval', '--applet', fixture('spin.js'), '--card', 'nope']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown card profile "nope"; known: .*test-card/);
  });
});

describe('di start --once and di audit verify', () => {
  it('boots both domains on embedded defaults and leaves a verifiable audit chain', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'di-cli-'));
    const start = di(['--data-dir', dataDir, 'start', '--once']);
    expect(start.status, start.stderr).toBe(0);
    expect(start.stdout).toMatch(/domain payment\s+ready/);
    expect(start.stdout).toMatch(/domain sesam-vitale\s+ready/);
    const verify = di(['--data-dir', dataDir, 'audit', 'verify']);
    expect(verify.status).toBe(0);
    expect(verify.stdout).toMatch(/audit chain OK: \d+ entries/);
  });
});
