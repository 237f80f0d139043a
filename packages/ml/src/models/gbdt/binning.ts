import { ValidationError } from "@quintet/core";
import { Rng } from "../../datasets/rng.js";
import type { Matrix } from "../ensemble/matrix.js";
import { binRowsWasm, distinctValuesWasm } from "./binning-wasm.js";
import { type BinLayout, type BinnedMatrix, type FeatureBins, MAX_VALUE_BINS, MISSING_BIN } from "./bins.js";

// The layout types and constants live in bins.ts, which the histogram workers load.
export {
  BIN_STRIDE,
  type BinLayout,
  type BinnedMatrix,
  type FeatureBins,
  MAX_FLOAT32,
  MAX_VALUE_BINS,
  MISSING_BIN,
} from "./bins.js";

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
  const m = sample.length;
  const { data, cols } = X;
  // Columns are gathered a group of features at a time, walking the sampled rows in blocks:
  // reading one column of a row-major matrix at a time would stream the whole matrix
  // through the cache once per feature.
  const group = Math.max(1, Math.min(cols, Math.floor(GATHER_VALUES / Math.max(1, m))));
  const wasmFeatures: FeatureBins[] = [];
  const fromDistinct = (f: number, distinct: Float64Array, counts: Int32Array, nd: number, n: number) => {
    wasmFeatures[f] = cat.has(f)
      ? categoriesByFrequency(distinctCodeCounts(distinct, counts, nd), maxBins)
      : numericFromDistinct(distinct, counts, nd, n, maxBins);
  };
  // All rows or a sample: the kernels read the sample's rows by id.
  if (distinctValuesWasm(X, m < X.rows ? sample : null, group, fromDistinct)) return { features: wasmFeatures };
  const values = new Float32Array(group * m);
  const counts = new Int32Array(group);
  const features: FeatureBins[] = [];
  for (let f0 = 0; f0 < cols; f0 += group) {
    const f1 = Math.min(cols, f0 + group);
    counts.fill(0);
    for (let k0 = 0; k0 < m; k0 += ROW_BLOCK) {
      const k1 = Math.min(m, k0 + ROW_BLOCK);
      for (let f = f0; f < f1; f++) {
        const o = (f - f0) * m;
        let n = counts[f - f0]!;
        for (let k = k0; k < k1; k++) {
          const v = data[sample[k]! * cols + f]!;
          if (!Number.isNaN(v)) values[o + n++] = v;
        }
        counts[f - f0] = n;
      }
    }
    for (let f = f0; f < f1; f++) {
      const o = (f - f0) * m;
      const present = values.subarray(o, o + counts[f - f0]!);
      features.push(cat.has(f) ? categoricalBins(present, maxBins) : numericBins(present, maxBins));
    }
  }
  return { features };
}

/** Sampled values gathered at once for cut finding (float32 each): bounds the scratch memory. */
const GATHER_VALUES = 1 << 24;

/** Rows per block when walking a row-major matrix feature by feature: the block stays in cache. */
const ROW_BLOCK = 256;

/** Quantile cut points over the float32 values of one feature (no NaN); sorts `values`. */
function numericBins(values: Float32Array, maxBins: number): FeatureBins {
  sortFloat32(values);
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
  return numericFromDistinct(distinct, counts, nd, n, maxBins);
}

/** A numeric feature's bins from its `nd` distinct values (ascending) and their counts, `n` in all. */
function numericFromDistinct(
  distinct: Float64Array,
  counts: Int32Array,
  nd: number,
  n: number,
  maxBins: number,
): FeatureBins {
  const cuts = nd <= maxBins ? everyDistinct(distinct, nd) : equalCountCuts(distinct, counts, nd, n, maxBins);
  return { categorical: false, cuts, codes: new Int32Array(0), numValueBins: cuts.length + 1 };
}

/** The float32 midpoint of `a < b`, unless it rounds onto `a` (adjacent floats): then `b` itself. */
function cutBetween(a: number, b: number): number {
  const m = Math.fround(a + (b - a) / 2);
  return m > a ? m : b;
}

/** A cut between every two neighbouring distinct values: one bin per value. */
function everyDistinct(distinct: Float64Array, nd: number): Float64Array {
  const cuts = new Float64Array(Math.max(0, nd - 1));
  for (let i = 1; i < nd; i++) cuts[i - 1] = cutBetween(distinct[i - 1]!, distinct[i]!);
  return cuts;
}

/**
 * Greedy equal-count bins over distinct values: each bin takes values until it holds its
 * share of the rows that remain, so a heavy value gets a bin of its own.
 */
function equalCountCuts(
  distinct: Float64Array,
  counts: Int32Array,
  nd: number,
  n: number,
  maxBins: number,
): Float64Array {
  const cuts = new Float64Array(maxBins - 1);
  let nc = 0;
  let remaining = n;
  let binsLeft = maxBins;
  let inBin = 0;
  for (let i = 0; i < nd - 1; i++) {
    inBin += counts[i]!;
    const target = remaining / binsLeft;
    const next = counts[i + 1]!;
    if (inBin >= target || (inBin + next > target && inBin >= target / 2)) {
      cuts[nc++] = cutBetween(distinct[i]!, distinct[i + 1]!);
      remaining -= inBin;
      inBin = 0;
      binsLeft--;
      if (binsLeft === 1) break;
    }
  }
  return cuts.slice(0, nc);
}

