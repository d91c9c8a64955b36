/**
 * Attacks on the mail transports and on package grants, from where an attacker stands: an applet
 * in its sandbox calling platform.net with hostile messages (SMTP header and command injection,
 * reading the mailbox credentials out of an error), and an applet author packing code that imports
 * what applet.json does not grant.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applet, bootDev, devPolicy, until, type DevKernel } from '../support/dev-kernel.js';
import { packApplet } from '../../platform/kernel/packages/pack.js';
import { loadOrCreateDevSigner } from '../../platform/kernel/packages/keys.js';
import { evidence } from './evidence.js';

type R = Record<string, unknown>;

const ATTACKER = `
globalThis.main = async () => {
  const out = {};
  const base = { type: 'mail', from: 'ps@cabinet.test', to: ['amo@amo.test'], subject: 'x', messageId: '<a@cabinet.test>', text: 't', attachments: [] };
  const tries = {
    crlfRecipient: { ...base, to: ['amo@amo.test\\r\\nRCPT TO:<evil@x.test>'] },
    headerInSubject: { ...base, subject: 'x\\r\\nBcc: evil@x.test' },
    twoAddresses: { ...base, to: ['a@amo.test,b@amo.test'] },
    pathAsFilename: { ...base, attachments: [{ filename: '../../etc/passwd', contentType: 'text/plain', content: new Uint8Array(1) }] },
    smuggledField: { ...base, bcc: ['evil@x.test'] },
  };
  for (const [k, m] of Object.entries(tries)) {
    try { await platform.net.send('smtp', m); out[k] = 'SENT'; } catch (e) { out[k] = { code: e.code, message: e.message }; }
  }
  try { await platform.net.fetch('pop3', { type: 'list' }); out.pop3 = 'LISTED'; } catch (e) { out.pop3 = { code: e.code, message: e.message }; }
  return out;
};`;

describe('mail transports attacked from the sandbox', () => {
  let dk: DevKernel;
  let smtp: SMTPServer;
  let pop3: Server;
  let smtpConnections = 0;
  let smtpPort = 0;
  let pop3Port = 0;
  const SECRET = 'Tr0ub4dor-mailbox';

  beforeAll(async () => {
    smtp = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'], onConnect: (_s, cb) => (smtpConnections++, cb()), onData: (s, _sess, cb) => s.on('end', () => cb()).resume() });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    smtpPort = (smtp.server.address() as { port: number }).port;
    // A mailbox that refuses every password.
    pop3 = createServer((s: Socket) => {
      s.write('+OK ready\r\n');
      s.on('data', (d: Buffer) => {
        const line = d.toString();
        if (line.startsWith('USER')) s.write('+OK\r\n');
        else if (line.startsWith('PASS')) s.write('-ERR [AUTH] invalid password\r\n');
        else if (line.startsWith('QUIT')) s.end('+OK bye\r\n');
      });
    });
    await new Promise<void>((r) => pop3.listen(0, '127.0.0.1', () => r()));
    pop3Port = (pop3.address() as { port: number }).port;
    const policy = devPolicy('mailer', {
      network: {
        endpoints: [
          { name: 'smtp', kind: 'smtp', host: '127.0.0.1', port: smtpPort },
          { name: 'pop3', kind: 'pop3', host: '127.0.0.1', port: pop3Port },
        ],
      },
    });
    dk = await bootDev([applet(policy, ATTACKER)], { mailbox: { user: 'cabinet-secret-user', password: SECRET } });
    await until(() => dk.kernel.handlers.get('mailer'), 15_000, 'mailer ready');
  }, 60_000);

  afterAll(async () => {
    await dk?.close();
    await new Promise<void>((r) => smtp.close(() => r()));
    await new Promise<void>((r) => pop3.close(() => r()));
  });

  it('[AMB-04] header and command injection through net.send is refused E_ARGS by the kernel before any connection', async (ctx) => {
    const out = (await dk.kernel.call('mailer', 'main')) as R;
    evidence(ctx, 'results', out);
    for (const k of ['crlfRecipient', 'headerInSubject', 'twoAddresses', 'pathAsFilename', 'smuggledField']) {
      expect(out[k], k).toMatchObject({ code: 'E_ARGS' });
    }
    expect(String((out.crlfRecipient as R).message)).toMatch(/to\[0\] must be a plain address/);
    expect(String((out.headerInSubject as R).message)).toMatch(/subject/);
    expect(String((out.pathAsFilename as R).message)).toMatch(/filename/);
    expect(smtpConnections).toBe(0);
  });

  it('[AMB-05] a refused mailbox login tells the applet so, without the account name or password', async (ctx) => {
    const out = (await dk.kernel.call('mailer', 'main')) as R;
    const pop = out.pop3 as R;
    evidence(ctx, 'pop3 error', pop);
    expect(pop).toMatchObject({ code: 'E_NET' });
    expect(String(pop.message)).toMatch(/authentication refused/);
    expect(String(pop.message)).not.toContain(SECRET);
    expect(String(pop.message)).not.toContain('cabinet-secret-user');
  });
});

describe('package grants', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'di-sec-grants-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const make = (name: string, packages: unknown, code: string) => {
    const dir = join(work, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'applet.json'), JSON.stringify({ id: 'hello', version: '1.0.0', domain: 'hello', entry: 'main.ts', policy: resolve('test/fixtures/policies/hello.json'), ...(packages === undefined ? {} : { packages }) }));
    writeFileSync(join(dir, 'main.ts'), code);
    return dir;
  };

  it('[PKG-07] an undeclared npm package, or a Node built-in even when declared, is refused at packing', async (ctx) => {
    const signer = await loadOrCreateDevSigner(join(work, 'data'));
    const pack = (dir: string) => packApplet({ dir, outDir: join(work, 'out'), signer }).then(() => 'PACKED', (e: Error) => e.message);
    const undeclared = await pack(make('undeclared', undefined, "import * as p from 'pkijs';\n(globalThis as any).main = async () => typeof p;\n"));
    const builtin = await pack(make('builtin', ['child_process'], "import { execSync } from 'child_process';\n(globalThis as any).main = async () => String(execSync('id'));\n"));
    const nodePrefix = await pack(make('node-prefix', ['node:fs'], "import { readFileSync } from 'node:fs';\n(globalThis as any).main = async () => readFileSync('/etc/shadow', 'utf8');\n"));
    evidence(ctx, 'refusals', { undeclared, builtin, nodePrefix });
    expect(undeclared).toMatch(/"pkijs" .*is a package the applet does not declare/);
    expect(builtin).toMatch(/"child_process" .*is a Node built-in/);
    // "node:fs" is not even a valid package name to declare.
    expect(nodePrefix).toMatch(/applet\.json: \/packages: must be an array of npm package names/);
  });
});
