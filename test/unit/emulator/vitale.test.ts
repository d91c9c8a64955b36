import { constants, createHash, publicDecrypt, verify, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../platform/sdk/hex.js';
import { parseTlv, type TlvNode } from '../../../platform/sdk/tlv.js';
import type { CardModel } from '../../../emulator/cards/card.js';
import { loadCard } from '../../../emulator/cards/profiles.js';
import { CardProfileError, checkAllProfiles, listProfiles, profilesDir } from '../../../emulator/cards/registry.js';
import { loadOrCreatePki, type EmulatorPki } from '../../../emulator/cards/pki/index.js';
import { checkNir } from '../../../emulator/cards/models/vitale/nir.js';
import { parseVitaleProfile, type VitaleProfile } from '../../../emulator/cards/models/vitale/profile.js';
import { createVitaleCard, VitaleCard } from '../../../emulator/cards/models/vitale/card.js';
import { issueVitaleIdentity } from '../../../emulator/cards/models/vitale/model.js';
import { repoRoot } from '../../../platform/kernel/paths.js';
import { send } from './helpers.js';

const VITALE = 'D250000002564954414C45';
const MF_VITALE = 'D2500000024D465F564954414C45';
const PROFILES = ['vitale-assure-seul', 'vitale-famille-jumeaux', 'vitale-droits-expires', 'vitale-ald', 'vitale-amc-tiers-payant', 'vitale-nir-invalide'] as const;
type ProfileName = (typeof PROFILES)[number];

// The same cache the emulator uses, so keys are made once per checkout rather than once per run.
const keyDir = process.env.DI_EMULATOR_KEYS ?? join(repoRoot(), '.di-data', 'emulator-keys');

const cards = new Map<ProfileName, VitaleCard>();
let pki: EmulatorPki;

function profileJson(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(profilesDir(), `${name}.json`), 'utf8')) as Record<string, unknown>;
}

function card(name: ProfileName): VitaleCard {
  const c = cards.get(name);
  if (!c) throw new Error(`${name} not loaded`);
  c.reset();
  return c;
}

function selectAid(c: CardModel, aid: string): { data: string; sw: string } {
  return send(c, `00A40400${(aid.length / 2).toString(16).padStart(2, '0')}${aid}00`);
}

/** Send, then follow 61xx with GET RESPONSE as a reader would. */
function transceive(c: CardModel, apdu: string): { data: string; sw: string } {
  let r = send(c, apdu);
  let data = r.data;
  for (let i = 0; i < 64 && r.sw.startsWith('61'); i++) {
    r = send(c, `00C00000${r.sw.slice(2)}`);
    data += r.data;
  }
  return { data, sw: r.sw };
}

const ascii = (hex: string): string => String.fromCharCode(...fromHex(hex));

/** A template's primitive children as tag -> ASCII (constructed children kept apart). */
function fields(node: TlvNode): { text: Record<string, string>; raw: Record<string, string>; sub: Record<string, TlvNode> } {
  const text: Record<string, string> = {};
  const raw: Record<string, string> = {};
  const sub: Record<string, TlvNode> = {};
  for (const ch of node.children ?? []) {
    expect(text[ch.tagHex] ?? sub[ch.tagHex], `tag ${ch.tagHex} twice in ${node.tagHex}`).toBeUndefined();
    if (ch.constructed) sub[ch.tagHex] = ch;
    else {
      text[ch.tagHex] = ascii(toHex(ch.value));
      raw[ch.tagHex] = toHex(ch.value);
    }
  }
  return { text, raw, sub };
}

function only(bytesHex: string, tagHex: string): TlvNode {
  const nodes = parseTlv(fromHex(bytesHex));
  expect(nodes).toHaveLength(1);
  expect(nodes[0]!.tagHex).toBe(tagHex);
  return nodes[0]!;
}

