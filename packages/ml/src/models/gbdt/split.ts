import { BIN_STRIDE, type BinLayout, MISSING_BIN } from "./bins.js";
import { HIST_FEATURE_STRIDE, PACK, PACKED_FEATURE_STRIDE } from "./histogram.js";
import { SCAN } from "./kernel-constants.js";
import type { KernelExports } from "./kernels.js";

/** The wasm split scans, for histograms that live in the kernels' memory `buffer`. */
export interface SplitScan {
  kernels: KernelExports;
  buffer: ArrayBufferLike;
  /** Byte offset of the thread's scan region, scanRegionBytes(features) long (see SCAN). */
  out: number;
  /** The two doubles at `out` (the builder's leaf sums land there too). */
  gain: Float64Array;
}

/** Regularisation and constraints that decide whether and where a node splits. */
export interface SplitParams {
  /** L2 penalty on leaf weights. */
  lambda: number;
  /** L1 penalty on leaf weights. */
  alpha: number;
  /** Minimum hessian sum in each child. */
  minChildWeight: number;
  /** Minimum loss reduction to make a split (XGBoost's `gamma`). */
  minSplitGain: number;
  /** Cap on |leaf weight| before the learning rate (0 = none). */
  maxDeltaStep: number;
  /** Categorical features with at most this many categories present in a node split one-vs-rest. */
  maxCatToOnehot: number;
  /** Added to the hessian when ordering categories by gradient ratio (LightGBM `cat_smooth`). */
  catSmooth: number;
  /** Extra L2 penalty when scoring categorical partitions (LightGBM `cat_l2`). */
  catL2: number;
  /** Largest category set considered on one side of a partition (LightGBM `max_cat_threshold`). */
  maxCatThreshold: number;
}

/** The L1 soft threshold of a gradient sum. */
function thresholdL1(g: number, alpha: number): number {
  if (g > alpha) return g - alpha;
  if (g < -alpha) return g + alpha;
  return 0;
}

/** Optimal leaf weight for gradient sum `g` and hessian sum `h` (before the learning rate). */
export function leafWeight(g: number, h: number, p: SplitParams, lambda = p.lambda): number {
  if (h + lambda <= 0) return 0;
  let w = -thresholdL1(g, p.alpha) / (h + lambda);
  if (p.maxDeltaStep > 0) {
    if (w > p.maxDeltaStep) w = p.maxDeltaStep;
    else if (w < -p.maxDeltaStep) w = -p.maxDeltaStep;
  }
  return w;
}

/** Loss reduction a leaf with these sums achieves against weight 0 (XGBoost's `CalcGain`). */
export function leafScore(g: number, h: number, p: SplitParams, lambda = p.lambda): number {
  if (h + lambda <= 0) return 0;
  if (p.maxDeltaStep > 0) {
    const w = leafWeight(g, h, p, lambda);
    return -(2 * thresholdL1(g, p.alpha) * w + (h + lambda) * w * w);
  }
  const t = thresholdL1(g, p.alpha);
  return (t * t) / (h + lambda);
}

/**
 * Hessian sums below this fraction of the node's total are treated as zero: histogram
 * subtraction leaves rounding residue (around 1e-16 of the parent) in bins no row of
 * the child reached, and that residue must not count as "rows present".
 */
const EMPTY_FRACTION = 1e-10;

/** The best split found for a node. `goLeft[bin]` is 1 for bins sent left (bin 0 = missing). */
export class SplitInfo {
  gain = Number.NEGATIVE_INFINITY;
  feature = -1;
  /** Numeric: value bins 1..bin go left. */
  bin = 0;
  categorical = false;
  defaultLeft = false;
  gl = 0;
  hl = 0;
  gr = 0;
  hr = 0;
  readonly goLeft = new Uint8Array(BIN_STRIDE);

  reset(): void {
    this.gain = Number.NEGATIVE_INFINITY;
    this.feature = -1;
  }

  get found(): boolean {
    return this.feature >= 0;
  }
}

