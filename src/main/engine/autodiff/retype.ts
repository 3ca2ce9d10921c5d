/**
 * Rebuild a graph with every float32 tensor as float64 (inputs, initializers, Cast targets,
 * ConstantOfShape values): finite-difference gradient checks of whole models in double precision.
 */
import { Graph, GraphError, ONNX_DTYPE, type Attr, type DType, type TensorInit, type Value } from '../graph';

function bytesToF64(t: TensorInit): Float64Array {
  if (t.storage.kind === 'file') throw new GraphError(`retypeGraph: file-backed initializer ${t.name} is not supported`);
  const d = t.storage.data;
  const f = new Float32Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
  return Float64Array.from(f);
}

function copyInit(g2: Graph, t: TensorInit, map: (d: DType) => DType): void {
  if (t.storage.kind === 'file') throw new GraphError(`retypeGraph: file-backed initializer ${t.name} is not supported`);
  const d = t.storage.data;
  const buf = d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength);
  if (t.dtype === 'float32' && map('float32') === 'float64') {
    g2.initializer(t.name, bytesToF64(t), t.dims.slice(), 'float64');
    return;
  }
  const arr =
    t.dtype === 'int64'
      ? new BigInt64Array(buf)
      : t.dtype === 'int32'
        ? new Int32Array(buf)
        : t.dtype === 'float64'
          ? new Float64Array(buf)
          : new Uint8Array(buf);
  if (arr instanceof Uint8Array && t.dtype !== 'uint8' && t.dtype !== 'bool') {
    // raw bytes of another dtype: keep them as they are
    g2.initializer(t.name, arr, t.dims.slice(), t.dtype);
    return;
  }
  g2.initializer(t.name, arr, t.dims.slice(), t.dtype);
}

/** A copy of `g` with `from` tensors (default float32) turned into `to` (default float64). */
export function retypeGraph(g: Graph, from: DType = 'float32', to: DType = 'float64'): Graph {
  if (from !== 'float32' || to !== 'float64') throw new GraphError('retypeGraph: only float32 → float64 is supported');
  const map = (d: DType): DType => (d === from ? to : d);
  const g2 = new Graph(`${g.name}_${to}`);
  for (const o of g.opsetImports) g2.useOpset(o.domain, o.version);
  for (const v of g.inputs) g2.input(v.name, map(v.dtype), v.shape ? v.shape.slice() : []);
  for (const t of g.initializers) copyInit(g2, t, map);
  for (const n of g.nodes) {
    const attrs: Record<string, Attr> = {};
    for (const [k, a] of Object.entries(n.attributes)) {
      if (n.opType === 'Cast' && k === 'to' && a.type === 'int' && a.value === ONNX_DTYPE[from]) attrs[k] = { type: 'int', value: ONNX_DTYPE[to] };
      else if (a.type === 'tensor' && a.value.dtype === from && a.value.storage.kind === 'inline') {
        const f64 = bytesToF64(a.value);
        attrs[k] = { type: 'tensor', value: { ...a.value, dtype: to, storage: { kind: 'inline', data: new Uint8Array(f64.buffer) } } };
      } else attrs[k] = a;
    }
    const outTypes = n.outputs.map((o) => {
      const v: Value = g.value(o);
      return { dtype: map(v.dtype), shape: v.shape ? v.shape.slice() : null, constValue: v.constValue };
    });
    g2.opN(
      n.opType,
      n.inputs.map((i) => i || null),
      attrs,
      { name: n.name, domain: n.domain, outputs: n.outputs.slice(), outTypes },
    );
  }
  for (const o of g.outputs) g2.output(g2.value(o.name));
  return g2;
}
