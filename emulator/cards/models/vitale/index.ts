export * from './nir.js';
export * from './profile.js';
export * from './card.js';
export * from './model.js';
