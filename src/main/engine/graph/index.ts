/**
 * ONNX graph builder: declare a graph in TypeScript, get build-time shape/dtype checks, serialise
 * to ModelProto bytes (hand-written protobuf encoder, no generated code) and run it with
 * onnxruntime-node.
 *
 * ```ts
 * import { Graph, createSession, f32Tensor } from '../engine/graph';
 *
 * const g = new Graph('tiny', 21);                       // graph name, ai.onnx opset
 * const x = g.input('x', 'float32', ['batch', 64]);     // symbolic / numeric / null dims
 * const w = g.weight('w', new Float32Array(64 * 32), [64, 32]); // external data, never in the protobuf
 * const b = g.initializer('b', new Float32Array(32), [32]);     // small: inline (>= 4 KiB moves external)
 * const wi = g.input('w_lora', 'float32', [64, 8]);      // weights can also be graph inputs (training)
 * const h = g.matmul(x, w, 'q_proj');                    // throws "MatMul q_proj: inner dims 64 vs 72 ..." on mismatch
 * const y = g.op('Gelu', [g.add(h, b)], {}, { domain: 'com.microsoft' });
 * const ln = g.op('LayerNormalization', [y, scale, bias], { axis: -1, epsilon: 1e-12 });
 * const [out, mean] = g.opN('LayerNormalization', [...], { epsilon: 1e-5 }, { outputs: 2 });
 * g.output(y, 'y');                                      // renames through Identity when needed
 * const model = g.build();                               // { bytes, externalData, externalFiles }
 * const session = await createSession(model, { intraOpThreads: 2 });
 * const res = await session.run({ x: f32Tensor(data, [1, 64]) });
 * ```
 *
 * - Attributes: plain numbers are ints unless non-integer or named like a float attribute
 *   (epsilon, alpha, beta, scale, softcap...); force with `attr.float(1)` / `attr.int(1)`.
 * - Ops without an inference rule need `{ outTypes: [{ dtype, shape }] }`.
 * - `g.nodes` is the walkable node list ({ opType, domain, name, inputs, outputs, attributes }),
 *   in topological order; `g.value(name)` gives a value's dtype/shape; `g.producer(name)` its node.
 * - `g.fileWeight(name, dtype, dims, location, offset, length)` references a region of a file in
 *   the folder the model is saved to (`createSession(model, { saveDir })`); onnxruntime rejects
 *   absolute locations and symlinks leaving that folder, so such files must live there.
 * - Microsoft-domain ops: pass `{ domain: 'com.microsoft' }` (the opset import is added), e.g.
 *   FusedMatMul, RotaryEmbedding, SkipSimplifiedLayerNormalization, GroupQueryAttention. Note:
 *   SimplifiedLayerNormalization is registered in the default ai.onnx domain in onnxruntime 1.30
 *   (com.microsoft:SimplifiedLayerNormalization is "not a registered function/op").
 */
export * from './types';
export { Graph, attr, type BuiltModel, type OpOptions, type Input } from './builder';
/** fp16 constants: the converters live in engine/half.ts. */
export { floatToHalf, halfToFloat, toHalfArray } from '../half';
export { GraphError, broadcastShapes } from './infer';
export { createSession, saveModel, defaultThreads, f32Tensor, i64Tensor, ortType, ort, type SessionOptions } from './session';
export { ProtoWriter, decodeFields } from './proto';
