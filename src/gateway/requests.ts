import { Type, type TSchema } from 'typebox';
import { invalidField } from '../errors/index.js';
import { QuantizationMethods, type QuantizationMethod } from './vectors.js';

/**
 * Request bodies of the prediction API: the TypeBox schemas (they document the routes in the
 * OpenAPI page) and the parsers the gateway runs on every body. The parsers are the authority:
 * they accept exactly what the schemas accept (a test holds them to that) and say which field is
 * wrong in Lucidworks' words, whoever calls the gateway. Unknown fields are ignored, as
 * Lucidworks does: clients written for it send extra keys.
 */

export type DataType = 'query' | 'passage';

/** Most labels one classification request may carry (they are embedded with the inputs). */
export const MAX_LABELS = 256;

const TextItem = Type.Object({ text: Type.String() });
const DataTypeSchema = Type.Union([Type.Literal('query'), Type.Literal('passage')]);
const QuantizationSchema = Type.Union([Type.Literal(QuantizationMethods.MIN_MAX), Type.Literal(QuantizationMethods.MAX_SCALE)]);

function batchSchema(maxBatchItems: number) {
  return Type.Array(TextItem, { minItems: 1, maxItems: maxBatchItems, description: `1 to ${maxBatchItems} inputs, answered in order` });
}

/** `POST /ai/prediction/embedding/{MODEL_ID}` body. */
export function embeddingBodySchema(maxBatchItems: number) {
  return Type.Object({
    batch: batchSchema(maxBatchItems),
    useCaseConfig: Type.Optional(Type.Object({ dataType: Type.Optional(DataTypeSchema) })),
    modelConfig: Type.Optional(
      Type.Object({
        vectorQuantizationMethod: Type.Optional(QuantizationSchema),
        dimReductionSize: Type.Optional(Type.Integer({ minimum: 1, description: 'Matryoshka: keep this many leading dimensions, re-normalized' })),
      }),
    ),
  });
}

/** `POST /ai/prediction/classification/{MODEL_ID}` body. */
export function classificationBodySchema(maxBatchItems: number) {
  return Type.Object({
    batch: batchSchema(maxBatchItems),
    useCaseConfig: Type.Object({
      labels: Type.Array(Type.String(), { minItems: 1, maxItems: MAX_LABELS }),
      topK: Type.Optional(Type.Integer({ minimum: 1 })),
      similarityCutoff: Type.Optional(Type.Number({ minimum: -1, maximum: 1 })),
    }),
  });
}

/** `POST /ai/tokenization/{MODEL_ID}` body (the embedding body; only `batch` matters). */
export function tokenizationBodySchema(maxBatchItems: number) {
  return Type.Object({
    batch: batchSchema(maxBatchItems),
    useCaseConfig: Type.Optional(Type.Object({ dataType: Type.Optional(DataTypeSchema) })),
    modelConfig: Type.Optional(Type.Object({})),
  });
}

/** Open Inference Protocol v2 `POST /v2/models/{name}/infer` body: one BYTES input named `text`. */
export function oipInferBodySchema(maxBatchItems: number) {
  return Type.Object({
    id: Type.Optional(Type.String()),
    inputs: Type.Array(
      Type.Object({
        name: Type.Literal('text'),
        shape: Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1, maxItems: 2 }),
        datatype: Type.Literal('BYTES'),
        data: Type.Array(Type.String(), { minItems: 1, maxItems: maxBatchItems }),
        parameters: Type.Optional(Type.Object({})),
      }),
      { minItems: 1, maxItems: 1 },
    ),
    outputs: Type.Optional(Type.Array(Type.Object({ name: Type.String() }))),
    parameters: Type.Optional(Type.Object({})),
  });
}

export interface EmbeddingParams {
  texts: string[];
  dataType?: DataType;
  quantization?: QuantizationMethod;
  dimReductionSize?: number;
}

export interface ClassificationParams {
  texts: string[];
  /** Distinct labels, in the order first given. */
  labels: string[];
  topK?: number;
  similarityCutoff?: number;
}

