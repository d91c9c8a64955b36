// `di applet pack|verify`: build and sign an applet package, or check one as the kernel would at boot.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { KeyError, devTrustAnchorPath, loadOrCreateDevKeys, loadSigner, loadTrustAnchors, type Signer } from '../../platform/kernel/packages/keys.js';
import { PackageError } from '../../platform/kernel/packages/manifest.js';
import { packApplet } from '../../platform/kernel/packages/pack.js';
import { verifyPackage } from '../../platform/kernel/packages/verify.js';
import { PolicyError } from '../../platform/kernel/policy/loader.js';

export interface AppletCommandContext {
  dataDir: () => string;
  /** PEM files of the configured trust anchors (manufacturer and/or development root). */
  trustAnchors: () => string[];
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function describeFailure(err: unknown): { code: string; reason: string } {
  if (err instanceof PackageError) return { code: err.code, reason: `${err.packageDir}: ${err.reason}` };
  if (err instanceof PolicyError) return { code: 'E_POLICY', reason: err.message };
  if (err instanceof KeyError) return { code: 'E_KEY', reason: err.message };
  throw err;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new KeyError(path, `${what} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

export function registerAppletCommands(program: Command, ctx: AppletCommandContext): void {
  const applet = program.command('applet').description('build and sign, or check, an applet package');

  applet
    .command('pack')
    .description('bundle an applet directory (applet.json, entry, policy) into a signed package')
    .argument('<dir>', 'applet source directory holding applet.json')
    .option('--out <dir>', 'where to write the package (default: <dataDir>/packages)')
    .option('--key <pem>', "manufacturer's private key (PKCS#8 or SEC1 PEM); default: development key")
    .option('--cert <pem>', 'signing certificate, then intermediates (repeatable; required with --key)', collect)
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, opts: { out?: string; key?: string; cert?: string[]; json?: boolean }) => {
      try {
        let signer: Signer;
        let anchorNote = '';
        if (opts.key || opts.cert) {
          if (!opts.key || !opts.cert?.length) throw new KeyError(opts.key ?? opts.cert?.[0] ?? '--key', '--key and --cert must be given together');
          signer = await loadSigner(
            readText(opts.key, 'private key'),
            opts.cert.map((c) => readText(c, 'certificate')),
            opts.key,
          );
        } else {
          const dev = await loadOrCreateDevKeys(ctx.dataDir());
          signer = dev.signer;
          anchorNote = ` (development key; trust anchor ${dev.rootPath}${dev.created ? ', created now' : ''})`;
        }
        const outDir = opts.out ?? join(ctx.dataDir(), 'packages');
        const { packageDir, manifest } = await packApplet({ dir, outDir, signer });
        if (opts.json) {
          console.log(JSON.stringify({ ok: true, packageDir, manifest }, null, 2));
        } else {
          console.log(`packed ${manifest.id} ${manifest.version} (domain ${manifest.domain}) into ${packageDir}${anchorNote}`);
        }
      } catch (err) {
        const { code, reason } = describeFailure(err);
        if (opts.json) console.log(JSON.stringify({ ok: false, code, reason }, null, 2));
        else console.error(`REFUSED ${code}: ${reason}`);
        process.exitCode = 1;
      }
    });

  applet
    .command('verify')
    .description('check a package as the kernel does at boot: signature, signer, hashes, policy')
    .argument('<pkgdir>', 'package directory (manifest.json, signature.p7s, applet.js, policy.json)')
    .option('--trust-anchor <pem>', 'trust only this anchor (repeatable); default: the configured anchors', collect)
    .option('--json', 'print the verdict as JSON')
    .action(async (pkgdir: string, opts: { trustAnchor?: string[]; json?: boolean }) => {
      try {
        let anchorPaths = opts.trustAnchor ?? ctx.trustAnchors();
        // Out of the box nothing is configured yet; the development root is then the natural anchor.
        if (anchorPaths.length === 0 && existsSync(devTrustAnchorPath(ctx.dataDir()))) anchorPaths = [devTrustAnchorPath(ctx.dataDir())];
        const pkg = await verifyPackage(pkgdir, { trustAnchors: loadTrustAnchors(anchorPaths) });
        const { manifest } = pkg;
        if (opts.json) {
          console.log(
            JSON.stringify({ ok: true, packageDir: pkgdir, manifest, signer: pkg.signerSubject, trustAnchors: anchorPaths }, null, 2),
          );
        } else {
          console.log(`OK ${manifest.id} ${manifest.version} (domain ${manifest.domain}) signed by "${pkg.signerSubject}"`);
        }
      } catch (err) {
        const { code, reason } = describeFailure(err);
        if (opts.json) console.log(JSON.stringify({ ok: false, packageDir: pkgdir, code, reason }, null, 2));
        else console.error(`REFUSED ${code}: ${reason}`);
        process.exitCode = 1;
      }
    });
}
