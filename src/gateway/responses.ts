import { JsonWriter } from './json-writer.js';

/**
 * Results of the gateway's operations (what the routes send) and their JSON encodings. Vectors
 * stay typed arrays until they are written by JsonWriter: float32 values in their shortest
 * round-tripping form, quantized values as integers.
 */

export interface EmbeddingPrediction {
  tokensUsed: { inputTokens: number };
  /** Float32Array: unit-length floats; Int16Array: quantized integers (0..255 or -127..127). */
  vector: Float32Array | Int16Array;
  /** Set when dimReductionSize asked for a size the model was not trained for. */
  warning?: string;
}

export interface EmbeddingResult {
  predictions: EmbeddingPrediction[];
}

export interface ClassificationPrediction {
  tokensUsed: { inputTokens: number; labelsTokens: number };
  /** Labels with their cosine similarity, best first (an array so that ranking survives any label text). */
  labels: Array<[label: string, score: number]>;
}

export interface ClassificationResult {
  predictions: ClassificationPrediction[];
}

export interface TokenizationResult {
  generatedTokens: Array<{ tokens: string[] }>;
  /** The documented four counts; an embedding model generates nothing, so completionTokens is 0 and the others equal inputTokens. */
  tokensUsed: { inputTokens: number; promptTokens: number; completionTokens: number; totalTokens: number };
}

export interface UseCaseModel {
  id: string;
  name: string;
  modelType: string;
  vectorSize: number;
}

export interface UseCase {
  useCase: string;
  models: UseCaseModel[];
}

export interface OipInferResult {
  model_name: string;
  id?: string;
  outputs: Array<{ name: 'vector'; shape: [number, number]; datatype: 'FP32'; data: Float32Array }>;
}

export interface OipTensorMetadata {
  name: string;
  datatype: string;
  /** -1 for a dimension of any size. */
  shape: number[];
}

/** OIP v2 model metadata. */
export interface OipModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: OipTensorMetadata[];
  outputs: OipTensorMetadata[];
}

/** Bytes a float takes on average in JsonWriter output, plus the comma: sizes the first buffer. */
const BYTES_PER_FLOAT = 13;

function writeVector(w: JsonWriter, v: Float32Array | Int16Array): void {
  if (v instanceof Float32Array) w.float32Array(v);
  else w.intArray(v);
}

/** `{"predictions":[{"tokensUsed":{"inputTokens":n},"vector":[...](,"warning":"...")}, ...]}` */
export function encodeEmbeddingResult(result: EmbeddingResult): Buffer {
  const floats = result.predictions.reduce((n, p) => n + p.vector.length, 0);
  const w = new JsonWriter(64 + floats * BYTES_PER_FLOAT + result.predictions.length * 64);
  w.raw('{"predictions":[');
  result.predictions.forEach((p, i) => {
    if (i > 0) w.raw(',');
    w.raw('{"tokensUsed":{"inputTokens":').int(p.tokensUsed.inputTokens).raw('},"vector":');
    writeVector(w, p.vector);
    if (p.warning !== undefined) w.raw(',"warning":').string(p.warning);
    w.raw('}');
  });
  w.raw(']}');
  return w.toBuffer();
}

/** `{"predictions":[{"tokensUsed":{...},"labels":{"label":score,...}}, ...]}` with labels in ranked order. */
export function encodeClassificationResult(result: ClassificationResult): Buffer {
  const w = new JsonWriter(256);
  w.raw('{"predictions":[');
  result.predictions.forEach((p, i) => {
    if (i > 0) w.raw(',');
    w.raw('{"tokensUsed":{"inputTokens":')
      .int(p.tokensUsed.inputTokens)
      .raw(',"labelsTokens":')
      .int(p.tokensUsed.labelsTokens)
      .raw('},"labels":{');
    p.labels.forEach(([label, score], j) => {
      if (j > 0) w.raw(',');
      w.string(label).raw(':').float32(Math.fround(score));
    });
    w.raw('}}');
  });
  w.raw(']}');
  return w.toBuffer();
}

/** OIP v2 inference response with the vectors as one flat FP32 `data` array. */
export function encodeOipInferResult(result: OipInferResult): Buffer {
  const floats = result.outputs.reduce((n, o) => n + o.data.length, 0);
  const w = new JsonWriter(128 + floats * BYTES_PER_FLOAT);
  w.raw('{"model_name":').string(result.model_name);
  if (result.id !== undefined) w.raw(',"id":').string(result.id);
  w.raw(',"outputs":[');
  result.outputs.forEach((o, i) => {
    if (i > 0) w.raw(',');
    w.raw('{"name":').string(o.name).raw(',"shape":').value(o.shape).raw(',"datatype":"FP32","data":').float32Array(o.data).raw('}');
  });
  w.raw(']}');
  return w.toBuffer();
}
