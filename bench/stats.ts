export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Runs `batch` `rounds` times and returns the median per-operation time (µs) of the batch means. */
export async function medianOfBatches(rounds: number, perBatch: number, batch: () => Promise<void>): Promise<number> {
  const means: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    await batch();
    means.push(Number(process.hrtime.bigint() - t0) / 1000 / perBatch);
  }
  return median(means);
}
