/**
 * A private pcscd for tests, with vsmartcard's vpcd as its reader driver.
 *
 * pcscd 1.9 has a fixed socket (/run/pcscd/pcscd.comm) and vpcd fixed ports in the system reader.conf,
 * so two test files (or a developer's own pcscd) would collide. Each instance here runs in its own
 * mount namespace (`unshare --mount`, root) with a private directory bound over /run/pcscd and its
 * own reader.conf on free ports; clients in this process reach it through PCSCLITE_CSOCK_NAME, which
 * libpcsclite reads once per process (so one socket directory per test process, reused on restart).
 * A start lock (a file created with O_EXCL) keeps two processes from picking the same ports.
 *
 * What is missing is reported by `pcscDeps()`; `gateOnDeps()` turns it into a loud skip, or into a
 * failure when DI_REQUIRE_SYSTEM_DEPS=1 (CI installs everything).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPcscBinding, type PcscBinding } from '../../platform/slot-broker/drivers/pcsc.js';

export { gateOnDeps } from './system-deps.js';

export const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';
export const READER_PREFIX = 'Virtual PCD';

export interface PcscDeps {
  /** Human-readable list of what is missing (empty when all is there). */
  missing: string[];
  binding: PcscBinding | null;
  hasPcscScan: boolean;
}

function commandWorks(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 5000 });
  return r.error === undefined;
}

let depsPromise: Promise<PcscDeps> | null = null;

/** What the PC/SC tests need, checked once per process. */
export function pcscDeps(): Promise<PcscDeps> {
  depsPromise ??= (async () => {
    const missing: string[] = [];
    if (!commandWorks('pcscd', ['--version'])) missing.push('pcscd (apt-get install pcscd)');
    if (!existsSync(VPCD_DRIVER)) missing.push(`vpcd reader driver ${VPCD_DRIVER} (apt-get install vsmartcard-vpcd)`);
    if (process.getuid?.() !== 0) missing.push('root privileges (the tests start a private pcscd in its own mount namespace)');
    if (!commandWorks('unshare', ['--version'])) missing.push('unshare (util-linux)');
    let binding: PcscBinding | null = null;
    try {
      binding = await loadPcscBinding();
    } catch (e) {
      missing.push(`the smartcard binding: ${(e as Error).message}`);
    }
    const hasPcscScan = commandWorks('pcsc_scan', ['-V']);
    return { missing, binding, hasPcscScan };
  })();
  return depsPromise;
}


// ---- ports and the start lock ----

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '0.0.0.0', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Two consecutive free ports (vpcd slot 0 and 1), away from the stock 35963/35964. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const base = 41000 + Math.floor(Math.random() * 9000) * 2;
    if ((await portFree(base)) && (await portFree(base + 1))) return base;
  }
  throw new Error('no two consecutive free TCP ports found for vpcd');
}

