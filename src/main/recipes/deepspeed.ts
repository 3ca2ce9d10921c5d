/**
 * DeepSpeed ZeRO configurations for the Hugging Face Trainer that both LLaMA-Factory and Axolotl
 * run on: "auto" values are filled in by the Trainer from the recipe (batch size, gradient
 * accumulation, clipping, precision). Stage 2 shards optimiser states and gradients (enough for
 * LoRA on most models); stage 3 also shards the frozen weights, for models one GPU cannot hold.
 * The zero_optimization fields are DeepSpeedZeroConfig's (deepspeed/runtime/zero/config.py).
 */

export type ZeroStage = 2 | 3;

export const deepspeedFile = (stage: ZeroStage) => `ds_z${stage}_config.json`;

export function deepspeedConfig(stage: ZeroStage): Record<string, unknown> {
  const common = {
    train_batch_size: 'auto',
    train_micro_batch_size_per_gpu: 'auto',
    gradient_accumulation_steps: 'auto',
    gradient_clipping: 'auto',
    zero_allow_untested_optimizer: true,
    fp16: { enabled: 'auto', loss_scale: 0, loss_scale_window: 1000, initial_scale_power: 16, hysteresis: 2, min_loss_scale: 1 },
    bf16: { enabled: 'auto' },
  };
  if (stage === 2) {
    return {
      ...common,
      zero_optimization: {
        stage: 2,
        allgather_partitions: true,
        allgather_bucket_size: 500_000_000,
        overlap_comm: false,
        reduce_scatter: true,
        reduce_bucket_size: 500_000_000,
        contiguous_gradients: true,
        round_robin_gradients: true,
      },
    };
  }
  return {
    ...common,
    zero_optimization: {
      stage: 3,
      overlap_comm: false,
      contiguous_gradients: true,
      sub_group_size: 1_000_000_000,
      reduce_bucket_size: 'auto',
      stage3_prefetch_bucket_size: 'auto',
      stage3_param_persistence_threshold: 'auto',
      stage3_max_live_parameters: 1_000_000_000,
      stage3_max_reuse_distance: 1_000_000_000,
      stage3_gather_16bit_weights_on_model_save: true,
    },
  };
}
