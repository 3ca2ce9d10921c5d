/** Core types of the ONNX graph builder. */

export type DType =
  | 'float32'
  | 'float16'
  | 'float64'
  | 'bfloat16'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool'
  | 'string';

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
};

export const DTYPE_FROM_ONNX: Record<number, DType> = Object.fromEntries(Object.entries(ONNX_DTYPE).map(([k, v]) => [v, k as DType])) as Record<number, DType>;

export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  float16: 2,
  float64: 8,
  bfloat16: 2,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  bool: 1,
  string: 0,
};

/** A dimension: a known size, a symbolic name (e.g. "batch"), or null when unknown. */
export type Dim = number | string | null;
/** A shape; null when even the rank is unknown. */
export type Shape = Dim[] | null;

/** A value (tensor edge) in the graph. */
export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  /** Known constant contents for small integer tensors (used for Reshape/Slice/... inference). */
  readonly constValue?: number[];
}

export type Attr =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensor'; value: TensorInit };

/** What callers may pass as an attribute; plain numbers are ints unless non-integer or listed in FLOAT_ATTRS. */
export type AttrInput = number | string | number[] | string[] | Attr;

/** A node as stored in the graph: walkable by backward-graph generators. */
export interface GraphNode {
  readonly opType: string;
  readonly domain: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, Attr>>;
}

/** Where an initializer's bytes live. */
export type TensorStorage =
  /** stored inside the .onnx protobuf (small tensors only) */
  | { kind: 'inline'; data: Uint8Array }
  /** kept in memory and handed to onnxruntime as an external-data "file" (never enters the protobuf) */
  | { kind: 'memory'; data: Uint8Array }
  /** an existing file region on disk (absolute path, or relative to the model's folder) */
  | { kind: 'file'; location: string; offset: number; length: number };

export interface TensorInit {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly storage: TensorStorage;
}

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export function typedArrayBytes(a: TypedArray | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function shapeToString(s: Shape): string {
  if (s === null) return '[?rank]';
  return `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}
