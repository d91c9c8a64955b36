import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import { openDomainStore, StoreError, MAX_VALUE_BYTES, type DomainStore } from '../../../platform/kernel/store.js';
import type { Transferable } from '../../../platform/sdk/api.js';

let dataDir: string;
const opened: DomainStore[] = [];

function open(quotaBytes = 1024 * 1024 * 8, domain = 'payment'): DomainStore {
  const s = openDomainStore({ dataDir, domain, quotaBytes });
  opened.push(s);
  return s;
}

function storeError(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StoreError) return err;
    throw err;
  }
  throw new Error('expected a StoreError, nothing was thrown');
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'di-store-'));
});
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('openDomainStore', () => {
  it('creates <dataDir>/stores/<domain>.sqlite in WAL mode with synchronous=FULL', () => {
    const s = open();
    s.put('a', 1);
    expect(s.path).toBe(join(resolve(dataDir), 'stores', 'payment.sqlite'));
    const db = new Database(s.path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const cols = db.prepare("SELECT name, type, pk, \"notnull\" FROM pragma_table_info('kv')").all();
      expect(cols).toEqual([
        { name: 'key', type: 'TEXT', pk: 1, notnull: 0 },
        { name: 'value', type: 'BLOB', pk: 0, notnull: 1 },
      ]);
    } finally {
      db.close();
    }
    // synchronous is per connection, so the store reports what its own connection read back.
    expect(s.durability).toEqual({ journalMode: 'wal', synchronous: 'full' });
  });

  it('refuses domain names that would escape the stores directory', () => {
    for (const domain of ['../x', 'a/b', '', '.hidden', 'a b']) {
      const e = storeError(() => openDomainStore({ dataDir, domain, quotaBytes: 1 }));
      expect(e.code).toBe('E_STORE');
      expect(e.message).toMatch(/store domain .* must match/);
    }
  });

  it('refuses a bad quota and a second open of the same domain', () => {
    expect(storeError(() => openDomainStore({ dataDir, domain: 'x', quotaBytes: -1 })).message).toMatch(/quota for domain x must be/);
    open();
    expect(storeError(() => open()).message).toMatch(/store for domain payment is already open/);
  });
});

describe('CRUD', () => {
  it('puts, gets, overwrites and deletes plain data', () => {
    const s = open();
    const value: Transferable = {
      n: 1.5,
      i: -7,
      big: 2 ** 53 - 1,
      t: true,
      nul: null,
      s: 'é€😀',
      bytes: new Uint8Array([0, 1, 255]),
      list: [1, 'two', [3], { four: 4 }],
      empty: {},
    };
    expect(s.get('missing')).toBeUndefined();
    s.put('invoice/1', value);
    const back = s.get('invoice/1');
    expect(back).toEqual(value);
    const bytes = (back as { bytes: Uint8Array }).bytes;
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
    s.put('invoice/1', 'replaced');
    expect(s.get('invoice/1')).toBe('replaced');
    expect(s.delete('invoice/1')).toBe(true);
    expect(s.delete('invoice/1')).toBe(false);
    expect(s.get('invoice/1')).toBeUndefined();
  });

  it('returns copies: mutating a result does not change the store', () => {
    const s = open();
    s.put('b', { bytes: new Uint8Array([1, 2]) });
    const first = s.get('b') as { bytes: Uint8Array };
    first.bytes[0] = 99;
    expect((s.get('b') as { bytes: Uint8Array }).bytes[0]).toBe(1);
  });

  it('persists across close and reopen', () => {
    const s = open();
    s.put('k', { v: [1, 2, 3] });
    s.close();
    const again = open();
    expect(again.get('k')).toEqual({ v: [1, 2, 3] });
    expect(again.usage().keys).toBe(1);
  });

  it('reports a value that cannot be decoded, naming the key', () => {
    const s = open();
    s.put('bad', 1);
    s.close();
    const db = new Database(s.path);
    db.prepare('UPDATE kv SET value = ? WHERE key = ?').run(Buffer.from([0xc1]), 'bad');
    db.close();
    const again = open();
    expect(storeError(() => again.get('bad'))).toMatchObject({ code: 'E_STORE', message: expect.stringMatching(/value for key "bad" cannot be decoded/) });
  });

  it('refuses calls after close', () => {
    const s = open();
    s.close();
    expect(storeError(() => s.get('a'))).toMatchObject({ code: 'E_STORE', message: 'store for domain payment is closed' });
  });
});

