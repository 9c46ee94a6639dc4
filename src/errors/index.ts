export { ErrorCodes, type ErrorCode } from './codes.js';
export { ModeldError, isModeldError, toHttpBody, invalidField, type ErrorBody, type ModeldErrorOptions } from './modeld-error.js';
export { quotaExceeded } from './quota-exceeded.js';
