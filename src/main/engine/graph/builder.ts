/** The typed ONNX graph builder (see index.ts for a usage overview). */
import { toHalfArray } from '../half';
import { GraphError, inferNode, FLOAT_ATTRS, type OutType } from './infer';
import { ProtoWriter } from './proto';
import {
  DTYPE_BYTES,
  ONNX_DTYPE,
  typedArrayBytes,
  type Attr,
  type AttrInput,
  type DType,
  type Dim,
  type GraphNode,
  type Shape,
  type TensorInit,
  type TensorStorage,
  type TypedArray,
  type Value,
} from './types';

export interface OpOptions {
  /** node name (defaults to opType_N); used in error messages */
  name?: string;
  /** operator domain: '' (ai.onnx, default) or 'com.microsoft' */
  domain?: string;
  /** number of outputs, or explicit output names */
  outputs?: number | string[];
  /** skip inference and declare output types (required for ops without an inference rule) */
  outTypes?: { dtype: DType; shape: Shape }[];
}

export type Input = Value | string | null | undefined;

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface BuildOptions {
  /** ONNX IR version (default 10) */
  irVersion?: number;
  producerName?: string;
  /** file-name prefix for in-memory external data (default "mem_"), to keep several models' files apart in one folder */
  memoryPrefix?: string;
}

/** A built model: the protobuf bytes plus the external data files it references. */
export interface BuiltModel {
  /** ModelProto bytes (small: weights are external) */
  bytes: Uint8Array;
  /** in-memory external-data "files" to pass to onnxruntime (path = location in the model) */
  externalData: { path: string; data: Uint8Array }[];
  /** on-disk external-data files referenced by the model (absolute or relative to the model folder) */
  externalFiles: string[];
}

const MEMORY_PREFIX = 'mem_';

function toAttr(name: string, v: AttrInput): Attr {
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && 'type' in v) return v;
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'number') {
    return Number.isInteger(v) && !FLOAT_ATTRS.has(name) ? { type: 'int', value: v } : { type: 'float', value: v };
  }
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') return { type: 'strings', value: v as string[] };
    const nums = v as number[];
    return nums.some((x) => !Number.isInteger(x)) ? { type: 'floats', value: nums } : { type: 'ints', value: nums };
  }
  throw new GraphError(`attribute ${name}: unsupported value ${String(v)}`);
}

/** Helpers to force an attribute's type. */
export const attr = {
  float: (value: number): Attr => ({ type: 'float', value }),
  int: (value: number): Attr => ({ type: 'int', value }),
  floats: (value: number[]): Attr => ({ type: 'floats', value }),
  ints: (value: number[]): Attr => ({ type: 'ints', value }),
  string: (value: string): Attr => ({ type: 'string', value }),
  tensor: (value: TensorInit): Attr => ({ type: 'tensor', value }),
};

function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Uint16Array) return 'float16'; // raw fp16 bits
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof BigInt64Array) return 'int64';
  return 'uint64';
}

/**
 * An ONNX graph under construction. Values are created by `input`, `initializer`, `weight`,
 * `constant` and `op`; nodes are kept in `nodes` in topological (insertion) order.
 */
