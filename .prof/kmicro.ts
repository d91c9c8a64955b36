import { Router } from '../platform/kernel/router.js';
import { slotOps } from '../platform/kernel/capabilities/slots.js';
import { createSlotBroker, DEFAULT_BROKER_OPTIONS } from '../platform/slot-broker/index.js';
import { EmulatedDriver } from '../platform/slot-broker/drivers/emulated.js';
import { EmulatedReader } from '../emulator/reader/reader.js';
import { createCard } from '../emulator/cards/profiles.js';
import { benchPolicy, ECHO_APDU } from '../bench/platform.js';
import { encodeFrame, FrameDecoder } from '../platform/wire/frames.js';
import { validateHostToKernel } from '../platform/wire/validate.js';
const policy = benchPolicy();
const reader = new EmulatedReader({ slots: 2 });
const broker = createSlotBroker(new EmulatedDriver(reader), { ...DEFAULT_BROKER_OPTIONS, routes: policy.cardClasses.map((cardClass) => ({ domain: 'bench', cardClass })) });
await broker.start();
reader.insert(0, createCard('test-card'));
await new Promise((r) => setTimeout(r, 20));
const lease = await broker.acquire('bench', 0, 1000);
const ops = slotOps({ broker } as any);
const router = new Router({ ops: ops as any, deadlineMs: () => 30_000, redact: (s) => s });
router.attach('bench', { ...policy, domain: 'bench' } as any);
const dec = new FrameDecoder(1 << 20);
const frame = encodeFrame({ t: 'req', id: 1, op: 'lease.transmit', args: { token: lease.token, apdu: ECHO_APDU } });
let id = 1;
const one = () => new Promise<void>((resolve) => {
  const f = Buffer.from(frame); f.writeUInt32BE(0, 0); const msg = validateHostToKernel(dec.push(frame)[0]) as any; msg.id = id++;
  router.dispatch('bench', msg, (_id, r) => { if (!r.ok) throw new Error(JSON.stringify(r)); encodeFrame({ t: 'reply', id: _id, ...r } as any); resolve(); });
});
const mode = process.argv[2] ?? 'full';
const one2 = mode === 'broker' ? () => broker.transmit('bench', lease.token, ECHO_APDU).then(() => undefined) : mode === 'reader' ? () => reader.transmit(0, ECHO_APDU).then(() => undefined) : one;
for (let i = 0; i < 5000; i++) await one2();
for (let k = 0; k < 3; k++) {
  const N = 50000; const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await one2();
  console.log(mode, (Number(process.hrtime.bigint() - t0) / N / 1000).toFixed(2), 'us/APDU');
}
process.exit(0);
