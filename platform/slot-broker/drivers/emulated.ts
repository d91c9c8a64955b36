/**
 * The `emulated` driver: the broker's view of the in-process emulated reader. It only translates;
 * T=0 response handling, routing and filtering stay in the broker, as they would with real hardware.
 */
import { DriverError, type DriverEvent, type SlotDriver } from '../driver.js';
import { ReaderError, type Reader, type ReaderEvent } from '../../../emulator/reader/types.js';

export class EmulatedDriver implements SlotDriver {
  readonly name = 'emulated';
  private listener: ((e: ReaderEvent) => void) | null = null;

  constructor(private readonly reader: Reader) {}

  get slotCount(): number {
    return this.reader.slotCount;
  }

  async start(onEvent: (e: DriverEvent) => void): Promise<void> {
    if (this.listener !== null) throw new DriverError('E_SLOT', 'emulated driver already started');
    this.listener = (e: ReaderEvent) => {
      onEvent(e.type === 'insert' ? { type: 'insert', slot: e.slot, atr: e.atr.slice() } : { type: 'remove', slot: e.slot });
    };
    this.reader.on('event', this.listener);
    // Cards inserted before start are announced like fresh insertions; their ATR comes from a reset.
    for (let slot = 0; slot < this.reader.slotCount; slot++) {
      if (!this.reader.present(slot)) continue;
      try {
        const atr = await this.reader.reset(slot);
        onEvent({ type: 'insert', slot, atr: atr.slice() });
      } catch (e) {
        // A card that cannot even be powered up is not announced; the reader's own remove/insert will follow.
        if (!(e instanceof ReaderError)) throw mapError(e, slot, 'power-up');
      }
    }
  }

  async reset(slot: number): Promise<Uint8Array> {
    try {
      return (await this.reader.reset(slot)).slice();
    } catch (e) {
      throw mapError(e, slot, 'reset');
    }
  }

  async transmit(slot: number, apdu: Uint8Array): Promise<Uint8Array> {
    try {
      return (await this.reader.transmit(slot, apdu)).slice();
    } catch (e) {
      throw mapError(e, slot, 'transmit');
    }
  }

  async stop(): Promise<void> {
    if (this.listener !== null) this.reader.off('event', this.listener);
    this.listener = null;
  }
}

function mapError(e: unknown, slot: number, op: string): DriverError {
  if (e instanceof DriverError) return e;
  if (e instanceof ReaderError) {
    const code = e.code === 'E_RESPONSE_TOO_LONG' ? 'E_IO' : e.code;
    return new DriverError(code, `emulated reader, slot ${slot}, ${op}: ${e.message}`);
  }
  return new DriverError('E_IO', `emulated reader, slot ${slot}, ${op}: ${e instanceof Error ? e.message : String(e)}`);
}
