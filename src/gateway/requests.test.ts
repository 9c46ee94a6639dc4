import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Compile } from 'typebox/compile';
import { ModeldError } from '../errors/index.js';
import {
  MAX_LABELS,
  parseClassificationBody,
  parseEmbeddingBody,
  parseOipInferBody,
  parseTokenizationBody,
  requestSchemas,
} from './requests.js';

const MAX = 32;
const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ text: `t${i}` }));

function rejects(fn: () => unknown, field: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ModeldError, `not a ModeldError: ${String(err)}`);
    assert.equal(err.code, 'MODELD_ERR_VALIDATION');
    assert.equal(err.status, 400);
    assert.equal(err.details?.field, field, err.message);
    assert.ok(err.message.startsWith(`${field}: `), err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('parseEmbeddingBody', () => {
  it('accepts 1..maxBatchItems inputs and keeps their order', () => {
    assert.deepEqual(parseEmbeddingBody({ batch: batch(1) }, MAX).texts, ['t0']);
    assert.deepEqual(parseEmbeddingBody({ batch: batch(MAX) }, MAX).texts, batch(MAX).map((b) => b.text));
  });

  it('refuses 0 or maxBatchItems + 1 inputs naming body.batch', () => {
    rejects(() => parseEmbeddingBody({ batch: [] }, MAX), 'body.batch', /1 to 32 items, got 0/);
    rejects(() => parseEmbeddingBody({ batch: batch(MAX + 1) }, MAX), 'body.batch', /1 to 32 items, got 33/);
    rejects(() => parseEmbeddingBody({}, MAX), 'body.batch', /required/);
    rejects(() => parseEmbeddingBody({ batch: 'hello' }, MAX), 'body.batch');
  });

  it('refuses a text that is not a string, naming the item', () => {
    rejects(() => parseEmbeddingBody({ batch: [{ text: 'a' }, { text: 5 }] }, MAX), 'body.batch.1.text', /must be a string/);
    rejects(() => parseEmbeddingBody({ batch: [{ txt: 'a' }] }, MAX), 'body.batch.0.text', /required/);
    rejects(() => parseEmbeddingBody({ batch: ['a'] }, MAX), 'body.batch.0');
  });

  it('checks useCaseConfig.dataType and the modelConfig options', () => {
    assert.equal(parseEmbeddingBody({ batch: batch(1), useCaseConfig: { dataType: 'passage' } }, MAX).dataType, 'passage');
    rejects(() => parseEmbeddingBody({ batch: batch(1), useCaseConfig: { dataType: 'doc' } }, MAX), 'body.useCaseConfig.dataType', /"query" or "passage"/);
    rejects(() => parseEmbeddingBody({ batch: batch(1), useCaseConfig: 'query' }, MAX), 'body.useCaseConfig');
    const p = parseEmbeddingBody({ batch: batch(1), modelConfig: { vectorQuantizationMethod: 'min-max', dimReductionSize: 64 } }, MAX);
    assert.equal(p.quantization, 'min-max');
    assert.equal(p.dimReductionSize, 64);
    rejects(() => parseEmbeddingBody({ batch: batch(1), modelConfig: { vectorQuantizationMethod: 'int8' } }, MAX), 'body.modelConfig.vectorQuantizationMethod');
    for (const bad of [0, -3, 1.5, '64']) {
      rejects(() => parseEmbeddingBody({ batch: batch(1), modelConfig: { dimReductionSize: bad } }, MAX), 'body.modelConfig.dimReductionSize');
    }
  });

  it('ignores unknown fields, as Lucidworks does', () => {
    assert.deepEqual(parseEmbeddingBody({ batch: [{ text: 'a', id: 7 }], extra: true, modelConfig: { other: 1 } }, MAX), { texts: ['a'] });
  });

  it('refuses a body that is not an object', () => {
    rejects(() => parseEmbeddingBody(undefined, MAX), 'body');
    rejects(() => parseEmbeddingBody([{ text: 'a' }], MAX), 'body');
  });
});

describe('parseClassificationBody', () => {
  it('requires labels, de-duplicates them, checks topK and similarityCutoff', () => {
    const p = parseClassificationBody({ batch: batch(2), useCaseConfig: { labels: ['a', 'b', 'a'], topK: 1, similarityCutoff: 0.2 } }, MAX);
    assert.deepEqual(p, { texts: ['t0', 't1'], labels: ['a', 'b'], topK: 1, similarityCutoff: 0.2 });
    rejects(() => parseClassificationBody({ batch: batch(1) }, MAX), 'body.useCaseConfig');
    rejects(() => parseClassificationBody({ batch: batch(1), useCaseConfig: { labels: [] } }, MAX), 'body.useCaseConfig.labels');
    rejects(() => parseClassificationBody({ batch: batch(1), useCaseConfig: { labels: Array(MAX_LABELS + 1).fill('x') } }, MAX), 'body.useCaseConfig.labels');
    rejects(() => parseClassificationBody({ batch: batch(1), useCaseConfig: { labels: ['a', 3] } }, MAX), 'body.useCaseConfig.labels.1');
    rejects(() => parseClassificationBody({ batch: batch(1), useCaseConfig: { labels: ['a'], topK: 0 } }, MAX), 'body.useCaseConfig.topK');
    rejects(() => parseClassificationBody({ batch: batch(1), useCaseConfig: { labels: ['a'], similarityCutoff: 2 } }, MAX), 'body.useCaseConfig.similarityCutoff');
  });
});

describe('parseOipInferBody', () => {
  const input = (data: unknown[], shape: unknown = [data.length]) => ({ inputs: [{ name: 'text', shape, datatype: 'BYTES', data }] });
  it('takes one BYTES input named text whose shape matches its data', () => {
    assert.deepEqual(parseOipInferBody({ id: 'r1', ...input(['a', 'b']) }, MAX), { id: 'r1', texts: ['a', 'b'] });
    assert.deepEqual(parseOipInferBody(input(['a'], [1, 1]), MAX), { texts: ['a'] });
    rejects(() => parseOipInferBody(input(['a', 'b'], [3]), MAX), 'body.inputs.0.shape');
    rejects(() => parseOipInferBody({ inputs: [{ name: 'ids', shape: [1], datatype: 'BYTES', data: ['a'] }] }, MAX), 'body.inputs.0.name');
    rejects(() => parseOipInferBody({ inputs: [{ name: 'text', shape: [1], datatype: 'FP32', data: ['a'] }] }, MAX), 'body.inputs.0.datatype');
    rejects(() => parseOipInferBody(input([]), MAX), 'body.inputs.0.data');
    rejects(() => parseOipInferBody(input(Array(MAX + 1).fill('a')), MAX), 'body.inputs.0.data');
    rejects(() => parseOipInferBody(input(['a', 1]), MAX), 'body.inputs.0.data.1');
    rejects(() => parseOipInferBody({ inputs: [] }, MAX), 'body.inputs');
  });
});

describe('schemas and parsers agree', () => {
  const schemas = requestSchemas(MAX);
  const cases: Array<[keyof typeof schemas, (b: unknown) => unknown, unknown]> = [];
  const embeddingBodies: unknown[] = [
    { batch: batch(1) },
    { batch: batch(MAX) },
    { batch: [] },
    { batch: batch(MAX + 1) },
    { batch: [{ text: 1 }] },
    { batch: [{}] },
    {},
    { batch: batch(1), useCaseConfig: { dataType: 'query' } },
    { batch: batch(1), useCaseConfig: { dataType: 'x' } },
    { batch: batch(1), useCaseConfig: {} },
    { batch: batch(1), modelConfig: { vectorQuantizationMethod: 'max-scale', dimReductionSize: 8 } },
    { batch: batch(1), modelConfig: { vectorQuantizationMethod: 'none' } },
    { batch: batch(1), modelConfig: { dimReductionSize: 0 } },
    { batch: batch(1), modelConfig: { dimReductionSize: 2.5 } },
    { batch: batch(1), extra: { anything: true } },
  ];
  for (const b of embeddingBodies) {
    cases.push(['embedding', (x) => parseEmbeddingBody(x, MAX), b]);
    cases.push(['tokenization', (x) => parseTokenizationBody(x, MAX), b]);
  }
  for (const b of [
    { batch: batch(1), useCaseConfig: { labels: ['a'] } },
    { batch: batch(1), useCaseConfig: { labels: [] } },
    { batch: batch(1), useCaseConfig: { labels: ['a'], topK: 0 } },
    { batch: batch(1), useCaseConfig: { labels: ['a'], topK: 2, similarityCutoff: -1 } },
    { batch: batch(1), useCaseConfig: { labels: ['a'], similarityCutoff: 1.5 } },
    { batch: batch(1) },
  ]) {
    cases.push(['classification', (x) => parseClassificationBody(x, MAX), b]);
  }
  for (const b of [
    { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['a'] }] },
    { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [1] }] },
    { inputs: [{ name: 'text', shape: [0], datatype: 'BYTES', data: [] }] },
    { inputs: [] },
    { id: 3, inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['a'] }] },
  ]) {
    cases.push(['oipInfer', (x) => parseOipInferBody(x, MAX), b]);
  }

  it(`the route schema accepts exactly the bodies the gateway accepts (${cases.length} cases)`, () => {
    for (const [kind, parse, body] of cases) {
      const schemaOk = Compile(schemas[kind]).Check(body);
      let parserOk = true;
      try {
        parse(body);
      } catch {
        parserOk = false;
      }
      assert.equal(schemaOk, parserOk, `${kind} ${JSON.stringify(body).slice(0, 120)}: schema ${schemaOk}, parser ${parserOk}`);
    }
  });
});
