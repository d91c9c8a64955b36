import { describe, expect, it } from 'vitest';
import {
  MAX_WIRE_DEPTH,
  MAX_WIRE_NODES,
  ProtocolError,
  validateHostToKernel,
  validateKernelToHost,
  validateRequestArgs,
  validateWireValue,
} from '../../../platform/wire/validate.js';

const init = {
  t: 'init',
  domain: 'sesam-vitale',
  script: 'function main() {}',
  filename: 'sesam-vitale/applet.js',
  limits: { memoryMb: 64, cpuMsPerCall: 100, wallMsPerCall: 1000 },
  clockGranularityMs: 100,
};

function fails(f: () => unknown, message: string | RegExp): void {
  let caught: unknown;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  expect((caught as Error).message).toMatch(message);
}

describe('validateKernelToHost', () => {
  it('accepts the three kernel messages', () => {
    expect(validateKernelToHost(init)).toEqual(init);
    const call = { t: 'call', id: 1, handler: 'onCardInserted', args: [{ slot: 0, cardClass: 'vitale', atr: '3B' }] };
    expect(validateKernelToHost(call)).toEqual(call);
    expect(validateKernelToHost({ t: 'reply', id: 2 ** 31 - 1, ok: true, value: new Uint8Array([1]) })).toEqual({
      t: 'reply', id: 2 ** 31 - 1, ok: true, value: new Uint8Array([1]),
    });
    expect(validateKernelToHost({ t: 'reply', id: 3, ok: false, error: { code: 'E_LEASE', message: 'no' } })).toMatchObject({ ok: false });
    // msgpack carries undefined; an explicitly undefined optional field counts as absent.
    expect(validateKernelToHost({ t: 'reply', id: 3, ok: true, value: undefined })).toEqual({ t: 'reply', id: 3, ok: true });
  });

  it('names the bad field', () => {
    fails(() => validateKernelToHost({ ...init, limits: { ...init.limits, memoryMb: 4 } }), 'init.limits.memoryMb: expected an integer in 8..8192');
    fails(() => validateKernelToHost({ ...init, extra: 1 }), 'init.extra: unexpected field');
    fails(() => validateKernelToHost({ t: 'call', id: 1, handler: 'main', args: [{ a: [1, () => 1] }] }), 'call.args[0].a[1]: expected a wire value, got function');
    fails(() => validateKernelToHost({ t: 'call', id: 1, handler: 'evil', args: [] }), /^call\.handler: expected one of main/);
    fails(() => validateKernelToHost({ t: 'call', id: 0, handler: 'main', args: [] }), 'call.id: expected an integer id in 1..2^31-1');
    fails(() => validateKernelToHost({ t: 'call', id: 2 ** 31, handler: 'main', args: [] }), 'call.id');
    fails(() => validateKernelToHost({ t: 'call', id: '1', handler: 'main', args: [] }), 'call.id');
    fails(() => validateKernelToHost({ t: 'reply', id: 1, ok: true, error: { code: 'E', message: '' } }), 'reply.error: must be absent');
    fails(() => validateKernelToHost({ t: 'reply', id: 1, ok: false, value: 1, error: { code: 'E', message: '' } }), 'reply.value: must be absent');
    fails(() => validateKernelToHost({ t: 'reply', id: 1, ok: false, error: { code: 'not a code!', message: '' } }), 'reply.error.code');
    fails(() => validateKernelToHost({ t: 'req', id: 1, op: 'log', args: {} }), 'message.t: expected one of init, call, reply');
    fails(() => validateKernelToHost([]), 'message: expected object, got array');
    fails(() => validateKernelToHost(null), 'message: expected object, got null');
  });

  it('refuses prototype tricks, accessors, proxies and non-plain objects without running them', () => {
    let ran = false;
    const getter = { t: 'reply', id: 1, ok: true };
    Object.defineProperty(getter, 'value', { enumerable: true, get: () => ((ran = true), 1) });
    fails(() => validateKernelToHost(getter), 'reply.value: accessor properties are not allowed');
    const proxy = new Proxy({ t: 'reply', id: 1, ok: true }, { getPrototypeOf: () => ((ran = true), Object.prototype) });
    fails(() => validateKernelToHost(proxy), 'message: expected object');
    expect(ran).toBe(false);
    const polluted = JSON.parse('{"t":"reply","id":1,"ok":true,"value":{"__proto__":{"x":1}}}') as unknown;
    fails(() => validateKernelToHost(polluted), 'reply.value.__proto__: forbidden key');
    fails(() => validateKernelToHost({ t: 'reply', id: 1, ok: true, value: { prototype: 1 } }), 'reply.value.prototype: forbidden key');
    fails(() => validateKernelToHost({ t: 'reply', id: 1, ok: true, value: new Map() }), 'reply.value: expected a plain object');
    fails(() => validateKernelToHost({ t: 'reply', id: 1, ok: true, value: new Uint16Array(1) }), 'reply.value: expected a plain object');
    fails(() => validateKernelToHost({ t: 'reply', id: 1, ok: true, value: Object.create({ inherited: 1 }) }), 'reply.value: expected a plain object');
    fails(() => validateKernelToHost({ t: 'reply', id: 1, ok: true, value: { [Symbol('s')]: 1 } }), 'symbol keys');
    fails(() => validateKernelToHost({ t: 'reply', id: 1, ok: true, value: 10n }), 'got bigint');
    // eslint-disable-next-line no-sparse-arrays
    fails(() => validateKernelToHost({ t: 'reply', id: 1, ok: true, value: [1, , 3] }), 'reply.value: array with holes');
    fails(() => validateKernelToHost({ t: 'reply', id: 1, ok: true, value: Object.assign([1], { extra: 2 }) }), 'reply.value: array with holes or extra');
  });

  it('limits depth to 32 and size to 10 000 values', () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_WIRE_DEPTH; i++) deep = [deep];
    expect(() => validateWireValue(deep)).not.toThrow();
    fails(() => validateWireValue([deep]), `nested deeper than ${MAX_WIRE_DEPTH}`);
    expect(() => validateWireValue(new Array(MAX_WIRE_NODES - 1).fill(0))).not.toThrow();
    fails(() => validateWireValue(new Array(MAX_WIRE_NODES).fill(0)), `more than ${MAX_WIRE_NODES} values`);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    fails(() => validateWireValue(cyclic), 'nested deeper');
  });
});

