/**
 * The DeepFM job bench:train and bench:cluster run: the architecture of the PyTorch peer
 * (../shared/peers/torch_deepfm.py), so throughput and AUC compare like for like.
 */
export const TRAIN_BENCH_JOB_YAML = `# Written by bench/train-bench.ts: 26 fields x dim 16, MLP 400-400, like the PyTorch peer.
name: train-bench
data:
  format: criteo
  max_error_rate: 0
features:
  numeric:
    - { names: [I1, I2, I3, I4, I5, I6, I7, I8, I9, I10, I11, I12, I13], transform: log, missing: 0 }
  categorical:
    - names: [C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13,
              C14, C15, C16, C17, C18, C19, C20, C21, C22, C23, C24, C25, C26]
      table: emb
  tables:
    - { name: emb, dim: 16, optimizer: { kind: adagrad, lr: 0.05 }, initializer: { kind: uniform, scale: 0.01 } }
model:
  kind: deepfm
  hidden: [400, 400]
  dense_optimizer: { kind: adam, lr: 0.001 }
training:
  batch_size: 1024
  epochs: 1
  max_inflight_pushes: 2
  dense_sync_every: 1
  seed: 1
`;
