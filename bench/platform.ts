/**
 * Platform figures: the APDU round trip applet -> kernel -> broker -> emulated card -> applet,
 * host cold start (spawn to first handler ready), warm start (a pre-spawned spare host adopted, to
 * first handler ready) and host RSS.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel } from '../platform/kernel/kernel.js';
import { defaultConfig } from '../platform/kernel/config.js';
import { nothingPolicy } from '../platform/kernel/policy/loader.js';
import type { Policy } from '../platform/kernel/policy/types.js';
import { HostProcess, type HostSpec } from '../platform/kernel/host-process.js';
import { Supervisor } from '../platform/kernel/supervisor.js';
import { createCard } from '../emulator/cards/profiles.js';
import { median } from './stats.js';

export const ECHO_APDU = Uint8Array.from([0x80, 0xee, 0x00, 0x00, 0x10, ...new Array(16).fill(0x5a), 0x00]);

export const BENCH_APPLET = `
globalThis.main = async () => {
  const lease = await platform.slots.acquire(0, { timeoutMs: 2000 });
  const apdu = new Uint8Array(${JSON.stringify([...ECHO_APDU])});
  for (let i = 0; i < 200; i++) await lease.transmit(apdu);
  await lease.release();
  return 'warm';
};
globalThis.onIntent = async (req) => {
  const n = req.payload.n;
  const lease = await platform.slots.acquire(0, { timeoutMs: 2000 });
  const apdu = new Uint8Array(${JSON.stringify([...ECHO_APDU])});
  let last;
  for (let i = 0; i < n; i++) last = await lease.transmit(apdu);
  await lease.release();
  return { n, sw: last[last.length - 2] * 256 + last[last.length - 1] };
};
`;

export function benchPolicy(): Policy {
  const base = nothingPolicy('bench');
  return {
    ...base,
    limits: { ...base.limits, ratePerSecond: 1_000_000, cpuMsPerCall: 60_000, wallMsPerCall: 60_000, handlerDeadlineMs: 120_000 },
    cardClasses: [
      {
        name: 'bench-card',
        atr: { value: '3B', mask: 'FF' },
        aids: [],
        apdu: [{ cla: '80', ins: 'EE', name: 'ECHO' }],
        pinReferences: [],
      },
    ],
    intents: { request: [], handle: [{ action: 'run', result: { n: 'number', sw: 'number' } }] },
  };
}

export interface ApduFigures {
  /** Median of the batch means, measured after `warmup` APDUs. */
  medianUs: number;
  /**
   * Mean of the very first batch after the host said `ready`, before any warm-up: what the first
   * transaction after a (re)start sees while V8 is still compiling both processes' hot paths.
   */
  firstBatchUs: number;
  rssMb: number;
  cardTimeMs: number;
}

export async function apduRoundTrip(rounds: number, perBatch: number, warmup: number): Promise<ApduFigures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'di-bench-'));
  const base = defaultConfig(dataDir);
  const kernel = await Kernel.boot({ config: { ...base, supervisor: { ...base.supervisor, spareHost: false } }, devApplets: [{ policy: benchPolicy(), script: BENCH_APPLET, filename: 'bench.js' }] });
  const batch = async (n: number): Promise<number> => {
    const t0 = process.hrtime.bigint();
    const r = (await kernel.call('bench', 'onIntent', [{ from: 'bench', action: 'run', payload: { n } }], 120_000)) as { sw: number };
    const elapsed = Number(process.hrtime.bigint() - t0) / 1000;
    if (r.sw !== 0x9000) throw new Error(`bench: echo APDU answered ${r.sw.toString(16)}`);
    return elapsed / n;
  };
  try {
    kernel.insertCard(0, createCard('test-card'));
    await new Promise((r) => setTimeout(r, 50));
    const firstBatchUs = await batch(perBatch);
    await kernel.call('bench', 'main', [], 60_000);
    for (let done = 0; done < warmup; done += perBatch) await batch(Math.min(perBatch, warmup - done));
    const means: number[] = [];
    for (let i = 0; i < rounds; i++) means.push(await batch(perBatch));
    const pid = kernel.supervisor.state('bench')?.pid;
    return { medianUs: median(means), firstBatchUs, rssMb: pid ? rssMb(pid) : NaN, cardTimeMs: kernel.reader.cardTimeMs };
  } finally {
    await kernel.shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function coldSpec(domain: string): HostSpec {
  return {
    domain,
    script: 'globalThis.main = async () => 1;',
    filename: 'cold.js',
    limits: { memoryMb: 64, cpuMsPerCall: 1000, wallMsPerCall: 2000 },
    clockGranularityMs: 100,
    maxFrameBytes: 1 << 20,
    readyTimeoutMs: 10_000,
  };
}

/**
 * Start of a domain when the supervisor has a spare host waiting (what a restart or a newly
 * installed domain gets with `spareHost`): from startDomain() to the first handler ready. Each
 * sample first gives the replacement spare time to load, as it has between real restarts.
 */
export async function warmStartMs(samples: number, spareSettleMs = 600): Promise<number> {
  const sup = new Supervisor({ backoffInitialMs: 100, backoffMaxMs: 1000, stableAfterMs: 30_000, spareHost: true });
  const times: number[] = [];
  try {
    await sup.startDomain(coldSpec('warm-0'));
    for (let i = 1; i <= samples; i++) {
      await new Promise((r) => setTimeout(r, spareSettleMs));
      const t0 = process.hrtime.bigint();
      await sup.startDomain(coldSpec(`warm-${i}`));
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    await sup.stopAll();
  }
  return median(times);
}

export async function coldStartMs(samples: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const host = new HostProcess(coldSpec('cold'));
    const t0 = process.hrtime.bigint();
    await host.start();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await host.stop();
  }
  return median(times);
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}
