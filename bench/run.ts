/** `di bench`: platform figures as ratios against baselines measured in the same run. */
import { processRoundTripUs, isolateCallUs, directCardUs, nodeStartMs } from './baselines.js';
import { apduRoundTrip, coldStartMs, warmStartMs, ECHO_APDU } from './platform.js';
import { createCard } from '../emulator/cards/profiles.js';

export interface BenchResult {
  apduRoundTrip: {
    medianUs: number;
    baselineUs: number;
    ratio: number;
    /** First batch after the host's `ready`, before warm-up (not part of the ratio; see method). */
    firstBatchUs: number;
    firstBatchRatio: number;
    processRoundTripUs: number;
    isolateCallUs: number;
    directCardUs: number;
  };
  coldStartMs: number;
  /** Same-run baseline: a bare Node child spawned the same way, up to its first frame on fd 3. */
  nodeStartMs: number;
  coldStartRatio: number;
  /** Start from a pre-spawned spare host (Supervisor `spareHost`); never counted as cold start. */
  warmStartMs: number;
  hostRssMb: number;
  targets: { apduRoundTripRatio: number; coldStartMs: number; hostRssMb: number };
  met: { apduRoundTripRatio: boolean; coldStartMs: boolean; hostRssMb: boolean };
  method: string;
}

export async function runBench(opts: { quick?: boolean } = {}): Promise<BenchResult> {
  const rounds = opts.quick ? 3 : 9;
  const per = opts.quick ? 100 : 500;
  // V8 needs a few thousand round trips before both processes' hot paths are optimised (the first
  // few hundred run several times slower); every path measured here gets the same warm-up.
  const warmup = opts.quick ? 500 : 3000;
  const proc = await processRoundTripUs(rounds, per, warmup);
  const iso = await isolateCallUs(rounds, per, warmup);
  const direct = await directCardUs(createCard('test-card'), ECHO_APDU, rounds, per);
  const apdu = await apduRoundTrip(rounds, per, warmup);
  const samples = opts.quick ? 3 : 10;
  const node = await nodeStartMs(samples);
  const cold = await coldStartMs(samples);
  const warm = await warmStartMs(samples);
  const baselineUs = proc + iso;
  const ratio = apdu.medianUs / baselineUs;
  const targets = { apduRoundTripRatio: 1.5, coldStartMs: 150, hostRssMb: 80 };
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    apduRoundTrip: {
      medianUs: r(apdu.medianUs),
      baselineUs: r(baselineUs),
      ratio: r(ratio),
      firstBatchUs: r(apdu.firstBatchUs),
      firstBatchRatio: r(apdu.firstBatchUs / baselineUs),
      processRoundTripUs: r(proc),
      isolateCallUs: r(iso),
      directCardUs: r(direct),
    },
    coldStartMs: r(cold),
    nodeStartMs: r(node),
    coldStartRatio: r(cold / node),
    warmStartMs: r(warm),
    hostRssMb: r(apdu.rssMb),
    targets,
    met: { apduRoundTripRatio: ratio <= targets.apduRoundTripRatio, coldStartMs: cold <= targets.coldStartMs, hostRssMb: apdu.rssMb <= targets.hostRssMb },
    method:
      `median of ${rounds} batch means of ${per} operations each, after ${warmup} warm-up operations on every path; ` +
      `baseline = bare process frame round trip + bare isolate->host->isolate async call; ` +
      `firstBatchUs = the first ${per} APDUs after the host is ready, before warm-up; ` +
      `start times are medians of ${samples}, nodeStartMs = spawn of a bare node child (same flags, stdio, env) to its first frame on fd 3`,
  };
}
