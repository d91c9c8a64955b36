import ivm from 'isolated-vm';
const isolate = new ivm.Isolate({ memoryLimit: 32 });
const context = await isolate.createContext();
const fn = await context.evalClosure(`return (a,b,c,d,e,f,g) => undefined;`, [], { result: { reference: true } });
const N = 20000;
const u = new Uint8Array(18).fill(1);
for (const variant of ['noargs', 'u8', 'u8-await']) {
  let t0 = process.hrtime.bigint(); let sync = 0n;
  for (let i = 0; i < N; i++) {
    const s = process.hrtime.bigint();
    const p = variant === 'noargs' ? fn.apply(undefined, [], {}) : fn.apply(undefined, ['settle', i, true, true, u, null, null], { arguments: { copy: true } });
    sync += process.hrtime.bigint() - s;
    if (variant === 'u8-await' || i % 100 === 99) await p; else p.catch(()=>{});
  }
  console.log(variant, 'sync us/call', Number(sync) / N / 1000, 'total us/call', Number(process.hrtime.bigint() - t0) / N / 1000);
}
isolate.dispose();
