/**
 * Boot as a manufacturer ships it: installed policies + signed packages. Broken or tampered parts
 * refuse their own domain, with the reason, and the rest of the device boots.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel } from '../../platform/kernel/kernel.js';
import { defaultConfig, type KernelConfig } from '../../platform/kernel/config.js';
import { repoRoot } from '../../platform/kernel/paths.js';
import { certificateToPem, generateP256, issueCertificate, loadSigner, privateKeyToPem, type Signer } from '../../platform/kernel/packages/keys.js';
import { sha256Hex } from '../../platform/kernel/packages/manifest.js';
import { signDetached } from '../../platform/kernel/packages/pack.js';

/** A self-made CA and signer, as a stranger (not the manufacturer) would make them. */
async function strangerSigner(): Promise<Signer> {
  const rootKey = await generateP256();
  const root = await issueCertificate({ subjectCN: 'Stranger Root', publicKey: rootKey.publicKey, selfKey: rootKey.privateKey, ca: true });
  const leafKey = await generateP256();
  const leaf = await issueCertificate({ subjectCN: 'Stranger Signer', publicKey: leafKey.publicKey, issuer: { certificate: root, privateKey: rootKey.privateKey }, ca: false });
  return loadSigner(await privateKeyToPem(leafKey.privateKey), [certificateToPem(leaf)]);
}

let kernels: Kernel[] = [];
afterEach(async () => {
  for (const k of kernels) await k.shutdown();
  kernels = [];
});

function setup(): KernelConfig {
  const dataDir = mkdtempSync(join(tmpdir(), 'di-boot-'));
  const policyDir = join(dataDir, 'policies');
  cpSync(join(repoRoot(), 'policies'), policyDir, { recursive: true });
  return { ...defaultConfig(dataDir), policyDir };
}

async function boot(config: KernelConfig): Promise<Kernel> {
  const k = await Kernel.boot({ config });
  kernels.push(k);
  return k;
}

describe('boot from installed policies and signed packages', () => {
  it('packs the bundled applets with the development key on first boot and starts both domains', async () => {
    const config = setup();
    const k = await boot(config);
    expect(k.refused).toEqual([]);
    expect(k.status().domains.map((d) => [d.domain, d.state]).sort()).toEqual([
      ['payment', 'ready'],
      ['sesam-vitale', 'ready'],
    ]);
    const events = k.audit.entriesSince(0).map((e) => e.event);
    expect(events.filter((e) => e === 'package.verified')).toHaveLength(2);
    rmSync(config.dataDir, { recursive: true, force: true });
  });

  it('[PKG-01] refuses a modified applet script, naming the file, and boots the other domain', async () => {
    const config = setup();
    await (await boot(config)).shutdown();
    appendFileSync(join(config.packageDir, 'sesam-vitale', 'applet.js'), '\nglobalThis.stolen = 1;\n');
    const k = await boot(config);
    expect(k.refused).toHaveLength(1);
    expect(k.refused[0]?.reason).toMatch(/applet\.js/);
    expect(k.status().domains.map((d) => d.domain)).toEqual(['payment']);
  });

  it('[PKG-02] refuses a package whose signature was removed', async () => {
    const config = setup();
    await (await boot(config)).shutdown();
    rmSync(join(config.packageDir, 'payment-stub', 'signature.p7s'));
    const k = await boot(config);
    expect(k.refused[0]?.reason).toMatch(/sign/i);
    expect(k.status().domains.map((d) => d.domain)).toEqual(['sesam-vitale']);
  });

  it('[PKG-03] refuses a broken policy with the file, the field and the reason', async () => {
    const config = setup();
    const file = join(config.policyDir, 'payment.json');
    const p = JSON.parse(readFileSync(file, 'utf8'));
    p.limits.memoryMb = 'lots';
    writeFileSync(file, JSON.stringify(p, null, 2));
    const k = await boot(config);
    expect(k.refused).toHaveLength(1);
    expect(k.refused[0]?.reason).toMatch(/payment\.json.*\/limits\/memoryMb/);
    expect(k.status().domains.map((d) => d.domain)).toEqual(['sesam-vitale']);
  });

  it('[PKG-04] refuses a domain whose installed policy differs from the one signed in its package', async () => {
    const config = setup();
    await (await boot(config)).shutdown();
    const file = join(config.policyDir, 'sesam-vitale.json');
    const p = JSON.parse(readFileSync(file, 'utf8'));
    p.limits.memoryMb = 200; // valid, but not what was signed
    writeFileSync(file, JSON.stringify(p, null, 2));
    const k = await boot(config);
    expect(k.refused[0]?.reason).toMatch(/differs from the policy signed/);
    expect(k.status().domains.map((d) => d.domain)).toEqual(['payment']);
  });

  it('[PKG-05] refuses a package edited and re-signed by a stranger, and boots the other domain', async () => {
    const config = setup();
    await (await boot(config)).shutdown();
    const dir = join(config.packageDir, 'sesam-vitale');
    appendFileSync(join(dir, 'applet.js'), '\nglobalThis.stolen = 1;\n');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { script: { sha256: string } };
    manifest.script.sha256 = sha256Hex(readFileSync(join(dir, 'applet.js')));
    const bytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2));
    writeFileSync(join(dir, 'manifest.json'), bytes);
    writeFileSync(join(dir, 'signature.p7s'), await signDetached(bytes, await strangerSigner()));
    const k = await boot(config);
    expect(k.refused).toHaveLength(1);
    expect(k.refused[0]?.reason).toMatch(/trust|anchor|signer/i);
    expect(k.status().domains.map((d) => d.domain)).toEqual(['payment']);
    expect(k.audit.entriesSince(0).some((e) => e.event === 'package.refused' || e.event.includes('refused'))).toBe(true);
  });

  it('[PKG-06] refuses a package whose policy.json was edited to grant more, naming policy.json', async () => {
    const config = setup();
    await (await boot(config)).shutdown();
    const file = join(config.packageDir, 'payment-stub', 'policy.json');
    const p = JSON.parse(readFileSync(file, 'utf8'));
    p.limits.memoryMb = 512;
    writeFileSync(file, JSON.stringify(p, null, 2));
    writeFileSync(join(config.policyDir, 'payment.json'), JSON.stringify(p, null, 2));
    const k = await boot(config);
    expect(k.refused).toHaveLength(1);
    expect(k.refused[0]?.reason).toMatch(/policy\.json/);
    expect(k.status().domains.map((d) => d.domain)).toEqual(['sesam-vitale']);
  });
});
