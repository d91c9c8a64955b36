/**
 * Host cold start (spawn to `ready`) and resident memory after `ready`. Printed for the record; the
 * assertions are loose ceilings that only catch gross regressions (a shared CI box is noisy).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKernel, PROBE_APPLET, buildHost } from '../../fixtures/host/harness.js';

let host: { file: string; cleanup(): void };
beforeAll(async () => {
  host = await buildHost();
});
afterAll(() => host?.cleanup());

describe('host start-up cost', () => {
  it('cold start median of 10 and RSS after ready', async () => {
    const times: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const k = new FakeKernel(host.file);
      const ready = await k.init(PROBE_APPLET);
      times.push(performance.now() - started);
      expect(ready.t).toBe('ready');
      rss.push(k.rssKiB());
      await k.close();
    }
    const sorted = [...times].sort((a, b) => a - b);
    const median = ((sorted[4] as number) + (sorted[5] as number)) / 2;
    const rssSorted = [...rss].sort((a, b) => a - b);
    const rssMedianMiB = ((rssSorted[4] as number) + (rssSorted[5] as number)) / 2 / 1024;
    console.log(
      `host cold start: median ${median.toFixed(1)} ms (min ${sorted[0]?.toFixed(1)}, max ${sorted[9]?.toFixed(1)}); ` +
        `RSS after ready: median ${rssMedianMiB.toFixed(1)} MiB`,
    );
    expect(median).toBeLessThan(3000);
    expect(rssMedianMiB).toBeLessThan(300);
  });
});
