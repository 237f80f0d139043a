import { ValidationError } from "@quintet/core";
import { Rng } from "../../datasets/rng.js";
import type { Matrix } from "../ensemble/matrix.js";

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

export interface BinningOptions {
  /** Value bins per feature, 2..255 (the missing bin comes on top). */
  maxBins: number;
  categoricalFeatures?: readonly number[];
  /** Rows sampled to find cut points; all rows when there are fewer. */
  sampleRows?: number;
  seed?: number;
}

const DEFAULT_SAMPLE_ROWS = 200_000;

/** The rows whose values decide the cut points: all, or a seeded sample in row order. */
function sampleRowIds(rows: number, sampleRows: number, seed: number): Int32Array {
  if (rows <= sampleRows) {
    const all = new Int32Array(rows);
    for (let i = 0; i < rows; i++) all[i] = i;
    return all;
  }
  // Partial Fisher–Yates over row ids, then sorted so the reads walk memory forwards.
  const rng = new Rng(seed);
  const ids = new Int32Array(rows);
  for (let i = 0; i < rows; i++) ids[i] = i;
  for (let i = 0; i < sampleRows; i++) {
    const j = i + Math.floor(rng.next() * (rows - i));
    const t = ids[i]!;
    ids[i] = ids[j]!;
    ids[j] = t;
  }
  return ids.slice(0, sampleRows).sort();
}

/**
 * Fits per-feature bins from (a sample of) the rows of `X`: numeric features get up to
 * `maxBins` quantile bins, categorical features one bin per category (the most frequent
 * `maxBins` categories; rarer ones share the missing bin).
 */
export function fitBinLayout(X: Matrix, options: BinningOptions): BinLayout {
  const maxBins = Math.min(MAX_VALUE_BINS, Math.max(2, Math.floor(options.maxBins)));
  const cat = new Set(options.categoricalFeatures ?? []);
  for (const f of cat) {
    if (!Number.isInteger(f) || f < 0 || f >= X.cols) {
      throw new ValidationError(`categorical feature index ${f} is out of range 0..${X.cols - 1}`, {
        hint: "List categorical features by their column index.",
      });
    }
  }
  const sample = sampleRowIds(X.rows, options.sampleRows ?? DEFAULT_SAMPLE_ROWS, options.seed ?? 0);
  const values = new Float32Array(sample.length);
  const features: FeatureBins[] = [];
  for (let f = 0; f < X.cols; f++) {
    let n = 0;
    for (let k = 0; k < sample.length; k++) {
      const v = X.data[sample[k]! * X.cols + f]!;
      if (!Number.isNaN(v)) values[n++] = v;
    }
    const present = values.subarray(0, n);
    features.push(cat.has(f) ? categoricalBins(present, maxBins) : numericBins(present, maxBins));
  }
  return { features };
}

/** Quantile cut points over the float32 values of one feature (no NaN); sorts `values`. */
function numericBins(values: Float32Array, maxBins: number): FeatureBins {
  values.sort();
  const n = values.length;
  // Distinct values and their counts, in place of the sorted values.
  const distinct = new Float64Array(n);
  const counts = new Int32Array(n);
  let nd = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (nd > 0 && distinct[nd - 1] === v) counts[nd - 1]!++;
    else {
      distinct[nd] = v;
      counts[nd++] = 1;
    }
  }
  const cuts: number[] = [];
  const cutBetween = (a: number, b: number) => {
    // The float32 midpoint, unless it rounds onto `a` (adjacent floats): then `b` itself.
    const m = Math.fround(a + (b - a) / 2);
    cuts.push(m > a ? m : b);
  };
  if (nd <= maxBins) {
    for (let i = 1; i < nd; i++) cutBetween(distinct[i - 1]!, distinct[i]!);
  } else {
    // Greedy equal-count bins over distinct values: each bin takes values until it holds
    // its share of the rows that remain, so a heavy value gets a bin of its own.
    let remaining = n;
    let binsLeft = maxBins;
    let inBin = 0;
    for (let i = 0; i < nd - 1; i++) {
      inBin += counts[i]!;
      const target = remaining / binsLeft;
      const next = counts[i + 1]!;
      if (inBin >= target || (inBin + next > target && inBin >= target / 2)) {
        cutBetween(distinct[i]!, distinct[i + 1]!);
        remaining -= inBin;
        inBin = 0;
        binsLeft--;
        if (binsLeft === 1) break;
      }
    }
  }
  return { categorical: false, cuts: Float64Array.from(cuts), codes: new Int32Array(0), numValueBins: cuts.length + 1 };
}