export interface OipInferParams {
  id?: string;
  texts: string[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalObject(parent: Json, key: string, field: string): Json | undefined {
  const v = parent[key];
  if (v === undefined) return undefined;
  if (!isObject(v)) throw invalidField(field, 'must be an object');
  return v;
}

function textTooLong(field: string, length: number, maxTextChars: number) {
  return invalidField(field, `is ${length} characters long; at most ${maxTextChars} are accepted (limits.maxTextChars)`, { maxTextChars, length });
}

function parseBody(body: unknown): Json {
  if (!isObject(body)) throw invalidField('body', 'must be a JSON object');
  return body;
}

/**
 * `batch`: 1..maxBatchItems objects with a string `text` of at most `maxTextChars` characters
 * (UTF-16 code units, config `limits.maxTextChars`): a longer text is refused before anything
 * tokenizes it, since only its first `maxInputTokens` tokens would be used anyway.
 */
export function parseBatch(body: Json, maxBatchItems: number, maxTextChars = Number.POSITIVE_INFINITY): string[] {
  const batch = body.batch;
  if (batch === undefined) throw invalidField('body.batch', 'is required', { maxBatchItems });
  if (!Array.isArray(batch)) throw invalidField('body.batch', `must be an array of 1 to ${maxBatchItems} {text} objects`, { maxBatchItems });
  if (batch.length < 1 || batch.length > maxBatchItems) {
    throw invalidField('body.batch', `must have 1 to ${maxBatchItems} items, got ${batch.length}`, { maxBatchItems, items: batch.length });
  }
  const texts: string[] = new Array<string>(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const item: unknown = batch[i];
    if (!isObject(item)) throw invalidField(`body.batch.${i}`, 'must be an object {text}');
    if (typeof item.text !== 'string') throw invalidField(`body.batch.${i}.text`, item.text === undefined ? 'is required' : 'must be a string');
    if (item.text.length > maxTextChars) throw textTooLong(`body.batch.${i}.text`, item.text.length, maxTextChars);
    texts[i] = item.text;
  }
  return texts;
}

export function parseEmbeddingBody(raw: unknown, maxBatchItems: number, maxTextChars = Number.POSITIVE_INFINITY): EmbeddingParams {
  const body = parseBody(raw);
  const params: EmbeddingParams = { texts: parseBatch(body, maxBatchItems, maxTextChars) };
  const dataType = parseDataType(optionalObject(body, 'useCaseConfig', 'body.useCaseConfig'));
  if (dataType !== undefined) params.dataType = dataType;
  const model = optionalObject(body, 'modelConfig', 'body.modelConfig');
  if (model?.vectorQuantizationMethod !== undefined) {
    const m = model.vectorQuantizationMethod;
    if (m !== QuantizationMethods.MIN_MAX && m !== QuantizationMethods.MAX_SCALE) {
      throw invalidField('body.modelConfig.vectorQuantizationMethod', 'must be "min-max" or "max-scale"');
    }
    params.quantization = m;
  }
  if (model?.dimReductionSize !== undefined) {
    const d = model.dimReductionSize;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) {
      throw invalidField('body.modelConfig.dimReductionSize', 'must be a positive integer');
    }
    params.dimReductionSize = d;
  }
  return params;
}

export function parseClassificationBody(raw: unknown, maxBatchItems: number, maxTextChars = Number.POSITIVE_INFINITY): ClassificationParams {
  const body = parseBody(raw);
  const texts = parseBatch(body, maxBatchItems, maxTextChars);
  const useCase = body.useCaseConfig;
  if (useCase === undefined) throw invalidField('body.useCaseConfig', 'is required (with labels)');
  if (!isObject(useCase)) throw invalidField('body.useCaseConfig', 'must be an object');
  const labels = useCase.labels;
  if (!Array.isArray(labels) || labels.length < 1 || labels.length > MAX_LABELS) {
    throw invalidField('body.useCaseConfig.labels', `must be an array of 1 to ${MAX_LABELS} strings`, { maxLabels: MAX_LABELS });
  }
  const distinct: string[] = [];
  const seen = new Set<string>();
  labels.forEach((label: unknown, i) => {
    if (typeof label !== 'string') throw invalidField(`body.useCaseConfig.labels.${i}`, 'must be a string');
    if (label.length > maxTextChars) throw textTooLong(`body.useCaseConfig.labels.${i}`, label.length, maxTextChars);
    if (!seen.has(label)) {
      seen.add(label);
      distinct.push(label);
    }
  });
  const params: ClassificationParams = { texts, labels: distinct };
  if (useCase.topK !== undefined) {
    if (typeof useCase.topK !== 'number' || !Number.isInteger(useCase.topK) || useCase.topK < 1) {
      throw invalidField('body.useCaseConfig.topK', 'must be a positive integer');
    }
    params.topK = useCase.topK;
  }
  if (useCase.similarityCutoff !== undefined) {
    const c = useCase.similarityCutoff;
    if (typeof c !== 'number' || !Number.isFinite(c) || c < -1 || c > 1) {
      throw invalidField('body.useCaseConfig.similarityCutoff', 'must be a number from -1 to 1');
    }
    params.similarityCutoff = c;
  }
  return params;
}

export function parseTokenizationBody(raw: unknown, maxBatchItems: number, maxTextChars = Number.POSITIVE_INFINITY): string[] {
  return parseTokenizationParams(raw, maxBatchItems, maxTextChars).texts;
}

/** The tokenization body with its `useCaseConfig.dataType` (the tokens shown are those of the prefixed text the model sees). */
export function parseTokenizationParams(raw: unknown, maxBatchItems: number, maxTextChars = Number.POSITIVE_INFINITY): { texts: string[]; dataType?: DataType } {
  const body = parseBody(raw);
  const texts = parseBatch(body, maxBatchItems, maxTextChars);
  const dataType = parseDataType(optionalObject(body, 'useCaseConfig', 'body.useCaseConfig'));
  optionalObject(body, 'modelConfig', 'body.modelConfig');
  return dataType === undefined ? { texts } : { texts, dataType };
}

function parseDataType(useCase: Record<string, unknown> | undefined | null): DataType | undefined {
  if (useCase?.dataType === undefined) return undefined;
  if (useCase.dataType !== 'query' && useCase.dataType !== 'passage') throw invalidField('body.useCaseConfig.dataType', 'must be "query" or "passage"');
  return useCase.dataType;
}

/** OIP v2 inference request: exactly one input `text`, datatype BYTES, shape [n] or [n, 1] matching its data. */
export function parseOipInferBody(raw: unknown, maxBatchItems: number, maxTextChars = Number.POSITIVE_INFINITY): OipInferParams {
  const body = parseBody(raw);
  if (body.id !== undefined && typeof body.id !== 'string') throw invalidField('body.id', 'must be a string');
  const inputs = body.inputs;
  if (!Array.isArray(inputs) || inputs.length !== 1) throw invalidField('body.inputs', 'must be an array with exactly one input named "text"');
  const input: unknown = inputs[0];
  if (!isObject(input)) throw invalidField('body.inputs.0', 'must be an object {name, shape, datatype, data}');
  if (input.name !== 'text') throw invalidField('body.inputs.0.name', 'must be "text"');
  if (input.datatype !== 'BYTES') throw invalidField('body.inputs.0.datatype', 'must be "BYTES"');
  const data = input.data;
  if (!Array.isArray(data) || data.length < 1 || data.length > maxBatchItems) {
    throw invalidField('body.inputs.0.data', `must be an array of 1 to ${maxBatchItems} strings`, { maxBatchItems });
  }
  data.forEach((d: unknown, i) => {
    if (typeof d !== 'string') throw invalidField(`body.inputs.0.data.${i}`, 'must be a string');
    if (d.length > maxTextChars) throw textTooLong(`body.inputs.0.data.${i}`, d.length, maxTextChars);
  });
  const shape = input.shape;
  const shapeOk =
    Array.isArray(shape) &&
    shape.every((n) => Number.isInteger(n) && (n as number) >= 0) &&
    ((shape.length === 1 && shape[0] === data.length) || (shape.length === 2 && shape[0] === data.length && shape[1] === 1));
  if (!shapeOk) throw invalidField('body.inputs.0.shape', `must be [${data.length}] (or [${data.length}, 1]) to match data`);
  if (input.parameters !== undefined && !isObject(input.parameters)) throw invalidField('body.inputs.0.parameters', 'must be an object');
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs) || !body.outputs.every((o) => isObject(o) && typeof o.name === 'string')) {
      throw invalidField('body.outputs', 'must be an array of {name} objects');
    }
  }
  optionalObject(body, 'parameters', 'body.parameters');
  const params: OipInferParams = { texts: data as string[] };
  if (typeof body.id === 'string') params.id = body.id;
  return params;
}

/** The schemas by route kind, for the routes and the schema/parser agreement test. */
export function requestSchemas(maxBatchItems: number): Record<'embedding' | 'classification' | 'tokenization' | 'oipInfer', TSchema> {
  return {
    embedding: embeddingBodySchema(maxBatchItems),
    classification: classificationBodySchema(maxBatchItems),
    tokenization: tokenizationBodySchema(maxBatchItems),
    oipInfer: oipInferBodySchema(maxBatchItems),
  };
}
