import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { Type, type TSchema } from 'typebox';
import { registerErrorHandling } from './errors.js';
import { fastParamsValidatorCompiler } from './validation.js';

type Validate = (value: unknown) => { value?: unknown; error?: unknown };

function both(schema: TSchema, httpPart = 'params'): { fast: Validate; full: Validate } {
  const route = { schema, httpPart, method: 'GET', url: '/x' };
  return {
    fast: fastParamsValidatorCompiler(route as never) as Validate,
    full: TypeBoxValidatorCompiler(route as never) as Validate,
  };
}

/** What a validator's answer says, comparable across the two (errors as their messages and paths). */
function outcome(result: { value?: unknown; error?: unknown }): unknown {
  if (result.error === undefined) return { value: result.value };
  return { errors: [...(result.error as Iterable<{ instancePath: string; message: string }>)].map((e) => [e.instancePath, e.message]) };
}

describe('fastParamsValidatorCompiler', () => {
  const plain = Type.Object({ APPLICATION_ID: Type.String({ description: 'app' }), MODEL_ID: Type.String({ description: 'model' }) });

  test('plain string parameters: the same answer as TypeBox for good and bad values', () => {
    const { fast, full } = both(plain);
    const cases: unknown[] = [
      { APPLICATION_ID: 'a', MODEL_ID: 'm' },
      { APPLICATION_ID: '', MODEL_ID: 'x'.repeat(200) },
      { MODEL_ID: 'm' },
      { APPLICATION_ID: 'a', MODEL_ID: 7 },
      {},
      null,
    ];
    for (const value of cases) assert.deepEqual(outcome(fast(value)), outcome(full(value)), JSON.stringify(value));
    assert.ok(fast({ MODEL_ID: 'm' }).error, 'a missing parameter is still an error');
  });

  test('constrained, non-string or closed schemas, and other parts, go to TypeBox unchanged', () => {
    const schemas = [
      Type.Object({ MODEL_ID: Type.String({ minLength: 3 }) }),
      Type.Object({ MODEL_ID: Type.String({ format: 'uuid' }) }),
      Type.Object({ n: Type.Integer() }),
      Type.Object({ MODEL_ID: Type.String() }, { additionalProperties: false }),
    ];
    const values: unknown[] = [{ MODEL_ID: 'ab' }, { MODEL_ID: 'not-a-uuid' }, { n: '12' }, { MODEL_ID: 'abc', extra: 'x' }];
    for (const schema of schemas) {
      const { fast, full } = both(schema);
      for (const value of values) assert.deepEqual(outcome(fast(value)), outcome(full(value)), `${JSON.stringify(schema)} ${JSON.stringify(value)}`);
    }
    assert.ok(both(schemas[0]!).fast({ MODEL_ID: 'ab' }).error, 'minLength still applies');
    assert.deepEqual(both(schemas[2]!).fast({ n: '12' }).value, { n: 12 }, 'conversion still applies where TypeBox converts');
    const body = both(plain, 'body');
    assert.ok(body.fast({ MODEL_ID: 'm' }).error, 'a body schema is checked by TypeBox');
  });

  test('through fastify: a constrained parameter on a route with this compiler is a 400 naming it', async () => {
    const app = Fastify({ logger: false });
    registerErrorHandling(app);
    app.get('/m/:MODEL_ID', { validatorCompiler: fastParamsValidatorCompiler, schema: { params: Type.Object({ MODEL_ID: Type.String({ maxLength: 3 }) }) } }, async () => ({ ok: true }));
    app.get('/p/:MODEL_ID', { validatorCompiler: fastParamsValidatorCompiler, schema: { params: Type.Object({ MODEL_ID: Type.String() }) } }, async (req) => req.params);
    const bad = await app.inject({ method: 'GET', url: '/m/abcd' });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.match(bad.body, /MODEL_ID/);
    const ok = await app.inject({ method: 'GET', url: '/p/some%20model' });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { MODEL_ID: 'some model' });
    await app.close();
  });
});
