/** `di cards list|check` through commander, as cli/main.ts wires them. */
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerCardsCommands } from '../../../cli/commands/cards.js';
import { checkAllProfiles } from '../../../emulator/cards/registry.js';

function program(): Command {
  const p = new Command().exitOverride();
  registerCardsCommands(p);
  return p;
}

describe('di cards', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  it('list prints name, kind and description; --json is machine-readable', async () => {
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)));
    await program().parseAsync(['node', 'di', 'cards', 'list']);
    expect(out[0]).toMatch(/^NAME\s+KIND\s+DESCRIPTION$/);
    expect(out.some((l) => /^test-card-t0\s+test-card-variant\s+\S/.test(l))).toBe(true);
    out.length = 0;
    await program().parseAsync(['node', 'di', 'cards', 'list', '--json']);
    const list = JSON.parse(out.join('\n')) as Array<{ name: string; kind: string; description: string }>;
    expect(list.find((p) => p.name === 'test-card')).toMatchObject({ kind: 'test-card' });
  });

  it('check agrees with the registry and sets exit code 1 naming file and field when a profile is broken', async () => {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)));
    vi.spyOn(console, 'error').mockImplementation((s: unknown) => void err.push(String(s)));
    await program().parseAsync(['node', 'di', 'cards', 'check']);
    const broken = checkAllProfiles();
    if (broken.length === 0) {
      expect(out.join('\n')).toMatch(/all \d+ card profiles are valid/);
      expect(process.exitCode).toBeUndefined();
    } else {
      expect(process.exitCode).toBe(1);
      expect(err[0]).toContain(broken[0]!.file);
    }
  });

  it('serve refuses a bad slot or port before touching the network', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await expect(program().parseAsync(['node', 'di', 'cards', 'serve', '--profile', 'test-card', '--slot', '12'])).rejects.toThrow(/--slot/);
    await expect(program().parseAsync(['node', 'di', 'cards', 'serve', '--profile', 'test-card', '--port', '70000'])).rejects.toThrow(/--port/);
  });
});
