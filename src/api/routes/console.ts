import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModeldError } from '../../errors/index.js';
import type { ModeldApp } from './shared.js';

/** Where `npm run build` writes the console (scripts/build-console.mjs): `<repo>/web/dist`. */
export const DEFAULT_CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web', 'dist');

/**
 * The Content-Security-Policy of every console response: scripts, styles, images, fonts and
 * API calls from modeld itself only; no inline script or style element, no plugin, no framing.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Serves the web console (a single-page application built into `dir`) at `/console/`: a path
 * whose last segment has an extension is a file of `dir` (404 when there is none), any other path
 * is the application's `index.html` (its router draws the page). `/console` redirects to
 * `/console/`. No token: the files hold no data; the application asks the API with the token it
 * gets at sign-in. A server whose console was not built answers 503 saying how to build it.
 */
export function registerConsoleRoutes(app: ModeldApp, options: { dir?: string } = {}): void {
  const dir = options.dir ?? DEFAULT_CONSOLE_DIR;
  const headers = {
    'content-security-policy': CONSOLE_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cache-control': 'no-cache',
  };

  app.get('/console', { schema: { hide: true } }, async (_request, reply) => reply.headers(headers).redirect('/console/', 302));
  app.get<{ Params: { '*': string } }>('/console/*', { schema: { hide: true } }, async (request, reply) => {
    const rest = request.params['*'] ?? '';
    const segments = rest.split('/').filter((s) => s !== '');
    const last = segments.at(-1) ?? '';
    const isFile = last.includes('.');
    if (isFile && segments.some((s) => s === '..' || s === '.' || s.startsWith('.') || s.includes('\\') || s.includes('\0'))) {
      throw new ModeldError('MODELD_ERR_NOT_FOUND', `no console file ${rest}`);
    }
    const relative = isFile ? segments.join('/') : 'index.html';
    const file = path.resolve(dir, relative);
    if (!file.startsWith(dir + path.sep)) throw new ModeldError('MODELD_ERR_NOT_FOUND', `no console file ${rest}`);
    let body: Buffer;
    try {
      if (!(await stat(file)).isFile()) throw new Error('not a file');
      body = await readFile(file);
    } catch {
      if (!isFile) {
        throw new ModeldError('MODELD_ERR_UNAVAILABLE', 'the console is not built: run `npm run build` in the modeld folder (npm start does it)');
      }
      throw new ModeldError('MODELD_ERR_NOT_FOUND', `no console file ${rest}`);
    }
    return reply
      .headers(headers)
      .type(TYPES[path.extname(file)] ?? 'application/octet-stream')
      .send(body);
  });
}
