import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { ModeldError, toHttpBody } from '../errors/index.js';

/**
 * The HTTP server's own limits (config `limits.*`), everything that protects the server before a
 * route runs: how long a request line, headers and a whole request may take to arrive, how large
 * the headers may be, how many connections may be open (in all and per address), and how long a
 * silent connection is kept. Errors node's HTTP parser raises itself (431 headers too large, 408
 * request timeout, 400 malformed framing such as a bad Content-Length) are answered here in
 * modeld's one error shape `{message, code}` with an `x-request-id`, as every route answers.
 */
export type HttpLimits = Pick<
  Config['limits'],
  'requestTimeoutMs' | 'headersTimeoutMs' | 'socketIdleTimeoutMs' | 'maxHeaderBytes' | 'maxConnections' | 'maxConnectionsPerAddress' | 'bodyTimeoutMs'
>;

/** The options node:http needs at creation (the header limit cannot be changed later). */
export function serverOptions(limits: HttpLimits): http.ServerOptions {
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
    // How often node looks for requests past those timeouts (its default, 30 s, would let a
    // slow request live up to 30 s longer than configured).
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  };
}

/**
 * Applies the limits that are set on a created server: the connection caps (a connection over
 * either cap is closed at once, before a byte is read) and the idle timeout.
 */
export function applyServerLimits(server: http.Server, limits: HttpLimits, log: Pick<FastifyBaseLogger, 'warn'>): void {
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.socketIdleTimeoutMs);
  const perAddress = new Map<string, number>();
  let lastWarned = 0;
  server.on('connection', (socket: Socket) => {
    if (limits.maxConnectionsPerAddress === 0) return;
    const address = socket.remoteAddress ?? 'unknown';
    const count = (perAddress.get(address) ?? 0) + 1;
    if (count > limits.maxConnectionsPerAddress) {
      const now = Date.now();
      if (now - lastWarned > 10_000) {
        lastWarned = now;
        log.warn({ address, limit: limits.maxConnectionsPerAddress }, 'connection refused: too many open connections from one address (limits.maxConnectionsPerAddress)');
      }
      socket.destroy();
      return;
    }
    perAddress.set(address, count);
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left <= 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });
}

/**
 * fastify's `clientErrorHandler`: node's parser refused the request before any route saw it.
 * Answers with the catalogue's code in `{message, code}` (fastify's default writes another shape)
 * and closes the connection, as node does.
 */
export function clientErrorHandler(this: { log: Pick<FastifyBaseLogger, 'debug'> }, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e = clientError(err);
  this.log.debug({ code: err.code, status: e.status }, 'client error before routing');
  if (socket.writable) {
    const body = JSON.stringify(toHttpBody(e));
    socket.write(
      `HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status] ?? 'Error'}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${randomUUID()}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function clientError(err: NodeJS.ErrnoException): ModeldError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ModeldError('MODELD_ERR_HEADERS_TOO_LARGE', 'headers: the request line and headers are larger than the server accepts (limits.maxHeaderBytes)');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ModeldError('MODELD_ERR_REQUEST_TIMEOUT', 'request: not received whole in time (limits.requestTimeoutMs / limits.headersTimeoutMs); send it again');
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return new ModeldError('MODELD_ERR_VALIDATION', 'headers.content-length: not a valid Content-Length', { details: { field: 'headers.content-length' } });
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
      return new ModeldError('MODELD_ERR_VALIDATION', 'headers.transfer-encoding: malformed chunked body', { details: { field: 'headers.transfer-encoding' } });
    default:
      return new ModeldError('MODELD_ERR_VALIDATION', `request: malformed HTTP request (${err.code ?? 'parse error'})`, { details: { field: 'request' } });
  }
}

/**
 * fastify's `frameworkErrors`: the router refused the URL (a bad `%` escape, a path parameter
 * longer than the router accepts). Answered like any route error, with the request id.
 */
export function frameworkErrorHandler(err: Error & { code?: string }, request: FastifyRequest, reply: FastifyReply): void {
  const e =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new ModeldError('MODELD_ERR_URI_TOO_LONG', 'path: a path parameter is longer than any id modeld issues (200 characters at most)', { details: { field: 'path' } })
      : err.code === 'FST_ERR_BAD_URL'
        ? new ModeldError('MODELD_ERR_VALIDATION', 'path: not a valid URL (a malformed % escape)', { details: { field: 'path' } })
        : new ModeldError('MODELD_ERR_VALIDATION', 'path: cannot be routed', { details: { field: 'path' } });
  request.log.info({ code: e.code }, 'request rejected before routing');
  void reply.header('x-request-id', request.id).status(e.status).send(toHttpBody(e));
}

/**
 * The slow-body guard of the JSON routes: a body still arriving `bodyTimeoutMs` after the request
 * began is answered 408 and its connection closed (node's own requestTimeout, meant for large
 * uploads, is far longer; the caller leaves upload routes to it and to the idle timeout).
 * Returns a disarm function; the timer is never armed for a request without a body.
 */
export function armBodyTimer(req: http.IncomingMessage, bodyTimeoutMs: number, onTimeout: () => void): () => void {
  if (req.complete || !hasBody(req)) return noop;
  const timer = setTimeout(() => {
    if (!req.complete) onTimeout();
  }, bodyTimeoutMs);
  timer.unref();
  const disarm = (): void => clearTimeout(timer);
  req.once('end', disarm);
  req.once('close', disarm);
  return disarm;
}

export function bodyTimeoutError(bodyTimeoutMs: number): ModeldError {
  return new ModeldError('MODELD_ERR_REQUEST_TIMEOUT', `body: not received whole within ${bodyTimeoutMs} ms (limits.bodyTimeoutMs)`, {
    details: { field: 'body', bodyTimeoutMs },
  });
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function noop(): void {}