function readBeneficiaries(c: CardModel): TlvNode[] {
  expect(selectAid(c, VITALE).sw).toBe('9000');
  const out: TlvNode[] = [];
  for (let n = 1; n < 20; n++) {
    const r = send(c, `00B2${n.toString(16).padStart(2, '0')}1400`);
    if (r.sw === '6A83') break;
    expect(r.sw).toBe('9000');
    out.push(only(r.data, '65'));
  }
  return out;
}

beforeAll(async () => {
  pki = await loadOrCreatePki(keyDir);
  for (const name of PROFILES) cards.set(name, (await loadCard(name, keyDir)) as VitaleCard);
}, 120_000);

describe('Vitale 2 selection and ATR', () => {
  it('answers an ATR starting 3B and SELECT for both AIDs', () => {
    const c = card('vitale-assure-seul');
    expect(c).toBeInstanceOf(VitaleCard);
    expect(c.kind).toBe('vitale-2');
    expect(toHex(c.reset()).slice(0, 2)).toBe('3B');
    for (const [aid, label] of [[VITALE, 'VITALE'], [MF_VITALE, 'MF_VITALE']] as const) {
      const r = selectAid(c, aid);
      expect(r.sw).toBe('9000');
      const fci = fields(only(r.data, '6F'));
      expect(fci.raw['84']).toBe(aid);
      expect(ascii(fields(fci.sub['A5']!).raw['50']!)).toBe(label);
    }
  });

  it('answers 6A82 for other applications (the broker probe)', () => {
    const c = card('vitale-assure-seul');
    expect(selectAid(c, 'E828BD080F8025000001FF0010').sw).toBe('6A82');
    expect(selectAid(c, 'A0000000041010').sw).toBe('6A82');
    expect(selectAid(c, 'D2500000025649544100').sw).toBe('6A82');
  });

  it('serves T=0 too: SELECT answers 61xx and GET RESPONSE the FCI', async () => {
    const json = { ...profileJson('vitale-assure-seul'), protocol: 'T=0' };
    const profile = parseVitaleProfile(json, 't0-variant');
    const c = createVitaleCard(profile, await issueVitaleIdentity(profile, { keyDir }));
    expect(c.protocol).toBe('T=0');
    expect(toHex(c.reset()).slice(0, 2)).toBe('3B');
    const r = selectAid(c, VITALE);
    expect(r.sw).toMatch(/^61/);
    const fci = send(c, `00C00000${r.sw.slice(2)}`);
    expect(fci.sw).toBe('9000');
    expect(fields(only(fci.data, '6F')).raw['84']).toBe(VITALE);
    const challenge = '0011223344556677';
    const sig = transceive(c, `0088000008${challenge}00`);
    expect(sig.sw).toBe('9000');
    expect(verify('sha256', fromHex(challenge), new X509Certificate(c.certificateDer).publicKey, fromHex(sig.data))).toBe(true);
    const cert = transceive(c, '00CA7F2100');
    expect(cert.sw).toBe('9000');
    expect(toHex(only(cert.data, '7F21').value)).toBe(toHex(c.certificateDer));
  });

  it('lists both applications in EF.DIR and identifies the card', () => {
    const c = card('vitale-famille-jumeaux');
    expect(selectAid(c, MF_VITALE).sw).toBe('9000');
    const aids: string[] = [];
    for (let n = 1; n <= 2; n++) {
      const r = send(c, `00B2${n.toString(16).padStart(2, '0')}F400`);
      expect(r.sw).toBe('9000');
      aids.push(fields(only(r.data, '61')).raw['4F']!);
    }
    expect(aids).toEqual([MF_VITALE, VITALE]);
    expect(send(c, '00B203F400').sw).toBe('6A83');
    const info = send(c, '00B0820000');
    expect(info.sw).toBe('9000');
    const f = fields(only(info.data, '73'));
    expect(f.text['80']).toBe('9900000002');
    expect(f.text['81']).toBe('VITALE 2');
    expect(f.text['82']).toBe('20220901');
    expect(f.text['83']).toBe('CPAM TEST DI');
    expect(f.raw['84']).toBe('01');
  });
});

