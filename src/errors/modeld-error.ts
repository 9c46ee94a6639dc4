import { ErrorCodes, type ErrorCode } from './codes.js';

export interface ModeldErrorOptions {
  /** Extra machine-readable facts (the offending field, the known regions, ...). */
  details?: Record<string, unknown>;
  cause?: unknown;
  /** Overrides the catalogue's status, for the rare code used with two statuses (never do this for new codes). */
  status?: number;
}

/**
 * The one error base class. Everything the server reports to a client is a ModeldError with a
 * stable `code` from the catalogue; anything else that escapes is wrapped as MODELD_ERR_INTERNAL
 * and its message is not shown to the client.
 */
export class ModeldError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ModeldErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ModeldError';
    this.code = code;
    this.status = options.status ?? ErrorCodes[code].status;
    this.retryable = ErrorCodes[code].retryable;
    this.details = options.details;
  }
}

/** True for a ModeldError; also accepts errors that crossed a process boundary as plain objects with a known code. */
export function isModeldError(err: unknown): err is ModeldError {
  return err instanceof ModeldError;
}

/** The HTTP body of every error the API sends: `{message, code}` plus `details` when there are some. */
export interface ErrorBody {
  message: string;
  code: ErrorCode;
  details?: Record<string, unknown>;
}

export function toHttpBody(err: ModeldError): ErrorBody {
  const body: ErrorBody = { message: err.message, code: err.code };
  if (err.details !== undefined) body.details = err.details;
  return body;
}

/** Shorthand for the most common error: a field of the request is wrong. */
export function invalidField(field: string, message: string, details: Record<string, unknown> = {}): ModeldError {
  return new ModeldError('MODELD_ERR_VALIDATION', `${field}: ${message}`, { details: { field, ...details } });
}
