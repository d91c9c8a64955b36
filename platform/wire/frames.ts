/**
 * Length-prefixed msgpack frames on the kernel <-> host pipe: a 4-byte big-endian body length,
 * then one msgpack body holding one message. Decoding yields untrusted `unknown`; callers must run
 * it through validate.ts before acting on it.
 */
// 'msgpackr/pack' is the pure-JavaScript build (on Node it resolves to msgpackr's index.js): the
// default entry also probes for and loads the optional native string extractor, which costs the
// host about 10 ms of start-up and puts native parsing code in front of untrusted frames, for no gain
// on frames this small.
import { Packr } from 'msgpackr/pack';

/** Default cap on one frame body, both directions (an init frame carries the whole applet bundle). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

const HEADER_BYTES = 4;

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

// One codec for both directions. useRecords:false keeps bodies self-describing (no shared record
// structures a peer could inject); structuredClone:false refuses the id/pointer extensions that
// build cyclic graphs; copyBuffers:true makes every `bin` a fresh, exactly-sized array instead of a
// view into the frame buffer (a view would drag the whole frame -- or a Buffer pool slab holding
// unrelated data -- along when it is later copied into an isolate).
const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  mapsAsObjects: true,
  copyBuffers: true,
  bundleStrings: false,
  encodeUndefinedAsNil: false,
});

export function encodeFrame(msg: unknown, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Buffer {
  let body: Buffer;
  try {
    body = packr.pack(msg);
  } catch (err) {
    throw new FrameError(`frame: cannot encode message: ${(err as Error).message}`);
  }
  if (body.length > maxFrameBytes) {
    throw new FrameError(`frame: body of ${body.length} bytes exceeds the ${maxFrameBytes}-byte limit`);
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, HEADER_BYTES);
  return frame;
}

/**
 * Incremental decoder for a byte stream of frames. After it throws once the stream is out of sync and
 * the decoder refuses further input: the caller is expected to drop the peer.
 */
export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > 0xffffffff) {
      throw new RangeError('FrameDecoder: maxFrameBytes must be an integer in 1..2^32-1');
    }
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): unknown[] {
    if (this.failed) throw new FrameError('frame: decoder already failed');
    if (chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: unknown[] = [];
    try {
      for (;;) {
        if (this.buffered < HEADER_BYTES) break;
        const length = this.peekLength();
        // Checked before waiting for (and buffering) the body, so a hostile prefix cannot make us
        // hold up to 4 GiB.
        if (length > this.maxFrameBytes) {
          throw new FrameError(`frame: length prefix ${length} exceeds the ${this.maxFrameBytes}-byte limit`);
        }
        if (length === 0) throw new FrameError('frame: empty body');
        if (this.buffered < HEADER_BYTES + length) break;
        const frame = this.take(HEADER_BYTES + length);
        out.push(decodeBody(frame.subarray(HEADER_BYTES)));
      }
    } catch (err) {
      this.failed = true;
      this.chunks = [];
      this.buffered = 0;
      throw err;
    }
    return out;
  }

  private peekLength(): number {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= HEADER_BYTES) return first.readUInt32BE(0);
    const head = Buffer.concat(this.chunks, HEADER_BYTES);
    return head.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.buffered);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
}

function decodeBody(body: Buffer): unknown {
  // A plain Uint8Array view (not a Buffer) so that copyBuffers' species-based slice yields plain
  // Uint8Array values rather than Buffers. unpack() itself rejects trailing bytes after the value.
  const view = new Uint8Array(body.buffer, body.byteOffset, body.length);
  try {
    return packr.unpack(view) as unknown;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new FrameError(`frame: undecodable body: ${detail.slice(0, 200)}`);
  }
}