/**
 * Finds the best split of a node from its histogram: numeric thresholds with the missing
 * bin tried on both sides, and categorical partitions (one-vs-rest for few categories,
 * otherwise LightGBM's scan over categories sorted by sum_grad / (sum_hess + catSmooth),
 * from both ends).
 */
export class SplitFinder {
  private readonly order = new Int32Array(BIN_STRIDE);
  private readonly ratio = new Float64Array(BIN_STRIDE);
  /** The categorical scan's running best, kept in fields so scanning allocates nothing. */
  private readonly cand = {
    gain: 0,
    from: -1,
    to: -1,
    missLeft: false,
    /** Missing gradient sum, NaN when no missing rows reached the node. */
    gm: 0,
    hm: 0,
    G: 0,
    H: 0,
    minChild: 0,
    lambda: 0,
    parentScore: 0,
  };

  /** A packed feature histogram decoded to (grad, hess) pairs. */
  private readonly decoded = new Float64Array(HIST_FEATURE_STRIDE);
  private packed = false;
  private scan: SplitScan | null = null;
  private gScale = 1;
  private hScale = 1;

  constructor(
    private readonly layout: BinLayout,
    private readonly p: SplitParams,
  ) {}

  /**
   * Searches histograms in `scan.buffer` with the wasm node scan (see `find`); writes the
   * layout's feature table into the scan region, which must be this finder's own.
   */
  setScan(scan: SplitScan | null): void {
    this.scan = scan;
    this.node = null;
    if (!scan) return;
    const { buffer, out } = scan;
    const cols = this.layout.features.length;
    const info = new Int32Array(buffer, out + SCAN.FEATS + 4 * cols, cols);
    this.layout.features.forEach((fb, f) => {
      info[f] = fb.numValueBins | (fb.categorical ? 1 << 16 : 0);
    });
    this.node = {
      feats: new Int32Array(buffer, out + SCAN.FEATS, cols),
      info: info.byteOffset,
      gain: new Float64Array(buffer, out + SCAN.NODE_GAIN, 1),
      fields: new Int32Array(buffer, out + SCAN.NODE_INDEX, 5),
      order: new Int32Array(buffer, out + SCAN.BEST_ORDER, 256),
    };
  }

  /**
   * The node scan's views: the feature list it reads, the feature table's offset, and its
   * result (gain; index, bin, missing-left, from, to; a categorical winner's order).
   */
  private node: {
    feats: Int32Array;
    info: number;
    gain: Float64Array;
    fields: Int32Array;
    order: Int32Array;
  } | null = null;

  /** Histograms of the next tree are packed with these scales (or exact when `packed` is false). */
  setEncoding(packed: boolean, gScale: number, hScale: number): void {
    this.packed = packed;
    this.gScale = gScale;
    this.hScale = hScale;
  }

  /** Decodes feature f's packed bins 0..numValueBins into `decoded` as (grad, hess) pairs. */
  private decode(hist: Float64Array, f: number): Float64Array {
    const d = this.decoded;
    const o = f * PACKED_FEATURE_STRIDE;
    const nb = this.layout.features[f]!.numValueBins;
    for (let b = 0; b <= nb; b++) {
      const v = hist[o + b]!;
      const gq = Math.floor(v / PACK);
      d[2 * b] = gq * this.gScale;
      d[2 * b + 1] = (v - gq * PACK) * this.hScale;
    }
    return d;
  }

  /** A node's gradient and hessian totals from its histogram (the bins of one feature). */
  totals(hist: Float64Array, f: number, out: Float64Array): void {
    const nb = this.layout.features[f]!.numValueBins;
    let g = 0;
    let h = 0;
    if (this.packed) {
      let v = 0;
      for (let b = 0; b <= nb; b++) v += hist[f * PACKED_FEATURE_STRIDE + b]!;
      const gq = Math.floor(v / PACK);
      g = gq * this.gScale;
      h = (v - gq * PACK) * this.hScale;
    } else {
      for (let b = 0; b <= nb; b++) {
        g += hist[f * HIST_FEATURE_STRIDE + 2 * b]!;
        h += hist[f * HIST_FEATURE_STRIDE + 2 * b + 1]!;
      }
    }
    out[0] = g;
    out[1] = h;
  }

