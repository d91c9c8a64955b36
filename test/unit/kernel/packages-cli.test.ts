import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerAppletCommands } from '../../../cli/commands/applet.js';
import { certificateToPem, generateP256, issueCertificate } from '../../../platform/kernel/packages/keys.js';

let dataDir: string;
let anchors: string[] = [];

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'di-cli-applet-'));
});

afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

async function di(...args: string[]): Promise<{ out: string; err: string; exitCode: number }> {
  const program = new Command().name('di').exitOverride();
  registerAppletCommands(program, { dataDir: () => dataDir, trustAnchors: () => anchors });
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  process.exitCode = undefined;
  await program.parseAsync(['node', 'di', ...args]);
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  vi.restoreAllMocks();
  return { out: out.join('\n'), err: err.join('\n'), exitCode: code };
}

describe('di applet', () => {
  it('pack with development keys, then verify: one-line verdicts and exit codes', async () => {
    const packed = await di('applet', 'pack', 'test/fixtures/applets/hello', '--out', join(dataDir, 'pkgs'));
    expect(packed.exitCode).toBe(0);
    expect(packed.out).toMatch(/^packed hello 1\.0\.0 \(domain hello\) into .*pkgs\/hello \(development key; trust anchor .*dev-root-ca\.pem, created now\)$/);

    // No anchors configured: the development root is used.
    const ok = await di('applet', 'verify', join(dataDir, 'pkgs', 'hello'));
    expect(ok).toMatchObject({ exitCode: 0 });
    expect(ok.out).toBe('OK hello 1.0.0 (domain hello) signed by "O=Dispositif Integre (development), CN=DI Development Applet Signer"');

    const json = await di('applet', 'verify', join(dataDir, 'pkgs', 'hello'), '--json');
    expect(JSON.parse(json.out)).toMatchObject({ ok: true, manifest: { id: 'hello', domain: 'hello' } });
  });

  it('refuses with exit code 1 and the reason', async () => {
    await di('applet', 'pack', 'test/fixtures/applets/hello', '--out', join(dataDir, 'pkgs2'));
    rmSync(join(dataDir, 'pkgs2', 'hello', 'signature.p7s'));
    const r = await di('applet', 'verify', join(dataDir, 'pkgs2', 'hello'));
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/^REFUSED E_UNSIGNED: .*signature\.p7s is missing/);
    const j = await di('applet', 'verify', join(dataDir, 'pkgs2', 'hello'), '--json');
    expect(j.exitCode).toBe(1);
    expect(JSON.parse(j.out)).toMatchObject({ ok: false, code: 'E_UNSIGNED' });
  });

  it('--trust-anchor replaces the configured anchors', async () => {
    await di('applet', 'pack', 'test/fixtures/applets/hello', '--out', join(dataDir, 'pkgs3'));
    const key = await generateP256();
    const other = await issueCertificate({ subjectCN: 'Other Root', publicKey: key.publicKey, selfKey: key.privateKey, ca: true });
    const otherPath = join(dataDir, 'other-root.pem');
    writeFileSync(otherPath, certificateToPem(other));
    const r = await di('applet', 'verify', join(dataDir, 'pkgs3', 'hello'), '--trust-anchor', otherPath);
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/REFUSED E_UNKNOWN_SIGNER: .*does not chain to any trusted anchor/);
    anchors = [otherPath];
    try {
      expect((await di('applet', 'verify', join(dataDir, 'pkgs3', 'hello'))).exitCode).toBe(1);
    } finally {
      anchors = [];
    }
  });

  it('pack with --key but no --cert is refused clearly', async () => {
    const r = await di('applet', 'pack', 'test/fixtures/applets/hello', '--key', join(dataDir, 'nokey.pem'));
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/REFUSED E_KEY: .*--key and --cert must be given together/);
  });

  it('pack of a broken applet reports the policy error', async () => {
    const r = await di('applet', 'pack', join(dataDir, 'no-such-applet'));
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/REFUSED E_PACK: .*applet\.json: \/: cannot be read/);
  });
});
