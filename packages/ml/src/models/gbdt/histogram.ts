/**
 * Gradient/hessian histograms and the row bookkeeping around them. A histogram holds
 * `BIN_STRIDE` (sumGrad, sumHess) pairs per feature, feature after feature, so the slot of
 * (feature f, bin b) is `(f << 9) + (b << 1)`. Histograms live in a preallocated pool so
 * growing a tree allocates nothing per node.
 *
 * This module imports nothing: the histogram workers load it as their whole program.
 */

/** Doubles per feature in a histogram: BIN_STRIDE bins × (grad, hess). */
export const HIST_FEATURE_STRIDE = 512;

/** A fixed set of histogram slots in one buffer (shared with workers when threaded). */
export class HistogramPool {
  readonly buffer: Float64Array;
  readonly slotSize: number;
  private readonly views: Float64Array[] = [];
  private readonly free: number[] = [];

  constructor(numFeatures: number, capacity: number, shared: boolean) {
    this.slotSize = numFeatures * HIST_FEATURE_STRIDE;
    const bytes = this.slotSize * capacity * 8;
    this.buffer = new Float64Array(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    for (let s = 0; s < capacity; s++) {
      this.views.push(this.buffer.subarray(s * this.slotSize, (s + 1) * this.slotSize));
    }
    this.reset();
  }

  get capacity(): number {
    return this.views.length;
  }

  /** Slots not in use. */
  get available(): number {
    return this.free.length;
  }

  /** A free slot id, or -1 when every slot is in use. */
  acquire(): number {
    return this.free.length > 0 ? this.free.pop()! : -1;
  }

  release(slot: number): void {
    this.free.push(slot);
  }

  /** Makes every slot free again (between trees); low slot ids are handed out first. */
  reset(): void {
    this.free.length = 0;
    for (let s = this.views.length - 1; s >= 0; s--) this.free.push(s);
  }

  view(slot: number): Float64Array {
    return this.views[slot]!;
  }
}

/**
 * Accumulates into `hist` (one pool slot) the histogram of features `feats[fi0..fi1)` over
 * rows `idx[start..end)`. Bins are row-major (`bins[r * cols + f]`), gradients interleaved
 * (`gh[2r]` gradient, `gh[2r + 1]` hessian). Each feature's segment is zeroed first.
 *
 * Each feature is summed in row order by exactly one caller, so a histogram is bit-identical
 * however its features are spread over threads. `dense` says `feats[i] === i` for the
 * range, which lets the inner loop skip the indirection (about 20% faster).
 */
export function buildHistogram(
  hist: Float64Array,
  bins: Uint8Array,
  cols: number,
  gh: Float64Array,
  idx: Uint32Array,
  start: number,
  end: number,
  feats: Int32Array,
  fi0: number,
  fi1: number,
  dense: boolean,
): void {
  for (let i = fi0; i < fi1; i++) {
    const o = feats[i]! * HIST_FEATURE_STRIDE;
    hist.fill(0, o, o + HIST_FEATURE_STRIDE);
  }
  if (dense) buildDense(hist, bins, cols, gh, idx, start, end, fi0, fi1);
  else buildSparse(hist, bins, cols, gh, idx, start, end, feats, fi0, fi1);
}

function buildDense(
  hist: Float64Array,
  bins: Uint8Array,
  cols: number,
  gh: Float64Array,
  idx: Uint32Array,
  start: number,
  end: number,
  f0: number,
  f1: number,
): void {
  // Four features per step: independent read-modify-writes overlap in the pipeline.
  const f4 = f0 + ((f1 - f0) & ~3);
  for (let k = start; k < end; k++) {
    const r = idx[k]!;
    const g = gh[2 * r]!;
    const h = gh[2 * r + 1]!;
    const rb = r * cols;
    let f = f0;
    for (; f < f4; f += 4) {
      const b0 = (f << 9) + (bins[rb + f]! << 1);
      const b1 = ((f + 1) << 9) + (bins[rb + f + 1]! << 1);
      const b2 = ((f + 2) << 9) + (bins[rb + f + 2]! << 1);
      const b3 = ((f + 3) << 9) + (bins[rb + f + 3]! << 1);
      hist[b0]! += g;
      hist[b0 + 1]! += h;
      hist[b1]! += g;
      hist[b1 + 1]! += h;
      hist[b2]! += g;
      hist[b2 + 1]! += h;
      hist[b3]! += g;
      hist[b3 + 1]! += h;
    }
    for (; f < f1; f++) {
      const b = (f << 9) + (bins[rb + f]! << 1);
      hist[b]! += g;
      hist[b + 1]! += h;
    }
  }
}

function buildSparse(
  hist: Float64Array,
  bins: Uint8Array,
  cols: number,
  gh: Float64Array,
  idx: Uint32Array,
  start: number,
  end: number,
  feats: Int32Array,
  fi0: number,
  fi1: number,
): void {
  const i4 = fi0 + ((fi1 - fi0) & ~3);
  for (let k = start; k < end; k++) {
    const r = idx[k]!;
    const g = gh[2 * r]!;
    const h = gh[2 * r + 1]!;
    const rb = r * cols;
    let i = fi0;
    for (; i < i4; i += 4) {
      const fa = feats[i]!;
      const fb = feats[i + 1]!;
      const fc = feats[i + 2]!;
      const fd = feats[i + 3]!;
      const b0 = (fa << 9) + (bins[rb + fa]! << 1);
      const b1 = (fb << 9) + (bins[rb + fb]! << 1);
      const b2 = (fc << 9) + (bins[rb + fc]! << 1);
      const b3 = (fd << 9) + (bins[rb + fd]! << 1);
      hist[b0]! += g;
      hist[b0 + 1]! += h;
      hist[b1]! += g;
      hist[b1 + 1]! += h;
      hist[b2]! += g;
      hist[b2 + 1]! += h;
      hist[b3]! += g;
      hist[b3 + 1]! += h;
    }
    for (; i < fi1; i++) {
      const f = feats[i]!;
      const b = (f << 9) + (bins[rb + f]! << 1);
      hist[b]! += g;
      hist[b + 1]! += h;
    }
  }
}

/**
 * `parent -= child` over features `feats[0..count)`, the first `numBins[f]` slots of each:
 * the parent's slot becomes the sibling's histogram (histogram subtraction).
 */
export function subtractHistogram(
  parent: Float64Array,
  child: Float64Array,
  feats: Int32Array,
  count: number,
  numBins: Int32Array,
): void {
  for (let i = 0; i < count; i++) {
    const f = feats[i]!;
    const o = f * HIST_FEATURE_STRIDE;
    const e = o + 2 * numBins[f]!;
    for (let j = o; j < e; j++) parent[j]! -= child[j]!;
  }
}

/**
 * Stable in-place partition of `idx[start..end)` by `goLeft[bin]`, reading each row's bin
 * of the split feature from `col` (that feature's column of bins): left rows first, both
 * sides keeping their order (so later passes still read memory forwards). `scratch` holds
 * the right side meanwhile. Writes the gradient and hessian sums of each side to `sums`
 * (gl, hl, gr, hr) and returns the first right position.
 */
export function partitionRows(
  idx: Uint32Array,
  start: number,
  end: number,
  col: Uint8Array,
  goLeft: Uint8Array,
  gh: Float64Array,
  scratch: Uint32Array,
  sums: Float64Array,
): number {
  let l = start;
  let r = 0;
  let gl = 0;
  let hl = 0;
  let gr = 0;
  let hr = 0;
  for (let k = start; k < end; k++) {
    const row = idx[k]!;
    const left = goLeft[col[row]!]!;
    const g = gh[2 * row]!;
    const h = gh[2 * row + 1]!;
    // Branch-free: the side is a coin flip the branch predictor cannot learn.
    idx[l] = row;
    scratch[r] = row;
    l += left;
    r += 1 - left;
    const right = 1 - left;
    gl += left * g;
    hl += left * h;
    gr += right * g;
    hr += right * h;
  }
  idx.set(scratch.subarray(0, r), l);
  sums[0] = gl;
  sums[1] = hl;
  sums[2] = gr;
  sums[3] = hr;
  return l;
}
