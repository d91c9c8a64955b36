/**
 * Billing figures of issue 4, measured on the real SESAM-Vitale applet (bundled as `di applet pack`
 * does, under the real policy) with the reader's timing disabled, so nothing sleeps:
 *
 * 1. Platform time per FSE, from the CPS inserted to the FSE stored (CPS read, situation, PIN, Vitale
 *    read, fse.create). Every card model is wrapped in a recorder that notes the length of each
 *    command and response, the card's own processingMs() for it, each ATR, and the real time spent
 *    inside the model (the emulator's CPU, e.g. its RSA signatures: work a real card does, not the
 *    platform). Platform time = wall time − time inside the card models; card time = what the
 *    reader's timing model (emulator/reader/timing.ts) gives for the same exchanges at 9600 bps.
 * 2. Lot build and sign throughput: `transmit` over N secured FSEs (one full lot: body, CPS lot
 *    signature by the fast emulated card, file manifest, mail handed to SMTP), against a same-run
 *    baseline, a bare pkijs SignedData verify loop over that very lot.
 * 3. The AMO's processing rate: the captured file mail sent to a fresh `startAmo` by nodemailer; the
 *    AMO answers 250 only once the file is processed (signatures, content, ARL), so the send's
 *    completion is the end of processing. Same baseline.
 *
 * The SMTP endpoint of the policy points at a sink (smtp-server) that only keeps what it gets, so
 * figure 2 does not include the AMO's work; figure 3 replays what the sink kept.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { createTransport } from 'nodemailer';
import { simpleParser } from 'mailparser';
import * as pkijs from 'pkijs';
import { Kernel } from '../platform/kernel/kernel.js';
import { defaultConfig } from '../platform/kernel/config.js';
import { bundleApplet } from '../platform/kernel/packages/pack.js';
import { loadPolicyFile } from '../platform/kernel/policy/loader.js';
import { repoRoot } from '../platform/kernel/paths.js';
import type { Policy } from '../platform/kernel/policy/types.js';
import type { TerminalView } from '../platform/kernel/terminal.js';
import type { CardModel } from '../emulator/cards/card.js';
import { emulatorKeyDir, loadCard } from '../emulator/cards/profiles.js';
import { loadOrCreatePki } from '../emulator/cards/pki/index.js';
import { startAmo } from '../emulator/amo/server.js';
import { atrMs, exchangeTiming } from '../emulator/reader/timing.js';
import { screens } from '../applets/sesam-vitale/screens.js';
import { MAX_INVOICES_PER_LOT } from '../applets/sesam-vitale/formats/lot.js';
import { median } from './stats.js';

export const BILLING_BAUD_RATE = 9600;
/** Issue 4: platform time per FSE at most 5 % of card time at 9600 bps. */
export const FSE_PLATFORM_SHARE_TARGET = 0.05;

const CPS_PROFILE = 'cps-medecin-generaliste';
const VITALE_PROFILE = 'vitale-assure-seul';
/** Situation 1 on the keypad (the CPS has two), then the PIN of the emulated card: typed ahead, consumed when asked. */
const KEYS = ['1', '1', '2', '3', '4', 'OK'] as const;
const CONTEXT = { nature: 'maladie', aldRelated: false, parcours: 'traitant', tiersPayantAmo: false, tiersPayantAmc: false } as const;

