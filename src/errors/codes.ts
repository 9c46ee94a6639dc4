/**
 * The one catalogue of stable error codes. A code is never reused for another meaning and never
 * renamed once shipped; clients branch on `code`. Each entry fixes the HTTP status and whether a
 * retry of the same request may succeed. docs/errors.md mirrors this table.
 */
export const ErrorCodes = {
  // 400: the request is wrong, and says which field.
  MODELD_ERR_VALIDATION: { status: 400, retryable: false },
  MODELD_ERR_MALFORMED_JSON: { status: 400, retryable: false },
  MODELD_ERR_UNKNOWN_REGION: { status: 400, retryable: false },
  MODELD_ERR_MODEL_NOT_AVAILABLE: { status: 400, retryable: false },
  MODELD_ERR_ARTIFACT_INVALID: { status: 400, retryable: false },
  MODELD_ERR_DIM_REDUCTION_TOO_LARGE: { status: 400, retryable: false },
  MODELD_ERR_REPLICA_LIMIT: { status: 400, retryable: false },
  MODELD_ERR_TRAINING_CONFIG: { status: 400, retryable: false },
  MODELD_ERR_DATA_PATH_FORBIDDEN: { status: 400, retryable: false },
  // 401 / 403: who you are and what you may do.
  MODELD_ERR_UNAUTHENTICATED: { status: 401, retryable: false },
  MODELD_ERR_INVALID_CLIENT: { status: 401, retryable: false },
  MODELD_ERR_FORBIDDEN_SCOPE: { status: 403, retryable: false },
  MODELD_ERR_FORBIDDEN_CUSTOMER: { status: 403, retryable: false },
  // A per-customer quota (config `quotas`, admin overrides) is used up: 403, not 429, because
  // waiting does not free it (deleting something or a higher quota does), and clients retry 429s.
  MODELD_ERR_QUOTA_EXCEEDED: { status: 403, retryable: false },
  // 404: unknown, or another customer's (never told apart).
  MODELD_ERR_NOT_FOUND: { status: 404, retryable: false },
  MODELD_ERR_CUSTOMER_NOT_FOUND: { status: 404, retryable: false },
  MODELD_ERR_MODEL_NOT_FOUND: { status: 404, retryable: false },
  MODELD_ERR_DEPLOYMENT_NOT_FOUND: { status: 404, retryable: false },
  // 409: the request conflicts with the current state.
  MODELD_ERR_MODEL_HAS_DEPLOYMENTS: { status: 409, retryable: false },
  MODELD_ERR_CONFLICT: { status: 409, retryable: false },
  // 413 / 415: the body itself.
  MODELD_ERR_BODY_TOO_LARGE: { status: 413, retryable: false },
  MODELD_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  // 408 / 414 / 431: the request's framing (slow body, long path, large headers); answered before any route runs.
  MODELD_ERR_REQUEST_TIMEOUT: { status: 408, retryable: true },
  MODELD_ERR_URI_TOO_LONG: { status: 414, retryable: false },
  MODELD_ERR_HEADERS_TOO_LARGE: { status: 431, retryable: false },
  // 429 / 503: try again later.
  MODELD_ERR_OVERLOADED: { status: 429, retryable: true },
  MODELD_ERR_RATE_LIMITED: { status: 429, retryable: true },
  MODELD_ERR_NO_READY_REPLICA: { status: 503, retryable: true },
  MODELD_ERR_REPLICA_FAILED: { status: 503, retryable: true },
  MODELD_ERR_UNAVAILABLE: { status: 503, retryable: true },
  // 500: our fault.
  MODELD_ERR_INTERNAL: { status: 500, retryable: false },
  // 501: a Lucidworks AI route this server does not offer (the GenAI prediction use cases).
  MODELD_ERR_USE_CASE_NOT_OFFERED: { status: 404, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ErrorCodes;
