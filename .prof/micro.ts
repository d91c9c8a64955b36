import { encodeFrame, FrameDecoder } from '../platform/wire/frames.js';
import { validateHostToKernel, validateKernelToHost } from '../platform/wire/validate.js';
function bench(name: string, n: number, f: () => void) {
  for (let i = 0; i < n / 10; i++) f();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  console.log(name.padEnd(30), (Number(process.hrtime.bigint() - t0) / n / 1000).toFixed(2), 'us');
}
const apdu = new Uint8Array(22).fill(0x5a);
const token = 'ab'.repeat(32);
const req = { t: 'req', id: 12345, op: 'lease.transmit', args: { token, apdu } };
const reply = { t: 'reply', id: 12345, ok: true, value: new Uint8Array(18).fill(1) };
const N = 200000;
bench('encode req', N, () => encodeFrame(req));
bench('encode reply', N, () => encodeFrame(reply));
const fr = encodeFrame(req); const fp = encodeFrame(reply);
const dec = new FrameDecoder(1 << 20);
bench('decode req', N, () => dec.push(Buffer.from(fr)));
bench('decode reply', N, () => dec.push(Buffer.from(fp)));
const dreq = dec.push(Buffer.from(fr))[0]; const drep = dec.push(Buffer.from(fp))[0];
bench('validate req (decoded)', N, () => validateHostToKernel(dreq));
bench('validate req (host-made)', N, () => validateHostToKernel({ t: 'req', id: 1, op: 'lease.transmit', args: { token, apdu } }));
bench('validate reply', N, () => validateKernelToHost(drep));
bench('validate result', N, () => validateHostToKernel({ t: 'result', id: 1, ok: true, value: { n: 1, sw: 36864 } }));
bench('Error()', N, () => new Error('x'));
bench('AbortController', N, () => { const ac = new AbortController(); ac.signal.addEventListener('abort', () => 0, { once: true }); });
bench('setTimeout+clear', N, () => clearTimeout(setTimeout(() => 0, 1000)));
