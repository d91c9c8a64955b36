export * from './apdu.js';
export * from './atr.js';
export * from './filesystem.js';
export * from './iso-card.js';
export * from './pin.js';
export * from './status.js';
export * from './profile.js';
