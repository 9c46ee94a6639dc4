import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * A small builder for ONNX graphs, so that training steps and encoders can be written as code:
 * `const y = g.op('MatMul', [x, w])` adds a node and returns the name of its (first) output.
 * Names are generated (`t0`, `t1`, ...) unless given. Opset 17, default domain only.
 */

export const OPSET = 17;

export const ElemType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 } as const;
export type ElemTypeName = keyof typeof ElemType;

type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

export class GraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  #next = 0;
  #constants = new Map<string, string>();

  constructor(readonly name: string) {}

  fresh(prefix = 't'): string {
    return `${prefix}${this.#next++}`;
  }

  input(name: string, type: ElemTypeName, dims: Array<number | string>): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElemTypeName, dims: Array<number | string>): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Adds `opType(inputs) -> outputs`; returns the first output's name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs?: string[] | number): string {
    return this.opN(opType, inputs, attrs, outputs)[0]!;
  }

  /** Like `op`, for nodes with several outputs (`outputs` names them, or says how many to generate). */
  opN(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs: string[] | number = 1): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh()) : outputs;
    this.nodes.push({ opType, input: inputs, output: outs, name: `${opType}_${outs[0]}`, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return outs;
  }

  /** A named float initializer (a weight baked into the graph). */
  floatTensor(name: string, dims: number[], values: Float32Array): string {
    if (values.length !== dims.reduce((a, b) => a * b, 1)) throw new RangeError(`${name}: ${values.length} values for dims [${dims}]`);
    this.initializers.push({ name, dims, dataType: ElemType.FLOAT, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
    return name;
  }

  /** A shared constant, one initializer per distinct value. */
  floats(values: number[], dims: number[] = [values.length]): string {
    const key = `f:${dims.join('x')}:${values.join(',')}`;
    let name = this.#constants.get(key);
    if (name === undefined) {
      name = this.floatTensor(this.fresh('c'), dims, Float32Array.from(values));
      this.#constants.set(key, name);
    }
    return name;
  }

  scalar(value: number): string {
    return this.floats([value], []);
  }

  ints(values: number[], dims: number[] = [values.length]): string {
    const key = `i:${dims.join('x')}:${values.join(',')}`;
    let name = this.#constants.get(key);
    if (name === undefined) {
      name = this.fresh('c');
      const b = new BigInt64Array(values.map((v) => BigInt(v)));
      this.initializers.push({ name, dims, dataType: ElemType.INT64, rawData: new Uint8Array(b.buffer) });
      this.#constants.set(key, name);
    }
    return name;
  }

  // Shorthands for the ops used most.
  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }
  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }
  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }
  matmul(a: string, b: string): string {
    return this.op('MatMul', [a, b]);
  }
  sigmoid(a: string): string {
    return this.op('Sigmoid', [a]);
  }
  tanh(a: string): string {
    return this.op('Tanh', [a]);
  }
  reshape(a: string, shape: number[]): string {
    return this.op('Reshape', [a, this.ints(shape)]);
  }
  transpose(a: string, perm: number[]): string {
    return this.op('Transpose', [a], { perm });
  }
  concat(parts: string[], axis: number): string {
    return parts.length === 1 ? parts[0]! : this.op('Concat', parts, { axis });
  }
  split(a: string, axis: number, count: number): string[] {
    // Opset 17: with no `split` input, Split cuts the axis into as many equal parts as it has outputs.
    return this.opN('Split', [a], { axis }, count);
  }
  unsqueeze(a: string, axes: number[]): string {
    return this.op('Unsqueeze', [a, this.ints(axes)]);
  }
  squeeze(a: string, axes: number[]): string {
    return this.op('Squeeze', [a, this.ints(axes)]);
  }
  reduceSum(a: string, axes: number[], keepdims = 0): string {
    return this.op('ReduceSum', [a, this.ints(axes)], { keepdims });
  }
  /** 1 - a. */
  oneMinus(a: string): string {
    return this.sub(this.scalar(1), a);
  }

  encode(producer = 'modeld-trainer'): Uint8Array {
    return onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: producer,
      producerVersion: '1',
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    }).finish();
  }
}

function valueInfo(name: string, type: ElemTypeName, dims: Array<number | string>): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: ElemType[type], shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}
