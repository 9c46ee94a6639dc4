import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClientErrorCodes, errorFromResponse, errorFromTransport } from './errors.js';
import { decodeJwtPayload } from './jwt.js';

test('errorFromResponse reads the API shape, the OAuth2 shape and anything else', () => {
  const api = errorFromResponse(409, 'Conflict', JSON.stringify({ message: 'model has deployments', code: 'MODELD_ERR_MODEL_HAS_DEPLOYMENTS', details: { n: 1 } }));
  assert.equal(api.status, 409);
  assert.equal(api.code, 'MODELD_ERR_MODEL_HAS_DEPLOYMENTS');
  assert.equal(api.message, 'model has deployments');
  assert.deepEqual(api.details, { n: 1 });

  const oauth = errorFromResponse(400, 'Bad Request', JSON.stringify({ error: 'invalid_scope', error_description: 'scope x is not allowed' }));
  assert.equal(oauth.code, 'invalid_scope');
  assert.equal(oauth.message, 'scope x is not allowed');

  const html = errorFromResponse(502, 'Bad Gateway', '<html>upstream down</html>');
  assert.equal(html.status, 502);
  assert.equal(html.code, ClientErrorCodes.BAD_RESPONSE);
  assert.equal(html.message, 'HTTP 502 Bad Gateway: <html>upstream down</html>');
});

test('errorFromTransport finds ECONNREFUSED inside fetch causes, even nested in an AggregateError', () => {
  const direct = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
  assert.equal(errorFromTransport(direct, 'http://x').code, ClientErrorCodes.CONNECTION_REFUSED);
  const nested = new TypeError('fetch failed', {
    cause: Object.assign(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })]), { code: undefined }),
  });
  assert.equal(errorFromTransport(nested, 'http://x').code, ClientErrorCodes.CONNECTION_REFUSED);
  const other = errorFromTransport(new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ENOTFOUND' }) }), 'http://x');
  assert.equal(other.code, ClientErrorCodes.NETWORK);
  assert.match(other.message, /ENOTFOUND/);
});

test('decodeJwtPayload reads base64url UTF-8 payloads and refuses non-JWTs', () => {
  const payload = { customerId: 'c-1', name: 'Zoë ✓', exp: 10 };
  const token = `x.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.y`;
  assert.deepEqual(decodeJwtPayload(token), payload);
  assert.equal(decodeJwtPayload('not-a-jwt'), null);
  assert.equal(decodeJwtPayload(`x.${Buffer.from('[1]').toString('base64url')}.y`), null);
  assert.equal(decodeJwtPayload('x.%%%.y'), null);
});
