/**
 * Review: PAN / track 2 redaction of host output (host-<domain>.log).
 * - green: a full PAN and track 2 in host crash output are masked (first 6 / last 4);
 * - red: output is cut *before* it is redacted (HostProcess cuts lines at 4096 chars, the host
 *   runtime cuts error messages at 1024 bytes). A PAN straddling the cut keeps 12 digits, which is
 *   below the 13-digit PAN minimum, so digits 7..12 (which must be masked) reach the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostProcess } from '../../platform/kernel/host-process.js';
import { FileDomainLogger } from '../../platform/kernel/domain-log.js';
import { bootDev, applet, devPolicy, until, type DevKernel } from '../support/dev-kernel.js';

const PAN = '4970109876543213'; // Luhn-valid, fictitious
const MIDDLE = PAN.slice(6, 12); // '987654': must never appear next to the BIN
const TRACK2 = `${PAN}=27122011234567890`;

function logText(dir: string): string {
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .filter((f) => f.startsWith('host-'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
}

describe('review: redaction of host crash output', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'di-review-redact-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** A host that writes `lines` on stderr and never answers init; its output is logged like the kernel does. */
  async function hostOutput(name: string, lines: string[]): Promise<string> {
    const entry = join(tmp, `${name}.mjs`);
    writeFileSync(entry, `process.stderr.write(${JSON.stringify(lines.join('\n') + '\n')}, () => setTimeout(() => process.exit(1), 20));\nsetInterval(() => {}, 1000);\n`);
    const logs = join(tmp, `logs-${name}`);
    const logger = new FileDomainLogger(logs);
    const h = new HostProcess({
      domain: name, script: 'x', filename: 'x.js', limits: { memoryMb: 16, cpuMsPerCall: 100, wallMsPerCall: 100 },
      clockGranularityMs: 100, maxFrameBytes: 64 * 1024, readyTimeoutMs: 5000, entry,
    });
    // Exactly the kernel's wiring (Kernel.wireSupervisor): output -> logger.hostOutput.
    h.on('output', (line) => logger.hostOutput(name, line));
    const exited = new Promise((r) => h.once('exit', r));
    await h.start().catch(() => undefined);
    await exited;
    return logText(logs);
  }

  it('[LOG-03] a full PAN and track 2 in crash output are masked', async () => {
    const text = await hostOutput('full', [`TypeError: bad card ${PAN}`, `    at track ${TRACK2}`, `card 4970 1098 7654 3213 refused`]);
    expect(text).toContain('497010******3213');
    expect(text).not.toContain(PAN);
    expect(text).not.toContain(PAN.slice(0, 12));
    expect(text).not.toContain('27122011234567890');
    expect(text).not.toMatch(/4970 1098 7654 3213/);
  });

  it('[LOG-04] a PAN straddling the 4096-character line cut is still masked', async () => {
    const line = 'E'.repeat(4096 - 12) + PAN + ' rest of the stack';
    const text = await hostOutput('longline', [line]);
    expect(text).toContain('E'.repeat(100));
    expect(text).not.toContain(PAN.slice(0, 12));
    expect(text).not.toMatch(new RegExp(`497010${MIDDLE}`));
  });

  describe('through a real kernel: an applet failing at start-up with card data in its error', () => {
    let dk: DevKernel;
    beforeAll(async () => {
      // The host cuts the error message at 1024 bytes (1021 characters + '...') before anything redacts it.
      const pad = 'x'.repeat(1021 - 12);
      dk = await bootDev([
        applet(devPolicy('payment'), `throw new Error(${JSON.stringify(pad)} + '${PAN} and more text after the PAN');`),
        applet(devPolicy('other'), `throw new Error('card ${PAN} track ${TRACK2}');`),
      ]);
      const log = (d: string) => join(dk.dataDir, 'logs', `host-${d}.log`);
      await until(() => existsSync(log('other')) && readFileSync(log('other'), 'utf8').includes('fatal'), 8000, 'host-other.log');
      await until(() => existsSync(log('payment')) && readFileSync(log('payment'), 'utf8').includes('xxxxxxxx'), 8000, 'host-payment.log');
    });
    afterAll(async () => dk.close());

    it('[LOG-03] the full PAN and track 2 are masked in host-other.log', () => {
      const text = readFileSync(join(dk.dataDir, 'logs', 'host-other.log'), 'utf8');
      expect(text).toContain('497010');
      expect(text).not.toContain(PAN);
      expect(text).not.toContain(PAN.slice(0, 12));
    });

    it('[LOG-04] a PAN cut by the host\'s 1024-byte truncation does not leak its middle digits', () => {
      const text = readFileSync(join(dk.dataDir, 'logs', 'host-payment.log'), 'utf8');
      expect(text).toContain('xxxxxxxx');
      expect(text).not.toContain(PAN.slice(0, 12));
    });
  });
});
