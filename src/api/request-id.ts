import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Incoming `x-request-id` values kept as the request id; anything else gets a fresh UUID. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The request id: the caller's `x-request-id` when it is sane (1-128 safe characters), else a UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}
