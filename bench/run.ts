/** `di bench`: platform figures as ratios against baselines measured in the same run. */
import { processRoundTripUs, isolateCallUs, directCardUs, nodeStartMs } from './baselines.js';
import { apduRoundTrip, coldStartMs, warmStartMs, ECHO_APDU } from './platform.js';
import { createCard } from '../emulator/cards/profiles.js';
import { exchangeTiming } from '../emulator/reader/timing.js';
import { runBillingBench, type BillingFigures } from './billing.js';

import { DEFAULT_SIGNATURE_MS as CPS_SIGNATURE_MS } from '../emulator/cards/models/cps/card.js';

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
  /** Card time from the reader's timing model for the same echo APDU, beside the platform's own time. */
  cardTime: { echoMsAt9600: number; echoMsAt115200: number; platformShareAt9600: number; platformShareAt115200: number; cpsSignatureMs: number };
  /** SESAM-Vitale (issue 4): platform time per FSE beside card time, lot and AMO rates against a bare pkijs verify loop. */
  billing: BillingFigures;
  targets: { apduRoundTripRatio: number; coldStartMs: number; hostRssMb: number; fsePlatformShare: number };
  met: { apduRoundTripRatio: boolean; coldStartMs: boolean; hostRssMb: boolean; fsePlatformShare: boolean };
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
  const billing = await runBillingBench({ quick: Boolean(opts.quick) });
  const baselineUs = proc + iso;
  // Modelled, not slept: the timing model's arithmetic for the echo APDU (16 data bytes each way).
  const echoAt = (bps: number) => exchangeTiming(ECHO_APDU.length, 16 + 2, 0, bps, 1).totalMs;
  const share = (cardMs: number) => apdu.medianUs / 1000 / (apdu.medianUs / 1000 + cardMs);
  const ratio = apdu.medianUs / baselineUs;
  const targets = { apduRoundTripRatio: 1.5, coldStartMs: 150, hostRssMb: 80, fsePlatformShare: billing.targets.fsePlatformShare };
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
    cardTime: {
      echoMsAt9600: r(echoAt(9600)),
      echoMsAt115200: r(echoAt(115200)),
      platformShareAt9600: Math.round(share(echoAt(9600)) * 10000) / 10000,
      platformShareAt115200: Math.round(share(echoAt(115200)) * 10000) / 10000,
      cpsSignatureMs: CPS_SIGNATURE_MS,
    },
    billing,
    targets,
    met: { apduRoundTripRatio: ratio <= targets.apduRoundTripRatio, coldStartMs: cold <= targets.coldStartMs, hostRssMb: apdu.rssMb <= targets.hostRssMb, fsePlatformShare: billing.met.fsePlatformShare },
    method:
      `median of ${rounds} batch means of ${per} operations each, after ${warmup} warm-up operations on every path; ` +
      `baseline = bare process frame round trip + bare isolate->host->isolate async call; ` +
      `firstBatchUs = the first ${per} APDUs after the host is ready, before warm-up; ` +
      `start times are medians of ${samples}, nodeStartMs = spawn of a bare node child (same flags, stdio, env) to its first frame on fd 3`,
  };
}