export class Graph {
  readonly nodes: GraphNode[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers: TensorInit[] = [];
  private readonly values = new Map<string, Value>();
  private readonly nodeNames = new Set<string>();
  private readonly opsets = new Map<string, number>();
  private counter = 0;
  /** tensors at or above this byte size given to `initializer()` are stored as in-memory external data */
  inlineLimit = 4096;

  constructor(
    readonly name = 'graph',
    opset = 21,
  ) {
    this.opsets.set('', opset);
  }

  /** Require an opset for a domain (e.g. useOpset('com.microsoft', 1)); keeps the highest requested. */
  useOpset(domain: string, version: number): this {
    this.opsets.set(domain, Math.max(this.opsets.get(domain) ?? 0, version));
    return this;
  }

  get opsetImports(): OpsetImport[] {
    return [...this.opsets].map(([domain, version]) => ({ domain, version }));
  }

  /** Look up a value by name (inputs, initializers and node outputs). */
  value(name: string): Value {
    const v = this.values.get(name);
    if (!v) throw new GraphError(`unknown value "${name}"`);
    return v;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The node producing a value, if any. */
  producer(name: string): GraphNode | undefined {
    return this.nodes.find((n) => n.outputs.includes(name));
  }

  uniqueName(base: string): string {
    let n = base;
    while (this.values.has(n)) n = `${base}_${++this.counter}`;
    return n;
  }

  private define(v: Value): Value {
    if (this.values.has(v.name)) throw new GraphError(`value "${v.name}" is defined twice`);
    this.values.set(v.name, v);
    return v;
  }

  /** Declare a graph input. Dims may be numbers, symbolic names ("batch") or null. */
  input(name: string, dtype: DType, shape: Dim[]): Value {
    const v = this.define({ name, dtype, shape: shape.slice() });
    this.inputs.push(v);
    return v;
  }

  /** Mark a value as a graph output (optionally renaming it through an Identity node). */
  output(v: Value, name?: string): Value {
    let out = v;
    if (name && name !== v.name) out = this.op('Identity', [v], {}, { name: `${name}_identity`, outputs: [name] });
    if (this.outputs.some((o) => o.name === out.name)) throw new GraphError(`output "${out.name}" declared twice`);
    this.outputs.push(out);
    return out;
  }

  private addInit(t: TensorInit, constValue?: number[]): Value {
    const count = t.dims.reduce((a, b) => a * b, 1);
    const expect = count * DTYPE_BYTES[t.dtype];
    const len = t.storage.kind === 'file' ? t.storage.length : t.storage.data.byteLength;
    if (len !== expect) throw new GraphError(`initializer ${t.name}: ${len} bytes for dims [${t.dims.join(', ')}] of ${t.dtype} (expected ${expect})`);
    this.initializers.push(t);
    return this.define({ name: t.name, dtype: t.dtype, shape: t.dims.slice(), constValue });
  }

  /**
   * A constant tensor. Small tensors are stored inline in the protobuf; larger ones
   * (>= inlineLimit bytes) become in-memory external data automatically.
   * For raw fp16/bf16 bits pass a Uint16Array and the dtype explicitly.
   */
  initializer(name: string, data: TypedArray, dims: number[], dtype: DType = dtypeOfArray(data)): Value {
    const bytes = typedArrayBytes(data);
    let constValue: number[] | undefined;
    if ((dtype === 'int64' || dtype === 'int32') && data.length <= 64) constValue = Array.from(data as ArrayLike<number | bigint>, Number);
    const kind = bytes.byteLength >= this.inlineLimit ? 'memory' : 'inline';
    return this.addInit({ name, dtype, dims: dims.slice(), storage: { kind, data: bytes } }, constValue);
  }

  /** A large frozen weight kept outside the protobuf (in memory, handed to onnxruntime as external data; never copied). */
  weight(name: string, data: TypedArray, dims: number[], dtype: DType = dtypeOfArray(data)): Value {
    return this.addInit({ name, dtype, dims: dims.slice(), storage: { kind: 'memory', data: typedArrayBytes(data) } });
  }

  /** A weight stored in an existing file region (e.g. an F32 tensor inside a .gguf or .safetensors file). */
  fileWeight(name: string, dtype: DType, dims: number[], location: string, offset: number, length: number): Value {
    return this.addInit({ name, dtype, dims: dims.slice(), storage: { kind: 'file', location, offset, length } });
  }

  /** Convenience constants. */
  constInt64(values: number[], dims: number[] = [values.length], name?: string): Value {
    return this.initializer(name ?? this.uniqueName('const_i64'), BigInt64Array.from(values.map((v) => BigInt(v))), dims, 'int64');
  }
  constFloat(values: number[] | number, dims?: number[], name?: string, dtype: 'float32' | 'float16' = 'float32'): Value {
    const arr = typeof values === 'number' ? [values] : values;
    const d = dims ?? (typeof values === 'number' ? [] : [arr.length]);
    if (dtype === 'float16') return this.initializer(name ?? this.uniqueName('const_f16'), toHalfArray(arr), d, 'float16');
    return this.initializer(name ?? this.uniqueName('const_f32'), Float32Array.from(arr), d, 'float32');
  }

  private resolve(i: Input, opType: string, nodeName: string, idx: number): Value | null {
    if (i === null || i === undefined || i === '') return null;
    if (typeof i === 'string') {
      const v = this.values.get(i);
      if (!v) throw new GraphError(`${opType} ${nodeName}: input #${idx} "${i}" is not defined`);
      return v;
    }
    const v = this.values.get(i.name);
    if (v !== i && !(v && v.name === i.name)) throw new GraphError(`${opType} ${nodeName}: input #${idx} "${i.name}" is not part of this graph`);
    return v!;
  }

  /** Add a node; returns all output values. */
  opN(opType: string, inputs: Input[], attrs: Record<string, AttrInput> = {}, opts: OpOptions = {}): Value[] {
    let name = opts.name ?? `${opType}_${this.nodes.length}`;
    if (this.nodeNames.has(name)) {
      if (opts.name !== undefined) throw new GraphError(`${opType} ${name}: a node named "${name}" already exists`);
      let k = this.nodes.length;
      while (this.nodeNames.has(`${opType}_${k}`)) k++;
      name = `${opType}_${k}`;
    }
    this.nodeNames.add(name);
    const domain = opts.domain ?? '';
    if (domain && !this.opsets.has(domain)) this.opsets.set(domain, 1);
    const ins = inputs.map((x, k) => this.resolve(x, opType, name, k));
    while (ins.length && ins[ins.length - 1] === null) ins.pop();
    const attributes: Record<string, Attr> = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) attributes[k] = toAttr(k, v);
    const numOut = typeof opts.outputs === 'number' ? opts.outputs : (opts.outputs?.length ?? opts.outTypes?.length ?? 1);
    let types: OutType[];
    if (opts.outTypes) types = opts.outTypes;
    else {
      types = inferNode({ opType, name, inputs: ins, attrs: attributes, numOutputs: numOut });
      if (types.length < numOut) throw new GraphError(`${opType} ${name}: op has only ${types.length} outputs, ${numOut} requested`);
      types = types.slice(0, numOut);
    }
    const outNames = Array.isArray(opts.outputs) ? opts.outputs : types.map((_, k) => this.uniqueName(types.length === 1 ? name : `${name}_out${k}`));
    const outs = types.map((t, k) => this.define({ name: outNames[k]!, dtype: t.dtype, shape: t.shape, constValue: t.constValue }));
    this.nodes.push({
      opType,
      domain,
      name,
      inputs: ins.map((v) => (v ? v.name : '')),
      outputs: outs.map((v) => v.name),
      attributes,
    });
    return outs;
  }

  /** Add a single-output node (or use only its first output). */
  op(opType: string, inputs: Input[], attrs: Record<string, AttrInput> = {}, opts: OpOptions = {}): Value {
    return this.opN(opType, inputs, attrs, opts)[0]!;
  }

  // --- sugar for common ops -------------------------------------------------------------
  matmul(a: Input, b: Input, name?: string): Value {
    return this.op('MatMul', [a, b], {}, { name });
  }
  add(a: Input, b: Input, name?: string): Value {
    return this.op('Add', [a, b], {}, { name });
  }
  sub(a: Input, b: Input, name?: string): Value {
    return this.op('Sub', [a, b], {}, { name });
  }
  mul(a: Input, b: Input, name?: string): Value {
    return this.op('Mul', [a, b], {}, { name });
  }
  div(a: Input, b: Input, name?: string): Value {
    return this.op('Div', [a, b], {}, { name });
  }
  reshape(x: Input, shape: number[], name?: string): Value {
    return this.op('Reshape', [x, this.constInt64(shape)], {}, { name });
  }
  transpose(x: Input, perm: number[], name?: string): Value {
    return this.op('Transpose', [x], { perm }, { name });
  }
  cast(x: Input, to: DType, name?: string): Value {
    return this.op('Cast', [x], { to: ONNX_DTYPE[to] }, { name });
  }
  softmax(x: Input, axis = -1, name?: string): Value {
    return this.op('Softmax', [x], { axis }, { name });
  }
  unsqueeze(x: Input, axes: number[], name?: string): Value {
    return this.op('Unsqueeze', [x, this.constInt64(axes)], {}, { name });
  }
  squeeze(x: Input, axes: number[], name?: string): Value {
    return this.op('Squeeze', [x, this.constInt64(axes)], {}, { name });
  }
  slice(x: Input, starts: number[], ends: number[], axes: number[], name?: string): Value {
    return this.op('Slice', [x, this.constInt64(starts), this.constInt64(ends), this.constInt64(axes)], {}, { name });
  }
  concat(xs: Input[], axis: number, name?: string): Value {
    return this.op('Concat', xs, { axis }, { name });
  }
  reduceMean(x: Input, axes: number[], keepdims = true, name?: string): Value {
    return this.op('ReduceMean', [x, this.constInt64(axes)], { keepdims: keepdims ? 1 : 0 }, { name });
  }

  // --- serialisation ----------------------------------------------------------------------
  /** Serialise to ModelProto bytes plus the external data it references. */
  build(opts: BuildOptions = {}): BuiltModel {
    if (this.outputs.length === 0) throw new GraphError(`graph ${this.name}: no outputs declared`);
    const externalData: { path: string; data: Uint8Array }[] = [];
    const externalFiles = new Set<string>();
    let memIndex = 0;
    const locations = new Map<TensorInit, { location: string; offset: number; length: number } | null>();
    for (const t of this.initializers) {
      if (t.storage.kind === 'memory') {
        const path = `${opts.memoryPrefix ?? MEMORY_PREFIX}${memIndex++}.bin`;
        externalData.push({ path, data: t.storage.data });
        locations.set(t, { location: path, offset: 0, length: t.storage.data.byteLength });
      } else if (t.storage.kind === 'file') {
        externalFiles.add(t.storage.location);
        locations.set(t, t.storage);
      } else locations.set(t, null);
    }
    const w = new ProtoWriter(1 << 16);
    w.int(1, opts.irVersion ?? 10);
    w.string(2, opts.producerName ?? 'safetune-engine');
    w.string(3, '0.1');
    w.message(7, (g) => writeGraph(g, this, locations));
    for (const o of this.opsetImports) {
      w.message(8, (m) => {
        m.string(1, o.domain);
        m.int(2, o.version);
      });
    }
    return { bytes: w.finish().slice(), externalData, externalFiles: [...externalFiles] };
  }
}

function writeTensorProto(w: ProtoWriter, t: TensorInit, ext: { location: string; offset: number; length: number } | null): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, ONNX_DTYPE[t.dtype]);
  w.string(8, t.name);
  if (ext) {
    const kv = (k: string, v: string) =>
      w.message(13, (m) => {
        m.string(1, k);
        m.string(2, v);
      });
    kv('location', ext.location);
    kv('offset', String(ext.offset));
    kv('length', String(ext.length));
    w.int(14, 1);
  } else if (t.storage.kind === 'inline') {
    w.bytes(9, t.storage.data);
  }
}