/** Below this many values the built-in sort is as fast as the radix sort. */
const RADIX_MIN = 1024;

/**
 * Sorts float32 values (no NaN) ascending, -0 before +0, exactly as
 * `Float32Array.prototype.sort`: an LSD radix sort over order-preserving integer keys,
 * three passes of 11 bits, several times faster than the comparison sort on large columns.
 */
export function sortFloat32(values: Float32Array): void {
  const n = values.length;
  if (n < RADIX_MIN) {
    values.sort();
    return;
  }
  const keys = new Uint32Array(values.buffer, values.byteOffset, n);
  // Negative floats reverse their order with all bits flipped; positive ones move above them.
  for (let i = 0; i < n; i++) {
    const u = keys[i]!;
    keys[i] = u & 0x80000000 ? ~u : u | 0x80000000;
  }
  let src: Uint32Array = keys;
  let dst: Uint32Array = new Uint32Array(n);
  const count = new Int32Array(2048);
  for (let shift = 0; shift < 32; shift += 11) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(src[i]! >>> shift) & 0x7ff]!++;
    // A digit every key shares leaves the order as it is.
    if (count[(src[0]! >>> shift) & 0x7ff] === n) continue;
    let sum = 0;
    for (let d = 0; d < 2048; d++) {
      const c = count[d]!;
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const k = src[i]!;
      dst[count[(k >>> shift) & 0x7ff]!++] = k;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  if (src !== keys) keys.set(src);
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    keys[i] = k & 0x80000000 ? k & 0x7fffffff : ~k;
  }
}

/** The category code of a value, or -1 for missing (NaN, negative). Fractions truncate, as at predict time. */
export function categoryCode(v: number): number {
  return v >= 0 ? Math.trunc(v) : -1;
}

function categoricalBins(values: Float32Array, maxBins: number): FeatureBins {
  // Small codes (the usual case) are counted in an array, larger ones in a Map.
  let maxCode = -1;
  for (let i = 0; i < values.length; i++) maxCode = Math.max(maxCode, categoryCode(values[i]!));
  const counts = new Map<number, number>();
  if (maxCode < DENSE_CODE_LIMIT) {
    const dense = new Int32Array(maxCode + 1);
    for (let i = 0; i < values.length; i++) {
      const c = categoryCode(values[i]!);
      if (c >= 0) dense[c]!++;
    }
    for (let c = 0; c <= maxCode; c++) if (dense[c]! > 0) counts.set(c, dense[c]!);
  } else {
    for (let i = 0; i < values.length; i++) {
      const c = categoryCode(values[i]!);
      if (c >= 0) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
  }
  return categoriesByFrequency(counts, maxBins);
}

/** Rows per category code (missing codes left out) from distinct values and their counts. */
function distinctCodeCounts(distinct: Float64Array, counts: Int32Array, nd: number): Map<number, number> {
  const byCode = new Map<number, number>();
  for (let i = 0; i < nd; i++) {
    const c = categoryCode(distinct[i]!);
    if (c >= 0) byCode.set(c, (byCode.get(c) ?? 0) + counts[i]!);
  }
  return byCode;
}

/** A categorical feature's bins: the `maxBins` most frequent codes (ties to the lower code), ascending. */
function categoriesByFrequency(counts: Map<number, number>, maxBins: number): FeatureBins {
  const byFreq = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, maxBins);
  const codes = Int32Array.from(byFreq.map((e) => e[0]).sort((a, b) => a - b));
  return { categorical: true, cuts: new Float64Array(0), codes, numValueBins: Math.max(1, codes.length) };
}

