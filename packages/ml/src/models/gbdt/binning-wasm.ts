/**
 * Binning through the wasm kernels of binning-assembly.ts: each function copies the
 * matrix into a memory of its own, runs the kernels, and reads the results back. Each
 * returns false (having changed nothing) where the kernels cannot run or the memory
 * would be too large; binning.ts then takes its JavaScript path, which gives the same
 * results.
 */
import type { Matrix } from "../ensemble/matrix.js";
import type { CutIndex } from "./binning.js";
import type { BinLayout } from "./bins.js";
import { BIN_SPEC_BYTES } from "./kernel-constants.js";
import { instantiateBinning, KernelArena } from "./kernels.js";

/** Whether binning may use the kernels; tests turn it off to compare with the JavaScript path. */
export const binningSettings = { kernels: true };

/** Radix digits of the sort kernel. */
const DIGITS = 2048;

/**
 * For each feature in order, calls `take(f, values, counts, nd, n)` with the distinct
 * float32 values (not NaN) of `X`'s rows `sample` (all rows when null), ascending, and how
 * many rows hold each, `n` in all (as `numericBins` finds them; -0 and +0 are one value). `group`
 * features are gathered per pass over the matrix. The arrays are views, valid in `take`.
 */
export function distinctValuesWasm(
  X: Matrix,
  sample: Int32Array | null,
  group: number,
  take: (f: number, values: Float64Array, counts: Int32Array, nd: number, n: number) => void,
): boolean {
  const { rows, cols } = X;
  const m = sample ? sample.length : rows;
  if (!binningSettings.kernels || m === 0 || cols === 0) return false;
  const a = new KernelArena();
  const dataAt = a.alloc(rows * cols * 8);
  const sampleAt = a.alloc(sample ? m * 4 : 0);
  const keysAt = a.alloc(group * m * 4);
  const tmpAt = a.alloc(m * 4);
  const digitsAt = a.alloc(DIGITS * 4);
  const countsAt = a.alloc(group * 4);
  const valuesAt = a.alloc(m * 8);
  const valueCountsAt = a.alloc(m * 4);
  const memory = a.create(false);
  const k = memory && instantiateBinning(memory);
  if (!memory || !k) return false;
  const buf = memory.buffer;
  new Float64Array(buf, dataAt, rows * cols).set(X.data.subarray(0, rows * cols));
  if (sample) new Int32Array(buf, sampleAt, m).set(sample);
  const counts = new Int32Array(buf, countsAt, group);
  const values = new Float64Array(buf, valuesAt, m);
  const valueCounts = new Int32Array(buf, valueCountsAt, m);
  for (let f0 = 0; f0 < cols; f0 += group) {
    const f1 = Math.min(cols, f0 + group);
    counts.fill(0);
    k.gather(dataAt, cols, sample ? 1 : 0, sampleAt, m, f0, f1, keysAt, m, countsAt);
    for (let f = f0; f < f1; f++) {
      const n = counts[f - f0]!;
      const keys = keysAt + (f - f0) * m * 4;
      let nd = 0;
      if (n > 0) {
        k.radix(keys, tmpAt, n, digitsAt);
        nd = k.distinct(keys, n, valuesAt, valueCountsAt);
      }
      take(f, values, valueCounts, nd, n);
    }
  }
  return true;
}

/**
 * The bins of every value of `X` under `layout` into `bins` (row-major) and `colBins`
 * (column-major) when given, as `binMatrix`. Categorical features must map their codes
 * through arrays (`dense`, as binMatrix builds them); a feature that needs a Map makes
 * this return false.
 */
export function binRowsWasm(
  X: Matrix,
  layout: BinLayout,
  dense: readonly (Uint8Array | null)[],
  indexes: readonly (CutIndex | null)[],
  bins: Uint8Array,
  colBins: Uint8Array | undefined,
): boolean {
  const { rows, cols } = X;
  if (!binningSettings.kernels || rows === 0 || cols === 0) return false;
  const a = new KernelArena();
  const dataAt = a.alloc(rows * cols * 8);
  const specAt = a.alloc(cols * BIN_SPEC_BYTES);
  const tables = layout.features.map((fb, f) => (fb.categorical ? null : indexes[f]!.tables()));
  const firstAt: number[] = [];
  const cutsAt: number[] = [];
  const tableAt: number[] = [];
  for (let f = 0; f < cols; f++) {
    const t = tables[f];
    if (t) {
      firstAt.push(a.alloc(t.first.length * 4));
      cutsAt.push(a.alloc(t.cuts.length * 4));
      tableAt.push(0);
    } else {
      const d = dense[f];
      if (!d) return false;
      firstAt.push(0);
      cutsAt.push(0);
      tableAt.push(a.alloc(d.length));
    }
  }
  const binsAt = a.alloc(rows * cols);
  const colBinsAt = a.alloc(colBins ? rows * cols : 0);
  const memory = a.create(false);
  const k = memory && instantiateBinning(memory);
  if (!memory || !k) return false;
  const buf = memory.buffer;
  new Float64Array(buf, dataAt, rows * cols).set(X.data.subarray(0, rows * cols));
  const spec = new Int32Array(buf, specAt, cols * (BIN_SPEC_BYTES / 4));
  for (let f = 0; f < cols; f++) {
    const o = f * (BIN_SPEC_BYTES / 4);
    const t = tables[f];
    if (t) {
      new Int32Array(buf, firstAt[f]!, t.first.length).set(t.first);
      new Float32Array(buf, cutsAt[f]!, t.cuts.length).set(t.cuts);
      // lo and hi are u32 keys: stored as their i32 bits, compared unsigned by the kernel.
      spec.set([0, t.cuts.length, t.lo | 0, t.hi | 0, t.shift, firstAt[f]!, cutsAt[f]!], o);
    } else {
      const d = dense[f]!;
      new Uint8Array(buf, tableAt[f]!, d.length).set(d);
      spec.set([1, d.length - 1, tableAt[f]!], o);
    }
  }
  k.binRows(dataAt, cols, rows, specAt, binsAt, colBinsAt, colBins ? 1 : 0);
  bins.set(new Uint8Array(buf, binsAt, rows * cols));
  if (colBins) colBins.set(new Uint8Array(buf, colBinsAt, rows * cols));
  return true;
}
