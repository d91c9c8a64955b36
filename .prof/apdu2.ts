import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel } from '../platform/kernel/kernel.js';
import { defaultConfig } from '../platform/kernel/config.js';
import { createCard } from '../emulator/cards/profiles.js';
// reuse bench internals
import * as P from '../bench/platform.js';
const per = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 5);
function hostCpuMs(pid: number) { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; }
const dataDir = mkdtempSync(join(tmpdir(), 'di-prof-'));
const kernel = await Kernel.boot({ config: defaultConfig(dataDir), devApplets: [{ policy: P.benchPolicy(), script: P.BENCH_APPLET, filename: 'bench.js' }] });
kernel.insertCard(0, createCard('test-card'));
await new Promise((r) => setTimeout(r, 50));
await kernel.call('bench', 'main', [], 60_000);
const pid = kernel.supervisor.state('bench')!.pid!;
const c0 = process.cpuUsage(); const h0 = hostCpuMs(pid); const t0 = process.hrtime.bigint();
const res: number[] = [];
for (let i = 0; i < rounds; i++) {
  const s = process.hrtime.bigint();
  await kernel.call('bench', 'onIntent', [{ from: 'bench', action: 'run', payload: { n: per } }], 120_000);
  res.push(Number(process.hrtime.bigint() - s) / 1000 / per);
}
const n = per * rounds;
const c = process.cpuUsage(c0); const h = hostCpuMs(pid) - h0;
const unsorted = [...res]; res.sort((a, b) => a - b);
console.log(JSON.stringify({ medianUs: res[res.length >> 1]!.toFixed(1), all: unsorted.map((x) => x.toFixed(0)).join(','), kernelCpuUs: ((c.user + c.system) / n).toFixed(1), kUser: (c.user / n).toFixed(1), kSys: (c.system / n).toFixed(1), hostCpuUs: (h * 1000 / n).toFixed(1) }));
await kernel.shutdown();
rmSync(dataDir, { recursive: true, force: true });
