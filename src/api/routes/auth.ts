import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { CLIENT_CREDENTIALS, grantScopes, oauthError, OAuthErrors, oauthErrorName, parseForm, parseTokenRequest, type TokenService } from '../../auth/index.js';
import { ALL_SCOPES } from '../../domain/index.js';
import { translate } from '../plugins/errors.js';

export interface AuthRoutesDeps {
  /** Authenticates clients, issues tokens, knows the issuer and the public keys. */
  tokens: TokenService;
}

/** The token endpoint's parameters (RFC 6749 4.4.2); unknown parameters are ignored, as the RFC requires. */
const TokenParams = Type.Object(
  {
    grant_type: Type.Optional(Type.String({ description: 'Must be client_credentials', examples: [CLIENT_CREDENTIALS] })),
    scope: Type.Optional(Type.String({ description: `Space-separated subset of the client's scopes (${ALL_SCOPES.join(', ')}); default: all of them` })),
    client_id: Type.Optional(Type.String({ description: 'With client_secret, instead of HTTP Basic' })),
    client_secret: Type.Optional(Type.String({ description: 'Body only, never in the URL' })),
  },
  { additionalProperties: true },
);

const TokenResponse = Type.Object(
  {
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer({ description: 'Seconds' }),
    access_token: Type.String({ description: 'RS256 JWT' }),
    scope: Type.String({ description: 'Granted scopes, space-separated' }),
  },
  { additionalProperties: false },
);

const OAuthErrorBody = Type.Object(
  {
    error: Type.Union(Object.values(OAuthErrors).map((e) => Type.Literal(e))),
    error_description: Type.String(),
  },
  { additionalProperties: false, description: 'RFC 6749 section 5.2 error' },
);

const Jwks = Type.Object(
  {
    keys: Type.Array(
      Type.Object({ kty: Type.String(), kid: Type.String(), alg: Type.String(), use: Type.String(), n: Type.String(), e: Type.String() }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);

const OpenIdConfiguration = Type.Object(
  {
    issuer: Type.String(),
    token_endpoint: Type.String(),
    jwks_uri: Type.String(),
    grant_types_supported: Type.Array(Type.String()),
    token_endpoint_auth_methods_supported: Type.Array(Type.String()),
    scopes_supported: Type.Array(Type.String()),
    id_token_signing_alg_values_supported: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);

/** Public keys may be cached briefly; a rotation adds the new key well before it signs anything that matters. */
const JWKS_CACHE_CONTROL = 'public, max-age=300';

/**
 * The Auth family: the OAuth 2.0 client-credentials token endpoint (`POST /oauth2/:authServerId/v1/token`,
 * any authServerId, and `POST /oauth2/token`), the JWKS (`GET /oauth2/:authServerId/v1/keys`,
 * `GET /.well-known/jwks.json`) and the discovery document (`GET /.well-known/openid-configuration`).
 * The token routes live in their own encapsulated context: it parses
 * application/x-www-form-urlencoded bodies and answers every error in the RFC 6749 shape
 * `{error, error_description}` (this family only; the rest of the API keeps `{message, code}`).
 */
export function registerAuthRoutes(app: FastifyInstance, deps: AuthRoutesDeps): void {
  void app.register(async function tokenEndpoint(scope) {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, parseForm(body as string));
    });
    scope.setErrorHandler(function oauthErrors(err: Error, request: FastifyRequest, reply: FastifyReply) {
      const e = translate(err);
      if (e.status >= 500) request.log.error({ err }, 'token request failed');
      else request.log.info({ code: e.code, message: e.message }, 'token request rejected');
      const error = oauthErrorName(e);
      // RFC 6749 5.2: a client that tried the Authorization header (or sent no credentials) gets
      // the Basic challenge; one that authenticated in the form body (client_secret_post, as the
      // web console does) does not, since a browser answers the challenge with its login dialog.
      const bodyAuth = request.headers.authorization === undefined && typeof (request.body as { client_id?: unknown } | undefined)?.client_id === 'string';
      if (error === OAuthErrors.INVALID_CLIENT && !bodyAuth) void reply.header('www-authenticate', 'Basic realm="modeld"');
      if (typeof e.details?.retryAfterSeconds === 'number') void reply.header('retry-after', String(e.details.retryAfterSeconds));
      void reply
        .header('cache-control', 'no-store')
        .header('pragma', 'no-cache')
        .status(e.status)
        .send({ error, error_description: e.message });
    });

    const schema = {
      tags: ['Auth'],
      summary: 'Issue an access token (OAuth 2.0 client credentials)',
      description:
        'Client authentication by HTTP Basic `client_id:client_secret` (each form-urlencoded) or the client_id/client_secret body parameters. ' +
        'grant_type and scope come from the query string or an application/x-www-form-urlencoded body. ' +
        'Too many failed attempts for a client id or from an address: 429 temporarily_unavailable with Retry-After (docs/auth.md).',
      querystring: Type.Omit(TokenParams, ['client_secret']),
      body: { content: { 'application/x-www-form-urlencoded': { schema: TokenParams } } },
      response: { 200: TokenResponse, 400: OAuthErrorBody, 401: OAuthErrorBody, 429: OAuthErrorBody },
    };
    const issueToken = async (request: FastifyRequest, reply: FastifyReply) => {
      void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      const query = (request.query ?? {}) as Record<string, unknown>;
      // RFC 6749 2.3.1: the secret must not travel in the URL (where access logs keep it).
      if (Object.hasOwn(query, 'client_secret')) {
        throw oauthError(OAuthErrors.INVALID_REQUEST, 'client_secret must not be sent in the URL; use HTTP Basic or the form body');
      }
      const req = parseTokenRequest({ authorization: request.headers.authorization, query, body: request.body });
      const address = deps.tokens.clientAddress(request.socket.remoteAddress, request.headers['x-forwarded-for']);
      const client = await deps.tokens.authenticateClient(req.clientId, req.clientSecret, address);
      const token = await deps.tokens.issue(client, grantScopes(client.scopes, req.scopes));
      request.log.info({ clientId: client.id, tokenId: token.tokenId, scope: token.scope }, 'token issued');
      return { token_type: token.tokenType, expires_in: token.expiresIn, access_token: token.accessToken, scope: token.scope };
    };
    scope.post('/oauth2/:authServerId/v1/token', { schema: { ...schema, params: Type.Object({ authServerId: Type.String() }) } }, issueToken);
    scope.post('/oauth2/token', { schema }, issueToken);
  });

  const jwksSchema = { tags: ['Auth'], summary: 'Public keys that verify access tokens (JWKS)', response: { 200: Jwks } };
  const serveJwks = async (_request: FastifyRequest, reply: FastifyReply) => {
    void reply.header('cache-control', JWKS_CACHE_CONTROL);
    return deps.tokens.jwks();
  };
  app.get('/oauth2/:authServerId/v1/keys', { schema: { ...jwksSchema, params: Type.Object({ authServerId: Type.String() }) } }, serveJwks);
  app.get('/.well-known/jwks.json', { schema: jwksSchema }, serveJwks);

  app.get(
    '/.well-known/openid-configuration',
    { schema: { tags: ['Auth'], summary: 'Discovery document: issuer, token endpoint, JWKS URL', response: { 200: OpenIdConfiguration } } },
    async () => {
      const issuer = deps.tokens.issuer;
      return {
        issuer,
        token_endpoint: `${issuer}/oauth2/token`,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        grant_types_supported: [CLIENT_CREDENTIALS],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        scopes_supported: [...ALL_SCOPES],
        id_token_signing_alg_values_supported: ['RS256'],
      };
    },
  );
}