export interface BillingFigures {
  fse: {
    /** Medians over `samples` FSEs, after `warmup` untimed ones. */
    platformMs: number;
    cardMsAt9600: number;
    /** platformMs / cardMsAt9600 (goal <= 0.05). */
    ratio: number;
    wallMs: number;
    /** Real time spent inside the card models (the emulator's own CPU), taken out of wallMs. */
    cardModelMs: number;
    apdus: number;
    samples: number;
    warmup: number;
  };
  lot: {
    invoicesPerLot: number;
    /** Median of `rounds` transmits, each over one full lot of secured FSEs. */
    transmitMs: number;
    invoicesPerSecond: number;
    /** Time inside the card model during a transmit (the lot signature), included in transmitMs. */
    cardModelMs: number;
    lotCmsBytes: number;
    rounds: number;
    /** invoicesPerSecond / baseline.verifyPerSecond. */
    ratio: number;
  };
  amo: {
    invoicesPerFile: number;
    /** Median over `rounds` fresh AMOs each sent the same captured file. */
    processMs: number;
    invoicesPerSecond: number;
    /** Signature checks per invoice: CPS detached + Vitale authentication, plus the lot's one shared. */
    verifiesPerInvoice: number;
    rounds: number;
    /** invoicesPerSecond / baseline.verifyPerSecond. */
    ratio: number;
  };
  baseline: {
    /** Bare pkijs: ContentInfo.fromBER + SignedData + verify (chain to the test root) of the lot CMS. */
    verifyUs: number;
    verifyPerSecond: number;
    cmsBytes: number;
  };
  targets: { fsePlatformShare: number };
  met: { fsePlatformShare: boolean };
  method: string;
}

/** What the timing model would charge for the recorded exchanges, and the real time spent in the models. */
export class CardRecorder {
  recording = false;
  apdus = 0;
  modelMs = 0;
  #cpuNs = 0n;

  constructor(readonly baudRate = BILLING_BAUD_RATE) {}

  get cardModelMs(): number {
    return Number(this.#cpuNs) / 1e6;
  }

  clear(): void {
    this.apdus = 0;
    this.modelMs = 0;
    this.#cpuNs = 0n;
  }

  wrap(card: CardModel): CardModel {
    const rec = this;
    const timed = <T>(f: () => T): T => {
      const t0 = process.hrtime.bigint();
      try {
        return f();
      } finally {
        if (rec.recording) rec.#cpuNs += process.hrtime.bigint() - t0;
      }
    };
    return {
      kind: card.kind,
      reset(): Uint8Array {
        const atr = timed(() => card.reset());
        // The ATR comes at the default rate whatever the line runs at afterwards (timing.ts).
        if (rec.recording) rec.modelMs += atrMs(atr.length);
        return atr;
      },
      process(apdu: Uint8Array): Uint8Array | null {
        // The reader asks processingMs before process(): the card's state as it was when the command arrived.
        const processing = timed(() => card.processingMs?.(apdu) ?? 0);
        const response = timed(() => card.process(apdu));
        if (rec.recording) {
          rec.apdus++;
          rec.modelMs += exchangeTiming(apdu.length, response?.length ?? 0, processing, rec.baudRate, 1).totalMs;
        }
        return response;
      },
      processingMs(apdu: Uint8Array): number {
        return card.processingMs?.(apdu) ?? 0;
      },
    };
  }
}

interface Captured {
  raw: Uint8Array;
  from: string;
  to: string[];
}

/** An SMTP server that accepts everything and keeps it: the transmit figure without the AMO's work. */
async function startSink(): Promise<{ port: number; mails: Captured[]; close(): Promise<void> }> {
  const mails: Captured[] = [];
  const server = new SMTPServer({
    name: 'sink.test',
    disabledCommands: ['AUTH', 'STARTTLS'],
    authOptional: true,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err: Error) => callback(err));
      stream.on('end', () => {
        mails.push({
          raw: new Uint8Array(Buffer.concat(chunks)),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
        });
        callback(null, 'kept');
      });
    },
  });
  server.on('error', () => undefined);
  const port = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.server.address();
      resolve(typeof a === 'object' && a !== null ? a.port : 0);
    });
  });
  return { port, mails, close: () => new Promise<void>((done) => server.close(() => done())) };
}

function billingPolicy(smtpPort: number, pop3Port: number): Policy {
  const real = loadPolicyFile(join(repoRoot(), 'policies', 'sesam-vitale.json'));
  return {
    ...real,
    network: { ...real.network, endpoints: real.network.endpoints.map((e) => ({ ...e, port: e.kind === 'smtp' ? smtpPort : e.kind === 'pop3' ? pop3Port : e.port })) },
  };
}

type R = Record<string, unknown>;

