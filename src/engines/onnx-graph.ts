import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { ModeldError } from '../errors/index.js';

const { onnx } = onnxProto;

/** ONNX TensorProto.DataType codes we name in messages. */
const ELEM_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  16: 'bfloat16',
};

export interface OnnxValueInfo {
  name: string;
  /** `int64`, `float32`, ... or `unknown` (non-tensor values are `non-tensor`). */
  elemType: string;
  /** Number of dimensions, null when the graph does not say. */
  rank: number | null;
}

export interface OnnxGraphInfo {
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Files (relative to the model's folder) holding external tensor data. */
  externalData: string[];
  opsetVersion: number | null;
}

function valueInfo(v: onnxProto.onnx.IValueInfoProto): OnnxValueInfo {
  const tt = v.type?.tensorType;
  if (!tt) return { name: v.name ?? '', elemType: 'non-tensor', rank: null };
  return { name: v.name ?? '', elemType: ELEM_TYPES[tt.elemType ?? 0] ?? 'unknown', rank: tt.shape?.dim ? tt.shape.dim.length : null };
}

/**
 * Reads an ONNX file's graph signature (inputs other than initializers, outputs) and its external
 * data files, without onnxruntime. Throws MODELD_ERR_ARTIFACT_INVALID
 * `"<name> is not an ONNX model: ..."` when the bytes are not an ONNX ModelProto with a graph.
 */
export async function inspectOnnx(file: string, displayName = file): Promise<OnnxGraphInfo> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${displayName}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  const notOnnx = (why: string, cause?: unknown) => new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${displayName} is not an ONNX model: ${why}`, { cause });
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw notOnnx(`protobuf decoding failed (${(err as Error).message})`, err);
  }
  const graph = model.graph;
  if (!model.irVersion || !graph) throw notOnnx('no IR version or no graph');
  if (!graph.output?.length) throw notOnnx('the graph has no outputs');
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const externalData = new Set<string>();
  for (const t of graph.initializer ?? []) {
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
      const loc = t.externalData?.find((e) => e.key === 'location')?.value;
      if (loc) externalData.add(loc);
    }
  }
  const opset = model.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx');
  return {
    inputs: (graph.input ?? []).filter((i) => !initializers.has(i.name ?? '')).map(valueInfo),
    outputs: graph.output.map(valueInfo),
    externalData: [...externalData].sort(),
    opsetVersion: opset?.version === undefined || opset.version === null ? null : Number(opset.version),
  };
}
