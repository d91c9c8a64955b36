import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKernel, PROBE_APPLET, buildHost, valueOf } from '../../fixtures/host/harness.js';

let host: { file: string; cleanup(): void };
beforeAll(async () => {
  host = await buildHost();
});
afterAll(() => host?.cleanup());

describe('host protocol', () => {
  it('answers init with ready listing the handlers, serves calls and exits 0 when fd 3 closes', async () => {
    const k = new FakeKernel(host.file);
    const ready = await k.init(`${PROBE_APPLET}\nasync function onIntent(r) { return { echo: r.payload } }\nvar onStart = 5;`);
    expect(ready).toEqual({ t: 'ready', handlers: ['main', 'onIntent'] });
    const r = await k.call('onIntent', [{ from: 'x', action: 'a', payload: { b: new Uint8Array([1, 2]) } }]);
    expect(r.ok).toBe(true);
    const v = r.value as { echo: { b: Uint8Array } };
    expect(v.echo.b).toBeInstanceOf(Uint8Array);
    expect([...v.echo.b]).toEqual([1, 2]);
    expect(valueOf(await k.call('main', ['return 1 + 1']))).toBe(2);
    expect(await k.close()).toEqual({ code: 0, signal: null });
    expect(k.violations).toEqual([]);
  });
});
