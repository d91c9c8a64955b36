import { apduRoundTrip } from '../bench/platform.js';
const per = Number(process.argv[2] ?? 2000);
const r = await apduRoundTrip(5, per);
console.log(JSON.stringify(r));