const LOCK = join(tmpdir(), 'di-test-pcscd.lock');

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function withStartLock<T>(f: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch {
      let holder = NaN;
      try {
        holder = Number(readFileSync(LOCK, 'utf8'));
      } catch {
        continue;
      }
      // A lock left by a process that died is taken over.
      if (!Number.isInteger(holder) || !pidAlive(holder)) {
        try {
          unlinkSync(LOCK);
        } catch {
          // Someone else took it over first; try again.
        }
        continue;
      }
      if (Date.now() > deadline) throw new Error(`pcscd start lock ${LOCK} held by pid ${holder} for over 20 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await f();
  } finally {
    try {
      if (readFileSync(LOCK, 'utf8') === String(process.pid)) unlinkSync(LOCK);
    } catch {
      // Already gone.
    }
  }
}

// ---- the daemon ----

export interface PrivatePcscd {
  /** pcscd's socket (also put in process.env.PCSCLITE_CSOCK_NAME). */
  socketPath: string;
  /** vpcd port of slot 0; slot 1 is basePort + 1. */
  basePort: number;
  /** Reader names pcscd gives the two vpcd slots. */
  readers: [string, string];
  /** Env for child processes (pcsc_scan) to reach this pcscd. */
  env: NodeJS.ProcessEnv;
  /** pcscd's own log so far (debug level info). */
  log(): string;
  /** Stop pcscd (keeping the socket directory and ports for a restart). */
  stop(): Promise<void>;
  /** Start pcscd again on the same socket and ports (pcscd restart). */
  restart(): Promise<void>;
  /** Stop and remove everything. */
  dispose(): Promise<void>;
}

/** One socket directory per process: libpcsclite reads PCSCLITE_CSOCK_NAME only once. */
let processDir: string | null = null;

export async function startPrivatePcscd(): Promise<PrivatePcscd> {
  if (processDir === null) processDir = mkdtempSync(join(tmpdir(), 'di-pcscd-'));
  const dir = mkdtempSync(join(processDir, 'i-'));
  const runDir = join(dir, 'run');
  const confDir = join(dir, 'reader.conf.d');
  mkdirSync(runDir);
  mkdirSync(confDir);
  const socketPath = join(runDir, 'pcscd.comm');
  const logFile = join(dir, 'pcscd.log');
  if (process.env.PCSCLITE_CSOCK_NAME !== undefined && process.env.PCSCLITE_CSOCK_NAME !== socketPath && processSocketUsed) {
    throw new Error('a private pcscd was already used in this process with another socket; libpcsclite cannot switch');
  }

  let child: ChildProcess | null = null;
  let basePort = 0;

  const launch = async (): Promise<void> => {
    writeFileSync(logFile, '');
    const script =
      'mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd || exit 97\n' +
      // pcscd runs as a child of this shell; when the test process dies, stdin closes and pcscd is stopped.
      'pcscd --foreground --info --config "$2" >>"$3" 2>&1 &\n' +
      'p=$!\n' +
      'read _ignored\n' +
      'kill "$p" 2>/dev/null\n' +
      'wait "$p"\n';
    const c = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'pcscd-ns', runDir, confDir, logFile], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child = c;
    const deadline = Date.now() + 10_000;
    while (!readFileSync(logFile, 'utf8').includes('daemon ready')) {
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`private pcscd exited at start (code ${String(c.exitCode)}): ${stderr}${readFileSync(logFile, 'utf8')}`);
      }
      if (Date.now() > deadline) throw new Error(`private pcscd not ready within 10 s: ${readFileSync(logFile, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const halt = async (): Promise<void> => {
    const c = child;
    child = null;
    if (c === null || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.stdin?.end('\n');
    const timer = setTimeout(() => {
      // pcscd did not stop on SIGTERM: kill it by the pid it wrote, then its shell.
      try {
        const pid = Number(readFileSync(join(runDir, 'pcscd.pid'), 'utf8'));
        if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        // No pid file: pcscd is gone already.
      }
      c.kill('SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
  };

  await withStartLock(async () => {
    basePort = await freePortPair();
    writeFileSync(
      join(confDir, 'vpcd'),
      `FRIENDLYNAME "${READER_PREFIX}"\nDEVICENAME   /dev/null:0x${basePort.toString(16)}\nLIBPATH      ${VPCD_DRIVER}\nCHANNELID    0x${basePort.toString(16)}\n`,
    );
    await launch();
  });
  process.env.PCSCLITE_CSOCK_NAME = socketPath;
  processSocketUsed = true;

  return {
    socketPath,
    basePort,
    readers: [`${READER_PREFIX} 00 00`, `${READER_PREFIX} 00 01`],
    env: { ...process.env, PCSCLITE_CSOCK_NAME: socketPath },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    stop: halt,
    restart: async () => {
      await halt();
      await launch();
    },
    dispose: async () => {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let processSocketUsed = false;

// ---- loopback delayed ACKs ----

/**
 * vpcd (3.3) writes each frame's 2-byte length and its payload in two send() calls, without
 * TCP_NODELAY: the payload waits under Nagle for the ACK of the length, which our side delays
 * (~40 ms). TCP_NODELAY on the card's socket cannot help that direction, and Node has no
 * TCP_QUICKACK; a route with `quickack 1` to a loopback address nothing else uses does. Returns the
 * address to connect to and an undo, or null when `ip` fails (not root, no iproute2).
 */
export function enableLoopbackQuickAck(address = '127.77.0.1'): { host: string; undo(): void } | null {
  const args = ['route', 'replace', 'local', `${address}/32`, 'dev', 'lo', 'table', 'local', 'quickack', '1'];
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 5000 });
  if (r.error !== undefined || r.status !== 0) return null;
  return {
    host: address,
    undo: () => {
      spawnSync('ip', ['route', 'del', 'local', `${address}/32`, 'dev', 'lo', 'table', 'local'], { stdio: 'ignore', timeout: 5000 });
    },
  };
}
