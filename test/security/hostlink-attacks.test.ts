/**
 * Attacks on the TLA host link (platform/kernel/hostlink): a computer that is not paired, a wrong
 * or guessed code, a relay between the computer and the device, replayed codes, malformed frames,
 * operations no policy grants, a second domain claiming the link, and a connection flood. After
 * each, the device still serves its paired computer and the domain still answers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr/pack';
import { bootDev, applet, until, type DevKernel } from '../support/dev-kernel.js';
import { TestHostClient, CLOSED, HOST_APPLET, hostPolicy, appletCalls } from '../support/hostlink-client.js';
import { createSelfSignedIdentity, type SelfSignedIdentity } from '../../platform/kernel/hostlink/identity.js';
import { computePairProofs } from '../../platform/kernel/hostlink/proof.js';
import type { HostLinkService } from '../../platform/kernel/hostlink/service.js';
import { checkPolicySet, PolicyError } from '../../platform/kernel/policy/loader.js';
import { Kernel } from '../../platform/kernel/kernel.js';
import { defaultConfig } from '../../platform/kernel/config.js';
import { HOSTLINK_MAX_FRAME_BYTES, type HostResponse } from '../../platform/wire/hostlink.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

type Failure = Extract<HostResponse, { ok: false }>;
const failure = (r: unknown): Failure => {
  expect(r).not.toBe(CLOSED);
  const f = r as HostResponse;
  expect(f.ok).toBe(false);
  return f as Failure;
};

const frame = (body: Uint8Array): Buffer => {
  const b = Buffer.alloc(4 + body.length);
  b.writeUInt32BE(body.length, 0);
  Buffer.from(body).copy(b, 4);
  return b;
};
// The host link's own codec, but able to encode what a hostile computer would (dates, undefined).
const packr = new Packr({ useRecords: false, structuredClone: false, moreTypes: false, mapsAsObjects: true, bundleStrings: false, encodeUndefinedAsNil: false });

describe('TLA host link attacks', () => {
  let dk: DevKernel;
  let hl: HostLinkService;
  let port: number;
  let paired: TestHostClient;
  let stranger: SelfSignedIdentity;

  const auditText = (): string => readFileSync(join(dk.dataDir, 'audit.log'), 'utf8');

  /** The paired computer and the domain still work. */
  async function stillServes(): Promise<void> {
    const c = await TestHostClient.connect(port);
    const n = await appletCalls(dk);
    expect(await c.request('identify')).toMatchObject({ ok: true, result: { deviceId: hl.deviceId } });
    expect(await c.request('data.load', { day: '2030-01-02' })).toMatchObject({ ok: true, result: { day: '2030-01-02' } });
    expect(await appletCalls(dk)).toBe(n + 1);
    c.close();
  }

  beforeAll(async () => {
    dk = await bootDev([applet(hostPolicy(), HOST_APPLET)], { hostLink: { enabled: true, host: '127.0.0.1', port: 0 } });
    hl = dk.kernel.hostLink!;
    port = hl.address().port;
    await until(() => dk.kernel.handlers.get('alpha')?.includes('onHostRequest'), 10_000, 'alpha ready');
    stranger = await createSelfSignedIdentity('stranger');
    paired = await TestHostClient.connect(port);
    const { code } = hl.beginPairing();
    expect((await paired.pair(code)).ok).toBe(true);
    paired.close();
  });
  afterAll(async () => {
    await dk?.close();
  });

  it('[TLA-01] an unpaired computer gets E_UNPAIRED and nothing else: no data, no clock change, the domain never called', async () => {
    const before = await appletCalls(dk);
    const offset = dk.kernel.clock.offsetMs;
    for (const [op, args] of [
      ['identify', {}],
      ['data.load', { day: '2030-01-01' }],
      ['fse.unload', {}],
      ['date.set', { now: Date.UTC(2040, 0, 1) }],
      ['date.get', {}],
    ] as const) {
      const c = await TestHostClient.connect(port, stranger);
      const r = failure(await c.request(op, args));
      expect(r.error.code).toBe('E_UNPAIRED');
      expect(r).not.toHaveProperty('result');
      expect(await c.next()).toBe(CLOSED);
    }
    // No certificate at all: same.
    const anon = await TestHostClient.connect(port, null);
    expect(failure(await anon.request('identify')).error.code).toBe('E_UNPAIRED');
    expect(await appletCalls(dk)).toBe(before);
    expect(dk.kernel.clock.offsetMs).toBe(offset);
  });

  it('[TLA-02] a wrong code is refused; three wrong proofs void the code even if the fourth is right', async () => {
    const c = await TestHostClient.connect(port, stranger);
    const { code } = hl.beginPairing();
    const wrong = code === '00000000' ? '11111111' : '00000000';
    const r1 = failure(await c.pair(wrong));
    expect(r1.error.code).toBe('E_PAIRING');
    expect(r1.error.message).toMatch(/2 tries left/);
    expect(failure(await c.pair(wrong)).error.message).toMatch(/1 try left/);
    expect(failure(await c.pair(wrong)).error.message).toMatch(/void/);
    const r4 = failure(await c.pair(code));
    expect(r4.error.code).toBe('E_PAIRING');
    expect(hl.paired().some((p) => p.fingerprint === c.hostFingerprint)).toBe(false);
    // Still unpaired: anything else closes the link.
    expect(failure(await c.request('identify')).error.code).toBe('E_UNPAIRED');
    const log = auditText();
    expect(log).toContain('"hostlink.pair.refused"');
    expect(log).not.toContain(code);
  });

  it('[TLA-03] a relay (proof bound to another device certificate) is refused, and the code counts the try', async () => {
    const c = await TestHostClient.connect(port, stranger);
    const { code } = hl.beginPairing();
    // The computer talks to a relay whose certificate it sees instead of the device's.
    const relay = await createSelfSignedIdentity('relay');
    const { certFingerprint } = await import('../../platform/kernel/hostlink/proof.js');
    const r = failure(await c.pair(code, 'Cabinet', certFingerprint(relay.certDer)));
    expect(r.error.code).toBe('E_PAIRING');
    expect(hl.paired().some((p) => p.fingerprint === c.hostFingerprint)).toBe(false);
    // Proof for the right device but computed by another computer's certificate: refused too.
    const other = await createSelfSignedIdentity('other computer');
    const { hostProof } = await computePairProofs(code, hl.fingerprint, certFingerprint(other.certDer));
    expect(failure(await c.request('pair', { hostName: 'Cabinet', hostProof })).error.code).toBe('E_PAIRING');
    hl.cancelPairing();
    c.close();
  });

  it('[TLA-04] no pairing open, a cancelled code, or a code already used: E_PAIRING', async () => {
    const c = await TestHostClient.connect(port, stranger);
    hl.cancelPairing();
    const none = failure(await c.pair('12345678'));
    expect(none.error).toMatchObject({ code: 'E_PAIRING' });
    expect(none.error.message).toMatch(/no pairing is open/);
    // A used code: the first computer pairs, a second one replays the same code.
    const first = await TestHostClient.connect(port, await createSelfSignedIdentity('first'));
    const { code } = hl.beginPairing();
    expect((await first.pair(code)).ok).toBe(true);
    expect(failure(await c.pair(code)).error.code).toBe('E_PAIRING');
    // A cancelled one.
    const { code: code2 } = hl.beginPairing();
    hl.cancelPairing();
    expect(failure(await c.pair(code2)).error.code).toBe('E_PAIRING');
    expect(hl.paired().some((p) => p.fingerprint === c.hostFingerprint)).toBe(false);
    expect(hl.unpair(first.hostFingerprint)).toBe(true);
    first.close();
    c.close();
  });

  it('[TLA-05] malformed frames are answered E_FRAME naming what is wrong, the link closed; the device still serves', async () => {
    const cases: Array<{ what: string; bytes: Buffer; field?: string; match: RegExp }> = [
      { what: 'garbage msgpack', bytes: frame(Uint8Array.from([0xc1, 0xc1, 0xc1])), match: /undecodable|frame/ },
      { what: 'length prefix over the limit', bytes: Buffer.from([0x7f, 0xff, 0xff, 0xff]), match: new RegExp(`exceeds the ${HOSTLINK_MAX_FRAME_BYTES}-byte limit`) },
      { what: 'array instead of an object', bytes: frame(packr.pack([1, 1, 'identify', {}])), field: 'request', match: /expected an object/ },
      { what: 'id negative', bytes: frame(packr.pack({ v: 1, id: -1, op: 'identify', args: {} })), field: 'id', match: /request\.id/ },
      { what: 'id over uint32', bytes: frame(packr.pack({ v: 1, id: 2 ** 32, op: 'identify', args: {} })), field: 'id', match: /request\.id/ },
      { what: 'id not an integer', bytes: frame(packr.pack({ v: 1, id: 1.5, op: 'identify', args: {} })), field: 'id', match: /request\.id/ },
      { what: 'extra field', bytes: frame(packr.pack({ v: 1, id: 7, op: 'identify', args: {}, admin: true })), field: 'admin', match: /request\.admin: unexpected field/ },
      { what: 'wrong version', bytes: frame(packr.pack({ v: 2, id: 7, op: 'identify', args: {} })), field: 'v', match: /request\.v/ },
      { what: 'op not a string', bytes: frame(packr.pack({ v: 1, id: 7, op: 3, args: {} })), field: 'op', match: /request\.op/ },
      { what: 'args an array', bytes: frame(packr.pack({ v: 1, id: 7, op: 'identify', args: [] })), field: 'args', match: /request\.args: must be an object/ },
      { what: 'args a string', bytes: frame(packr.pack({ v: 1, id: 7, op: 'identify', args: 'x' })), field: 'args', match: /request\.args/ },
      { what: 'a Date in args', bytes: frame(packr.pack({ v: 1, id: 7, op: 'data.load', args: { day: new Date(0) } })), field: 'args', match: /request\.args\.day/ },
      { what: 'undefined in args', bytes: frame(packr.pack({ v: 1, id: 7, op: 'data.load', args: { day: undefined } })), field: 'args', match: /request\.args\.day/ },
      // { x: <fixext1 type 5> }: an extension msgpack decoders would hand to a registered codec.
      { what: 'unknown msgpack extension', bytes: frame(Uint8Array.from([0x84, 0xa1, 0x76, 0x01, 0xa2, 0x69, 0x64, 0x07, 0xa2, 0x6f, 0x70, 0xa8, ...Buffer.from('identify'), 0xa4, ...Buffer.from('args'), 0x81, 0xa1, 0x78, 0xd4, 0x05, 0x00])), match: /extension/i },
      { what: 'empty body', bytes: Buffer.from([0, 0, 0, 0]), match: /empty body/ },
    ];
    const before = await appletCalls(dk);
    const c0 = await TestHostClient.connect(port);
    for (const k of cases) {
      const c = await TestHostClient.connect(port); // the paired computer: malformed is malformed, paired or not
      c.writeRaw(k.bytes);
      const r = failure(await c.next());
      expect(r.error.code, k.what).toBe('E_FRAME');
      expect(r.error.message, k.what).toMatch(k.match);
      if (k.field) expect(r.error.field, k.what).toBe(k.field);
      expect(await c.next(), `${k.what}: link closed`).toBe(CLOSED);
    }
    expect(await appletCalls(dk)).toBe(before);
    c0.close();
    // Well-formed but wrong arguments of a kernel op: E_REQUEST naming the field, link kept.
    const c = await TestHostClient.connect(port);
    expect(failure(await c.request('date.set', { now: 'tomorrow' })).error).toMatchObject({ code: 'E_REQUEST', field: 'now' });
    expect(failure(await c.request('pair', { hostName: 'x\u0000y', hostProof: new Uint8Array(32) })).error).toMatchObject({ code: 'E_REQUEST', field: 'hostName' });
    expect(failure(await c.request('pair', { hostName: 'ok', hostProof: new Uint8Array(31) })).error).toMatchObject({ code: 'E_REQUEST', field: 'hostProof' });
    expect((await c.request('identify')).ok).toBe(true);
    c.close();
    await stillServes();
  });

  it('[TLA-06] an operation no policy grants is E_OP and never reaches the domain', async () => {
    const c = await TestHostClient.connect(port);
    const before = await appletCalls(dk);
    for (const op of ['erase', 'beneficiaries.unload', 'shell.exec', 'onAction', '__proto__']) {
      const r = failure(await c.request(op, {}));
      expect(r.error.code, op).toBe('E_OP');
    }
    expect(await appletCalls(dk)).toBe(before);
    // The link stays usable (E_OP is an answer, not a protocol fault).
    expect((await c.request('fse.unload', {})).ok).toBe(true);
    c.close();
  });

  it('[TLA-07] a second policy claiming the host link is refused at load, naming both domains', async () => {
    let err: unknown;
    try {
      checkPolicySet([hostPolicy('alpha'), hostPolicy('beta', ['erase'])]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).field).toBe('/hostLink');
    expect((err as PolicyError).message).toMatch(/"beta"/);
    expect((err as PolicyError).message).toMatch(/"alpha"/);
    // And a kernel given both does not boot them.
    const dataDir = mkdtempSync(join(tmpdir(), 'di-tla-'));
    try {
      await expect(
        Kernel.boot({ config: defaultConfig(dataDir), devApplets: [applet(hostPolicy('alpha'), HOST_APPLET), applet(hostPolicy('beta', ['erase']), HOST_APPLET)] }),
      ).rejects.toThrow(/host link/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('[TLA-08] a connection flood gets E_BUSY beyond 4 links, a second request on a busy link E_BUSY; then it serves again', async () => {
    await until(() => hl.status().connections === 0, 5000, 'earlier links closed');
    const links = await Promise.all([0, 1, 2, 3].map(() => TestHostClient.connect(port)));
    const fifth = await TestHostClient.connect(port);
    const r = failure(await fifth.next());
    expect(r.error.code).toBe('E_BUSY');
    expect(r.id).toBeNull();
    expect(await fifth.next()).toBe(CLOSED);
    // One link, two requests at once: the second is refused while the first runs.
    const l = links[0]!;
    l.send({ v: 1, id: 100, op: 'fse.unload', args: { slowMs: 400 } });
    l.send({ v: 1, id: 101, op: 'identify', args: {} });
    const a = (await l.next()) as HostResponse;
    const b = (await l.next()) as HostResponse;
    expect(a).toMatchObject({ id: 101, ok: false, error: { code: 'E_BUSY' } });
    expect(b).toMatchObject({ id: 100, ok: true });
    for (const x of links) x.close();
    await until(() => hl.status().connections === 0, 5000, 'links closed');
    await stillServes();
  });
});
