/**
 * Fuzzing budget. `npm test` runs each property a few hundred times; `di security --fuzz-minutes N`
 * sets DI_FUZZ_MS (a time budget per property) and DI_FUZZ_RUNS (a large run count) for longer runs.
 */
export const FUZZ_MS = Number(process.env.DI_FUZZ_MS ?? 0);
export const FUZZ_RUNS = Number(process.env.DI_FUZZ_RUNS ?? 0) || 300;

/** fast-check parameters for one property; `scale` shrinks the default count for slow properties. */
export function fuzzParams(scale = 1): { numRuns: number; interruptAfterTimeLimit?: number; seed?: number } {
  const numRuns = FUZZ_MS > 0 ? Number.MAX_SAFE_INTEGER : Math.max(10, Math.round(FUZZ_RUNS * scale));
  // The bounded run of `npm test` is reproducible (a fixed seed, so CI cannot turn red by chance);
  // long runs (`di security --fuzz-minutes`) explore new seeds unless DI_FUZZ_SEED pins one.
  const seed = process.env.DI_FUZZ_SEED !== undefined ? Number(process.env.DI_FUZZ_SEED) : FUZZ_MS > 0 ? undefined : 20261130;
  return { numRuns, ...(FUZZ_MS > 0 && { interruptAfterTimeLimit: FUZZ_MS }), ...(seed !== undefined && { seed }) };
}

/** vitest timeout for a property: its fuzz budget plus slack. */
export const FUZZ_TIMEOUT = FUZZ_MS > 0 ? FUZZ_MS + 60_000 : 30_000;