describe('Vitale 2 data', () => {
  for (const name of PROFILES) {
    it(`${name}: the TLV read back parses strictly and carries every field of the profile`, () => {
      const c = card(name);
      const p = c.profile;
      expect(p).toEqual(profileJson(name));
      expect(selectAid(c, VITALE).sw).toBe('9000');
      // By SFI without SELECT, and by FID: same bytes.
      const bySfi = send(c, '00B0810000');
      expect(bySfi.sw).toBe('9000');
      expect(send(c, '00A4020C021001').sw).toBe('9000');
      expect(send(c, '00B0000000')).toEqual(bySfi);
      const insured = fields(only(bySfi.data, '64')).text;
      expect(insured).toEqual({ '93': p.insured.nir, '80': p.insured.regime, '81': p.insured.caisse, '82': p.insured.centre, '83': p.insured.codeGestion });
      expect(insured['93']).toHaveLength(15);

      const records = readBeneficiaries(c);
      expect(records).toHaveLength(p.beneficiaries.length);
      records.forEach((rec, i) => {
        const b = p.beneficiaries[i]!;
        const f = fields(rec);
        const expected: Record<string, string> = { '80': b.surname, '81': b.firstName, '82': b.birthDate, '83': String(b.birthRank), '84': b.quality, '90': b.nationality };
        if (b.usualName) expected['85'] = b.usualName;
        const nir = b.nir ?? (b.quality === '00' ? p.insured.nir : undefined);
        if (nir) expected['93'] = nir;
        expect(f.text, `${name} beneficiary ${i}`).toEqual(expected);
        expect(Object.keys(f.sub).sort()).toEqual(b.amc ? ['66', '67'] : ['66']);
        const rights = fields(f.sub['66']!);
        expect(rights.text['80']).toBe(b.rights.start);
        expect(rights.text['81']).toBe(b.rights.end);
        expect(rights.raw['82']).toBe(b.rights.ald ? '01' : '00');
        expect(rights.text['83']).toBe(b.rights.exoneration ?? '0');
        expect(Object.keys(rights.raw).sort()).toEqual(b.rights.end ? ['80', '81', '82', '83'] : ['80', '82', '83']);
        if (b.amc) {
          const amc = fields(f.sub['67']!);
          expect(amc.text['80']).toBe(b.amc.number);
          expect(amc.text['81']).toBe(b.amc.contractType);
          expect(amc.raw['82']).toBe(b.amc.tiersPayant ? '01' : '00');
          expect(amc.text['83']).toBe(b.amc.start);
          expect(amc.text['84']).toBe(b.amc.end);
          expect(amc.text['85']).toBe(b.amc.name);
        }
      });
    });
  }

  it('tells twins apart by rang gémellaire', () => {
    const recs = readBeneficiaries(card('vitale-famille-jumeaux')).map((r) => fields(r).text);
    expect(recs).toHaveLength(4);
    const twins = recs.filter((r) => r['82'] === '20150612');
    expect(twins).toHaveLength(2);
    expect(twins.map((t) => t['83']).sort()).toEqual(['1', '2']);
    expect(twins.every((t) => t['84'] === '06' && t['93'] === undefined)).toBe(true);
    expect(recs.map((r) => r['84'])).toEqual(['00', '02', '06', '06']);
    // Corsican NIRs on the card are well-formed and valid.
    expect(checkNir(recs[0]!['93']!).ok).toBe(true);
    expect(recs[1]!['93']!.slice(5, 7)).toBe('2B');
    expect(checkNir(recs[1]!['93']!).ok).toBe(true);
  });

  it('carries expired rights, ALD, a lunar birth date, AMC with tiers payant and an invalid NIR as the profiles say', () => {
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    const expired = fields(fields(readBeneficiaries(card('vitale-droits-expires'))[0]!).sub['66']!).text;
    expect(expired['81']! < today).toBe(true);

    const ald = fields(readBeneficiaries(card('vitale-ald'))[0]!);
    expect(ald.text['82']).toBe('19480000');
    expect(fields(ald.sub['66']!).raw['82']).toBe('01');
    expect(fields(ald.sub['66']!).text['83']).toBe('4');

    for (const rec of readBeneficiaries(card('vitale-amc-tiers-payant'))) expect(fields(fields(rec).sub['67']!).raw['82']).toBe('01');

    const c = card('vitale-nir-invalide');
    expect(selectAid(c, VITALE).sw).toBe('9000');
    const nir = fields(only(send(c, '00B0810000').data, '64')).text['93']!;
    expect(checkNir(nir)).toMatchObject({ ok: false, reason: expect.stringMatching(/does not match/) });
  });
});