/** The category code of a value, or -1 for missing (NaN, negative). Fractions truncate, as at predict time. */
export function categoryCode(v: number): number {
  return v >= 0 ? Math.trunc(v) : -1;
}

function categoricalBins(values: Float32Array, maxBins: number): FeatureBins {
  const counts = new Map<number, number>();
  for (let i = 0; i < values.length; i++) {
    const c = categoryCode(values[i]!);
    if (c >= 0) counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const byFreq = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, maxBins);
  const codes = Int32Array.from(byFreq.map((e) => e[0]).sort((a, b) => a - b));
  return { categorical: true, cuts: new Float64Array(0), codes, numValueBins: Math.max(1, codes.length) };
}

/** The value bin of a numeric value (not NaN): 1 + number of cuts <= fround(v). */
function numericBin(cuts: Float64Array, v: number): number {
  const x = Math.fround(v);
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cuts[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}

/** Codes up to this value are looked up in an array, larger ones in a Map. */
const DENSE_CODE_LIMIT = 1 << 16;

/**
 * Bins every value of `X` with `layout`. `shared` backs the row-major bins with a
 * SharedArrayBuffer so histogram workers read them without a copy; `columns` also keeps a
 * column-major copy (training data; validation data needs only rows).
 */
export function binMatrix(X: Matrix, layout: BinLayout, shared = false, columns = false): BinnedMatrix {
  const { rows, cols } = X;
  if (cols !== layout.features.length) {
    throw new ValidationError(`features: expected ${layout.features.length} columns, got ${cols}`, {
      hint: "Pass the same columns, in the same order, as the training data.",
    });
  }
  const bins = shared ? new Uint8Array(new SharedArrayBuffer(rows * cols)) : new Uint8Array(rows * cols);
  const colBins = columns ? new Uint8Array(rows * cols) : undefined;
  const data = X.data;
  for (let f = 0; f < cols; f++) {
    const fb = layout.features[f]!;
    if (fb.categorical) {
      const maxCode = fb.codes.length > 0 ? fb.codes[fb.codes.length - 1]! : -1;
      const dense = maxCode < DENSE_CODE_LIMIT ? new Uint8Array(maxCode + 1) : null;
      const sparse = dense ? null : new Map<number, number>();
      for (let b = 0; b < fb.codes.length; b++) {
        if (dense) dense[fb.codes[b]!] = b + 1;
        else sparse!.set(fb.codes[b]!, b + 1);
      }
      for (let r = 0; r < rows; r++) {
        const c = categoryCode(data[r * cols + f]!);
        let b = MISSING_BIN;
        if (c >= 0) b = dense ? (c <= maxCode ? dense[c]! : MISSING_BIN) : (sparse!.get(c) ?? MISSING_BIN);
        bins[r * cols + f] = b;
        if (colBins) colBins[f * rows + r] = b;
      }
    } else {
      const cuts = fb.cuts;
      for (let r = 0; r < rows; r++) {
        const v = data[r * cols + f]!;
        const b = Number.isNaN(v) ? MISSING_BIN : numericBin(cuts, v);
        bins[r * cols + f] = b;
        if (colBins) colBins[f * rows + r] = b;
      }
    }
  }
  return { layout, bins, colBins, rows, cols };
}
