/** What applets import: the platform API types and the codecs they bundle in. */
export type * from './api.js';
export { HANDLER_NAMES } from './api.js';
export * from './apdu.js';
export * from './tlv.js';
export * from './hex.js';
export * from './text.js';