  /**
   * Best split over `features[0..count)` of a node with totals `G`, `H`; writes into `out`
   * (reset first). A split qualifies when both children have hessian >= minChildWeight and
   * its gain exceeds minSplitGain. Ties keep the earlier feature and the lower threshold,
   * so results do not depend on anything but the histogram.
   */
  find(hist: Float64Array, G: number, H: number, features: Int32Array, count: number, out: SplitInfo): void {
    out.reset();
    const parentScore = leafScore(G, H, this.p);
    const minChild = Math.max(this.p.minChildWeight, H * EMPTY_FRACTION);
    const p = this.p;
    const scan = this.scan;
    const node = this.node;
    if (node && scan && !this.packed && p.alpha === 0 && p.maxDeltaStep === 0 && hist.buffer === scan.buffer) {
      // Every feature in one call (see scanNode): the same search, the same winner.
      node.feats.set(count === features.length ? features : features.subarray(0, count));
      const empty = H * EMPTY_FRACTION;
      const i = scan.kernels.scanNode(
        hist.byteOffset,
        count,
        G,
        H,
        p.lambda,
        p.catL2,
        p.catSmooth,
        minChild,
        empty,
        parentScore,
        Math.max(out.gain, p.minSplitGain),
        p.maxCatToOnehot,
        p.maxCatThreshold,
        scan.out,
        node.info,
      );
      if (i < 0) return;
      const f = features[i]!;
      const off = f * HIST_FEATURE_STRIDE;
      const fields = node.fields;
      const missLeft = fields[2] === 1;
      const hasMissing = hist[off + 1]! > empty;
      if (this.layout.features[f]!.categorical) {
        this.takeCategorical(
          hist,
          off,
          f,
          G,
          H,
          node.order,
          fields[3]!,
          fields[4]!,
          missLeft,
          node.gain[0]!,
          hasMissing,
          out,
        );
      } else {
        this.takeNumeric(hist, off, f, G, H, fields[1]!, missLeft, node.gain[0]!, hasMissing, out);
      }
      return;
    }
    for (let fi = 0; fi < count; fi++) {
      const f = features[fi]!;
      const fb = this.layout.features[f]!;
      const h = this.packed ? this.decode(hist, f) : hist;
      const off = this.packed ? 0 : f * HIST_FEATURE_STRIDE;
      if (fb.categorical) this.findCategorical(h, off, fb.numValueBins, f, G, H, minChild, out);
      else this.findNumeric(h, off, fb.numValueBins, f, G, H, parentScore, minChild, out);
    }
  }

