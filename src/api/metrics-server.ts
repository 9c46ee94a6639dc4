import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ModeldError, toHttpBody } from '../errors/index.js';
import type { Metrics } from './metrics.js';

/** A listening metrics endpoint (config metrics.listen). */
export interface MetricsServer {
  /** `http://host:port` it listens on (the real port when 0 was asked). */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text format) without a token on its own address, apart from
 * the API: for an operator who scrapes over a private network or loopback and keeps the main
 * port's /metrics behind a token. Nothing else is served there (404 `{message, code}`).
 * Rejects with MODELD_ERR_UNAVAILABLE when the address cannot be bound.
 */
export async function startMetricsServer(metrics: Metrics, listen: { host: string; port: number }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const pathName = (req.url ?? '/').split('?')[0];
    if (pathName !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      return sendError(res, 404, new ModeldError('MODELD_ERR_NOT_FOUND', `no route ${req.method} ${pathName} (this address serves GET /metrics only)`));
    }
    metrics.render().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      () => sendError(res, 500, new ModeldError('MODELD_ERR_INTERNAL', 'internal error')),
    );
  });
  // Scrapers read one small answer; nothing legitimate keeps a request open for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new ModeldError('MODELD_ERR_UNAVAILABLE', `cannot listen on ${listen.host}:${listen.port} (metrics.listen): ${err.code ?? err.message}`, { cause: err })),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sendError(res: http.ServerResponse, status: number, err: ModeldError): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(toHttpBody(err)));
}
