/** Every card model the emulator knows, registered once. */
import { registerModel } from '../registry.js';
import { testCardModel, testCardVariantModel } from './test-card.js';
import { hostileModel } from './hostile.js';

let done = false;
export function registerAllModels(): void {
  if (done) return;
  done = true;
  registerModel(testCardModel);
  registerModel(testCardVariantModel);
  registerModel(hostileModel);
}