  private findNumeric(
    hist: Float64Array,
    off: number,
    nb: number,
    f: number,
    G: number,
    H: number,
    parentScore: number,
    minChild: number,
    out: SplitInfo,
  ): void {
    const p = this.p;
    const gm = hist[off]!;
    const hm = hist[off + 1]!;
    const hasMissing = hm > H * EMPTY_FRACTION;
    let cg = 0;
    let ch = 0;
    let bestGain = Math.max(out.gain, p.minSplitGain);
    let bestBin = -1;
    let bestMissLeft = false;
    // With missing rows present, "every value left, missing right" (bin nb) is a split too.
    const last = hasMissing ? nb : nb - 1;
    if (p.alpha === 0 && p.maxDeltaStep === 0) {
      // The common case, with leafScore inlined: g² / (h + lambda).
      const lam = p.lambda;
      for (let b = 1; b <= last; b++) {
        const i = off + b * 2;
        cg += hist[i]!;
        ch += hist[i + 1]!;
        const hr = H - ch;
        if (ch >= minChild && hr >= minChild) {
          const gr = G - cg;
          const gain = (cg * cg) / (ch + lam) + (gr * gr) / (hr + lam) - parentScore;
          if (gain > bestGain) {
            bestGain = gain;
            bestBin = b;
            bestMissLeft = false;
          }
        }
        if (hasMissing && b < nb) {
          const gl = cg + gm;
          const hl = ch + hm;
          const hr2 = H - hl;
          if (hl >= minChild && hr2 >= minChild) {
            const gr = G - gl;
            const gain = (gl * gl) / (hl + lam) + (gr * gr) / (hr2 + lam) - parentScore;
            if (gain > bestGain) {
              bestGain = gain;
              bestBin = b;
              bestMissLeft = true;
            }
          }
        }
      }
    } else {
      for (let b = 1; b <= last; b++) {
        const i = off + b * 2;
        cg += hist[i]!;
        ch += hist[i + 1]!;
        // Missing goes right.
        if (ch >= minChild && H - ch >= minChild) {
          const gain = leafScore(cg, ch, p) + leafScore(G - cg, H - ch, p) - parentScore;
          if (gain > bestGain) {
            bestGain = gain;
            bestBin = b;
            bestMissLeft = false;
          }
        }
        if (hasMissing && b < nb) {
          const gl = cg + gm;
          const hl = ch + hm;
          if (hl >= minChild && H - hl >= minChild) {
            const gain = leafScore(gl, hl, p) + leafScore(G - gl, H - hl, p) - parentScore;
            if (gain > bestGain) {
              bestGain = gain;
              bestBin = b;
              bestMissLeft = true;
            }
          }
        }
      }
    }
    if (bestBin < 0) return;
    this.takeNumeric(hist, off, f, G, H, bestBin, bestMissLeft, bestGain, hasMissing, out);
  }

  /** Writes the numeric split "value bins 1..bestBin left" into `out`. */
  private takeNumeric(
    hist: Float64Array,
    off: number,
    f: number,
    G: number,
    H: number,
    bestBin: number,
    bestMissLeft: boolean,
    bestGain: number,
    hasMissing: boolean,
    out: SplitInfo,
  ): void {
    const gm = hist[off]!;
    const hm = hist[off + 1]!;
    // Left sums of the winner, recomputed in bin order so they match a fresh pass.
    let gl = 0;
    let hl = 0;
    for (let b = 1; b <= bestBin; b++) {
      gl += hist[off + b * 2]!;
      hl += hist[off + b * 2 + 1]!;
    }
    let defaultLeft = bestMissLeft;
    if (bestMissLeft) {
      gl += gm;
      hl += hm;
    } else if (!hasMissing) {
      // No missing rows reached this node: send future missing values to the heavier child.
      defaultLeft = hl >= H - hl;
    }
    out.gain = bestGain;
    out.feature = f;
    out.bin = bestBin;
    out.categorical = false;
    out.defaultLeft = defaultLeft;
    out.gl = gl;
    out.hl = hl;
    out.gr = G - gl;
    out.hr = H - hl;
    const t = out.goLeft;
    t.fill(0);
    t[MISSING_BIN] = defaultLeft ? 1 : 0;
    t.fill(1, 1, bestBin + 1);
  }

