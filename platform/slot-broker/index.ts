/** The slot broker's public surface for the kernel. */
export { createSlotBroker, inspectSlotBuffers } from './broker.js';
export { EmulatedDriver } from './drivers/emulated.js';
export { RouteConfigError } from './routing.js';
export * from './types.js';
export { DriverError, type DriverEvent, type SlotDriver } from './driver.js';
