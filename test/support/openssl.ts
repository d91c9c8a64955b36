/**
 * openssl as an independent verifier in tests. It is required, not optional: .ci/run installs it
 * (Debian's openssl) and every Debian machine has it; a missing binary fails the tests that need it
 * with the reason, instead of skipping them.
 */
import { execFileSync } from 'node:child_process';

export function assertOpenssl(): void {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error('these tests check our signatures with openssl, which is not on PATH: apt-get install openssl');
  }
}

/** Runs openssl; never throws: `ok` is its exit status, `out` its stdout and stderr. */
export function openssl(args: string[], opts: { cwd?: string } = {}): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts }) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}