describe('Vitale 2 certificate and INTERNAL AUTHENTICATE', () => {
  it('gives the certificate under 7F21 by GET DATA and READ BINARY, issued by the PKI Vitale CA', () => {
    const c = card('vitale-amc-tiers-payant');
    const got = transceive(c, '00CA7F2100');
    expect(got.sw).toBe('9000');
    const obj = only(got.data, '7F21');
    // Extended Le in T=1: all of it at once.
    expect(send(c, '00CA7F21000000')).toEqual({ data: got.data, sw: '9000' });
    // The same object in EF 2F10 of MF_VITALE, read by offsets as a short-APDU reader would.
    expect(selectAid(c, MF_VITALE).sw).toBe('9000');
    expect(send(c, '00A4020C022F10').sw).toBe('9000');
    let viaEf = '';
    for (let off = 0; off < got.data.length / 2; off += 200) {
      const r = send(c, `00B0${off.toString(16).padStart(4, '0')}C8`);
      expect(['9000', '6282']).toContain(r.sw);
      viaEf += r.data;
    }
    expect(viaEf).toBe(got.data);
    // By SFI 16 the first 256 bytes.
    expect(send(c, '00B0900000').data).toBe(got.data.slice(0, 512));

    const cert = new X509Certificate(obj.value);
    const ca = new X509Certificate(pki.vitaleCaDer);
    const root = new X509Certificate(pki.rootDer);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(ca.verify(root.publicKey)).toBe(true);
    expect(cert.subject).toContain('9900000005');
    expect(toHex(new Uint8Array(cert.raw))).toBe(toHex(c.certificateDer));
  });

  it('signs a challenge with PKCS#1 v1.5 over a SHA-256 DigestInfo, verifiable with the certificate key', () => {
    const c = card('vitale-famille-jumeaux');
    expect(selectAid(c, VITALE).sw).toBe('9000');
    const cert = new X509Certificate(only(transceive(c, '00CA7F2100').data, '7F21').value);
    const ch = send(c, '0084000008');
    expect(ch.sw).toBe('9000');
    const sig = send(c, `0088000008${ch.data}00`);
    expect(sig.sw).toBe('9000');
    expect(sig.data).toHaveLength(512);
    const sigBytes = fromHex(sig.data);
    expect(verify('sha256', fromHex(ch.data), cert.publicKey, sigBytes)).toBe(true);
    expect(verify('sha256', fromHex(`${ch.data}00`), cert.publicKey, sigBytes)).toBe(false);
    // Open the signature: EMSA-PKCS1-v1_5 = 00 01 FF.. 00 DigestInfo(SHA-256, hash).
    const em = toHex(new Uint8Array(publicDecrypt({ key: cert.publicKey, padding: constants.RSA_NO_PADDING }, sigBytes)));
    const digestInfo = `3031300D060960864801650304020105000420${toHex(new Uint8Array(createHash('sha256').update(fromHex(ch.data)).digest()))}`;
    expect(em).toBe(`0001${'FF'.repeat(256 - 3 - digestInfo.length / 2)}00${digestInfo}`);
    // Cards of other profiles have other keys.
    const other = card('vitale-assure-seul');
    const sig2 = send(other, `0088000008${ch.data}00`);
    expect(verify('sha256', fromHex(ch.data), cert.publicKey, fromHex(sig2.data))).toBe(false);
  });

  it('accepts challenges of 8 to 128 bytes and reports the signature as card time', () => {
    const c = card('vitale-ald');
    for (const n of [8, 32, 128]) {
      const challenge = 'A5'.repeat(n);
      const r = transceive(c, `00880000${n.toString(16).padStart(2, '0')}${challenge}00`);
      expect(r.sw, `challenge of ${n}`).toBe('9000');
      expect(verify('sha256', fromHex(challenge), new X509Certificate(c.certificateDer).publicKey, fromHex(r.data))).toBe(true);
    }
    expect(c.processingMs(fromHex(`0088000008${'00'.repeat(8)}00`))).toBe(200);
    expect(c.processingMs(fromHex('00B0810000'))).toBe(2);
  });
});

