import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelConfigEnv, predictiveUnitParameters } from './model-env.js';

test('PREDICTIVE_UNIT_PARAMETERS lists scalar top-level keys with Seldon types and string values', () => {
  const params = predictiveUnitParameters({
    threads: 4,
    temperature: 0.25,
    name: 'x',
    normalize: true,
    nested: { a: 1 },
    list: [1, 2],
    missing: null,
    inf: Number.POSITIVE_INFINITY,
  });
  assert.deepEqual(params, [
    { name: 'threads', value: '4', type: 'INT' },
    { name: 'temperature', value: '0.25', type: 'DOUBLE' },
    { name: 'name', value: 'x', type: 'STRING' },
    { name: 'normalize', value: 'true', type: 'BOOL' },
  ]);
});

test('MODEL_CONFIG_JSON carries the whole config, nested values included', () => {
  const config = { a: { b: [1, 'two'] }, c: false };
  const env = modelConfigEnv(config);
  assert.deepEqual(JSON.parse(env.MODEL_CONFIG_JSON), config);
  assert.deepEqual(JSON.parse(env.PREDICTIVE_UNIT_PARAMETERS), [{ name: 'c', value: 'false', type: 'BOOL' }]);
});

test('an empty config gives an empty object and an empty parameter list', () => {
  assert.deepEqual(modelConfigEnv({}), { MODEL_CONFIG_JSON: '{}', PREDICTIVE_UNIT_PARAMETERS: '[]' });
});
