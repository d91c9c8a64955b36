/** Fuzzing of the host frames and message validators: only FrameError / ProtocolError, ever (FUZZ-03). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { FrameDecoder, FrameError, encodeFrame } from '../../../platform/wire/frames.js';
import { ProtocolError, validateHostToKernel, validateKernelToHost } from '../../../platform/wire/validate.js';
import { FUZZ_TIMEOUT, fuzzParams } from './budget.js';

const okKinds = (e: unknown) => e instanceof FrameError || e instanceof ProtocolError;

/** Structurally near-valid host messages: right shapes, random fields and values. */
const wireish = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 20 }), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 4 })),
})).v;
const nearHost = fc.oneof(
  fc.record({ t: fc.constant('ready'), handlers: fc.array(fc.oneof(fc.constantFrom('main', 'onStart', 'onIntent', 'onCardInserted', 'x'), wireish), { maxLength: 6 }) }),
  fc.record({ t: fc.constant('req'), id: fc.oneof(fc.integer(), fc.double(), fc.string()), op: fc.constantFrom('slots.acquire', 'lease.transmit', 'store.put', 'log', 'pin.verify', 'nope'), args: fc.oneof(wireish, fc.dictionary(fc.constantFrom('slot', 'token', 'apdu', 'key', 'value', 'level', 'message', 'fields', 'timeoutMs'), wireish)) }),
  fc.record({ t: fc.constant('result'), id: fc.oneof(fc.integer(), fc.string()), ok: fc.oneof(fc.boolean(), wireish), value: wireish, error: fc.oneof(wireish, fc.record({ code: fc.string(), message: fc.string() })) }, { requiredKeys: ['t'] }),
  fc.record({ t: fc.constantFrom('breach', 'fatal', 'init', 'call', 'x'), kind: fc.oneof(fc.constantFrom('cpu', 'wall', 'memory'), wireish), detail: wireish, reason: wireish }, { requiredKeys: ['t'] }),
  wireish,
);

describe('fuzz: host frames and messages', () => {
  it('[FUZZ-03] random byte streams into the frame decoder: decoded values or FrameError only', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }), (chunks) => {
        const d = new FrameDecoder(64 * 1024);
        try {
          for (const c of chunks) for (const m of d.push(Buffer.from(c))) {
            try { validateHostToKernel(m); } catch (e) { expect(okKinds(e)).toBe(true); }
          }
        } catch (e) {
          expect(e).toBeInstanceOf(FrameError);
        }
      }),
      fuzzParams(),
    );
  }, FUZZ_TIMEOUT);

  it('[FUZZ-03] near-valid host messages, framed and split at random: accepted only if they re-validate, else ProtocolError', () => {
    fc.assert(
      fc.property(nearHost, fc.nat(), (msg, cut) => {
        let frame: Buffer;
        try {
          frame = Buffer.concat([Buffer.alloc(4), pack(msg)]);
          frame.writeUInt32BE(frame.length - 4, 0);
        } catch {
          return;
        }
        const d = new FrameDecoder(64 * 1024);
        const at = frame.length > 1 ? 1 + (cut % (frame.length - 1)) : 1;
        let out: unknown[] = [];
        try {
          out = [...d.push(frame.subarray(0, at)), ...d.push(frame.subarray(at))];
        } catch (e) {
          expect(e).toBeInstanceOf(FrameError);
          return;
        }
        for (const m of out) {
          for (const v of [validateHostToKernel, validateKernelToHost]) {
            try {
              const ok = v(m);
              // Accepted: it must survive a round trip through the codec and validate again.
              const back = new FrameDecoder(64 * 1024).push(encodeFrame(ok))[0];
              expect(() => v(back)).not.toThrow();
            } catch (e) {
              expect(okKinds(e)).toBe(true);
            }
          }
        }
      }),
      fuzzParams(),
    );
  }, FUZZ_TIMEOUT);
});