  private findCategorical(
    hist: Float64Array,
    off: number,
    nb: number,
    f: number,
    G: number,
    H: number,
    minChild: number,
    out: SplitInfo,
  ): void {
    const p = this.p;
    const empty = H * EMPTY_FRACTION;
    const gm = hist[off]!;
    const hm = hist[off + 1]!;
    const hasMissing = hm > empty;
    const order = this.order;
    const ratio = this.ratio;
    let used = 0;
    for (let b = 1; b <= nb; b++) {
      const hb = hist[off + b * 2 + 1]!;
      if (hb > empty) {
        order[used++] = b;
        ratio[b] = hist[off + b * 2]! / (hb + p.catSmooth);
      }
    }
    if (used < 2 && !(used === 1 && hasMissing)) return;
    const oneHot = used <= p.maxCatToOnehot;
    // As LightGBM: the extra categorical L2 guards the many-vs-many search, not one-hot.
    const lambda = oneHot ? p.lambda : p.lambda + p.catL2;
    const parentScore = leafScore(G, H, p, lambda);
    if (!oneHot) {
      // Insertion sort: at most 255 entries, and stable so ties keep bin order.
      for (let i = 1; i < used; i++) {
        const b = order[i]!;
        const r = ratio[b]!;
        let j = i - 1;
        while (j >= 0 && ratio[order[j]!]! > r) {
          order[j + 1] = order[j]!;
          j--;
        }
        order[j + 1] = b;
      }
    }
    const c = this.cand;
    c.gain = Math.max(out.gain, p.minSplitGain);
    c.from = -1;
    c.to = -1;
    c.missLeft = false;
    c.gm = hasMissing ? gm : Number.NaN;
    c.hm = hm;
    c.G = G;
    c.H = H;
    c.minChild = minChild;
    c.lambda = lambda;
    c.parentScore = parentScore;
    if (oneHot) {
      for (let k = 0; k < used; k++) {
        const b = order[k]!;
        this.consider(hist[off + b * 2]!, hist[off + b * 2 + 1]!, k, k);
      }
    } else {
      // Prefixes of the sorted order from the low end, then from the high end: with a
      // cap on the set size, the two scans reach different partitions.
      const len = Math.min(used - 1, p.maxCatThreshold);
      let cg = 0;
      let ch = 0;
      for (let k = 0; k < len; k++) {
        const b = order[k]!;
        cg += hist[off + b * 2]!;
        ch += hist[off + b * 2 + 1]!;
        this.consider(cg, ch, 0, k);
      }
      cg = 0;
      ch = 0;
      for (let k = used - 1; k >= used - len; k--) {
        const b = order[k]!;
        cg += hist[off + b * 2]!;
        ch += hist[off + b * 2 + 1]!;
        this.consider(cg, ch, k, used - 1);
      }
    }
    if (c.from < 0) return;
    this.takeCategorical(hist, off, f, G, H, order, c.from, c.to, c.missLeft, c.gain, hasMissing, out);
  }

  /** Writes the categorical split "categories order[from..to] left" into `out`. */
  private takeCategorical(
    hist: Float64Array,
    off: number,
    f: number,
    G: number,
    H: number,
    order: Int32Array,
    bestFrom: number,
    bestTo: number,
    bestMissLeft: boolean,
    bestGain: number,
    hasMissing: boolean,
    out: SplitInfo,
  ): void {
    const gm = hist[off]!;
    const hm = hist[off + 1]!;
    const t = out.goLeft;
    t.fill(0);
    let gl = 0;
    let hl = 0;
    for (let k = bestFrom; k <= bestTo; k++) {
      const b = order[k]!;
      t[b] = 1;
      gl += hist[off + b * 2]!;
      hl += hist[off + b * 2 + 1]!;
    }
    let defaultLeft = bestMissLeft;
    if (bestMissLeft) {
      gl += gm;
      hl += hm;
    } else if (!hasMissing) {
      defaultLeft = hl >= H - hl;
    }
    t[MISSING_BIN] = defaultLeft ? 1 : 0;
    out.gain = bestGain;
    out.feature = f;
    out.bin = 0;
    out.categorical = true;
    out.defaultLeft = defaultLeft;
    out.gl = gl;
    out.hl = hl;
    out.gr = G - gl;
    out.hr = H - hl;
  }

  /** Scores "categories order[from..to] left", with missing rows on either side. */
  private consider(gl0: number, hl0: number, from: number, to: number): void {
    const c = this.cand;
    const p = this.p;
    const tries = Number.isNaN(c.gm) ? 1 : 2;
    for (let m = 0; m < tries; m++) {
      const gl = m === 1 ? gl0 + c.gm : gl0;
      const hl = m === 1 ? hl0 + c.hm : hl0;
      if (hl < c.minChild || c.H - hl < c.minChild) continue;
      const gain = leafScore(gl, hl, p, c.lambda) + leafScore(c.G - gl, c.H - hl, p, c.lambda) - c.parentScore;
      if (gain > c.gain) {
        c.gain = gain;
        c.from = from;
        c.to = to;
        c.missLeft = m === 1;
      }
    }
  }
}
