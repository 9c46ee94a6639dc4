import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { ModeldError } from '../../errors/index.js';
import { translate } from './errors.js';

/** A fastify validation error as the validator compiler's issues become one. */
function validationError(validation: unknown[], validationContext = 'body'): Error {
  return Object.assign(new Error('validation'), { validation, validationContext, statusCode: 400 });
}

const Body = Type.Object(
  { modelId: Type.String(), replicas: Type.Object({ min: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }) },
  { additionalProperties: false },
);
const typeboxIssues = (value: unknown) => [...Compile(Body).Errors(value)];

test('TypeBox issues name the field as <part>.<path>', () => {
  const missing = translate(validationError(typeboxIssues({ replicas: { min: 1 } })));
  assert.equal(missing.code, 'MODELD_ERR_VALIDATION');
  assert.equal(missing.message, 'body.modelId: required');
  assert.equal(missing.details?.field, 'body.modelId');

  const nested = translate(validationError(typeboxIssues({ modelId: 'm', replicas: { min: 0 } })));
  assert.equal(nested.message, 'body.replicas.min: must be >= 1');

  const unknown = translate(validationError(typeboxIssues({ modelId: 'm', replicas: { min: 1, max: 2 }, extra: 1, more: 2 })));
  assert.equal(unknown.message, 'body: unknown fields extra, more');
  assert.deepEqual(unknown.details?.fields, ['body.extra', 'body.more']);

  const notObject = translate(validationError(typeboxIssues('text')));
  assert.equal(notObject.details?.field, 'body');
  assert.match(notObject.message, /^body: must be object \(send a JSON object\)$/);

  const query = translate(validationError([{ keyword: 'type', instancePath: '/limit', message: 'must be integer', params: {} }], 'querystring'));
  assert.equal(query.message, 'querystring.limit: must be integer');
});

test('Ajv-shaped issues are named the same way', () => {
  assert.equal(translate(validationError([{ keyword: 'required', instancePath: '', params: { missingProperty: 'region' } }])).message, 'body.region: required');
  const extra = translate(validationError([{ keyword: 'additionalProperties', instancePath: '/config', params: { additionalProperty: 'x' } }]));
  assert.equal(extra.message, 'body.config.x: unknown field');
  assert.equal(extra.details?.field, 'body.config.x');
});

test('fastify body errors map to catalogue codes; anything else is an internal error that hides its message', () => {
  const code = (c: string) => translate(Object.assign(new Error('x'), { code: c })).code;
  assert.equal(code('FST_ERR_CTP_BODY_TOO_LARGE'), 'MODELD_ERR_BODY_TOO_LARGE');
  assert.equal(code('FST_ERR_CTP_INVALID_MEDIA_TYPE'), 'MODELD_ERR_UNSUPPORTED_MEDIA_TYPE');
  assert.equal(code('FST_ERR_CTP_INVALID_JSON_BODY'), 'MODELD_ERR_MALFORMED_JSON');
  const internal = translate(new Error('secret connection string postgres://u:p@h'));
  assert.equal(internal.code, 'MODELD_ERR_INTERNAL');
  assert.equal(internal.message, 'internal error');
  const own = new ModeldError('MODELD_ERR_CONFLICT', 'busy');
  assert.equal(translate(own), own);
});