describe('list', () => {
  it('returns keys sorted, by prefix, with a limit', () => {
    const s = open();
    for (const k of ['b/2', 'a/1', 'b/1', 'b/10', 'c', 'b']) s.put(k, 0);
    expect(s.list()).toEqual(['a/1', 'b', 'b/1', 'b/10', 'b/2', 'c']);
    expect(s.list({ prefix: 'b/' })).toEqual(['b/1', 'b/10', 'b/2']);
    expect(s.list({ prefix: 'b/', limit: 2 })).toEqual(['b/1', 'b/10']);
    expect(s.list({ prefix: 'zzz' })).toEqual([]);
  });

  it("treats '%' and '_' in a prefix literally", () => {
    const s = open();
    for (const k of ['50%off', '50%', '500', '50_x', '50ax', 'a_b', 'aXb', 'a_']) s.put(k, 0);
    expect(s.list({ prefix: '50%' })).toEqual(['50%', '50%off']);
    expect(s.list({ prefix: '50_' })).toEqual(['50_x']);
    expect(s.list({ prefix: 'a_' })).toEqual(['a_', 'a_b']);
  });

  it('handles non-ASCII prefixes and the highest code point', () => {
    const s = open();
    for (const k of ['é1', 'é2', 'ê', '😀a', '😀b', '\u{10FFFF}x', '\u{10FFFF}\u{10FFFF}']) s.put(k, 0);
    expect(s.list({ prefix: 'é' })).toEqual(['é1', 'é2']);
    expect(s.list({ prefix: '😀' })).toEqual(['😀a', '😀b']);
    expect(s.list({ prefix: '\u{10FFFF}' })).toEqual(['\u{10FFFF}x', '\u{10FFFF}\u{10FFFF}']);
    expect(s.list({ prefix: '\u{10FFFF}\u{10FFFF}' })).toEqual(['\u{10FFFF}\u{10FFFF}']);
  });

  it('refuses a bad limit', () => {
    const s = open();
    expect(storeError(() => s.list({ limit: 0 }))).toMatchObject({ code: 'E_VALUE', message: expect.stringMatching(/limit must be a positive integer, got 0/) });
    expect(storeError(() => s.list({ limit: 1.5 })).code).toBe('E_VALUE');
  });
});

describe('keys and values that are refused', () => {
  it('refuses bad keys, naming them', () => {
    const s = open();
    const cases: Array<[unknown, RegExp]> = [
      ['', /store key "" must be 1–512 characters long \(is 0\)/],
      ['x'.repeat(513), /must be 1–512 characters long \(is 513\)/],
      ['a\nb', /store key "a\\nb" contains a control character/],
      ['tab\there', /contains a control character/],
      ['del\u007f', /contains a control character/],
      ['\ud800x', /unpaired UTF-16 surrogate/],
      [42, /store key must be a string, got number/],
    ];
    for (const [key, msg] of cases) {
      const e = storeError(() => s.put(key as string, 1));
      expect(e.code).toBe('E_KEY');
      expect(e.message).toMatch(msg);
    }
    // 512 code points, even astral ones, are fine.
    s.put('😀'.repeat(512), 1);
    expect(s.usage().keys).toBe(1);
  });

  it('masks a card number in a key shown in an error', () => {
    const s = open();
    const e = storeError(() => s.put('card:4970101234567893\n', 1));
    expect(e.message).not.toContain('4970101234567893');
    expect(e.message).toContain('497010******7893');
  });

  it('refuses non-Transferable values, naming the key and the path', () => {
    const s = open();
    class Invoice {
      n = 1;
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /key "k" at \$: undefined is not Transferable/],
      [{ a: { b: [1, undefined] } }, /at \$\.a\.b\[1\]: undefined is not Transferable/],
      [{ f: () => 1 }, /at \$\.f: a function is not Transferable/],
      [{ s: Symbol('x') }, /at \$\.s: a symbol is not Transferable/],
      [{ d: new Date(0) }, /at \$\.d: a Date is not Transferable/],
      [{ 'odd key': new Invoice() }, /at \$\["odd key"\]: Invoice instance is not Transferable/],
      [new Map(), /at \$: Map instance is not Transferable/],
      [{ n: 10n }, /at \$\.n: a bigint is not Transferable/],
      [new Uint16Array(2), /Uint16Array instance is not Transferable/],
      [cyclic, /at \$\.self: circular reference/],
      [JSON.parse('{"__proto__": 1}'), /the key "__proto__" is not allowed/],
      [[1, , 3], /at \$\[1\]: array hole/],
      [{ s: 'bad \ud800' }, /at \$\.s: string contains an unpaired UTF-16 surrogate/],
    ];
    for (const [value, msg] of cases) {
      const e = storeError(() => s.put('k', value as Transferable));
      expect(e.code, String(msg)).toBe('E_VALUE');
      expect(e.message).toMatch(msg);
      expect(e.key).toBe('k');
    }
    expect(s.usage()).toEqual({ bytes: 0, keys: 0 });
  });

  it('refuses deep nesting and values over 1 MiB encoded', () => {
    const s = open(16 * 1024 * 1024);
    let deep: Transferable = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(storeError(() => s.put('deep', deep)).message).toMatch(/nested deeper than 64 levels/);
    const e = storeError(() => s.put('huge', new Uint8Array(MAX_VALUE_BYTES)));
    expect(e.code).toBe('E_VALUE');
    expect(e.message).toMatch(/store value for key "huge" is 1048581 bytes encoded, over the 1048576-byte limit per value/);
    s.put('almost', new Uint8Array(MAX_VALUE_BYTES - 16));
  });
});

