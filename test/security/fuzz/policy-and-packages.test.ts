/** Fuzzing of the policy loader (FUZZ-04) and the package verifier (FUZZ-05). */
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PolicyError, parsePolicyBytes } from '../../../platform/kernel/policy/loader.js';
import { loadOrCreateDevKeys, loadTrustAnchors } from '../../../platform/kernel/packages/keys.js';
import { PackageError, PACKAGE_FILES } from '../../../platform/kernel/packages/manifest.js';
import { packApplet } from '../../../platform/kernel/packages/pack.js';
import { verifyPackage } from '../../../platform/kernel/packages/verify.js';
import { FUZZ_TIMEOUT, fuzzParams } from './budget.js';

const mutation = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 3 });

function mutate(src: Uint8Array, edits: Array<[number, number, string]>): Uint8Array {
  const b = Array.from(src);
  for (const [i, v, how] of edits) {
    const at = b.length === 0 ? 0 : i % b.length;
    if (how === 'set') b[at] = v;
    else if (how === 'insert') b.splice(at, 0, v);
    else b.splice(at, 1);
  }
  return Uint8Array.from(b);
}
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

describe('fuzz: policy loader', () => {
  const files = ['policies/payment.json', 'policies/sesam-vitale.json'].map((f) => new Uint8Array(readFileSync(f)));

  it('[FUZZ-04] byte mutations of the shipped policies give a Policy or a PolicyError naming the file', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1), mutation, (which, edits) => {
        try {
          parsePolicyBytes(mutate(files[which]!, edits), `fuzz-${which}.json`);
        } catch (e) {
          expect(e).toBeInstanceOf(PolicyError);
          expect((e as Error).message).toContain(`fuzz-${which}.json`);
        }
      }),
      fuzzParams(),
    );
  }, FUZZ_TIMEOUT);

  it('[FUZZ-04] arbitrary JSON text gives a PolicyError', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        expect(() => parsePolicyBytes(new TextEncoder().encode(text), 'fuzz.json')).toThrow(PolicyError);
      }),
      fuzzParams(),
    );
  }, FUZZ_TIMEOUT);
});

describe('fuzz: package verifier', () => {
  let packageDir: string;
  let originals: Record<string, Uint8Array>;
  let anchors: ReturnType<typeof loadTrustAnchors>;
  beforeAll(async () => {
    const work = mkdtempSync(join(tmpdir(), 'di-fuzz-pkg-'));
    const dev = await loadOrCreateDevKeys(join(work, 'data'));
    anchors = loadTrustAnchors([dev.rootPath]);
    ({ packageDir } = await packApplet({ dir: resolve('test/fixtures/applets/hello'), outDir: join(work, 'out'), signer: dev.signer }));
    originals = Object.fromEntries(Object.values(PACKAGE_FILES).map((f) => [f, new Uint8Array(readFileSync(join(packageDir, f)))]));
    await verifyPackage(packageDir, { trustAnchors: anchors }); // the unmodified package verifies
  });

  it('[FUZZ-05] random mutations of a signed package\'s files give a PackageError, never acceptance', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.values(PACKAGE_FILES)), mutation, async (file, edits) => {
        const mutated = mutate(originals[file]!, edits);
        fc.pre(!same(mutated, originals[file]!));
        writeFileSync(join(packageDir, file), mutated);
        try {
          const v = await verifyPackage(packageDir, { trustAnchors: anchors });
          // CMS signs the content and the signed attributes, not every byte of its container: a
          // change elsewhere in signature.p7s (an unused certificate copy, an unsigned field) may
          // still verify, and is harmless only if what was verified is exactly what was signed.
          if (file !== PACKAGE_FILES.signature) throw new Error(`a modified ${file} was accepted`);
          expect(Buffer.from(v.script).equals(Buffer.from(originals[PACKAGE_FILES.script]!))).toBe(true);
          expect(Buffer.from(v.policyBytes).equals(Buffer.from(originals[PACKAGE_FILES.policy]!))).toBe(true);
        } catch (e) {
          if (e instanceof Error && e.message.startsWith('a modified')) throw e;
          if (!(e instanceof PackageError)) expect(e).toBeInstanceOf(PackageError);
        } finally {
          writeFileSync(join(packageDir, file), originals[file]!);
        }
      }),
      fuzzParams(0.4),
    );
  }, FUZZ_TIMEOUT);

});
