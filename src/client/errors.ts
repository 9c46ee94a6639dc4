/**
 * Codes the client itself produces (no HTTP answer to carry one). Server codes
 * (`MODELD_ERR_*`, or OAuth2's `invalid_client`, ...) pass through unchanged.
 */
export const ClientErrorCodes = {
  /** Nothing listens at the base URL (ECONNREFUSED). */
  CONNECTION_REFUSED: 'MODELD_CLIENT_ERR_CONNECTION_REFUSED',
  /** Any other transport failure (DNS, reset, TLS). */
  NETWORK: 'MODELD_CLIENT_ERR_NETWORK',
  /** A request or a wait took longer than allowed. */
  TIMEOUT: 'MODELD_CLIENT_ERR_TIMEOUT',
  /** The caller aborted (an AbortSignal fired). */
  ABORTED: 'MODELD_CLIENT_ERR_ABORTED',
  /** The server answered with a status or body the client cannot read. */
  BAD_RESPONSE: 'MODELD_CLIENT_ERR_BAD_RESPONSE',
  /** The token carries no customerId claim and none was configured. */
  NO_CUSTOMER: 'MODELD_CLIENT_ERR_NO_CUSTOMER',
  /** A waited-for deployment reached DEPLOY_FAILED; details carry `reason` and `message`. */
  DEPLOY_FAILED: 'MODELD_CLIENT_ERR_DEPLOY_FAILED',
  /** A waited-for deletion reached DELETE_FAILED; details carry `reason` and `message`. */
  DELETE_FAILED: 'MODELD_CLIENT_ERR_DELETE_FAILED',
  /** A followed model reached TRAINING_FAILED; details carry `modelId` and `errorMessage`. */
  TRAINING_FAILED: 'MODELD_CLIENT_ERR_TRAINING_FAILED',
  /** An argument the client refuses before sending anything (e.g. an upload name the server would refuse). */
  INVALID_ARGUMENT: 'MODELD_CLIENT_ERR_INVALID_ARGUMENT',
} as const;
export type ClientErrorCode = (typeof ClientErrorCodes)[keyof typeof ClientErrorCodes];

/**
 * Every failure the client reports. `status` is the HTTP status, or 0 when no answer arrived.
 * `code` is the server's stable code when it sent one, else one of ClientErrorCodes. Callers
 * branch on `code`.
 */
export class ModeldClientError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(status: number, code: string, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ModeldClientError';
    this.status = status;
    this.code = code;
    this.details = options.details;
  }
}

export function isModeldClientError(err: unknown): err is ModeldClientError {
  return err instanceof ModeldClientError;
}

/**
 * Turns a non-2xx answer into a ModeldClientError. Reads both error shapes the server uses:
 * `{message, code, details?}` (API) and `{error, error_description}` (OAuth2 token endpoint).
 * A body in neither shape keeps the status and gets BAD_RESPONSE with the start of the text.
 */
export function errorFromResponse(status: number, statusText: string, bodyText: string): ModeldClientError {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    body = undefined;
  }
  if (typeof body === 'object' && body !== null) {
    const b = body as Record<string, unknown>;
    if (typeof b.message === 'string' && typeof b.code === 'string') {
      const details = typeof b.details === 'object' && b.details !== null ? (b.details as Record<string, unknown>) : undefined;
      return new ModeldClientError(status, b.code, b.message, { details });
    }
    if (typeof b.error === 'string') {
      const description = typeof b.error_description === 'string' ? b.error_description : b.error;
      return new ModeldClientError(status, b.error, description);
    }
    if (typeof b.message === 'string') return new ModeldClientError(status, ClientErrorCodes.BAD_RESPONSE, b.message);
  }
  const snippet = bodyText.trim().slice(0, 200);
  const message = `HTTP ${status}${statusText ? ` ${statusText}` : ''}${snippet ? `: ${snippet}` : ''}`;
  return new ModeldClientError(status, ClientErrorCodes.BAD_RESPONSE, message);
}

/**
 * Maps what fetch throws (no HTTP answer) to a ModeldClientError. Node's fetch wraps the socket
 * error as `TypeError('fetch failed', {cause})`; the cause (or, with several addresses, one of
 * its `errors`) carries `code: 'ECONNREFUSED'`.
 */
export function errorFromTransport(err: unknown, url: string): ModeldClientError {
  if (err instanceof ModeldClientError) return err;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError') return new ModeldClientError(0, ClientErrorCodes.TIMEOUT, `request to ${url} timed out`, { cause: err });
  if (name === 'AbortError') return new ModeldClientError(0, ClientErrorCodes.ABORTED, `request to ${url} was aborted`, { cause: err });
  const codes = transportCodes(err);
  if (codes.includes('ECONNREFUSED')) {
    return new ModeldClientError(0, ClientErrorCodes.CONNECTION_REFUSED, `connection refused by ${url}`, { cause: err });
  }
  const detail = codes[0] ?? (err instanceof Error ? err.message : String(err));
  return new ModeldClientError(0, ClientErrorCodes.NETWORK, `cannot reach ${url}: ${detail}`, { cause: err });
}

function transportCodes(err: unknown, depth = 0): string[] {
  if (typeof err !== 'object' || err === null || depth > 4) return [];
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  const out: string[] = [];
  if (typeof e.code === 'string') out.push(e.code);
  if (Array.isArray(e.errors)) for (const inner of e.errors) out.push(...transportCodes(inner, depth + 1));
  out.push(...transportCodes(e.cause, depth + 1));
  return out;
}
