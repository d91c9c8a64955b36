/** `di bench`: platform figures as ratios against baselines measured in the same run. */
import { processRoundTripUs, isolateCallUs, directCardUs } from './baselines.js';
import { apduRoundTrip, coldStartMs, ECHO_APDU } from './platform.js';
import { createCard } from '../emulator/cards/profiles.js';

export interface BenchResult {
  apduRoundTrip: { medianUs: number; baselineUs: number; ratio: number; processRoundTripUs: number; isolateCallUs: number; directCardUs: number };
  coldStartMs: number;
  hostRssMb: number;
  targets: { apduRoundTripRatio: number; coldStartMs: number; hostRssMb: number };
  met: { apduRoundTripRatio: boolean; coldStartMs: boolean; hostRssMb: boolean };
  method: string;
}

export async function runBench(opts: { quick?: boolean } = {}): Promise<BenchResult> {
  const rounds = opts.quick ? 3 : 9;
  const per = opts.quick ? 100 : 500;
  const proc = await processRoundTripUs(rounds, per);
  const iso = await isolateCallUs(rounds, per);
  const direct = await directCardUs(createCard('test-card'), ECHO_APDU, rounds, per);
  const apdu = await apduRoundTrip(rounds, per);
  const cold = await coldStartMs(opts.quick ? 3 : 10);
  const baselineUs = proc + iso;
  const ratio = apdu.medianUs / baselineUs;
  const targets = { apduRoundTripRatio: 1.5, coldStartMs: 150, hostRssMb: 80 };
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    apduRoundTrip: { medianUs: r(apdu.medianUs), baselineUs: r(baselineUs), ratio: r(ratio), processRoundTripUs: r(proc), isolateCallUs: r(iso), directCardUs: r(direct) },
    coldStartMs: r(cold),
    hostRssMb: r(apdu.rssMb),
    targets,
    met: { apduRoundTripRatio: ratio <= targets.apduRoundTripRatio, coldStartMs: cold <= targets.coldStartMs, hostRssMb: apdu.rssMb <= targets.hostRssMb },
    method: `median of ${rounds} batch means of ${per} operations each; baseline = bare process frame round trip + bare isolate->host->isolate async call`,
  };
}
