import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig, ConfigError } from '../../../platform/kernel/config.js';

function file(json: unknown): string {
  const f = join(mkdtempSync(join(tmpdir(), 'di-cfg-')), 'config.json');
  writeFileSync(f, typeof json === 'string' ? json : JSON.stringify(json));
  return f;
}

describe('kernel config', () => {
  it('embedded defaults: emulated reader with two slots, packages under the data dir', () => {
    const c = loadConfig(undefined, { dataDir: '/tmp/d1' });
    expect(c.reader).toMatchObject({ driver: 'emulated', slots: 3 });
    expect(c.packageDir).toBe('/tmp/d1/packages');
  });

  it('a data dir set in the file carries its packages; --data-dir wins over the file', () => {
    const f = file({ dataDir: '/tmp/d2' });
    expect(loadConfig(f)).toMatchObject({ dataDir: '/tmp/d2', packageDir: '/tmp/d2/packages' });
    expect(loadConfig(f, { dataDir: '/tmp/d3' })).toMatchObject({ dataDir: '/tmp/d3', packageDir: '/tmp/d3/packages' });
    expect(loadConfig(file({ dataDir: 'rel', packageDir: '/opt/pkgs' }), { dataDir: '/tmp/d4' })).toMatchObject({ dataDir: '/tmp/d4', packageDir: '/opt/pkgs' });
    expect(loadConfig(file({ dataDir: 'rel' })).dataDir).toBe(resolve('rel'));
  });

  it('refuses unknown settings, wrong types and bad values, naming the file and the field', () => {
    expect(() => loadConfig(file({ reader: { slotz: 2 } }))).toThrow(/config\.json: \/reader\/slotz: unknown setting/);
    expect(() => loadConfig(file({ reader: { slots: 'two' } }))).toThrow(/\/reader\/slots: must be a number/);
    expect(() => loadConfig(file({ reader: { slots: 9 } }))).toThrow(/\/reader\/slots: must be 1\.\.8/);
    expect(() => loadConfig(file({ reader: { driver: 'usb' } }))).toThrow(/\/reader\/driver: must be "emulated" or "pcsc"/);
    expect(() => loadConfig(file('{ nope'))).toThrow(ConfigError);
  });
});
