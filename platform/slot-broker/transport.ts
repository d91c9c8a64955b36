/**
 * T=0 response handling below the applet: 61xx is answered with GET RESPONSE and the pieces
 * concatenated, 6Cxx with one re-send of the same command carrying the exact Le. Applets see one
 * response per command. Every loop is bounded, because a hostile or broken card must not be able to
 * hold a slot (or the broker's memory) forever.
 */
import { buildApdu, type ParsedCommandApdu } from '../sdk/apdu.js';
import { BrokerError } from './types.js';
import type { SlotBuffers } from './buffers.js';
import { byteHex } from './hex.js';

export interface TransportLimits {
  /** GET RESPONSE rounds plus 6Cxx re-sends allowed for one command. */
  maxRounds: number;
  /** Cap on the assembled response, data plus SW1 SW2 (BrokerOptions.maxResponseBytes). */
  maxAssembledBytes: number;
  /** The card class's cap on response data, per card answer and assembled (CardClass.maxResponseBytes). */
  maxCardDataBytes: number;
}

export interface ExchangeContext {
  slot: number;
  cardClass: string;
  limits: TransportLimits;
  buffers: SlotBuffers;
  /** The command carries secrets (a PIN block): wipe each copy of it as soon as it has been sent. */
  sensitive: boolean;
  /** One raw exchange with the card (driver errors already mapped to BrokerError). */
  send: (apdu: Uint8Array) => Promise<Uint8Array>;
}

/**
 * Run one command to completion. `command` is the broker's own copy of the APDU bytes (held in
 * ctx.buffers); `parsed` is its decoding. Resolves to data + SW1 SW2 in a buffer the caller may keep.
 */
export async function exchange(
  command: Uint8Array,
  parsed: ParsedCommandApdu,
  ctx: ExchangeContext,
): Promise<Uint8Array> {
  const { slot, cardClass, limits, buffers } = ctx;
  // Error text is built only on failure: this runs for every APDU.
  const fail = (msg: string): BrokerError =>
    new BrokerError('E_CARD', `card in slot ${slot} (class "${cardClass}"), CLA ${byteHex(parsed.cla)} INS ${byteHex(parsed.ins)}: ${msg}`);

  const chunks: Uint8Array[] = [];
  let dataBytes = 0;
  let rounds = 0;
  let current = parsed;
  let currentBytes = command;
  let resent6C = false;

  for (;;) {
    const response = buffers.hold(await ctx.send(currentBytes));
    if (ctx.sensitive) currentBytes.fill(0);

    if (response.length < 2) {
      throw fail(`answered ${response.length} byte(s); a response needs at least SW1 SW2`);
    }
    if (response.length > limits.maxCardDataBytes + 2) {
      throw fail(
        `answered ${response.length - 2} data bytes, over the card class limit of ${limits.maxCardDataBytes}`,
      );
    }
    const sw1 = response[response.length - 2]!;
    const sw2 = response[response.length - 1]!;
    // ISO 7816-4 §5.6: SW1 is 6X (but not 60) or 9X. Anything else is not a status word an applet can act on.
    if (!((sw1 & 0xf0) === 0x90 || ((sw1 & 0xf0) === 0x60 && sw1 !== 0x60))) {
      throw fail(`answered status ${byteHex(sw1)}${byteHex(sw2)}, which is not an ISO 7816-4 status word`);
    }

    if (sw1 === 0x6c) {
      if (resent6C) {
        throw fail(`answered 6C${byteHex(sw2)} again after the re-send with the Le it asked for`);
      }
      if (++rounds > limits.maxRounds) {
        throw fail(`still asking for a re-send (6C${byteHex(sw2)}) after ${limits.maxRounds} rounds`);
      }
      resent6C = true;
      current = { ...current, le: sw2 === 0 ? 256 : sw2 };
      currentBytes = buffers.hold(
        buildApdu({ cla: current.cla, ins: current.ins, p1: current.p1, p2: current.p2, data: current.data, le: current.le ?? 0, extended: current.extended }),
      );
      continue;
    }

    const data = response.subarray(0, response.length - 2);
    dataBytes += data.length;
    if (dataBytes > limits.maxCardDataBytes) {
      throw fail(`assembled response data reached ${dataBytes} bytes, over the card class limit of ${limits.maxCardDataBytes}`);
    }
    if (dataBytes + 2 > limits.maxAssembledBytes) {
      throw fail(`assembled response reached ${dataBytes + 2} bytes, over the broker limit of ${limits.maxAssembledBytes}`);
    }
    if (data.length > 0) chunks.push(data);

    if (sw1 === 0x61) {
      if (++rounds > limits.maxRounds) {
        throw fail(`card kept answering 61xx after ${limits.maxRounds} rounds of GET RESPONSE`);
      }
      // A GET RESPONSE is a command of its own: it may get its own single 6Cxx re-send.
      resent6C = false;
      current = { cla: 0x00, ins: 0xc0, p1: 0x00, p2: 0x00, data: new Uint8Array(0), le: sw2 === 0 ? 256 : sw2, case: 2, extended: false };
      currentBytes = buffers.hold(buildApdu({ cla: 0x00, ins: 0xc0, p1: 0x00, p2: 0x00, le: current.le ?? 256 }));
      continue;
    }

    const out = buffers.hold(new Uint8Array(dataBytes + 2));
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    out[at] = sw1;
    out[at + 1] = sw2;
    return out.slice();
  }
}
