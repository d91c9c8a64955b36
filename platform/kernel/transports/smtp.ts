/**
 * The kernel's client for endpoints of kind 'smtp' (DESIGN §4: the kernel owns every connection).
 * The applet builds the mail (formats/mail.ts MailMessage); this checks it at the trust boundary
 * (mail-checks.ts), hands it to nodemailer over one pooled connection set per endpoint, and answers
 * `{ type: 'sent', messageId, accepted, rejected }`. Failures are E_NET naming the endpoint and,
 * when the server answered, its reply code and line: never the message, which holds health data.
 */
import { createTransport, type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import type { WireValue } from '../../wire/messages.js';
import type { NetworkEndpoint } from '../policy/types.js';
import type { Transport } from '../services.js';
import { KernelError } from '../errors.js';
import type { NetworkLink } from '../network.js';
import { checkOutgoingMail, serverText } from './mail-checks.js';

export const SMTP_TIMEOUT_MS = 30_000;

export interface SmtpTransportOptions {
  /** Whole-send deadline and each socket-level timeout (ms). */
  timeoutMs?: number;
  /** The device's network cable: when unplugged, every call fails with E_NET before connecting. */
  network?: NetworkLink;
}

type Pool = Transporter<SMTPPool.SentMessageInfo, SMTPPool.Options>;

function label(ep: NetworkEndpoint): string {
  return `smtp endpoint ${JSON.stringify(ep.name)} (${ep.host}:${ep.port})`;
}

function netError(ep: NetworkEndpoint, why: string): KernelError {
  return new KernelError('E_NET', `${label(ep)}: ${why}`);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

interface SmtpFailure {
  code?: unknown;
  responseCode?: unknown;
  response?: unknown;
  command?: unknown;
  errno?: unknown;
}

/** What the domain may learn of a failure: the endpoint, the SMTP command and the server's reply. */
function describeFailure(ep: NetworkEndpoint, e: unknown, timeoutMs: number): KernelError {
  const f = (e !== null && typeof e === 'object' ? e : {}) as SmtpFailure;
  const code = typeof f.code === 'string' ? f.code : '';
  const cmd = typeof f.command === 'string' && /^[A-Z][A-Z ]{1,15}$/.test(f.command) ? ` after ${f.command}` : '';
  if (typeof f.responseCode === 'number' && typeof f.response === 'string') {
    return netError(ep, `server replied ${f.responseCode}${cmd}: ${serverText(f.response)}`);
  }
  const sys = typeof f.errno === 'string' ? f.errno : (e as { message?: unknown } | null)?.message;
  if (code === 'ETIMEDOUT' || /timeout/i.test(String(sys))) return netError(ep, `no reply within ${timeoutMs} ms`);
  if (/ECONNREFUSED/.test(String(sys))) return netError(ep, 'connection refused');
  if (/ECONNRESET/.test(String(sys))) return netError(ep, 'connection reset');
  if (code === 'ETLS') return netError(ep, 'the server offers no STARTTLS and this endpoint is not on loopback');
  return netError(ep, `sending failed${code ? ` (${code})` : ''}${cmd}`);
}

export class SmtpTransport implements Transport {
  private readonly pools = new Map<string, Pool>();
  private readonly timeoutMs: number;
  private readonly network: NetworkLink | undefined;

  constructor(opts: SmtpTransportOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? SMTP_TIMEOUT_MS;
    this.network = opts.network;
  }

  fetch(endpoint: NetworkEndpoint): Promise<WireValue> {
    return Promise.reject(new KernelError('E_ARGS', `net.fetch on ${label(endpoint)}: an smtp endpoint only sends (use net.send)`));
  }

  async send(endpoint: NetworkEndpoint, message: WireValue, signal: AbortSignal): Promise<WireValue> {
    this.network?.assertOnline();
    const mail = checkOutgoingMail(`net.send to ${label(endpoint)}`, message);
    if (signal.aborted) throw netError(endpoint, 'cancelled');
    const pool = this.pool(endpoint);
    const sending = pool.sendMail({
      envelope: { from: mail.from, to: mail.to },
      from: mail.from,
      to: mail.to,
      subject: mail.subject,
      messageId: mail.messageId,
      text: mail.text,
      attachments: mail.attachments.map((a) => ({
        filename: a.filename,
        contentType: a.contentType,
        contentDisposition: 'attachment' as const,
        content: Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength),
      })),
    });
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    // nodemailer has no per-message cancel: giving up closes the endpoint's pool, which drops the
    // connection mid-transaction (the server then discards the message unless it already said 250).
    const giveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.drop(endpoint);
        reject(netError(endpoint, `no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      onAbort = () => {
        this.drop(endpoint);
        reject(netError(endpoint, 'cancelled'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const info = await Promise.race([sending, giveUp]);
      const asText = (xs: unknown): string[] => (Array.isArray(xs) ? xs.map((x) => (typeof x === 'string' ? x : String((x as { address?: unknown }).address ?? ''))) : []);
      return {
        type: 'sent',
        messageId: typeof info.messageId === 'string' && info.messageId !== '' ? info.messageId : mail.messageId,
        accepted: asText(info.accepted),
        rejected: asText(info.rejected),
      };
    } catch (e) {
      if (e instanceof KernelError) throw e;
      throw describeFailure(endpoint, e, this.timeoutMs);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
      sending.catch(() => undefined);
    }
  }

  /** Closes every pool (kernel shutdown, tests). */
  close(): void {
    for (const p of this.pools.values()) p.close();
    this.pools.clear();
  }

  private key(ep: NetworkEndpoint): string {
    return `${ep.name}@${ep.host}:${ep.port}`;
  }

  private pool(ep: NetworkEndpoint): Pool {
    const k = this.key(ep);
    let p = this.pools.get(k);
    if (!p) {
      const loopback = isLoopback(ep.host);
      p = createTransport({
        pool: true,
        host: ep.host.replace(/^\[(.*)\]$/, '$1'),
        port: ep.port,
        secure: false,
        // On loopback (the AMO emulator, a local relay) there is nothing to protect against; off it,
        // health data must not cross the network in clear, so STARTTLS is required.
        ignoreTLS: loopback,
        requireTLS: !loopback,
        maxConnections: 2,
        maxMessages: 100,
        connectionTimeout: this.timeoutMs,
        greetingTimeout: this.timeoutMs,
        socketTimeout: this.timeoutMs,
        // The applet only ever gives bytes: never let a field be read as a file path or URL.
        disableFileAccess: true,
        disableUrlAccess: true,
        logger: false,
        debug: false,
      });
      p.on('error', () => undefined);
      this.pools.set(k, p);
    }
    return p;
  }

  private drop(ep: NetworkEndpoint): void {
    const k = this.key(ep);
    this.pools.get(k)?.close();
    this.pools.delete(k);
  }
}