function sameLines(v: TerminalView, lines: string[]): boolean {
  return v.screen.lines.length === lines.length && v.screen.lines.every((l, i) => l === lines[i]);
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const r2 = (x: number): number => Math.round(x * 100) / 100;
const r4 = (x: number): number => Math.round(x * 10000) / 10000;

export async function runBillingBench(opts: { quick?: boolean } = {}): Promise<BillingFigures> {
  const quick = Boolean(opts.quick);
  const fseWarmup = quick ? 2 : 5;
  const fseSamples = quick ? 5 : 15;
  const lotRounds = quick ? 1 : 3;
  const amoRounds = quick ? 3 : 7;
  const perLot = MAX_INVOICES_PER_LOT;

  const dataDir = mkdtempSync(join(tmpdir(), 'di-bench-billing-'));
  const amoDirs: string[] = [];
  const sink = await startSink();
  const base = defaultConfig(dataDir);
  let kernel: Kernel | undefined;
  try {
    const script = await bundleApplet(join(repoRoot(), 'applets', 'sesam-vitale'), 'main.ts');
    // The payment domain must exist for the health policy's intent grant; a stand-in is enough here.
    const payment = {
      policy: loadPolicyFile(join(repoRoot(), 'policies', 'payment.json')),
      script: `globalThis.onIntent = async (r) => ({ status: 'approved', transactionRef: 'PAY-' + String(r.payload.reference) });`,
      filename: 'payment.js',
    };
    // POP3 is never asked during the bench; the port only has to be a valid one.
    kernel = await Kernel.boot({
      config: { ...base, reader: { ...base.reader, timing: false }, supervisor: { ...base.supervisor, spareHost: false, readyTimeoutMs: 20_000 } },
      devApplets: [{ policy: billingPolicy(sink.port, sink.port), script, filename: 'sesam-vitale/applet.js' }, payment],
    });
    const k = kernel;
    const t0Ready = Date.now();
    while (!k.handlers.get('sesam-vitale')?.includes('onAction')) {
      if (Date.now() - t0Ready > 30_000) throw new Error('bench: the sesam-vitale applet did not start');
      await new Promise((r) => setTimeout(r, 10));
    }

    const rec = new CardRecorder();
    const cps = rec.wrap(await loadCard(CPS_PROFILE));
    const vitale = rec.wrap(await loadCard(VITALE_PROFILE));
    const act = async (action: string, payload: R = {}): Promise<R> => (await k.action('sesam-vitale', action, payload)) as R;

    /** Resolves on the first view (from now) that `pred` accepts; a card error screen fails at once. */
    const nextView = (pred: (v: TerminalView) => boolean, what: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const failed = [screens.cardError('').lines[0], screens.badNir('').lines[0]];
        const timer = setTimeout(() => done(new Error(`bench: timed out waiting for ${what}; screen ${JSON.stringify(k.terminal.current().screen.lines)}`)), 30_000);
        const onView = (v: TerminalView): void => {
          if (v.domain === 'sesam-vitale' && failed.includes(v.screen.lines[0])) done(new Error(`bench: ${what} failed: ${v.screen.lines.join(' / ')}`));
          else if (pred(v)) done(null);
        };
        const done = (err: Error | null): void => {
          clearTimeout(timer);
          k.terminal.off('view', onView);
          if (err) reject(err);
          else resolve();
        };
        k.terminal.on('view', onView);
      });
    const pinOk = screens.pinOk().lines;
    const vitalePrefix = screens.vitaleRead([], '', null, null).lines[0] ?? 'Carte Vitale';
    const readCards = async (): Promise<void> => {
      k.terminal.typeKeys([...KEYS]);
      // After the PIN is verified the applet shows pinOk, then the CPS summary: the read is over.
      let pinSeen = false;
      const cpsDone = nextView((v) => {
        if (pinSeen) return true;
        pinSeen = sameLines(v, pinOk);
        return false;
      }, 'the CPS read and PIN');
      k.insertCard(0, cps);
      await cpsDone;
      const vitaleDone = nextView((v) => v.screen.lines[0]?.startsWith(vitalePrefix) === true, 'the Vitale read');
      k.insertCard(1, vitale);
      await vitaleDone;
    };
    const today = (): string => new Date().toISOString().slice(0, 10);
    const createFse = async (): Promise<void> => {
      const r = await act('fse.create', { acts: [{ date: today(), code: 'G' }], context: CONTEXT });
      if (r.ok !== true) throw new Error(`bench: fse.create refused: ${JSON.stringify(r.error ?? r)}`);
    };
    const removeCards = async (): Promise<void> => {
      const home = nextView((v) => sameLines(v, screens.home().lines), 'the home screen');
      k.removeCard(1);
      k.removeCard(0);
      await home;
      // Let the lease releases and resets that follow a removal finish outside the measured window.
      await new Promise((r) => setTimeout(r, 50));
    };

    // ---- 1. platform time per FSE -----------------------------------------------------------------
    const platform: number[] = [];
    const card: number[] = [];
    const wall: number[] = [];
    const inModel: number[] = [];
    const apdus: number[] = [];
    for (let i = 0; i < fseWarmup + fseSamples; i++) {
      rec.clear();
      rec.recording = true;
      const t0 = process.hrtime.bigint();
      await readCards();
      await createFse();
      const w = ms(t0);
      rec.recording = false;
      if (i >= fseWarmup) {
        wall.push(w);
        inModel.push(rec.cardModelMs);
        platform.push(w - rec.cardModelMs);
        card.push(rec.modelMs);
        apdus.push(rec.apdus);
      }
      await removeCards();
    }
    const fsePlatform = median(platform);
    const fseCard = median(card);

    // ---- 2. lot build and sign (transmit) ---------------------------------------------------------
    await readCards();
    const transmitMs: number[] = [];
    const transmitCard: number[] = [];
    const transmitOnce = async (): Promise<number> => {
      rec.clear();
      rec.recording = true;
      const t0 = process.hrtime.bigint();
      const t = await act('transmit');
      const w = ms(t0);
      rec.recording = false;
      const sent = t.filesSent as unknown[] | undefined;
      if (t.ok !== true || t.lotsBuilt !== 1 || sent?.length !== 1) throw new Error(`bench: transmit did not build and send one lot: ${JSON.stringify(t)}`);
      return w;
    };
    // Untimed warm-up: the FSEs of figure 1 go out in a first, smaller lot, so that the lot and file
    // paths are compiled before the full lots are timed.
    await transmitOnce();
    for (let round = 0; round < lotRounds; round++) {
      for (let i = 0; i < perLot; i++) await createFse();
      transmitMs.push(await transmitOnce());
      transmitCard.push(rec.cardModelMs);
    }
    const mail = sink.mails[sink.mails.length - 1];
    if (!mail || sink.mails.length !== lotRounds + 1) throw new Error(`bench: the SMTP sink kept ${sink.mails.length} mails, expected ${lotRounds + 1}`);
    const parsed = await simpleParser(Buffer.from(mail.raw));
    const p7m = parsed.attachments.find((a) => (a.filename ?? '').endsWith('.p7m'));
    if (!p7m) throw new Error('bench: the file mail carries no signed lot');
    const lotCms = new Uint8Array(p7m.content);

    // ---- baseline: bare pkijs verify of that lot --------------------------------------------------
    const pki = await loadOrCreatePki(emulatorKeyDir());
    const rootBer = pki.rootDer.slice().buffer;
    const cmsBer = lotCms.slice().buffer;
    const verifyOnce = async (): Promise<void> => {
      const ci = pkijs.ContentInfo.fromBER(cmsBer);
      const sd = new pkijs.SignedData({ schema: ci.content });
      const res = await sd.verify({ signer: 0, trustedCerts: [pkijs.Certificate.fromBER(rootBer)], checkChain: true, extendedMode: true });
      if (!res.signatureVerified) throw new Error('bench: the lot CMS does not verify');
    };
    const verifyWarmup = quick ? 20 : 50;
    const verifyRounds = quick ? 3 : 7;
    const verifyPer = quick ? 20 : 50;
    for (let i = 0; i < verifyWarmup; i++) await verifyOnce();
    const means: number[] = [];
    for (let i = 0; i < verifyRounds; i++) {
      const t0 = process.hrtime.bigint();
      for (let j = 0; j < verifyPer; j++) await verifyOnce();
      means.push((ms(t0) * 1000) / verifyPer);
    }
    const verifyUs = median(means);
    const verifyPerSecond = 1e6 / verifyUs;

    // ---- 3. the AMO's processing rate -------------------------------------------------------------
    const amoMs: number[] = [];
    // One untimed round first: the AMO's modules and pkijs paths get compiled.
    for (let round = 0; round < amoRounds + 1; round++) {
      const dir = mkdtempSync(join(tmpdir(), 'di-bench-amo-'));
      amoDirs.push(dir);
      const amo = await startAmo({ smtpPort: 0, pop3Port: 0, dataDir: dir, payment: 'manual' });
      const transport = createTransport({ host: '127.0.0.1', port: amo.smtpPort, secure: false, ignoreTLS: true, logger: false });
      try {
        const t0 = process.hrtime.bigint();
        await transport.sendMail({ envelope: { from: mail.from, to: mail.to }, raw: Buffer.from(mail.raw) });
        await amo.whenIdle();
        const w = ms(t0);
        const s = amo.stats();
        if (s.invoicesAccepted !== perLot || s.invoicesRejected !== 0) throw new Error(`bench: the AMO accepted ${s.invoicesAccepted} and rejected ${s.invoicesRejected} of ${perLot} invoices`);
        if (round > 0) amoMs.push(w);
      } finally {
        transport.close();
        await amo.close();
      }
    }
    const amoProcessMs = median(amoMs);
    const amoRate = perLot / (amoProcessMs / 1000);
    const lotMs = median(transmitMs);
    const lotRate = perLot / (lotMs / 1000);

    return {
      fse: {
        platformMs: r2(fsePlatform),
        cardMsAt9600: r2(fseCard),
        ratio: r4(fsePlatform / fseCard),
        wallMs: r2(median(wall)),
        cardModelMs: r2(median(inModel)),
        apdus: median(apdus),
        samples: fseSamples,
        warmup: fseWarmup,
      },
      lot: {
        invoicesPerLot: perLot,
        transmitMs: r2(lotMs),
        invoicesPerSecond: r2(lotRate),
        cardModelMs: r2(median(transmitCard)),
        lotCmsBytes: lotCms.length,
        rounds: lotRounds,
        ratio: r4(lotRate / verifyPerSecond),
      },
      amo: {
        invoicesPerFile: perLot,
        processMs: r2(amoProcessMs),
        invoicesPerSecond: r2(amoRate),
        verifiesPerInvoice: r4(2 + 1 / perLot),
        rounds: amoRounds,
        ratio: r4(amoRate / verifyPerSecond),
      },
      baseline: { verifyUs: r2(verifyUs), verifyPerSecond: r2(verifyPerSecond), cmsBytes: lotCms.length },
      targets: { fsePlatformShare: FSE_PLATFORM_SHARE_TARGET },
      met: { fsePlatformShare: fsePlatform / fseCard <= FSE_PLATFORM_SHARE_TARGET },
      method:
        `timing disabled, real applet and policy; FSE: medians of ${fseSamples} after ${fseWarmup} warm-up, window = CPS inserted -> fse.create answered ` +
        `(situation and PIN typed ahead), platform = wall - time inside the card models, card time = timing model at ${BILLING_BAUD_RATE} bps over the recorded exchanges and ATRs; ` +
        `lot: transmit of ${perLot} secured FSEs to an SMTP sink, median of ${lotRounds} after 1 warm-up transmit; AMO: the captured file sent by nodemailer to a fresh emulated AMO (manual payment), ` +
        `median of ${amoRounds} after 1 warm-up, 250 comes after processing; baseline: bare pkijs ContentInfo.fromBER + SignedData.verify (chain to the test root) of that ${lotCms.length}-byte lot, ` +
        `median of ${verifyRounds} batch means of ${verifyPer}; ratios = invoices/s over verifies/s`,
    };
  } finally {
    await kernel?.shutdown();
    await sink.close();
    rmSync(dataDir, { recursive: true, force: true });
    for (const d of amoDirs) rmSync(d, { recursive: true, force: true });
  }
}
