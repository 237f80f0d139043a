/**
 * The binned-data layout shared by training and the histogram workers. It imports
 * nothing: a worker thread loads it, and every module a worker loads adds to its start-up.
 */

/**
 * Bin 0 of every feature holds missing values: NaN, and for categorical features also
 * negative codes and categories too rare to get a bin of their own. Value bins are
 * 1..numValueBins.
 */
export const MISSING_BIN = 0;

/** Value bins per feature at most: with the missing bin, a bin index fits a uint8. */
export const MAX_VALUE_BINS = 255;

/**
 * Histogram slots reserved per feature (value bins plus the missing bin). A fixed stride
 * keeps the histogram index of (feature, bin) a shift and an add in the hot loop.
 */
export const BIN_STRIDE = 256;

/** Largest finite float32: the threshold of a "every value left, missing right" split. */
export const MAX_FLOAT32 = 3.4028234663852886e38;

/** How one feature's raw values map to bins. */
export interface FeatureBins {
  categorical: boolean;
  /**
   * Numeric: ascending float32 cut points. A value `v` falls in bin `1 + #{cuts <= fround(v)}`,
   * so "bin <= b" is exactly `fround(v) < cuts[b - 1]`, the float32 `SplitKind.LessThan`
   * test XGBoost also uses. Categorical: empty.
   */
  cuts: Float64Array;
  /** Categorical: the category code of value bin `b` at index `b - 1`, ascending. */
  codes: Int32Array;
  /** Number of value bins (excluding the missing bin), at least 1. */
  numValueBins: number;
}

/** Per-feature bin maps of a dataset, fitted once and reused for validation data. */
export interface BinLayout {
  features: FeatureBins[];
}

/**
 * A binned matrix: row-major uint8 bins (`bins[r * cols + f]`) for histograms, which read
 * every feature of a row, and optionally the same bins column-major (`colBins[f * rows + r]`)
 * for row partitioning, which reads one feature of many rows.
 */
export interface BinnedMatrix {
  layout: BinLayout;
  bins: Uint8Array;
  colBins: Uint8Array | undefined;
  rows: number;
  cols: number;
}