function writeValueInfo(w: ProtoWriter, v: Value): void {
  w.string(1, v.name);
  w.message(2, (tp) =>
    tp.message(1, (tt) => {
      tt.int(1, ONNX_DTYPE[v.dtype]);
      if (v.shape)
        tt.message(2, (sh) => {
          for (const d of v.shape!)
            sh.message(1, (dm) => {
              if (typeof d === 'number') dm.int(1, d);
              else if (typeof d === 'string') dm.string(2, d);
            });
        });
    }),
  );
}

function writeAttr(w: ProtoWriter, name: string, a: Attr): void {
  w.string(1, name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      w.int(20, 1);
      break;
    case 'int':
      w.int(3, a.value);
      w.int(20, 2);
      break;
    case 'string':
      w.string(4, a.value);
      w.int(20, 3);
      break;
    case 'tensor':
      if (a.value.storage.kind !== 'inline') throw new GraphError(`attribute ${name}: tensor attributes must be inline`);
      w.message(5, (m) => writeTensorProto(m, a.value, null));
      w.int(20, 4);
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      w.int(20, 6);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      w.int(20, 7);
      break;
    case 'strings':
      for (const s of a.value) w.string(9, s);
      w.int(20, 8);
      break;
  }
}

function writeGraph(w: ProtoWriter, g: Graph, locations: Map<TensorInit, { location: string; offset: number; length: number } | null>): void {
  for (const n of g.nodes) {
    w.message(1, (m) => {
      for (const i of n.inputs) m.string(1, i);
      for (const o of n.outputs) m.string(2, o);
      m.string(3, n.name);
      m.string(4, n.opType);
      for (const [k, a] of Object.entries(n.attributes)) m.message(5, (am) => writeAttr(am, k, a));
      if (n.domain) m.string(7, n.domain);
    });
  }
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (m) => writeTensorProto(m, t, locations.get(t) ?? null));
  for (const v of g.inputs) w.message(11, (m) => writeValueInfo(m, v));
  for (const v of g.outputs) w.message(12, (m) => writeValueInfo(m, v));
}

/** TensorStorage kinds re-exported for walkers. */
export type { TensorStorage };
