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

  it('refuses a modified applet script, naming the file, and boots the other domain', async () => {
    const config = setup();
    await (await boot(config)).shutdown();
    appendFileSync(join(config.packageDir, 'sesam-vitale', 'applet.js'), '\nglobalThis.stolen = 1;\n');
    const k = await boot(config);
    expect(k.refused).toHaveLength(1);
    expect(k.refused[0]?.reason).toMatch(/applet\.js/);
    expect(k.status().domains.map((d) => d.domain)).toEqual(['payment']);
  });

  it('refuses a package whose signature was removed', async () => {
    const config = setup();
    await (await boot(config)).shutdown();
    rmSync(join(config.packageDir, 'payment-stub', 'signature.p7s'));
    const k = await boot(config);
    expect(k.refused[0]?.reason).toMatch(/sign/i);
    expect(k.status().domains.map((d) => d.domain)).toEqual(['sesam-vitale']);
  });

  it('refuses a broken policy with the file, the field and the reason', async () => {
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

  it('refuses a domain whose installed policy differs from the one signed in its package', async () => {
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
});
