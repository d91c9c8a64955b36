/**
 * Domain host entry (dist/host.js). Spawned by the kernel as
 *   node --no-node-snapshot dist/host.js   with stdio ['ignore', 'pipe', 'pipe', 'pipe']
 * It speaks frames (wire/frames.ts) on fd 3 only, writes diagnostics to stderr, and exits when fd 3
 * closes. Exit codes: 0 pipe closed, 1 host crash, 3 protocol violation by the kernel, 4 fatal (sent
 * `fatal` first); SIGABRT after an isolated-vm catastrophic error.
 */
import net from 'node:net';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, encodeFrame } from '../wire/frames.js';
import type { HostToKernel } from '../wire/messages.js';
import { EXIT_CRASH, HostRuntime } from './runtime.js';
import { prepareExit } from './sandbox.js';

const FLUSH_TIMEOUT_MS = 500;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

const pipe = new net.Socket({ fd: 3, readable: true, writable: true });
const decoder = new FrameDecoder(DEFAULT_MAX_FRAME_BYTES);
let exiting = false;

function exit(code: number): void {
  if (exiting) return;
  exiting = true;
  pipe.pause();
  // Give frames already queued (a `fatal`, the last `result`) a chance to reach the kernel, but never
  // wait on a kernel that stopped reading.
  const timer = setTimeout(() => process.exit(code), FLUSH_TIMEOUT_MS);
  pipe.end(() => {
    clearTimeout(timer);
    process.exit(code);
  });
}

const runtime = new HostRuntime({
  send(msg: HostToKernel, maxFrameBytes: number): void {
    if (exiting) return;
    pipe.write(encodeFrame(msg, maxFrameBytes));
  },
  exit,
  log,
});

pipe.on('data', (chunk: Buffer) => {
  if (runtime.isDead) return;
  let messages: unknown[];
  try {
    messages = decoder.push(chunk);
  } catch (err) {
    runtime.protocolViolation(err instanceof Error ? err.message : String(err));
    return;
  }
  for (const msg of messages) {
    if (runtime.isDead) return;
    runtime.receive(msg);
  }
});
pipe.on('end', () => runtime.shutdown());
pipe.on('close', () => runtime.shutdown());
pipe.on('error', (err: Error) => {
  log(`host: pipe error: ${err.message}`);
  // The kernel is gone or the pipe is broken: nothing left to serve.
  runtime.shutdown();
});

function crash(what: string, err: unknown): void {
  log(`host: ${what}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  // A host bug leaves state we cannot vouch for: end the process and let the supervisor restart it.
  // (Live isolates must be disposed first or process.exit() can hang.)
  const hardStop = setTimeout(() => process.kill(process.pid, 'SIGKILL'), 2000);
  void prepareExit().then(() => {
    clearTimeout(hardStop);
    process.exit(EXIT_CRASH);
  });
}
process.on('uncaughtException', (err) => crash('uncaught exception', err));
process.on('unhandledRejection', (err) => crash('unhandled rejection', err));
