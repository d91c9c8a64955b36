/**
 * Framing of vsmartcard's vpcd protocol (virtualsmartcard/src/vpcd/vpcd.c): every message, both
 * ways, is a 2-byte big-endian length followed by that many bytes. From vpcd, a 1-byte message is a
 * control byte; anything longer is a command APDU. vpcd waits for an answer only to GET ATR and to
 * APDUs; power on/off and reset are fire-and-forget.
 */

export const VPCD_CTRL = { OFF: 0x00, ON: 0x01, RESET: 0x02, ATR: 0x04 } as const;

/** vpcd's reader.conf CHANNELID for slot 0 (0x8C7B); slot N listens on this port + N. */
export const VPCD_DEFAULT_PORT = 35963;

/** The largest payload one frame can carry. */
export const VPCD_MAX_PAYLOAD = 0xffff;

export type VpcdMessage =
  | { type: 'control'; code: number }
  | { type: 'apdu'; apdu: Uint8Array };

export class VpcdFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VpcdFrameError';
  }
}

/** One frame: length prefix and payload in a single buffer, so one write puts it on the wire. */
export function encodeVpcdFrame(payload: Uint8Array): Buffer {
  if (payload.length > VPCD_MAX_PAYLOAD) {
    throw new VpcdFrameError(`vpcd frame payload of ${payload.length} bytes exceeds the 65535-byte limit of the 2-byte length`);
  }
  const out = Buffer.allocUnsafe(payload.length + 2);
  out.writeUInt16BE(payload.length, 0);
  out.set(payload, 2);
  return out;
}

/**
 * Reassembles frames from a TCP byte stream, whatever the chunking (several frames in one chunk, a
 * frame split across chunks, a length prefix split in two).
 */
export class VpcdFrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): VpcdMessage[] {
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    const out: VpcdMessage[] = [];
    while (this.pending.length >= 2) {
      const len = this.pending.readUInt16BE(0);
      if (this.pending.length < 2 + len) break;
      const payload = Uint8Array.from(this.pending.subarray(2, 2 + len));
      this.pending = this.pending.subarray(2 + len);
      // vpcd never sends an empty frame; one would carry nothing to answer, so it is skipped.
      if (len === 0) continue;
      out.push(len === 1 ? { type: 'control', code: payload[0]! } : { type: 'apdu', apdu: payload });
    }
    return out;
  }

  /** Bytes received that do not yet make a whole frame. */
  get buffered(): number {
    return this.pending.length;
  }

  reset(): void {
    this.pending = Buffer.alloc(0);
  }
}