describe('Vitale 2 status words', () => {
  it('answers unknown commands and bad lengths with the ISO status word', () => {
    const c = card('vitale-assure-seul');
    expect(selectAid(c, VITALE).sw).toBe('9000');
    const challenge = '0102030405060708';
    expect(send(c, `00880000070102030405060700`).sw).toBe('6700'); // challenge too short
    expect(send(c, `0088000081${'AB'.repeat(129)}00`).sw).toBe('6700'); // too long
    expect(send(c, `0088000008${challenge}`).sw).toBe('6700'); // no Le
    expect(send(c, '0088000000').sw).toBe('6700'); // no challenge
    expect(send(c, `0088010008${challenge}00`).sw).toBe('6A86');
    expect(send(c, `0088000108${challenge}00`).sw).toBe('6A86');
    expect(send(c, '00CA5F2000').sw).toBe('6A88'); // GET DATA of an object the card does not have
    expect(send(c, '00CA7F2101AA00').sw).toBe('6700'); // GET DATA with data
    expect(send(c, '00CA7F21').sw).toBe('6700'); // GET DATA without Le
    expect(send(c, '00D6000001AA').sw).toBe('6D00'); // UPDATE BINARY: read-only card
    expect(send(c, '00E2000001AA').sw).toBe('6D00');
    expect(send(c, '80CA7F2100').sw).toBe('6E00');
    expect(send(c, '00B2091400').sw).toBe('6A83'); // no 9th beneficiary
  });

  it('answers file errors and has no PIN', () => {
    const c = card('vitale-assure-seul');
    expect(selectAid(c, VITALE).sw).toBe('9000');
    expect(send(c, '00B0900000').sw).toBe('6A82'); // SFI 16 (certificate) lives in MF_VITALE, not here
    expect(send(c, '00B0820000').sw).toBe('6981'); // SFI 2 is the record EF
    expect(send(c, '00B2011C00').sw).toBe('6A82'); // SFI 3: none
    expect(send(c, '00B0810000').sw).toBe('9000');
    expect(send(c, '00B0FF0000').sw).toBe('6A86'); // SFI 31
    expect(send(c, '00B0017000').sw).toBe('6B00'); // offset 0x170 past the insured EF
    expect(send(c, '0020000008' + '31323334FFFFFFFF').sw).toBe('6A88'); // VERIFY: no PIN on a Vitale card
    expect(send(c, '00A4').sw).toBe('6700'); // not even a header
    // INTERNAL AUTHENTICATE needs no PIN and no prior SELECT: it is a card-level key.
    c.reset();
    expect(send(c, '0088000008010203040506070800').sw).toBe('9000');
  });
});