describe('validateHostToKernel', () => {
  it('accepts the host messages', () => {
    for (const m of [
      { t: 'ready', handlers: ['main', 'onIntent'] },
      { t: 'req', id: 1, op: 'lease.transmit', args: { token: 't', apdu: new Uint8Array([0, 0xb0, 0, 0]) } },
      { t: 'result', id: 1, ok: true, value: { a: [1, 'b', null, true] } },
      { t: 'result', id: 1, ok: true },
      { t: 'result', id: 1, ok: false, error: { code: 'E_APPLET', message: 'x' } },
      { t: 'breach', kind: 'cpu', detail: 'loop', callId: 3 },
      { t: 'breach', kind: 'memory', detail: 'oom' },
      { t: 'fatal', detail: 'x' },
    ]) {
      expect(validateHostToKernel(m)).toEqual(m);
    }
  });

  it('names the bad field', () => {
    fails(() => validateHostToKernel({ t: 'req', id: 1, op: 'lease.transmit', args: { token: 't', apdu: [0, 0xb0] } }), 'req.args.apdu: expected Uint8Array');
    fails(() => validateHostToKernel({ t: 'req', id: 1, op: 'fs.read', args: {} }), /^req\.op: expected one of slots\.acquire/);
    fails(() => validateHostToKernel({ t: 'ready', handlers: ['main', 'main'] }), 'ready.handlers[1]: duplicate handler');
    fails(() => validateHostToKernel({ t: 'ready', handlers: ['require'] }), 'ready.handlers[0]: expected one of');
    fails(() => validateHostToKernel({ t: 'breach', kind: 'boredom', detail: '' }), 'breach.kind');
    fails(() => validateHostToKernel(init), 'message.t');
  });
});

describe('validateRequestArgs', () => {
  it('checks each op against its shape', () => {
    expect(() => validateRequestArgs('slots.acquire', { slot: 0, timeoutMs: 100 })).not.toThrow();
    fails(() => validateRequestArgs('slots.acquire', { slot: 0.5 }), 'req.args.slot: expected an integer');
    fails(() => validateRequestArgs('slots.list', { x: 1 }), 'req.args.x: unexpected field');
    expect(() => validateRequestArgs('pin.verify', { token: 't', reference: 1, format: 'bcd-ff', prompt: 'Code' })).not.toThrow();
    fails(() => validateRequestArgs('pin.verify', { token: 't', reference: 1, format: 'raw' }), 'req.args.format: expected one of ascii-ff, bcd-ff, emv-plaintext');
    fails(() => validateRequestArgs('pin.verify', { reference: 1, format: 'bcd-ff' }), 'req.args.token: missing field');
    expect(() => validateRequestArgs('ui.show', { screen: { lines: ['a'], keys: ['OK'] } })).not.toThrow();
    fails(() => validateRequestArgs('ui.ask', { question: { text: 'q', choices: 'yes' } }), 'req.args.question.choices: expected array');
    expect(() => validateRequestArgs('store.transaction', { ops: [{ op: 'put', key: 'a', value: 1 }, { op: 'delete', key: 'b' }] })).not.toThrow();
    fails(() => validateRequestArgs('store.transaction', { ops: [{ op: 'drop', key: 'a' }] }), "req.args.ops[0].op: expected 'put' or 'delete'");
    fails(() => validateRequestArgs('store.transaction', { ops: [{ op: 'delete', key: 'a', value: 1 }] }), 'req.args.ops[0].value: unexpected field');
    fails(() => validateRequestArgs('intents.request', { target: 'payment', payload: { amount: 1 } }), 'req.args.payload.action: expected string');
    fails(() => validateRequestArgs('crypto.digest', { alg: 'MD5', data: new Uint8Array() }), 'req.args.alg');
    fails(() => validateRequestArgs('crypto.random', { n: 1e9 }), 'req.args.n');
    fails(() => validateRequestArgs('log', { level: 'info', message: 'm', fields: [1] }), 'req.args.fields: expected object');
  });
});
