/**
 * The typed HTTP client of modeld: the one way cli/ and web/ talk to the server. No imports
 * from the server's folders, no Node-only APIs (runs in a browser too).
 */
export { ModeldClient, type ModeldClientOptions, type RequestOptions, type UploadBody, type UploadOptions, type UploadProgress } from './modeld-client.js';
export { ModeldClientError, ClientErrorCodes, isModeldClientError, type ClientErrorCode } from './errors.js';
export { decodeJwtPayload } from './jwt.js';
export type { ModelWaitOptions, WaitOptions } from './wait.js';
export * from './types.js';
