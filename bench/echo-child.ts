// Baseline peer for `di bench`: echoes every frame on fd 3, exactly the kind of pipe and framing a
// domain host uses, with nothing else in the path.
import { Socket } from 'node:net';
import { encodeFrame, FrameDecoder } from '../platform/wire/frames.js';

const pipe = new Socket({ fd: 3, readable: true, writable: true });
const decoder = new FrameDecoder(1 << 20);
pipe.on('data', (chunk: Buffer) => {
  for (const msg of decoder.push(chunk)) pipe.write(encodeFrame(msg as never));
});
pipe.on('end', () => process.exit(0));