describe('transaction', () => {
  it('applies all ops', () => {
    const s = open();
    s.put('old', 'x');
    s.transaction([
      { op: 'put', key: 'a', value: 1 },
      { op: 'put', key: 'b', value: [2] },
      { op: 'delete', key: 'old' },
      { op: 'put', key: 'a', value: 3 },
    ]);
    expect(s.list()).toEqual(['a', 'b']);
    expect(s.get('a')).toBe(3);
    expect(s.usage()).toEqual({ bytes: 1 + 1 + 1 + 2, keys: 2 });
  });

  it('changes nothing when one op is invalid mid-way', () => {
    const s = open();
    s.put('keep', 'original');
    const before = s.usage();
    const e = storeError(() =>
      s.transaction([
        { op: 'put', key: 'n1', value: 1 },
        { op: 'delete', key: 'keep' },
        { op: 'put', key: 'n2', value: { when: new Date() } as unknown as Transferable },
        { op: 'put', key: 'n3', value: 3 },
      ]),
    );
    expect(e.code).toBe('E_VALUE');
    expect(e.message).toMatch(/key "n2" at \$\.when: a Date/);
    const e2 = storeError(() => s.transaction([{ op: 'put', key: 'n1', value: 1 }, { op: 'delete', key: '' }]));
    expect(e2.message).toMatch(/store key \(transaction op #1\) "" must be 1–512/);
    const e3 = storeError(() => s.transaction([{ op: 'rename', key: 'x' } as unknown as { op: 'delete'; key: string }]));
    expect(e3.message).toMatch(/op #0 has op "rename"; expected 'put' or 'delete'/);
    expect(s.list()).toEqual(['keep']);
    expect(s.get('keep')).toBe('original');
    expect(s.usage()).toEqual(before);
  });

  it('rolls back writes already executed when the quota check at the end fails', () => {
    const s = open(1000);
    s.put('keep', 'original');
    const before = s.usage();
    const e = storeError(() =>
      s.transaction([
        { op: 'delete', key: 'keep' },
        { op: 'put', key: 'a', value: 'x'.repeat(400) },
        { op: 'put', key: 'b', value: 'y'.repeat(700) },
      ]),
    );
    expect(e.code).toBe('E_QUOTA');
    expect(e.message).toMatch(/transaction would use \d+ bytes, over the quota of 1000 bytes/);
    expect(s.list()).toEqual(['keep']);
    expect(s.get('keep')).toBe('original');
    expect(s.usage()).toEqual(before);
    // The same store still works afterwards.
    s.transaction([{ op: 'put', key: 'a', value: 'fits' }]);
    expect(s.list()).toEqual(['a', 'keep']);
  });

  it('judges the quota on the end state', () => {
    const s = open(700);
    s.put('big', 'x'.repeat(600));
    s.transaction([
      { op: 'put', key: 'big2', value: 'y'.repeat(600) },
      { op: 'delete', key: 'big' },
    ]);
    expect(s.list()).toEqual(['big2']);
  });

  it('refuses a non-array', () => {
    const s = open();
    expect(storeError(() => s.transaction({} as unknown as [])).message).toMatch(/takes an array of ops, got Object/);
  });
});

describe('quota', () => {
  it('counts UTF-8 key bytes plus encoded value bytes', () => {
    const s = open();
    s.put('é', new Uint8Array(10)); // key 2 bytes, value 2 + 10 bytes (bin8 header)
    expect(s.usage()).toEqual({ bytes: 14, keys: 1 });
    s.put('é', 'ab'); // fixstr: 1 + 2
    expect(s.usage()).toEqual({ bytes: 5, keys: 1 });
    s.delete('é');
    expect(s.usage()).toEqual({ bytes: 0, keys: 0 });
  });

  it('refuses a put over quota and leaves the store unchanged', () => {
    const s = open(100);
    s.put('a', 'x'.repeat(50));
    const before = s.usage();
    const e = storeError(() => s.put('b', 'y'.repeat(60)));
    expect(e.code).toBe('E_QUOTA');
    expect(e.key).toBe('b');
    expect(e.message).toBe(`store payment: put of key "b" would use ${before.bytes + 1 + 62} bytes, over the quota of 100 bytes`);
    expect(s.get('b')).toBeUndefined();
    expect(s.usage()).toEqual(before);
    // Overwriting with a bigger value is judged on the difference.
    const e2 = storeError(() => s.put('a', 'x'.repeat(120)));
    expect(e2.code).toBe('E_QUOTA');
    expect(s.get('a')).toBe('x'.repeat(50));
    s.put('a', 'x'.repeat(90));
    expect(s.usage().bytes).toBeLessThanOrEqual(100);
  });

  it('recomputes usage from the database when reopened', () => {
    const s = open(10_000);
    s.transaction([
      { op: 'put', key: 'k1', value: 'abc' },
      { op: 'put', key: 'k2', value: new Uint8Array(100) },
    ]);
    const u = s.usage();
    s.close();
    expect(open(10_000).usage()).toEqual(u);
  });

  it('lets a store over a lowered quota shrink', () => {
    const s = open(1000);
    s.put('a', 'x'.repeat(500));
    s.close();
    const small = open(100);
    expect(storeError(() => small.put('b', 1)).code).toBe('E_QUOTA');
    small.put('a', 'short');
    expect(small.delete('a')).toBe(true);
  });
});

describe('durability', () => {
  it('keeps every acknowledged write when the writer is SIGKILLed', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    // Bundled next to node_modules so that better-sqlite3 and msgpackr resolve as externals.
    const outDir = join(root, 'node_modules', '.cache', 'di-store-crash');
    mkdirSync(outDir, { recursive: true });
    const outfile = join(outDir, `child-${process.pid}-${Date.now()}.mjs`);
    await build({
      entryPoints: [join(root, 'test', 'fixtures', 'store-crash', 'child.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'error',
    });
    try {
      const child = spawn(process.execPath, [outfile, dataDir, 'crashy'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      let lastAck = -1;
      let buffered = '';
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
        child.on('exit', (code, signal) => res({ code, signal })),
      );
      child.stdout.on('data', (d: Buffer) => {
        buffered += d.toString();
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        for (const line of parts) {
          const m = /^ACK (\d+)$/.exec(line);
          if (m) lastAck = Number(m[1]);
        }
        if (lastAck >= 40) child.kill('SIGKILL');
      });
      const { signal, code } = await exited;
      expect(stderr).toBe('');
      expect({ signal, code }).toEqual({ signal: 'SIGKILL', code: null });
      expect(lastAck).toBeGreaterThanOrEqual(40);

      const s = open(64 * 1024 * 1024, 'crashy');
      for (let i = 0; i <= lastAck; i++) {
        const v = s.get(`k${i}`) as { i: number; bytes: Uint8Array; note: string } | undefined;
        expect(v, `acknowledged k${i} was lost`).toBeDefined();
        expect(v!.i).toBe(i);
        expect(v!.bytes).toEqual(new Uint8Array(64).fill(i % 256));
        if (i % 5 === 4) expect(s.get(`t${i}`)).toBe(i);
      }
      // Transactions are atomic across the crash too: a k of a transaction never lacks its t.
      for (const key of s.list({ prefix: 'k' })) {
        const i = Number(key.slice(1));
        if (i % 5 === 4) expect(s.get(`t${i}`)).toBe(i);
      }
    } finally {
      rmSync(outfile, { force: true });
    }
  });
});
