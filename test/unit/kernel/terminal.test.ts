import { describe, expect, it } from 'vitest';
import { Terminal, type TerminalView } from '../../../platform/kernel/terminal.js';
import { buildVerify } from '../../../platform/kernel/pin-block.js';

describe('terminal: secure PIN entry', () => {
  it('collects digits in a buffer, shows only their count, and supports correction', async () => {
    const t = new Terminal();
    const views: TerminalView[] = [];
    t.on('view', (v) => views.push(v));
    const p = t.readPin('health', 'Code CPS', { minDigits: 4, maxDigits: 8, timeoutMs: 5000 });
    for (const k of ['1', '2', '9', 'CORR', '3', '4', 'OK'] as const) t.press(k);
    const r = await p;
    expect(r.status).toBe('ok');
    if (r.status !== 'ok') return;
    expect([...r.digits.slice(0, r.length)]).toEqual([1, 2, 3, 4]);
    const counts = views.filter((v) => v.pinEntry).map((v) => v.pinEntry?.digits);
    expect(counts).toEqual([0, 1, 2, 3, 2, 3, 4]);
    // Nothing but the count reached the screen: no view carries the digits.
    expect(JSON.stringify(views)).not.toMatch(/1234|"9"/);
  });

  it('ignores OK before the minimum length, and ANNULER cancels with the buffer zeroed', async () => {
    const t = new Terminal();
    const p = t.readPin('health', 'Code', { minDigits: 4, maxDigits: 8, timeoutMs: 5000 });
    t.typeKeys(['1', '2', 'OK', 'ANNULER']);
    expect((await p).status).toBe('cancelled');
  });

  it('times out', async () => {
    const t = new Terminal();
    expect((await t.readPin('health', 'Code', { minDigits: 4, maxDigits: 8, timeoutMs: 20 })).status).toBe('timeout');
  });

  it('gives the foreground to one domain at a time, FIFO', async () => {
    const t = new Terminal();
    const order: string[] = [];
    const a = t.ask('health', { text: 'Patient ?', choices: ['A', 'B'] }, 5000);
    const b = t.ask('payment', { text: 'Appli ?', choices: ['CB', 'VISA'] }, 5000);
    a.then(() => order.push('health'));
    b.then(() => order.push('payment'));
    expect(t.foreground()).toBe('health');
    expect(t.current().question?.text).toBe('Patient ?');
    expect(t.answer(1)).toBe(true);
    expect(await a).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(t.foreground()).toBe('payment');
    t.press('1');
    expect(await b).toBe(0);
    expect(order).toEqual(['health', 'payment']);
    expect(t.foreground()).toBe(null);
  });

  it('refuses a second keypad entry while one is open, and frees the screen only after the last nested hold', async () => {
    const t = new Terminal();
    let inner: Promise<unknown> | null = null;
    const outer = t.withForeground('payment', undefined, async () => {
      const q = t.ask('payment', { text: 'Appli ?', choices: ['CB'] }, 5000);
      inner = t.readPin('payment', 'Code', { minDigits: 4, maxDigits: 8, timeoutMs: 5000 });
      await expect(inner).rejects.toThrow(/keypad is already taken/);
      t.press('1');
      return q;
    });
    expect(await outer).toBe(0);
    expect(inner).not.toBe(null);
    expect(t.foreground()).toBe(null);
  });

  it('takes turns by domain: waiters of another domain go before a domain\'s next request', async () => {
    const t = new Terminal();
    const seen: string[] = [];
    t.on('view', (v) => v.question && seen.push(v.question.text));
    const gate = t.ask('gate', { text: 'g', choices: ['x'] }, 5000);
    const all = [t.ask('a', { text: 'a1', choices: ['x'] }, 5000), t.ask('a', { text: 'a2', choices: ['x'] }, 5000), t.ask('b', { text: 'b1', choices: ['x'] }, 5000)];
    for (let i = 0; i < 4; i++) {
      t.press('1');
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all([gate, ...all]);
    expect(seen).toEqual(['g', 'a1', 'b1', 'a2']);
  });

  it('refuses unknown keys with the list of keys', () => {
    expect(() => new Terminal().press('X' as never)).toThrow(/unknown key "X".*OK ANNULER CORR/);
  });
});

describe('VERIFY builders', () => {
  const d = Uint8Array.from([1, 2, 3, 4]);
  it('ascii-ff', () => {
    expect(Buffer.from(buildVerify(1, 'ascii-ff', d, 4)).toString('hex')).toBe('002000010831323334ffffffff');
  });
  it('bcd-ff', () => {
    expect(Buffer.from(buildVerify(0x81, 'bcd-ff', d, 4)).toString('hex')).toBe('00200081081234ffffffffffff');
  });
  it('emv-plaintext (ISO 9564 format 2)', () => {
    expect(Buffer.from(buildVerify(0x80, 'emv-plaintext', d, 4)).toString('hex')).toBe('0020008008241234ffffffffff');
  });
  it('refuses lengths outside 4..12', () => {
    expect(() => buildVerify(1, 'bcd-ff', d, 3)).toThrow(/4 to 12 digits/);
  });
});

describe('terminal: the kernel screen at boot', () => {
  it('replaces the start-up screen, but never a screen a domain drew first', () => {
    const t = new Terminal();
    t.kernelScreen({ title: 'Dispositif Intégré', lines: ['Prêt'] });
    expect(t.current()).toMatchObject({ domain: null, screen: { lines: ['Prêt'] } });
    const u = new Terminal();
    u.show('health', { title: 'SESAM-Vitale', lines: ['Insérez la carte CPS'] });
    u.kernelScreen({ title: 'Dispositif Intégré', lines: ['Prêt'] });
    expect(u.current()).toMatchObject({ domain: 'health', screen: { lines: ['Insérez la carte CPS'] } });
  });
});
