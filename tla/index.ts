/**
 * The practice computer's side of the TLA host link, as a library (docs/TLA.md):
 *
 *   const client = await TlaClient.connect({ dir: '.di-tla', device: { host: '127.0.0.1', port: 7710 } });
 *   await client.pair('1234 5678', 'Poste accueil');      // once, with the code the device shows
 *   const report = await syncDevice(client);               // unload everything, store it, erase it
 *   client.close();
 *   await transmitStored(new TlaStore('.di-tla'), { cps: () => openCps({ profile, pin }) });
 */
export { TlaClient, TlaError, type TlaClientOptions, type TlaErrorCode, type DeviceAddress, DEFAULT_REQUEST_TIMEOUT_MS } from './client.js';
export { loadOrCreateIdentity, shortFingerprint, DEFAULT_TLA_DIR, type HostIdentity } from './identity.js';
export { TlaStore, HOST_NUMBER_BASE, type PairedDevice, type StoredInvoice, type StoredLot, type StoredFile, type StoreSummary } from './store.js';
export { syncDevice, unloadAll, eraseStored, type SyncOptions, type SyncReport, type UnloadReport, type EraseReport } from './sync.js';
export { transmitStored, buildLots, buildFiles, fileMessage, DEFAULT_AMO, type TransmitOptions, type TransmitReport } from './transmit.js';
export { openCps, CPS_PIN_ENV, type CpsSigner } from './cps-signer.js';
export { sampleDay } from './sample-day.js';
export { HOSTLINK_DEFAULT_PORT, type DayDataArgs, type DayDataResult, type IdentifyResult, type DateResult } from '../platform/wire/hostlink.js';
export { fetchReturns, Pop3Mailbox, DEFAULT_POP3, DEFAULT_POP3_PASSWORD, POP3_PASSWORD_ENV, type FetchReturnsOptions, type FetchReturnsReport, type Pop3Account, type ReturnReject } from './returns.js';
export type { StoredReturn, LotArl, InvoiceReturn, InvoiceReturnState } from './store.js';