/** The value bin of a numeric value (not NaN): 1 + number of cuts <= fround(v). */
export function numericBin(cuts: Float64Array, v: number): number {
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

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** An order-preserving integer key of `fround(v)` (v not NaN; -0 counts as +0). */
function floatKey(v: number): number {
  f32[0] = v + 0;
  const u = u32[0]!;
  return (u & 0x80000000 ? ~u : u | 0x80000000) >>> 0;
}

/** Buckets of the key range between the first and last cut, for {@link CutIndex}. */
const INDEX_BUCKETS = 4096;

/**
 * Finds a value's bin without a full binary search: the value's key picks a bucket of the
 * key range, which names the few cuts that can fall between it and the bucket start. As
 * keys are monotone in the value, every cut in an earlier bucket is below the value and
 * every cut in a later one above, so the answer equals {@link numericBin}'s. With 16
 * buckets per cut a bucket seldom holds more than one, so a short forward scan beats the
 * mispredicted branches of a binary search.
 */
export class CutIndex {
  private readonly lo: number;
  private readonly hi: number;
  private readonly shift: number;
  /** Cuts in buckets before bucket t: `first[t]`; `first` has one more entry than buckets. */
  private readonly first: Int32Array;
  /** The cuts as float32 (they are float32 values), compared against `fround(v)`. */
  private readonly cuts: Float32Array;

  constructor(cuts: Float64Array) {
    const n = cuts.length;
    this.cuts = Float32Array.from(cuts);
    this.lo = n > 0 ? floatKey(cuts[0]!) : 0;
    this.hi = n > 0 ? floatKey(cuts[n - 1]!) : 0;
    let shift = 0;
    while ((this.hi - this.lo) / 2 ** shift >= INDEX_BUCKETS) shift++;
    this.shift = shift;
    const buckets = Math.floor((this.hi - this.lo) / 2 ** shift) + 1;
    const first = new Int32Array(buckets + 1);
    for (let j = 0; j < n; j++) first[((floatKey(cuts[j]!) - this.lo) >>> shift) + 1]!++;
    for (let t = 0; t < buckets; t++) first[t + 1]! += first[t]!;
    this.first = first;
  }

  /** The lookup's arrays and key range, for the binning kernel (binning-wasm.ts). */
  tables(): { lo: number; hi: number; shift: number; first: Int32Array; cuts: Float32Array } {
    return { lo: this.lo, hi: this.hi, shift: this.shift, first: this.first, cuts: this.cuts };
  }

  /** 1 + number of cuts <= fround(v), for v not NaN. */
  bin(v: number): number {
    const n = this.cuts.length;
    if (n === 0) return 1;
    f32[0] = v + 0;
    const u = u32[0]!;
    const key = (u & 0x80000000 ? ~u : u | 0x80000000) >>> 0;
    if (key < this.lo) return 1;
    if (key > this.hi) return n + 1;
    // key - lo is below 2^32, so the unsigned shift is exact.
    const t = (key - this.lo) >>> this.shift;
    const x = f32[0]!;
    const cuts = this.cuts;
    let j = this.first[t]!;
    const e = this.first[t + 1]!;
    while (j < e && cuts[j]! <= x) j++;
    return j + 1;
  }

  /**
   * Bins `count` values `data[from + k * stride]` (NaN to the missing bin) into
   * `out[to + k * outStride]`, and into `out2` the same way when given.
   */
  binStrided(
    data: Float64Array,
    from: number,
    stride: number,
    count: number,
    out: Uint8Array,
    to: number,
    outStride: number,
    out2: Uint8Array | undefined,
    to2: number,
  ): void {
    for (let k = 0; k < count; k++) {
      const v = data[from + k * stride]!;
      const b = Number.isNaN(v) ? MISSING_BIN : this.bin(v);
      out[to + k * outStride] = b;
      if (out2) out2[to2 + k] = b;
    }
  }
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
  // Per-feature lookups, then the rows in cache-sized blocks (see ROW_BLOCK).
  const indexes = layout.features.map((fb) => (fb.categorical ? null : new CutIndex(fb.cuts)));
  const dense: (Uint8Array | null)[] = [];
  const sparse: (Map<number, number> | null)[] = [];
  for (let f = 0; f < cols; f++) {
    const fb = layout.features[f]!;
    dense.push(null);
    sparse.push(null);
    if (!fb.categorical) continue;
    const maxCode = fb.codes.length > 0 ? fb.codes[fb.codes.length - 1]! : -1;
    if (maxCode < DENSE_CODE_LIMIT) {
      const d = new Uint8Array(maxCode + 1);
      for (let b = 0; b < fb.codes.length; b++) d[fb.codes[b]!] = b + 1;
      dense[f] = d;
    } else {
      const m = new Map<number, number>();
      for (let b = 0; b < fb.codes.length; b++) m.set(fb.codes[b]!, b + 1);
      sparse[f] = m;
    }
  }
  if (binRowsWasm(X, layout, dense, indexes, bins, colBins)) return { layout, bins, colBins, rows, cols };
  for (let r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
    const r1 = Math.min(rows, r0 + ROW_BLOCK);
    for (let f = 0; f < cols; f++) {
      const fb = layout.features[f]!;
      const cb = f * rows;
      if (fb.categorical) {
        const d = dense[f];
        const sp = sparse[f];
        const maxCode = d ? d.length - 1 : -1;
        for (let r = r0; r < r1; r++) {
          const c = categoryCode(data[r * cols + f]!);
          let b = MISSING_BIN;
          if (c >= 0) b = d ? (c <= maxCode ? d[c]! : MISSING_BIN) : (sp!.get(c) ?? MISSING_BIN);
          bins[r * cols + f] = b;
          if (colBins) colBins[cb + r] = b;
        }
      } else {
        indexes[f]!.binStrided(data, r0 * cols + f, cols, r1 - r0, bins, r0 * cols + f, cols, colBins, cb + r0);
      }
    }
  }
  return { layout, bins, colBins, rows, cols };
}
