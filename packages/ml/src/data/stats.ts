/** Small statistics over float64 columns where `NaN` is missing. */

/** The non-missing values, sorted ascending. */
export function sortedPresent(values: ArrayLike<number>): Float64Array {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i]!)) n++;
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) out[k++] = v;
  }
  return out.sort();
}

/** Quantile of sorted values with linear interpolation (NumPy's default); `NaN` when empty. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const frac = pos - lo;
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * frac;
}

/** Mean and population standard deviation of the non-missing values (Welford). */
export function meanStd(values: ArrayLike<number>): { mean: number; std: number; count: number } {
  let count = 0;
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    count++;
    const d = v - mean;
    mean += d / count;
    m2 += d * (v - mean);
  }
  return count === 0 ? { mean: Number.NaN, std: Number.NaN, count } : { mean, std: Math.sqrt(m2 / count), count };
}

/** Tukey fences: values outside `[q1 - k·IQR, q3 + k·IQR]` are outliers. */
export function iqrFences(sorted: ArrayLike<number>, k = 1.5): { low: number; high: number; q1: number; q3: number } {
  const q1 = quantileSorted(sorted, 0.25);
  const q3 = quantileSorted(sorted, 0.75);
  const iqr = q3 - q1;
  return { low: q1 - k * iqr, high: q3 + k * iqr, q1, q3 };
}

/** Counts of each code (codes >= 0), with missing (negative codes) counted apart. */
export function codeCounts(codes: Int32Array, size: number): { counts: Int32Array; missing: number } {
  const counts = new Int32Array(size);
  let missing = 0;
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c < 0) missing++;
    else counts[c]!++;
  }
  return { counts, missing };
}

/** Mean and sample standard deviation of a list of numbers (for fold scores). */
export function summarise(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, std: 0 };
  const v = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, std: Math.sqrt(v) };
}
