/**
 * kernel.action end to end (kernel -> host -> isolate onAction): only the names a policy lists in
 * ui.actions reach the applet, the payload must be plain wire data within the domain's message
 * limit, the domain holds the screen for the length of the call, and the audit keeps the action
 * name but never the payload.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, applet, devPolicy, until, type DevKernel } from '../support/dev-kernel.js';
import { KernelError } from '../../platform/kernel/errors.js';
import { PolicyError, loadPolicyFile, validatePolicy } from '../../platform/kernel/policy/loader.js';
import { repoRoot } from '../../platform/kernel/paths.js';
import { SmtpTransport } from '../../platform/kernel/transports/smtp.js';
import { Pop3Transport } from '../../platform/kernel/transports/pop3.js';

const ALPHA = `
let calls = 0;
globalThis.onAction = async (req) => {
  calls++;
  if (req.action === 'calls') return { calls };
  if (req.action === 'fse.create') return { got: req.action, echo: req.payload, keys: Object.keys(req.payload) };
  if (req.action === 'ask') {
    const a = await platform.ui.ask({ title: 'Question', text: 'Continuer ?', choices: ['Oui', 'Non'], timeoutMs: 10000 });
    return { choice: a.choice };
  }
  if (req.action === 'boom') throw new Error('refus du module');
  return null;
};
`;
// A domain that runs but defines no onAction handler.
const BETA = `globalThis.main = async () => 1;`;

const MARKER = 'NIR-1840575123456-SECRET';

async function rejection(p: Promise<unknown>): Promise<KernelError> {
  const e = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KernelError);
  return e as KernelError;
}

describe('kernel.action -> onAction', () => {
  let dk: DevKernel;
  beforeAll(async () => {
    dk = await bootDev([
      applet(
        devPolicy('alpha', {
          ui: { foreground: true, pinEntry: false, actions: ['calls', 'fse.create', 'ask', 'boom', 'missing-in-applet'] },
          limits: { ...devPolicy('alpha').limits, maxMessageBytes: 4096 },
        }),
        ALPHA,
      ),
      applet(devPolicy('beta', { ui: { foreground: true, pinEntry: false, actions: ['status'] } }), BETA),
    ]);
    await until(() => dk.kernel.handlers.get('alpha')?.includes('onAction') && dk.kernel.handlers.get('beta'), 15_000, 'hosts ready');
  });
  afterAll(async () => dk?.close());

  const calls = async () => ((await dk.kernel.action('alpha', 'calls', {})) as { calls: number }).calls;

  it('runs an allowed action and returns the applet result, payload intact', async () => {
    const payload = { nir: MARKER, acts: [{ code: 'G', qty: 1 }], raw: new Uint8Array([1, 2, 3]), degraded: false, none: null };
    const r = await dk.kernel.action('alpha', 'fse.create', payload);
    expect(r).toEqual({ got: 'fse.create', echo: payload, keys: ['nir', 'acts', 'raw', 'degraded', 'none'] });
  });

  it('refuses an unlisted action with E_POLICY, and the applet is never called', async () => {
    const before = await calls();
    const e = await rejection(dk.kernel.action('alpha', 'transmit', { x: 1 }));
    expect(e.code).toBe('E_POLICY');
    expect(e.message).toMatch(/"transmit".*not among the actions its policy lists in ui\.actions/);
    // 'calls' itself counts one: nothing ran in between.
    expect(await calls()).toBe(before + 1);
  });

  it('refuses a payload that is not a plain object of wire values, or too large, with E_ARGS', async () => {
    const before = await calls();
    const bad: unknown[] = [null, 'text', 42, [1, 2], new Uint8Array(2), { when: new Date(0) }, { f: () => 1 }, { u: undefined }, { big: 'x'.repeat(5000) }];
    for (const p of bad) {
      const e = await rejection(dk.kernel.action('alpha', 'fse.create', p));
      expect(e.code, String(p)).toBe('E_ARGS');
      expect(e.message).toMatch(/payload must be a plain object of wire values/);
    }
    expect(await calls()).toBe(before + 1);
  });

  it('E_UNAVAILABLE for an unknown domain and for a domain without onAction', async () => {
    expect((await rejection(dk.kernel.action('nobody', 'status', {}))).code).toBe('E_UNAVAILABLE');
    const e = await rejection(dk.kernel.action('beta', 'status', {}));
    expect(e.code).toBe('E_UNAVAILABLE');
    expect(e.message).toMatch(/handles no actions/);
  });

  it('the domain holds the foreground during the call and gives it back after', async () => {
    expect(dk.kernel.terminal.foreground()).toBeNull();
    const p = dk.kernel.action('alpha', 'ask', {});
    await until(() => dk.kernel.terminal.current().question !== null, 10_000, 'question on screen');
    expect(dk.kernel.terminal.foreground()).toBe('alpha');
    expect(dk.kernel.terminal.current().domain).toBe('alpha');
    expect(dk.kernel.terminal.answer(1)).toBe(true);
    expect(await p).toEqual({ choice: 1 });
    expect(dk.kernel.terminal.foreground()).toBeNull();
  });

  it('an applet that throws gives E_APPLET, and the screen is released', async () => {
    const e = await rejection(dk.kernel.action('alpha', 'boom', {}));
    expect(e.code).toBe('E_APPLET');
    expect(dk.kernel.terminal.foreground()).toBeNull();
  });

  it('audits ui.action with the action name only, never the payload', async () => {
    const entries = dk.kernel.audit.entriesSince(0).filter((e) => e.event.startsWith('ui.action'));
    expect(entries.some((e) => e.event === 'ui.action' && e.domain === 'alpha' && e.fields.action === 'fse.create')).toBe(true);
    expect(entries.some((e) => e.event === 'ui.action.refused' && e.fields.action === 'transmit' && e.fields.code === 'E_POLICY')).toBe(true);
    for (const e of entries) expect(Object.keys(e.fields).sort()).toEqual(e.event === 'ui.action' ? ['action'] : ['action', 'code']);
    expect(JSON.stringify(dk.kernel.audit.entriesSince(0))).not.toContain(MARKER);
  });
});

describe('ui.actions in policies', () => {
  const file = join(repoRoot(), 'policies', 'sesam-vitale.json');
  const json = () => JSON.parse(readFileSync(file, 'utf8')) as { ui: Record<string, unknown> };

  it('the sesam-vitale policy lists its terminal actions', () => {
    expect(loadPolicyFile(file).ui.actions).toEqual([
      'session.state', 'situation.select', 'beneficiary.select', 'fse.create', 'fse.degraded', 'fse.correct', 'fse.secure',
      'fse.duplicate', 'fse.pay', 'transmit', 'returns.fetch', 'status', 'visits.list', 'tla.release',
    ]);
  });

  it('refuses a repeated action and a malformed action name, naming the field', () => {
    const dup = json();
    dup.ui.actions = ['status', 'fse.pay', 'status'];
    expect(() => validatePolicy(dup, 'dup.json')).toThrow(PolicyError);
    expect(() => validatePolicy(dup, 'dup.json')).toThrow(/\/ui\/actions\/\d: repeats the item/);
    const bad = json();
    bad.ui.actions = ['Fse.Create'];
    expect(() => validatePolicy(bad, 'bad.json')).toThrow(/\/ui\/actions\/0: must be an action name/);
  });

  it('an omitted ui.actions grants no action', async () => {
    const p = json();
    delete p.ui.actions;
    expect(validatePolicy(p, 'none.json').ui.actions ?? []).toEqual([]);
  });
});

describe('an action reading the mailbox through the kernel pop3 transport', () => {
  let dk: DevKernel;
  let server: Server;
  const seen: string[] = [];
  const RAW = ['From: amo-019999999@amo.test', 'Subject: DI-SV ARL F1 L1', 'Message-ID: <arl-1@amo.test>', 'Date: Tue, 03 Jun 2025 10:15:00 +0000', '', 'ARL positif', ''].join('\r\n');

  beforeAll(async () => {
    // The smallest POP3 mailbox: one message, the kernel's default credentials.
    server = createServer((s) => {
      s.on('error', () => undefined);
      s.write('+OK ready\r\n');
      let buf = '';
      s.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        let i: number;
        while ((i = buf.indexOf('\r\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          seen.push(line);
          if (line === 'USER cabinet' || line === 'PASS cabinet-test') s.write('+OK\r\n');
          else if (line.startsWith('USER') || line.startsWith('PASS')) s.write('-ERR no\r\n');
          else if (line === 'UIDL') s.write('+OK\r\n1 arl-1\r\n.\r\n');
          else if (line === 'LIST 1') s.write(`+OK 1 ${RAW.length}\r\n`);
          else if (line === 'RETR 1') s.write(`+OK\r\n${RAW}.\r\n`);
          else if (line === 'QUIT') s.end('+OK\r\n');
          else s.write('-ERR\r\n');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const script = `
globalThis.onAction = async (req) => {
  const m = await platform.net.fetch('amo-pop3', { type: 'retrieve', uid: req.payload.uid });
  return { subject: m.subject, from: m.from, text: m.text, bytes: m.attachments.length };
};`;
    dk = await bootDev([
      applet(
        devPolicy('gamma', {
          ui: { foreground: true, pinEntry: false, actions: ['returns.fetch'] },
          network: { endpoints: [{ name: 'amo-pop3', kind: 'pop3', host: '127.0.0.1', port }] },
        }),
        script,
      ),
    ]);
    await until(() => dk.kernel.handlers.get('gamma')?.includes('onAction'), 15_000, 'host ready');
  });
  afterAll(async () => {
    await dk?.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('the kernel registers the smtp and pop3 transports, logging in with config.mailbox', async () => {
    expect(dk.kernel.transports.get('smtp')).toBeInstanceOf(SmtpTransport);
    expect(dk.kernel.transports.get('pop3')).toBeInstanceOf(Pop3Transport);
    const r = await dk.kernel.action('gamma', 'returns.fetch', { uid: 'arl-1' });
    expect(r).toEqual({ subject: 'DI-SV ARL F1 L1', from: 'amo-019999999@amo.test', text: 'ARL positif\n', bytes: 0 });
    expect(seen).toEqual(['USER cabinet', 'PASS cabinet-test', 'UIDL', 'LIST 1', 'RETR 1', 'QUIT']);
    // The audit knows the action and the endpoint, not the mailbox password.
    expect(JSON.stringify(dk.kernel.audit.entriesSince(0))).not.toContain('cabinet-test');
  });
});
