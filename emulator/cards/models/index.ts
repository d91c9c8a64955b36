/** Every card model the emulator knows, registered once. */
import { registerModel } from '../registry.js';
import { testCardModel, testCardVariantModel } from './test-card.js';
import { hostileModel } from './hostile.js';
import { vitaleModel } from './vitale/model.js';
import { cpsModel } from './cps/index.js';
import { emvModel } from './emv/index.js';

let done = false;
export function registerAllModels(): void {
  if (done) return;
  done = true;
  registerModel(testCardModel);
  registerModel(testCardVariantModel);
  registerModel(hostileModel);
  registerModel(vitaleModel);
  registerModel(cpsModel);
  registerModel(emvModel);
}
