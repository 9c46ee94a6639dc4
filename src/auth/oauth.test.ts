import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isModeldError, type ModeldError } from '../errors/index.js';
import { grantScopes, oauthErrorName, parseBasicAuthorization, parseForm, parseScope, parseTokenRequest } from './oauth.js';

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

function oauthFailure(fn: () => unknown): { error: string; status: number; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(isModeldError(err));
    const e = err as ModeldError;
    return { error: oauthErrorName(e), status: e.status, message: e.message };
  }
  assert.fail('expected an OAuth error');
}

test('Basic credentials are base64 of form-urlencoded id:secret (RFC 6749 2.3.1)', () => {
  assert.deepEqual(parseBasicAuthorization(basic('my client', 'p:a%s+s')), { clientId: 'my client', clientSecret: 'p:a%s+s' });
  assert.deepEqual(parseBasicAuthorization(`basic ${Buffer.from('a+b:c+d').toString('base64')}`), { clientId: 'a b', clientSecret: 'c d' });
  assert.equal(parseBasicAuthorization(undefined), null);
  assert.equal(parseBasicAuthorization('Bearer abc'), null);
  assert.equal(oauthFailure(() => parseBasicAuthorization('Basic !!!')).error, 'invalid_client');
  assert.equal(oauthFailure(() => parseBasicAuthorization(`Basic ${Buffer.from('nocolon').toString('base64')}`)).error, 'invalid_client');
  assert.equal(oauthFailure(() => parseBasicAuthorization(`Basic ${Buffer.from('id:%zz').toString('base64')}`)).error, 'invalid_client');
  assert.equal(oauthFailure(() => parseBasicAuthorization(`Basic ${Buffer.from(':secret').toString('base64')}`)).error, 'invalid_client');
});

test('a token request takes parameters from the query or the body, credentials from Basic or params', () => {
  const fromQuery = parseTokenRequest({ authorization: basic('c1', 's1'), query: { grant_type: 'client_credentials', scope: 'a b' }, body: undefined });
  assert.deepEqual(fromQuery, { clientId: 'c1', clientSecret: 's1', grantType: 'client_credentials', scopes: ['a', 'b'] });
  const fromBody = parseTokenRequest({
    authorization: undefined,
    query: {},
    body: { grant_type: 'client_credentials', client_id: 'c2', client_secret: 's2', unknown_param: 'ignored' },
  });
  assert.deepEqual(fromBody, { clientId: 'c2', clientSecret: 's2', grantType: 'client_credentials', scopes: undefined });
  const agreeing = parseTokenRequest({ authorization: basic('c1', 's1'), query: { grant_type: 'client_credentials' }, body: { grant_type: 'client_credentials', client_id: 'c1' } });
  assert.equal(agreeing.clientId, 'c1');
});

test('token request errors follow RFC 6749 names and statuses', () => {
  const auth = basic('c', 's');
  const cases: Array<[Parameters<typeof parseTokenRequest>[0], string, number]> = [
    [{ authorization: undefined, query: { grant_type: 'client_credentials' }, body: undefined }, 'invalid_client', 401],
    [{ authorization: undefined, query: {}, body: { grant_type: 'client_credentials', client_id: 'c' } }, 'invalid_client', 401],
    [{ authorization: auth, query: {}, body: undefined }, 'invalid_request', 400],
    [{ authorization: auth, query: { grant_type: 'password' }, body: undefined }, 'unsupported_grant_type', 400],
    [{ authorization: auth, query: { grant_type: 'client_credentials' }, body: { grant_type: 'authorization_code' } }, 'invalid_request', 400],
    [{ authorization: auth, query: {}, body: { grant_type: ['client_credentials', 'client_credentials'] } }, 'invalid_request', 400],
    [{ authorization: auth, query: {}, body: { grant_type: 'client_credentials', client_secret: 's' } }, 'invalid_request', 400],
    [{ authorization: auth, query: {}, body: { grant_type: 'client_credentials', client_id: 'other' } }, 'invalid_request', 400],
    [{ authorization: auth, query: {}, body: 'grant_type=client_credentials' }, 'invalid_request', 400],
    [{ authorization: auth, query: {}, body: { grant_type: 7 } }, 'invalid_request', 400],
  ];
  for (const [input, error, status] of cases) {
    const f = oauthFailure(() => parseTokenRequest(input));
    assert.deepEqual([f.error, f.status], [error, status], JSON.stringify(input));
  }
});

test('scope lists: spaces split, empties and duplicates dropped, empty means none requested', () => {
  assert.deepEqual(parseScope('a  b a '), ['a', 'b']);
  assert.equal(parseScope(''), undefined);
  assert.equal(parseScope('   '), undefined);
  assert.equal(parseScope(undefined), undefined);
});

test('granted scopes: all the client holds by default, else a subset of them', () => {
  const held = ['machinelearning.model', 'machinelearning.predict'];
  assert.deepEqual(grantScopes(held, undefined), held);
  assert.deepEqual(grantScopes(held, ['machinelearning.predict']), ['machinelearning.predict']);
  assert.deepEqual(grantScopes(held, [...held].reverse()), [...held].reverse());
  const f = oauthFailure(() => grantScopes(held, ['machinelearning.predict', 'modeld.admin']));
  assert.deepEqual([f.error, f.status], ['invalid_scope', 400]);
  assert.match(f.message, /modeld\.admin/);
  assert.equal(oauthFailure(() => grantScopes([], ['x'])).error, 'invalid_scope');
});

test('form bodies decode + and %XX and keep repeated names as arrays', () => {
  assert.deepEqual({ ...parseForm('grant_type=client_credentials&scope=a+b%20c&x=1&x=2&x=3') }, {
    grant_type: 'client_credentials',
    scope: 'a b c',
    x: ['1', '2', '3'],
  });
  assert.deepEqual({ ...parseForm('') }, {});
  assert.equal(Object.getPrototypeOf(parseForm('__proto__=x')), null);
});
