/**
 * Numbers the wasm kernels (kernel-assembly.ts) and their JavaScript twins (kernels.ts)
 * must agree on.
 */

/** Bytes per feature in an exact histogram: 256 bins × (grad, hess) doubles. */
export const EXACT_FEATURE_BYTES = 4096;
/** Bytes per feature in a packed histogram: 256 doubles. */
export const PACKED_FEATURE_BYTES = 2048;

/** Bins a feature may have (missing included) to go through the small-bin kernels. */
export const SMALL_BINS = 4;

// exp for the logistic gradients: fdlibm's reduction and rational kernel (under one ulp),
// written out here so the JavaScript and wasm versions perform the same operations.
// The constants are fdlibm's, each written as the shortest literal for the same double.
export const LN2_HI = 6.931471803691238e-1;
export const LN2_LO = 1.9082149292705877e-10;
export const INV_LN2 = Math.LOG2E; // fdlibm's invln2 1.442695040888963387: the same double
export const P1 = 1.6666666666666602e-1;
export const P2 = -2.7777777777015593e-3;
export const P3 = 6.613756321437934e-5;
export const P4 = -1.6533902205465252e-6;
export const P5 = 4.1381367970572385e-8;
/** 1.5 * 2^52: adding it rounds to an integer (ties to even) that its low bits then hold. */
export const ROUND = 6755399441055744;
/** Margins beyond this saturate the sigmoid; the bound keeps 2^k a normal double. */
export const EXP_LIMIT = 708;
/** Hessians are kept at least this large (as objectives.ts). */
export const MIN_HESS = 1e-16;

/** Bytes per feature in the feature table of the binning kernel `binRows`. */
export const BIN_SPEC_BYTES = 32;

/**
 * Byte layout of a thread's split-scan region. The numeric scan writes the gain and
 * missing-left; the categorical scan also the range of its order sent left, the order
 * (i32 per category) and the ratios (f64 per bin, scratch); the node scan keeps the
 * winner of all features in the NODE_ fields (its categorical order in BEST_ORDER), and
 * reads the node's feature list from FEATS and each feature's bins from the table after
 * it (see {@link scanRegionBytes}).
 */
export const SCAN = {
  GAIN: 0,
  MISS_LEFT: 8,
  FROM: 12,
  TO: 16,
  NODE_GAIN: 24,
  NODE_INDEX: 32,
  NODE_BIN: 36,
  NODE_MISS_LEFT: 40,
  NODE_FROM: 44,
  NODE_TO: 48,
  ORDER: 64,
  RATIO: 64 + 256 * 4,
  BEST_ORDER: 64 + 256 * 4 + 256 * 8,
  FEATS: 64 + 256 * 4 + 256 * 8 + 256 * 4,
} as const;

/**
 * Bytes of a thread's split-scan region for `cols` features: the fixed part, the node's
 * feature list, then per feature `numValueBins | categorical << 16` (i32 each).
 */
export function scanRegionBytes(cols: number): number {
  return SCAN.FEATS + 8 * Math.max(1, cols);
}
