/**
 * The running terminal's local control socket: how `di status` (and other local tools) reach a
 * kernel started by `di start` without a second kernel opening the same stores. A Unix socket in the
 * data directory, mode 0600 (the device's operator only), one JSON request per line, one JSON answer
 * per line. It exposes only what the console does: kernel status and policy-listed applet actions
 * (kernel.action enforces the policy, exactly as for the terminal's own keys).
 */
import { createConnection, createServer, type Server } from 'node:net';
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Kernel } from '../platform/kernel/kernel.js';
import type { WireValue } from '../platform/wire/messages.js';

export const CONTROL_SOCKET = 'di.sock';
const MAX_LINE = 1 << 20;

export type ControlRequest = { op: 'kernel.status' } | { op: 'action'; domain: string; action: string; payload: { [k: string]: unknown } };
export type ControlAnswer = { ok: true; result: unknown } | { ok: false; error: string };

export function controlPath(dataDir: string): string {
  return join(dataDir, CONTROL_SOCKET);
}

function parseRequest(line: string): ControlRequest {
  const v = JSON.parse(line) as unknown;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('request must be a JSON object');
  const r = v as Record<string, unknown>;
  if (r.op === 'kernel.status') return { op: 'kernel.status' };
  if (r.op === 'action') {
    if (typeof r.domain !== 'string' || typeof r.action !== 'string') throw new Error('action needs string "domain" and "action"');
    const payload = r.payload ?? {};
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new Error('"payload" must be a JSON object');
    return { op: 'action', domain: r.domain, action: r.action, payload: payload as { [k: string]: unknown } };
  }
  throw new Error(`unknown op ${JSON.stringify(r.op)} (known: kernel.status, action)`);
}

/** Bytes do not survive JSON: shown as hex strings, as the console does. */
function toJson(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return v.map(toJson);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return v;
}

export async function serveControl(kernel: Kernel, dataDir: string): Promise<Server> {
  const path = controlPath(dataDir);
  // A socket file left by a killed terminal: nobody answers on it any more.
  if (existsSync(path) && !(await answers(path))) rmSync(path, { force: true });
  const server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE) {
        sock.end(JSON.stringify({ ok: false, error: `request longer than ${MAX_LINE} bytes` }) + '\n');
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void handle(kernel, line).then((a) => sock.write(JSON.stringify(a) + '\n'));
      }
    });
  });
  // Created 0600 from the start (umask), not chmod-ed after: no window where another user connects.
  const umask = process.umask(0o077);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
  server.unref();
  return server;
}

async function handle(kernel: Kernel, line: string): Promise<ControlAnswer> {
  try {
    const req = parseRequest(line);
    if (req.op === 'kernel.status') return { ok: true, result: kernel.status() };
    const result: WireValue = await kernel.action(req.domain, req.action, req.payload);
    return { ok: true, result: toJson(result) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** One request to the terminal running on `dataDir`; null when no terminal answers there. */
export async function askControl(dataDir: string, req: ControlRequest, timeoutMs = 30_000): Promise<ControlAnswer | null> {
  const path = controlPath(dataDir);
  if (!existsSync(path)) return null;
  return new Promise((resolve) => {
    const s = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ ok: false, error: `the terminal did not answer within ${timeoutMs} ms` });
    }, timeoutMs);
    s.setEncoding('utf8');
    s.once('connect', () => s.write(JSON.stringify(req) + '\n'));
    s.on('data', (c: string) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      s.destroy();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as ControlAnswer);
      } catch {
        resolve({ ok: false, error: 'the terminal sent an unreadable answer' });
      }
    });
    s.once('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}
