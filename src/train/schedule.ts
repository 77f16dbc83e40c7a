// The learning-rate schedule of CoOp and CoCoOp (methods.md 1.3, 2.3): Dassl's
// ConstantWarmupScheduler around CosineAnnealingLR(T_max = MAX_EPOCH, eta_min = 0), stepped once per
// epoch. During the warm-up epochs the rate is the constant `warmupLr`; the cosine then starts from
// its own beginning, so the first epoch after the warm-up runs at the full base rate:
//
//   epoch e < W:   lr = warmupLr
//   epoch e >= W:  lr = 0.5 * baseLr * (1 + cos(pi * (e - W) / maxEpoch))
//
// With W = 1 this is the official schedule: epoch 0 at 1e-5, epoch 1 at LR, never reaching 0.

/** The learning rate of (0-based) `epoch`. */
export function coopLr(epoch: number, baseLr: number, maxEpoch: number, warmupEpochs = 1, warmupLr = 1e-5): number {
  if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`coopLr: epoch must be a non-negative integer, got ${epoch}`);
  if (!(maxEpoch > 0)) throw new Error(`coopLr: maxEpoch must be positive, got ${maxEpoch}`);
  if (epoch < warmupEpochs) return warmupLr;
  return 0.5 * baseLr * (1 + Math.cos((Math.PI * (epoch - warmupEpochs)) / maxEpoch));
}
