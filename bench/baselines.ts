/**
 * Baselines measured in the same run as the platform figures, so ratios hold on any machine:
 * a bare frame round trip between two Node processes over the same kind of pipe, a bare
 * isolate -> host -> isolate async call, a direct call into the emulated card, and the start of a
 * bare Node child up to its first frame on fd 3.
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import ivm from 'isolated-vm';
import { encodeFrame, FrameDecoder } from '../platform/wire/frames.js';
import { repoRoot } from '../platform/kernel/paths.js';
import { median, medianOfBatches } from './stats.js';
import type { CardModel } from '../emulator/cards/card.js';

export async function processRoundTripUs(rounds: number, perBatch: number, warmup: number): Promise<number> {
  const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'bench-echo.js')], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'], env: {} });
  const pipe = child.stdio[3] as Socket;
  const decoder = new FrameDecoder(1 << 20);
  let waiter: (() => void) | null = null;
  pipe.on('data', (c: Buffer) => {
    for (const _ of decoder.push(c)) waiter?.();
  });
  const apdu = new Uint8Array(21).fill(0x42);
  const once = () =>
    new Promise<void>((r) => {
      waiter = r;
      pipe.write(encodeFrame({ t: 'req', id: 1, op: 'lease.transmit', args: { token: 'x'.repeat(64), apdu } }));
    });
  for (let i = 0; i < warmup; i++) await once();
  const us = await medianOfBatches(rounds, perBatch, async () => {
    for (let i = 0; i < perBatch; i++) await once();
  });
  pipe.end();
  child.kill();
  return us;
}

/**
 * isolate -> host -> isolate with the same primitives the domain host uses: the isolate fires an
 * "ignored" Callback, the host answers by applying a settle function held as a Reference.
 */
export async function isolateCallUs(rounds: number, perBatch: number, warmup: number): Promise<number> {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  const context = await isolate.createContext();
  let settle: ivm.Reference<(id: number, v: Uint8Array) => void> | null = null;
  const bridge = new ivm.Callback(
    (id: number, v: Uint8Array) => {
      settle?.apply(undefined, [id, v], { arguments: { copy: true } }).catch(() => undefined);
    },
    { ignored: true },
  );
  const fns = (await context.evalClosure(
    `const bridge = $0; const waiting = new Map(); let next = 1;
     const call = (v) => new Promise((resolve) => { const id = next++; waiting.set(id, resolve); bridge(id, v); });
     return {
       settle: (id, v) => { const r = waiting.get(id); waiting.delete(id); r(v); },
       run: async (n) => { const a = new Uint8Array(21); for (let i = 0; i < n; i++) await call(a); return n; },
     };`,
    [bridge],
    { result: { reference: true } },
  )) as unknown as ivm.Reference<{ settle: (id: number, v: Uint8Array) => void; run: (n: number) => Promise<number> }>;
  settle = (await fns.get('settle', { reference: true })) as ivm.Reference<(id: number, v: Uint8Array) => void>;
  const run = (await fns.get('run', { reference: true })) as ivm.Reference<(n: number) => Promise<number>>;
  await run.apply(undefined, [warmup], { result: { promise: true, copy: true } });
  const us = await medianOfBatches(rounds, perBatch, async () => {
    await run.apply(undefined, [perBatch], { result: { promise: true, copy: true } });
  });
  isolate.dispose();
  return us;
}

export async function directCardUs(card: CardModel, apdu: Uint8Array, rounds: number, perBatch: number): Promise<number> {
  return medianOfBatches(rounds, perBatch, async () => {
    for (let i = 0; i < perBatch; i++) card.process(apdu);
  });
}

/**
 * What Node itself costs before a host can do anything: spawn of a bare child with the host's flags
 * and the same stdio and environment, up to the first frame it answers on fd 3 (the echo child loads
 * node:net and the frame codec, nothing else). coldStartMs is read against this.
 */
export async function nodeStartMs(samples: number): Promise<number> {
  const times: number[] = [];
  const probe = encodeFrame({ t: 'req', id: 1, op: 'clock.now', args: {} });
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, ['--no-node-snapshot', join(repoRoot(), 'dist', 'bench-echo.js')], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: {} });
    const pipe = child.stdio[3] as Socket;
    const decoder = new FrameDecoder(1 << 20);
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`bench echo child exited (code ${code}) before answering`)));
      pipe.on('data', (c: Buffer) => {
        if (decoder.push(c).length > 0) resolve();
      });
      pipe.write(probe);
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const exited = new Promise((r) => child.once('exit', r));
    pipe.end();
    await exited;
  }
  return median(times);
}
