/**
 * The web terminal in a real browser (headless Chromium driven by playwright-core), used only by
 * clicks and key presses, as a practitioner would: the real sesam-vitale and payment applets under
 * their real policies (endpoints moved to an AMO and an acquirer on ephemeral loopback ports), a
 * three-slot reader, and startTerminalServer on an ephemeral port.
 *
 * The day: the CPS dragged onto slot 0, the situation answered, a wrong PIN (tries left on the
 * device), the right PIN on the on-screen keypad (dots only; the digits typed never appear in the
 * page's DOM); the Vitale card, the beneficiary; the Vitale card taken out before securing (refused,
 * no invoice numbered); back in, an act preset, « Sécuriser la FSE » (FSE n° 1 on the device); the
 * patient's part by card (emv-online into slot 2, PIN on the keypad, approval); a second FSE paid
 * with a page reload in the middle of the PIN entry (the page shows the PIN entry again after the
 * reload, the payment completes, the acquirer authorizes it once); a double click on « Transmettre »
 * (one file at the AMO); the returns (positive ARL on the device and on the AMO side).
 *
 * Nothing leaves loopback: Chromium runs without background networking and every request not to
 * 127.0.0.1 is aborted and recorded (there must be none). Screenshots of the main steps go to
 * .test-results/screenshots/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Locator, Page, WebSocket } from 'playwright-core';
import { chromiumDeps, launchChromium } from '../support/chromium.js';
import { gateOnDeps } from '../support/system-deps.js';
import { appletBundle, bootBilling, type Billing } from '../support/billing.js';
import { until } from '../support/dev-kernel.js';
import { realPolicies } from '../unit/acquirer/payment-fixtures.js';
import { startAcquirer, type AcquirerServer } from '../../emulator/acquirer/server.js';
import { emulatorKeyDir } from '../../emulator/cards/profiles.js';
import { startTerminalServer, type TerminalServer } from '../../emulator/terminal/server.js';
import { repoRoot } from '../../platform/kernel/paths.js';

const deps = await chromiumDeps();
const runnable = gateOnDeps('the web terminal browser tests (headless Chromium)', deps.missing);

const SHOTS = join(repoRoot(), '.test-results', 'screenshots');
const CPS_PIN = '1234';
const WRONG_PIN = '5876';
const EMV_PIN = '1234';

/** What the page's MutationObserver records while `__watch` is on (installed before app.js runs). */
const DOM_WATCH = `
  window.__seen = [];
  window.__watch = false;
  new MutationObserver((muts) => {
    if (!window.__watch) return;
    for (const m of muts) {
      if (m.type === 'characterData') window.__seen.push(String(m.target.data));
      else if (m.type === 'attributes') window.__seen.push(String(m.target.getAttribute(m.attributeName)));
      else for (const n of m.addedNodes) window.__seen.push(n.nodeType === 1 ? n.outerHTML : String(n.textContent));
    }
  }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
`;

