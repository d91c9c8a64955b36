/**
 * Builds the VERIFY command from PIN digits typed on the kernel's keypad. Only the kernel calls this;
 * the returned buffer must be zeroed by the caller as soon as it has been sent.
 */
import { KernelError } from './errors.js';

export type PinFormat = 'ascii-ff' | 'bcd-ff' | 'emv-plaintext';
export const PIN_FORMATS: readonly PinFormat[] = ['ascii-ff', 'bcd-ff', 'emv-plaintext'];

/** `digits[0..length)` hold values 0..9. */
export function buildVerify(reference: number, format: PinFormat, digits: Uint8Array, length: number): Uint8Array {
  if (length < 4 || length > 12) throw new KernelError('E_PIN', `a PIN has 4 to 12 digits`);
  const block = new Uint8Array(8).fill(0xff);
  switch (format) {
    case 'ascii-ff':
      if (length > 8) throw new KernelError('E_PIN', 'format ascii-ff holds at most 8 digits');
      for (let i = 0; i < length; i++) block[i] = 0x30 + (digits[i] as number);
      break;
    case 'bcd-ff':
      for (let i = 0; i < length; i++) setNibble(block, i, digits[i] as number);
      break;
    case 'emv-plaintext':
      // EMV Book 3 §6.5.12 / ISO 9564 format 2: control 2, length, digits, F padding.
      block[0] = 0x20 | length;
      for (let i = 0; i < length; i++) setNibble(block, i + 2, digits[i] as number);
      break;
  }
  const apdu = new Uint8Array(5 + 8);
  apdu.set([0x00, 0x20, 0x00, reference & 0xff, 0x08]);
  apdu.set(block, 5);
  block.fill(0);
  return apdu;
}

function setNibble(block: Uint8Array, index: number, value: number): void {
  const byte = index >> 1;
  const cur = block[byte] as number;
  block[byte] = index % 2 === 0 ? (value << 4) | (cur & 0x0f) : (cur & 0xf0) | value;
}
