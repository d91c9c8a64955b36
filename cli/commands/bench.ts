/** `di bench [--json]`: benchmarks as ratios against same-run baselines (never bare absolute targets). */
import type { Command } from 'commander';
import { runBench } from '../../bench/run.js';

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('measure the APDU round trip, host cold start, host memory and the SESAM-Vitale billing figures against baselines measured in the same run')
    .option('--json', 'print the figures as JSON')
    .option('--quick', 'fewer samples (smoke run)')
    .action(async (o: { json?: boolean; quick?: boolean }) => {
      const r = await runBench({ quick: Boolean(o.quick) });
      if (o.json) {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      const a = r.apduRoundTrip;
      const mark = (ok: boolean) => (ok ? 'ok ' : 'MISS');
      console.log(`APDU round trip   ${a.medianUs} µs  = ${a.ratio} x baseline ${a.baselineUs} µs (process ${a.processRoundTripUs} + isolate ${a.isolateCallUs}); direct card call ${a.directCardUs} µs   [${mark(r.met.apduRoundTripRatio)} target <= ${r.targets.apduRoundTripRatio}]`);
      console.log(`  first ${'500'} APDUs after start: ${a.firstBatchUs} µs each (${a.firstBatchRatio} x baseline, before V8 has optimised the path)`);
      console.log(`host cold start   ${r.coldStartMs} ms  = ${r.coldStartRatio} x bare node start ${r.nodeStartMs} ms   [${mark(r.met.coldStartMs)} target <= ${r.targets.coldStartMs}]`);
      console.log(`host warm start   ${r.warmStartMs} ms   (from the pre-spawned spare host: restarts and new domains)`);
      console.log(`host RSS          ${r.hostRssMb} MB   [${mark(r.met.hostRssMb)} target <= ${r.targets.hostRssMb}]`);
      const c = r.cardTime;
      console.log(`card time (model) echo APDU ${c.echoMsAt9600} ms at 9600 bps, ${c.echoMsAt115200} ms at 115200 bps; platform share ${(c.platformShareAt9600 * 100).toFixed(2)} % / ${(c.platformShareAt115200 * 100).toFixed(2)} %; CPS signature ${c.cpsSignatureMs} ms on the card`);
      console.log(r.method);
      const b = r.billing;
      console.log(`FSE platform time ${b.fse.platformMs} ms  beside card time ${b.fse.cardMsAt9600} ms at 9600 bps (timing model, ${b.fse.apdus} APDUs) = ${(b.fse.ratio * 100).toFixed(2)} %   [${mark(r.met.fsePlatformShare)} target <= ${(r.targets.fsePlatformShare * 100).toFixed(0)} %]`);
      console.log(`  CPS read + PIN + Vitale read + fse.create: wall ${b.fse.wallMs} ms, of which ${b.fse.cardModelMs} ms inside the card models (the emulator's own CPU, taken out)`);
      console.log(`lot build + sign  ${b.lot.invoicesPerSecond} invoices/s  = ${b.lot.ratio} x bare pkijs verify ${b.baseline.verifyPerSecond} /s   (transmit of ${b.lot.invoicesPerLot} FSEs in ${b.lot.transmitMs} ms, lot CMS ${b.lot.lotCmsBytes} bytes)`);
      console.log(`AMO processing    ${b.amo.invoicesPerSecond} invoices/s  = ${b.amo.ratio} x bare pkijs verify ${b.baseline.verifyPerSecond} /s   (${b.amo.invoicesPerFile} invoices in ${b.amo.processMs} ms; ${b.amo.verifiesPerInvoice} signature checks per invoice)`);
      console.log(b.method);
    });
}