describe.runIf(runnable)('the web terminal in a browser, as a practitioner uses it', () => {
  let acquirer: AcquirerServer;
  let journalDir: string;
  let b: Billing;
  let server: TerminalServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const offLoopback: string[] = [];
  const requested: string[] = [];
  const sockets: string[] = [];
  const pageErrors: string[] = [];
  let shot = 0;
  let socket: WebSocket | null = null;

  const tid = (id: string): Locator => page.getByTestId(id);
  /** Waits until the element with that test id shows the text (auto-waiting, no sleeps). */
  const showing = (id: string, text: RegExp | string): Promise<void> => tid(id).filter({ hasText: text }).waitFor();
  const attr = (id: string, name: string, value: string): Promise<void> => page.locator(`[data-testid="${id}"][${name}="${value}"]`).waitFor();
  const screenshot = async (name: string): Promise<void> => {
    await page.screenshot({ path: join(SHOTS, `${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  /** The next action result the server sends to the page (read off the page's own websocket). */
  const nextResult = async (): Promise<Record<string, unknown>> => {
    if (!socket) throw new Error('no websocket');
    const f = await socket.waitForEvent('framereceived', { predicate: (x) => typeof x.payload === 'string' && x.payload.startsWith('{"type":"result"') });
    return JSON.parse(String(f.payload)) as Record<string, unknown>;
  };
  const authorizations = () => acquirer.journal().filter((e) => e.kind === 'authorization');

  async function openPage(): Promise<void> {
    await page.goto(server.url);
    await attr('conn', 'data-state', 'connected');
  }

  /** Types a PIN on the on-screen keypad; after each key the page shows one more dot and nothing else. */
  async function typePin(pin: string): Promise<void> {
    await page.locator('[data-testid="pin-entry"]').waitFor();
    for (const d of pin) {
      const before = Number(await tid('pin-dots').getAttribute('data-digits'));
      await tid(`key-${d}`).click();
      await attr('pin-dots', 'data-digits', String(before + 1));
      expect(await tid('pin-dots').textContent()).toBe('•'.repeat(before + 1));
    }
  }

  /** The whole DOM as text, with the form fields' values. (Page-side code is given as text: the tests compile without the DOM library.) */
  const wholeDom = (): Promise<string> =>
    page.evaluate(`[document.documentElement.outerHTML, ...[...document.querySelectorAll('input, select, textarea')].map((e) => e.value)].join('\\n')`);
  /** Starts recording every change to the page's DOM; returns the DOM as it was. */
  const watchDom = async (): Promise<string> => {
    await page.evaluate('window.__seen = []; window.__watch = true');
    return wholeDom();
  };
  /** Stops recording; returns every change made meanwhile (text, attributes, added nodes) and the DOM now. */
  const stopWatch = async (): Promise<{ changes: string; dom: string }> => {
    const changes = await page.evaluate<string>(`window.__watch = false; window.__seen.join('\\n')`);
    return { changes, dom: await wholeDom() };
  };
  const count = (hay: string, needle: string): number => hay.split(needle).length - 1;
  /**
   * The PIN typed meanwhile is in no change made to the page, and no more often in its DOM than
   * before: the card profiles' tooltips document the test cards' PINs ("PIN 1234"), and the form's
   * defaults hold other numbers.
   */
  const expectNoPin = (before: string, after: { changes: string; dom: string }, pin: string): void => {
    expect(around(after.changes, pin)).toEqual([]);
    expect(count(after.dom, pin)).toBe(count(before, pin));
  };
  /** Where `needle` occurs in `hay`, with some context (for the assertion message). */
  const around = (hay: string, needle: string): string[] => {
    const out: string[] = [];
    for (let i = hay.indexOf(needle); i >= 0 && out.length < 5; i = hay.indexOf(needle, i + 1)) out.push(hay.slice(Math.max(0, i - 150), i + 150));
    return out;
  };

  async function chooseBeneficiary(choice: number): Promise<void> {
    await showing('question-text', 'Choisissez le bénéficiaire');
    await tid(`question-choice-${choice}`).click();
    await page.locator('[data-testid="question"]').waitFor({ state: 'hidden' });
    await showing('screen-lines', 'Droits ouverts ce jour');
  }

  beforeAll(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    journalDir = mkdtempSync(join(tmpdir(), 'di-acq-browser-'));
    acquirer = await startAcquirer({ port: 0, keyDir: emulatorKeyDir(), journalPath: join(journalDir, 'journal.jsonl') });
    const { payment } = realPolicies(acquirer.port);
    // Three slots: the CPS stays in slot 0, the Vitale card in slot 1, the patient's bank card in slot 2.
    b = await bootBilling({
      payment: { policy: payment, script: await appletBundle('payment-stub'), filename: 'payment-stub/applet.js' },
      config: { reader: { driver: 'emulated', slots: 3, timing: false, baudRate: 9600, pcscReaders: [] } },
    });
    await until(() => b.dk.kernel.handlers.get('payment')?.includes('onIntent'), 20_000, 'payment ready');
    server = await startTerminalServer({ kernel: b.dk.kernel, amo: b.amo, port: 0, pollMs: 500 });

    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, locale: 'fr-FR', serviceWorkers: 'block' });
    // Loopback only: anything else is aborted, and recorded so the test fails on it.
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (new URL(url).hostname === '127.0.0.1') await route.continue();
      else {
        offLoopback.push(url);
        await route.abort('blockedbyclient');
      }
    });
    await context.addInitScript(DOM_WATCH);
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('request', (r) => requested.push(r.url()));
    page.on('websocket', (ws) => {
      sockets.push(ws.url());
      socket = ws;
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await openPage();
  }, 90_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close();
    await b?.close();
    await acquirer?.close();
    if (journalDir) rmSync(journalDir, { recursive: true, force: true });
  });

  it('opens on the device, a three-slot reader and the card profiles', async () => {
    for (const i of [0, 1, 2]) await attr(`slot-${i}`, 'data-present', 'false');
    await tid('profile-cps-medecin-generaliste').waitFor();
    await showing('screen-lines', 'Insérez la carte CPS');
    await showing('screen-title', 'SESAM-Vitale');
    // The device menu: no host link under the kernel's defaults; the network cable unplugged and back.
    await showing('link-state', 'désactivé');
    await tid('net-toggle').click();
    await attr('net-toggle', 'data-online', 'false');
    expect(b.dk.kernel.network.online).toBe(false);
    await tid('net-toggle').click();
    await attr('net-toggle', 'data-online', 'true');
    expect(b.dk.kernel.network.online).toBe(true);
  });

  it('CPS: dragged onto slot 0, the situation answered; a wrong PIN shows the tries left; the right PIN, as dots only, makes it ready', async () => {
    await tid('profile-cps-medecin-generaliste').dragTo(tid('slot-0'));
    await attr('slot-0', 'data-profile', 'cps-medecin-generaliste');
    await showing('slot-0-info', 'cps → sesam-vitale');
    await showing('question-text', 'Choisissez la situation');
    await tid('question-choice-0').click();
    await showing('pin-prompt', 'Code porteur CPS');
    await attr('pin-dots', 'data-digits', '0');
    await screenshot('cps-pin-entry');

    const domBefore = await watchDom();
    await typePin(WRONG_PIN);
    await tid('key-OK').click();
    // The device asks again, saying how many tries are left, the count back to zero.
    await showing('pin-prompt', 'Code faux (essais restants : 2) : recommencez');
    await attr('pin-dots', 'data-digits', '0');
    const shown = await page.evaluate<string>(`window.__seen.join('\\n')`);
    expect(shown).toContain('Code porteur faux');
    await screenshot('cps-wrong-pin');
    await typePin(CPS_PIN.slice(0, 3));
    // CORR takes one digit back: one dot less.
    await tid('key-CORR').click();
    await attr('pin-dots', 'data-digits', '2');
    await typePin(CPS_PIN.slice(2));
    await tid('key-OK').click();
    await page.locator('[data-testid="pin-entry"]').waitFor({ state: 'hidden' });
    await showing('screen-lines', 'Situation : 1.');
    const dom = await stopWatch();
    // Neither PIN ever reached the page: not in any change made while typing, nor in the DOM.
    expectNoPin(domBefore, dom, WRONG_PIN);
    expectNoPin(domBefore, dom, CPS_PIN);
    await screenshot('cps-ready');
  });

  it('Vitale: clicked into the first free slot, the beneficiary chosen on screen', async () => {
    await tid('profile-vitale-famille-jumeaux').click();
    await attr('slot-1', 'data-profile', 'vitale-famille-jumeaux');
    await chooseBeneficiary(1);
    await showing('screen-lines', 'Carte Vitale : assuré');
    await screenshot('vitale-read');
  });

  it('the Vitale card taken out before securing: refused in French, no invoice numbered; back in, the beneficiary again', async () => {
    await tid('slot-1-remove').click();
    await attr('slot-1', 'data-present', 'false');
    // The removal reached the kernel (and so the applet's card events) before the practitioner clicks.
    await page.locator('[data-testid="audit-entry"][data-event="card.removed"]').first().waitFor({ state: 'attached' });
    await tid('act-preset-G').click();
    await showing('act-row-0', 'G');
    await tid('btn-secure').click();
    await page.locator('[data-testid="last-result"][data-ok="false"]').filter({ hasText: /carte Vitale/ }).waitFor();
    expect(await tid('last-result').textContent()).toMatch(/Insérez la carte Vitale du patient|Carte Vitale retirée/);
    expect(await tid('last-invoice').getAttribute('data-invoice')).toBe('');
    await attr('btn-secure', 'data-busy', 'false');
    // Nothing was numbered: the day has no invoice at all, none waits to be secured.
    await showing('day-state-created', /0$/);
    await showing('day-state-secured', /0$/);
    expect(await tid('day-to-secure').count()).toBe(0);
    await screenshot('vitale-removed-refused');

    await tid('profile-vitale-famille-jumeaux').dragTo(tid('slot-1'));
    await attr('slot-1', 'data-profile', 'vitale-famille-jumeaux');
    await chooseBeneficiary(1);
  });

  let toPay1 = '';
  it('« Sécuriser la FSE » with the consultation preset: FSE n° 1 on the device (the refused try spent no number)', async () => {
    await tid('act-preset-G').click();
    await tid('btn-secure').click();
    await showing('screen-lines', 'FSE sécurisée n° 1');
    await page.locator('[data-testid="last-result"][data-ok="true"]').filter({ hasText: 'FSE sécurisée n° 1' }).waitFor();
    await attr('last-invoice', 'data-invoice', '1');
    const text = (await tid('last-result').textContent()) ?? '';
    toPay1 = /à régler par le patient : ([0-9]+,[0-9]{2}) €/.exec(text)?.[1] ?? '';
    expect(toPay1).not.toBe('');
    await showing('day-state-secured', /1$/);
    await screenshot('fse-secured');
  });

  it('the patient pays by card: emv-online into slot 2 when asked, the PIN on the keypad, approved once', async () => {
    const before = authorizations().length;
    await tid('btn-pay').click();
    await attr('btn-pay', 'data-busy', 'true');
    // The payment domain takes the screen and asks for the card.
    await showing('screen-title', 'Paiement');
    await showing('screen', /Insérez la carte/);
    await screenshot('payment-insert-card');
    await tid('profile-emv-online').dragTo(tid('slot-2'));
    await attr('slot-2', 'data-profile', 'emv-online');
    await showing('pin-prompt', /Code/);
    const domBefore = await watchDom();
    await typePin(EMV_PIN);
    await tid('key-OK').click();
    await page.locator('[data-testid="last-result"][data-ok="true"]').filter({ hasText: `Paiement accepté : ${toPay1} €` }).waitFor();
    await showing('screen-lines', 'Paiement reçu');
    const dom = await stopWatch();
    expectNoPin(domBefore, dom, EMV_PIN);
    // No PAN anywhere on the page, not even in the audit.
    expect(dom.changes + dom.dom).not.toContain('5413330000000027');
    const auths = authorizations().slice(before);
    expect(auths).toHaveLength(1);
    expect(auths[0]).toMatchObject({ responseCode: '00', amount: Number(toPay1.replace(',', '')) });
    await showing('day-payments', 'Par carte : 1 accepté(s)');
    await screenshot('payment-approved');
  });

  it('a reload in the middle of a card payment: the page comes back on the PIN entry, the payment completes, the card is charged once', async () => {
    // A second FSE for the same patient (a visit), paid with the card still in slot 2.
    await tid('act-preset-VG').click();
    await tid('btn-secure').click();
    await showing('screen-lines', 'FSE sécurisée n° 2');
    await attr('last-invoice', 'data-invoice', '2');
    const text = (await tid('last-result').textContent()) ?? '';
    const toPay2 = /à régler par le patient : ([0-9]+,[0-9]{2}) €/.exec(text)?.[1] ?? '';
    expect(toPay2).not.toBe('');
    const before = authorizations().length;

    await tid('btn-pay').click();
    await showing('pin-prompt', /Code/);
    await typePin(EMV_PIN.slice(0, 2));
    await page.reload();
    await attr('conn', 'data-state', 'connected');
    // The current state, from the server: the PIN entry with its two digits typed, the payment running.
    await attr('pin-dots', 'data-digits', '2');
    expect(await tid('pin-dots').textContent()).toBe('••');
    await attr('screen', 'data-domain', 'payment');
    await attr('btn-pay', 'data-busy', 'true');
    expect(await tid('btn-pay').isDisabled()).toBe(true);
    await attr('last-invoice', 'data-invoice', '2');
    await screenshot('payment-after-reload');
    await typePin(EMV_PIN.slice(2));
    await tid('key-OK').click();
    // The reloaded page did not send the action, so the device and the day view tell the outcome.
    await showing('screen-lines', 'Paiement reçu');
    await showing('screen-lines', `Montant : ${toPay2} €`);
    await attr('btn-pay', 'data-busy', 'false');
    await showing('day-payments', 'Par carte : 2 accepté(s)');
    expect(authorizations().slice(before)).toHaveLength(1);
    expect(authorizations().slice(before)[0]).toMatchObject({ responseCode: '00', amount: Number(toPay2.replace(',', '')) });

    // Paying it again is refused: already paid, and the acquirer sees nothing more.
    await tid('btn-pay').click();
    await page.locator('[data-testid="last-result"][data-ok="false"]').filter({ hasText: 'déjà réglée par carte' }).waitFor();
    expect(authorizations().slice(before)).toHaveLength(1);
    await showing('day-payments', 'Par carte : 2 accepté(s)');
  });

  it('a double click on « Transmettre » sends one file to the AMO', async () => {
    await tid('btn-transmit').dblclick();
    await page.locator('[data-testid="last-result"][data-ok="true"]').filter({ hasText: /Transmission : 1 lot\(s\) constitué\(s\), 1 fichier\(s\) envoyé\(s\)/ }).waitFor();
    await showing('screen-lines', 'Fichier envoyé');
    await tid('amo-file-0').waitFor();
    await b.amo.whenIdle();
    expect(b.amo.files().length).toBe(1);
    // The kernel ran one transmission (the second click met a disabled button, or the server's E_BUSY).
    const transmits = b.dk.kernel.audit.entriesSince(0).filter((e) => e.event === 'ui.action' && e.fields.action === 'transmit');
    expect(transmits).toHaveLength(1);
    expect(b.amo.files()[0]!.invoices.map((x) => x.invoiceNo).sort()).toEqual([1, 2]);
    await showing('amo-stat-filesReceived', /^1 /);
    expect(await tid('amo-file-1').count()).toBe(0);
    // The page never showed a refusal for the second click.
    expect(await page.locator('[data-testid="toast"][data-kind="error"]:visible').count()).toBe(0);
    await screenshot('transmitted');
  });

  it('« Relever les retours »: the positive ARL on the device and on the Assurance Maladie side', async () => {
    const lotNo = b.amo.files()[0]!.lots[0]!.lotNo;
    await showing(`amo-arl-${lotNo}`, 'ARL positive');
    // The AMO may answer a moment after the file: fetch again while nothing new has come.
    for (let i = 0; i < 10; i++) {
      await attr('btn-returns', 'data-busy', 'false');
      const answered = nextResult();
      await tid('btn-returns').click();
      expect(await answered).toMatchObject({ ok: true, result: { ok: true } });
      if ((await tid('screen-lines').filter({ hasText: 'ARL positive' }).count()) > 0) break;
    }
    await showing('screen-lines', `ARL positive : lot ${lotNo}`);
    expect(b.amo.files()).toHaveLength(1);
    await screenshot('returns-arl');
  });

  it('never reached beyond loopback, and the page raised no error', () => {
    expect(offLoopback).toEqual([]);
    expect(requested.length).toBeGreaterThan(0);
    for (const u of requested) expect(new URL(u).hostname).toBe('127.0.0.1');
    expect(sockets.length).toBe(2); // the first load and the reload
    for (const u of sockets) expect(new URL(u).host).toBe(`127.0.0.1:${server.port}`);
    expect(pageErrors).toEqual([]);
  });
});
