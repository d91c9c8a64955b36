/**
 * The AMO's inbound SMTP (smtp-server) on loopback: no TLS and no AUTH (an emulator on 127.0.0.1;
 * who sent a file is proved by the CPS signatures inside it, not by the SMTP session), recipients
 * only in the AMO domain, a size cap. The message is answered 250 only once the handler has kept it
 * and processed it, so a client that got 250 knows the ARL is already in its mailbox.
 */
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { AMO_DOMAIN } from '../../applets/sesam-vitale/formats/mail.js';

/** 50 lots of 50 invoices in base64 stay far below this. */
export const MAX_MESSAGE_BYTES = 20 * 1024 * 1024;

export interface InboundEnvelope {
  mailFrom: string;
  rcptTo: string[];
}

export interface SmtpIn {
  port: number;
  close(): Promise<void>;
}

export function startSmtpIn(opts: { host: string; port: number; onMessage(raw: Uint8Array, envelope: InboundEnvelope): Promise<void> }): Promise<SmtpIn> {
  const server = new SMTPServer({
    name: 'amo.test',
    banner: 'DI AMO (emulator)',
    disabledCommands: ['AUTH', 'STARTTLS'],
    authOptional: true,
    size: MAX_MESSAGE_BYTES,
    logger: false,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      if (!address.address.toLowerCase().endsWith(`@${AMO_DOMAIN}`)) {
        const err = new Error(`550 5.1.1 ${address.address}: not an AMO address (…@${AMO_DOMAIN})`) as Error & { responseCode: number };
        err.responseCode = 550;
        return callback(err);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err: Error) => callback(err));
      stream.on('end', () => {
        if (stream.sizeExceeded) {
          const err = new Error(`552 5.3.4 message exceeds ${MAX_MESSAGE_BYTES} bytes`) as Error & { responseCode: number };
          err.responseCode = 552;
          return callback(err);
        }
        const envelope: InboundEnvelope = {
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
        };
        opts.onMessage(new Uint8Array(Buffer.concat(chunks)), envelope).then(
          () => callback(null, 'Message accepted (DI AMO)'),
          () => {
            // The handler keeps the message before it can fail: a temporary error lets the client retry.
            const err = new Error('451 4.3.0 processing failed, message kept; try again') as Error & { responseCode: number };
            err.responseCode = 451;
            callback(err);
          },
        );
      });
    },
  });
  server.on('error', () => {
    // Per-connection errors (a client that vanished) must not stop the server.
  });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.server.off('error', onError);
      const addr = server.server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port;
      resolve({ port, close: () => new Promise<void>((done) => server.close(() => done())) });
    });
  });
}
