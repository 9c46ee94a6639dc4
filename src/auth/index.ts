export type { Authenticator } from './types.js';
export { KeyRing, loadOrCreateKeys, loadOrCreateStoredKeys, addSigningKey, writeFileAtomic, SIGNING_ALG, type SigningKey, type PublicJwk } from './keys.js';
export { newSecret, hashSecret, verifySecret, SCRYPT_PARAMS } from './secrets.js';
export {
  TokenService,
  issuerFor,
  type TokenServiceOptions,
  type IssuedToken,
  type AccessTokenClaims,
} from './token-service.js';
export {
  OAuthErrors,
  CLIENT_CREDENTIALS,
  oauthError,
  oauthErrorName,
  parseTokenRequest,
  parseBasicAuthorization,
  parseScope,
  grantScopes,
  parseForm,
  type OAuthError,
  type TokenRequest,
  type ClientCredentials,
} from './oauth.js';
export { newClient, ensureAdminClient, ADMIN_CUSTOMER_NAME, type NewClient, type AdminCredentials } from './clients.js';
