/**
 * The sequence classifier's configuration and parameter shapes (seqnet.ts holds the network).
 * Kept apart from the graph code so a shipped detector file can be validated without loading
 * onnxruntime: importing the detectors (and the eval core that uses them) stays light until a
 * detector actually runs.
 */
export interface SeqNetConfig {
  /** Channels per token (word-vector dimension + 1). */
  inputChannels: number;
  /** Convolution width (odd). */
  kernel: number;
  /** Convolution layers (the second and later are residual). */
  layers: number;
  /** Residual single-head self-attention layers after the convolutions (0 = none). */
  attention: number;
  hidden: number;
  /** Attention-pooling heads. */
  poolHeads: number;
  /** Also pool the first P tokens (0 = off): where a reply says it refuses. */
  prefixTokens: number;
  /** Features appended to the pooled vector (given per text). */
  extraFeatures: number;
  /** Width of a ReLU layer before the output (0 = linear output). */
  mlpHidden: number;
  /** Names of the outputs (one logit each). */
  outputs: string[];
  /**
   * The first `tokenOutputs` outputs are scored per token and pooled by a soft maximum (a text is
   * harmful when some span of it is: evidence elsewhere cannot outvote it); the rest come from the
   * pooled vector.
   */
  tokenOutputs: number;
}

/** Parameter names and shapes, in a fixed order. */
export function seqNetParamShapes(cfg: SeqNetConfig): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = [];
  for (let l = 0; l < cfg.layers; l++) {
    const cin = l === 0 ? cfg.inputChannels : cfg.hidden;
    out.push([`conv${l}.w`, [cfg.kernel * cin, cfg.hidden]], [`conv${l}.b`, [cfg.hidden]]);
  }
  for (let l = 0; l < cfg.attention; l++)
    out.push([`att${l}.q`, [cfg.hidden, cfg.hidden]], [`att${l}.k`, [cfg.hidden, cfg.hidden]], [`att${l}.v`, [cfg.hidden, cfg.hidden]]);
  out.push(['pool.u', [cfg.hidden, cfg.poolHeads]]);
  const f = featureWidth(cfg);
  if (cfg.mlpHidden > 0) out.push(['mlp.w', [f, cfg.mlpHidden]], ['mlp.b', [cfg.mlpHidden]]);
  const pooledOut = cfg.outputs.length - cfg.tokenOutputs;
  if (pooledOut > 0) out.push(['out.w', [cfg.mlpHidden > 0 ? cfg.mlpHidden : f, pooledOut]], ['out.b', [pooledOut]]);
  if (cfg.tokenOutputs > 0) out.push(['tok.w', [cfg.hidden, cfg.tokenOutputs]], ['tok.b', [cfg.tokenOutputs]]);
  return out;
}

/** Width of the pooled feature vector. */
export function featureWidth(cfg: SeqNetConfig): number {
  return cfg.hidden * (1 + cfg.poolHeads + (cfg.prefixTokens > 0 ? 1 : 0)) + cfg.extraFeatures;
}

export type SeqNetParams = Map<string, Float32Array>;

export function checkParams(cfg: SeqNetConfig, params: SeqNetParams): void {
  for (const [name, shape] of seqNetParamShapes(cfg)) {
    const v = params.get(name);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!v) throw new Error(`seqnet: parameter ${name} is missing`);
    if (v.length !== n) throw new Error(`seqnet: parameter ${name} has ${v.length} values, expected ${n} ([${shape.join(', ')}])`);
  }
}