describe('Vitale 2 profiles', () => {
  it('are registered, listed and pass the registry schema', () => {
    const listed = listProfiles().filter((p) => p.kind === 'vitale-2').map((p) => p.name).sort();
    expect(listed).toEqual([...PROFILES].sort());
    const errors = checkAllProfiles().filter((e) => /vitale-/.test(e.file));
    expect(errors.map((e) => e.message)).toEqual([]);
  });

  const broken: Array<[string, (p: Record<string, any>) => void, string, RegExp]> = [
    ['a missing caisse', (p) => delete p.insured.caisse, '/insured/caisse', /required/],
    ['a birth date of 7 digits', (p) => (p.beneficiaries[0].birthDate = '1980011'), '/beneficiaries/0/birthDate', /pattern/],
    ['an unknown field', (p) => (p.beneficiaries[0].shoeSize = 42), '/beneficiaries/0/shoeSize', /not a vitale-2 profile field/],
    ['a lowercase surname', (p) => (p.beneficiaries[0].surname = 'Testdupont'), '/beneficiaries/0/surname', /pattern/],
    ['an unknown qualité', (p) => (p.beneficiaries[0].quality = '07'), '/beneficiaries/0/quality', /allowed values/],
    ['a wrong NIR key', (p) => (p.insured.nir = '180017599900138'), '/insured/nir', /expected 37.*allowInvalidNir/],
    ['a stale allowInvalidNir', (p) => (p.allowInvalidNir = true), '/allowInvalidNir', /every NIR on the card is valid/],
    ['rights ending before they start', (p) => (p.beneficiaries[0].rights.end = '20221231'), '/beneficiaries/0/rights/end', /before the start/],
    ['a rights date not in the calendar', (p) => (p.beneficiaries[0].rights.start = '20230230'), '/beneficiaries/0/rights/start', /not a calendar date/],
    ['no beneficiary', (p) => (p.beneficiaries = []), '/beneficiaries', /fewer than 1/],
    ['a second insured', (p) => p.beneficiaries.push({ ...p.beneficiaries[0], birthDate: '19810101' }), '/beneficiaries/1/quality', /at most one/],
  ];
  for (const [what, mutate, field, reason] of broken) {
    it(`refuses a profile with ${what}, naming the file and ${field}`, () => {
      const p = profileJson('vitale-assure-seul');
      mutate(p);
      let err: unknown;
      try {
        parseVitaleProfile(p, '/profiles/broken.json');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CardProfileError);
      const e = err as CardProfileError;
      expect(e.file).toBe('/profiles/broken.json');
      expect(e.field).toBe(field);
      expect(e.reason).toMatch(reason);
      expect(e.message).toContain('/profiles/broken.json');
    });
  }

  it('refuses twins with the same rank', () => {
    const p = profileJson('vitale-famille-jumeaux') as { beneficiaries: Array<{ birthRank: number }> };
    p.beneficiaries[3]!.birthRank = 1;
    expect(() => parseVitaleProfile(p, 'f.json')).toThrow(/f\.json: \/beneficiaries\/3\/birthRank: same birth date 20150612 and rank 1 as \/beneficiaries\/2/);
  });

  it('refuses a broken profile file read from disk, and a key that its certificate does not certify', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitale-profile-'));
    try {
      const file = join(dir, 'vitale-broken.json');
      const p = profileJson('vitale-ald') as { insured: Record<string, unknown> };
      p.insured.regime = 1;
      writeFileSync(file, JSON.stringify(p));
      expect(() => parseVitaleProfile(JSON.parse(readFileSync(file, 'utf8')), file)).toThrow(`card profile ${file}: /insured/regime: must be string`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const a = card('vitale-assure-seul').profile;
    const b = card('vitale-ald').profile;
    const idA = await issueVitaleIdentity(a, { keyDir });
    const idB = await issueVitaleIdentity(b, { keyDir });
    expect(() => createVitaleCard(a, { privateKeyPem: idA.privateKeyPem, certificateDer: idB.certificateDer }, { source: 'mixed.json' })).toThrow(/mixed\.json: the card certificate .* does not certify/);
  });
});
