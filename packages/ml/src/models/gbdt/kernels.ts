/**
 * The hot loops of tree growing (histogram accumulation, row partitioning) as a small
 * WebAssembly module (assembled from opcodes in kernel-assembly.ts at build time, its bytes
 * in kernel-bytes.ts), with JavaScript twins for where wasm is missing. In JavaScript every
 * typed-array access carries a bounds check and a (grad, hess) pair costs two separate
 * read-modify-writes; in wasm the pair is one 128-bit load, one `f64x2.add` and one store,
 * which makes histogram building about 3x faster. The additions happen in the same order
 * as in the JavaScript kernels of histogram.ts, so both give bit-identical histograms.
 *
 * This module imports only its constants and bytes: the histogram workers load it too.
 */

import type { PredictExports } from "../predict/predict-assembly.js";
import type { BinningExports } from "./binning-assembly.js";
import { BINNING_MODULE, KERNEL_MODULES, PREDICT_MODULE } from "./kernel-bytes.js";
import { EXP_LIMIT, INV_LN2, LN2_HI, LN2_LO, MIN_HESS, P1, P2, P3, P4, P5, ROUND } from "./kernel-constants.js";

export { SMALL_BINS } from "./kernel-constants.js";

/** What the module exports. Every pointer is a byte offset into the memory it was given. */
export interface KernelExports {
  /**
   * Adds rows `idx[start..end)` into an exact histogram for features `f0..f1` (dense) or
   * `feats[fi0..fi1)` (sparse). Bins row-major `bins[r * cols + f]`, `gh` interleaved pairs.
   */
  histDense(
    hist: number,
    bins: number,
    cols: number,
    gh: number,
    idx: number,
    start: number,
    end: number,
    f0: number,
    f1: number,
  ): void;
  histSparse(
    hist: number,
    bins: number,
    cols: number,
    gh: number,
    idx: number,
    start: number,
    end: number,
    feats: number,
    fi0: number,
    fi1: number,
  ): void;
  /** The same for packed histograms (one double per row in `q`). */
  packedDense(
    hist: number,
    bins: number,
    cols: number,
    q: number,
    idx: number,
    start: number,
    end: number,
    f0: number,
    f1: number,
  ): void;
  packedSparse(
    hist: number,
    bins: number,
    cols: number,
    q: number,
    idx: number,
    start: number,
    end: number,
    feats: number,
    fi0: number,
    fi1: number,
  ): void;
  /**
   * Stable partition of `idx[start..end)` by `goLeft[col[row]]` (u8 each), right side via
   * `scratch`; returns the first right position. As `partitionRows` in histogram.ts.
   * `shuffles` holds the patterns {@link writePartitionShuffles} writes.
   */
  partition(
    idx: number,
    start: number,
    end: number,
    col: number,
    goLeft: number,
    scratch: number,
    shuffles: number,
  ): number;
  /**
   * Few-bin features summed in registers (see {@link smallKernel}): `histSmallW` writes
   * `W` bins of one feature's exact histogram from `hist` (bin `lo` of the feature) with
   * the sums over rows `idx[start..end)` whose bin in `col` (the feature's column of bins)
   * is `lo + j`; `histPairW` does two features in one pass.
   */
  histSmall1: SmallKernel;
  histSmall2: SmallKernel;
  histSmall3: SmallKernel;
  histSmall4: SmallKernel;
  histPair1: PairKernel;
  histPair2: PairKernel;
  histPair3: PairKernel;
  histPair4: PairKernel;
  /** Writes the (gradient, hessian) sums of rows `idx[start..end)`, each in row order, at `out`. */
  sumRows(gh: number, idx: number, start: number, end: number, out: number): void;
  /**
   * {@link logisticGradients} over rows 0..n (pointers to f64 margins, labels and weights;
   * interleaved output). Works two rows at a time: with n odd, one row past n is read and
   * written too, so every buffer needs room for it.
   */
  logistic(margin: number, y: number, w: number, gh: number, n: number): void;
  /** {@link squaredGradients} over rows 0..n, laid out and paired as `logistic`. */
  squared(margin: number, y: number, w: number, gh: number, n: number): void;
  /** `parent[i] -= child[i]` for `n` doubles from byte offsets `parent`, `child` (n even). */
  subtract(parent: number, child: number, n: number): void;
  /** `parent[i] += child[i]`, as `subtract` (joins the two row blocks of a histogram). */
  add(parent: number, child: number, n: number): void;
  /**
   * `subtract` over features `feats[0..count)` (i32 at byte offset `feats`) of two
   * histograms, feature f at `f * featureBytes`, `lens[f]` doubles of it.
   */
  subtractList(parent: number, child: number, feats: number, count: number, lens: number, featureBytes: number): void;
  /**
   * Adds each leaf's value to the margins of its rows: `count` records at `leaves` of
   * (start i32, end i32, value f64), rows `idx[start..end)`, f64 margins.
   */
  addLeaves(margin: number, idx: number, leaves: number, count: number): void;
  /** `add` over a feature list, as `subtractList`. */
  addList(parent: number, child: number, feats: number, count: number, lens: number, featureBytes: number): void;
  /**
   * The numeric threshold scan of split.ts for one feature of an exact histogram (no L1
   * penalty, no step cap): the best bin above `bestGain`, or -1. Writes the winning gain
   * (f64) and whether missing goes left (i32) at `out`.
   */
  scanNumeric(
    hist: number,
    nb: number,
    hasMissing: number,
    G: number,
    H: number,
    lambda: number,
    minChild: number,
    parentScore: number,
    bestGain: number,
    out: number,
  ): number;
  /**
   * The categorical partition search of split.ts for one feature of an exact histogram (no
   * L1 penalty, no step cap; see split-scan-assembly.ts): 1 when a partition beats
   * `bestGain`, its result at `out` laid out as SCAN.
   */
  scanCategorical(
    hist: number,
    nb: number,
    G: number,
    H: number,
    lambda: number,
    catL2: number,
    catSmooth: number,
    minChild: number,
    empty: number,
    bestGain: number,
    oneHotMax: number,
    maxCatThreshold: number,
    out: number,
  ): number;
  /**
   * `SplitFinder.find` over the node's features listed at `out + SCAN.FEATS` (`count` of
   * them), numeric and categorical, with the scans above; returns the winner's position
   * in the list or -1 (its result in the SCAN.NODE_ fields). `info` holds per feature
   * `numValueBins | categorical << 16`.
   */
  scanNode(
    hist: number,
    count: number,
    G: number,
    H: number,
    lambda: number,
    catL2: number,
    catSmooth: number,
    minChild: number,
    empty: number,
    parentScore: number,
    best: number,
    oneHotMax: number,
    maxCatThreshold: number,
    out: number,
    info: number,
  ): number;
}

type SmallKernel = (hist: number, col: number, lo: number, gh: number, idx: number, start: number, end: number) => void;
type PairKernel = (
  hist0: number,
  col0: number,
  lo0: number,
  hist1: number,
  col1: number,
  lo1: number,
  gh: number,
  idx: number,
  start: number,
  end: number,
) => void;

/** The single-feature small kernel summing `width` bins (1..SMALL_BINS). */
function smallKernelOf(k: KernelExports, width: number): SmallKernel {
  return width <= 1 ? k.histSmall1 : width === 2 ? k.histSmall2 : width === 3 ? k.histSmall3 : k.histSmall4;
}

/** The two-feature small kernel summing `width` bins of each. */
function pairKernel(k: KernelExports, width: number): PairKernel {
  return width <= 1 ? k.histPair1 : width === 2 ? k.histPair2 : width === 3 ? k.histPair3 : k.histPair4;
}

/** A wasm memory (the compiler's libraries here do not declare the WebAssembly API). */
export interface KernelMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (d: { initial: number; maximum: number; shared?: boolean }) => KernelMemory;
}

const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const modules = new Map<boolean, object | null>();

/** The compiled module, or null where WebAssembly (with SIMD) is unavailable. */
function kernelModule(shared: boolean): object | null {
  if (!modules.has(shared)) {
    let m: object | null = null;
    try {
      if (wasm) m = new wasm.Module(Buffer.from(KERNEL_MODULES[shared ? "shared" : "unshared"], "base64"));
    } catch {
      m = null;
    }
    modules.set(shared, m);
  }
  return modules.get(shared)!;
}

/** Compiled helper modules by their bytes (base64), null where they do not compile. */
const helperModules = new Map<string, object | null>();

/** An instance of the helper module `bytes` (base64) over an unshared `memory`, or null. */
function instantiateHelper(bytes: string, memory: KernelMemory): unknown {
  if (!helperModules.has(bytes)) {
    let m: object | null = null;
    try {
      if (wasm) m = new wasm.Module(Buffer.from(bytes, "base64"));
    } catch {
      m = null;
    }
    helperModules.set(bytes, m);
  }
  const m = helperModules.get(bytes);
  if (!m || !wasm) return null;
  return new wasm.Instance(m, { env: { memory } }).exports;
}

/**
 * The binning kernels (binning-assembly.ts) over an unshared `memory`, or null where
 * they cannot run (binning then takes its JavaScript path).
 */
export function instantiateBinning(memory: KernelMemory): BinningExports | null {
  return instantiateHelper(BINNING_MODULE, memory) as BinningExports | null;
}

/**
 * The batch predictor (predict/predict-assembly.ts) over an unshared `memory`, or null
 * where it cannot run (prediction then walks the trees in JavaScript).
 */
export function instantiatePredict(memory: KernelMemory): PredictExports | null {
  return instantiateHelper(PREDICT_MODULE, memory) as PredictExports | null;
}

/** Whether the wasm kernels can run here. */
export function kernelsAvailable(shared: boolean): boolean {
  return kernelModule(shared) !== null;
}

/** The kernels over `memory` (which must be shared iff `shared`). */
export function instantiateKernels(memory: KernelMemory, shared: boolean): KernelExports {
  const m = kernelModule(shared);
  if (!m || !wasm) throw new Error("WebAssembly kernels are unavailable");
  return new wasm.Instance(m, { env: { memory } }).exports as KernelExports;
}

/** 2^k for the k the reduction can produce. */
const POW2 = Float64Array.from({ length: 2048 }, (_, i) => 2 ** (i - 1023));

/** Squared-error gradients `(m - y) * w` and hessians `w` for rows 0..n, as the wasm `squared` kernel. */
export function squaredGradients(
  y: ArrayLike<number>,
  margin: Float64Array,
  w: Float64Array,
  gh: Float64Array,
  n: number,
): void {
  for (let r = 0; r < n; r++) {
    const wr = w[r]!;
    gh[2 * r] = (margin[r]! - y[r]!) * wr;
    gh[2 * r + 1] = wr;
  }
}

/**
 * Logistic-loss gradients and hessians for rows 0..n of `margin`, as `Binary.gradients`
 * but with this module's exp, exactly as the wasm `logistic` kernel computes them.
 */
export function logisticGradients(
  y: ArrayLike<number>,
  margin: Float64Array,
  w: Float64Array,
  gh: Float64Array,
  n: number,
): void {
  for (let r = 0; r < n; r++) {
    const z = Math.min(Math.max(-margin[r]!, -EXP_LIMIT), EXP_LIMIT);
    const kd = z * INV_LN2 + ROUND;
    const k = kd - ROUND;
    const hi = z - k * LN2_HI;
    const lo = k * LN2_LO;
    const x = hi - lo;
    const t = x * x;
    const c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    const e = (1 - (lo - (x * c) / (2 - c) - hi)) * POW2[k + 1023]!;
    const p = 1 / (1 + e);
    const wr = w[r]!;
    gh[2 * r] = (p - y[r]!) * wr;
    gh[2 * r + 1] = Math.max(p * (1 - p), MIN_HESS) * wr;
  }
}

/** What a thread needs to build histograms with the kernels (byte offsets into their memory). */
export interface ChunkContext {
  kernels: KernelExports;
  at: { bins: number; colBins: number; gh: number; q: number; idx: number; feats: number; pool: number };
  rows: number;
  cols: number;
  /** Bytes per histogram slot. */
  slotBytes: number;
  packed: boolean;
  /** Bins per feature, the missing bin included. */
  numBins: Int32Array;
  /** The feature list of the current tree (a view of `at.feats`). */
  feats: Int32Array;
  /** The histogram slots (a view from `at.pool`). */
  pool: Float64Array;
  /**
   * Per feature, the first bin its small-kernel pass sums: 1 for a feature with no
   * missing value in the training rows (its bin 0 stays empty), else 0.
   */
  smallLo: Uint8Array;
}

/**
 * Fills histogram `slot` for features `feats[fi0..fi1)` over rows `idx[start..end)`. The
 * list holds the features with many bins first, `numLarge` of them (all in packed mode),
 * accumulated row by row; the rest go through {@link smallKernel}. `dense` says
 * `feats[i] === i` throughout. Only a feature's own bins are cleared: nothing reads past them.
 */
export function buildChunk(
  ctx: ChunkContext,
  slot: number,
  start: number,
  end: number,
  fi0: number,
  fi1: number,
  dense: boolean,
  numLarge: number,
): void {
  const { kernels: k, at, feats, numBins, pool } = ctx;
  const perBin = ctx.packed ? 1 : 2;
  const stride = perBin * 256;
  const h = at.pool + slot * ctx.slotBytes;
  const base = (slot * ctx.slotBytes) / 8;
  const split = Math.min(fi1, Math.max(fi0, numLarge));
  for (let i = fi0; i < split; i++) {
    const f = feats[i]!;
    const o = base + f * stride;
    pool.fill(0, o, o + perBin * numBins[f]!);
  }
  if (split > fi0) {
    if (ctx.packed) {
      if (dense) k.packedDense(h, at.bins, ctx.cols, at.q, at.idx, start, end, fi0, split);
      else k.packedSparse(h, at.bins, ctx.cols, at.q, at.idx, start, end, at.feats, fi0, split);
    } else if (dense) k.histDense(h, at.bins, ctx.cols, at.gh, at.idx, start, end, fi0, split);
    else k.histSparse(h, at.bins, ctx.cols, at.gh, at.idx, start, end, at.feats, fi0, split);
  }
  // Two features a pass where there are two: the row ids and gradient pairs are read once
  // for both. Features come sorted by width, so a pair's widths mostly agree.
  const lo = ctx.smallLo;
  let i = split;
  for (; i + 1 < fi1; i += 2) {
    const f0 = feats[i]!;
    const f1 = feats[i + 1]!;
    const o0 = base + f0 * stride;
    const o1 = base + f1 * stride;
    // The kernel stores every bin from lo up (see smallKernel); bin 0 is left when lo is 1.
    // Two stores, not fill(): a builtin call per feature cost ~10 % of a small table's training.
    pool[o0] = 0;
    pool[o0 + 1] = 0;
    pool[o1] = 0;
    pool[o1 + 1] = 0;
    const w = Math.max(numBins[f0]! - lo[f0]!, numBins[f1]! - lo[f1]!);
    const h0 = h + f0 * stride * 8 + 16 * lo[f0]!;
    const h1 = h + f1 * stride * 8 + 16 * lo[f1]!;
    const c0 = at.colBins + f0 * ctx.rows;
    const c1 = at.colBins + f1 * ctx.rows;
    pairKernel(k, w)(h0, c0, lo[f0]!, h1, c1, lo[f1]!, at.gh, at.idx, start, end);
  }
  if (i < fi1) {
    const f = feats[i]!;
    const o = base + f * stride;
    pool[o] = 0;
    pool[o + 1] = 0;
    const hf = h + f * stride * 8 + 16 * lo[f]!;
    smallKernelOf(k, numBins[f]! - lo[f]!)(hf, at.colBins + f * ctx.rows, lo[f]!, at.gh, at.idx, start, end);
  }
}

/** Bytes of the partition kernel's swizzle patterns. */
export const PARTITION_SHUFFLE_BYTES = 512;

/**
 * Writes the partition kernel's patterns at byte offset `at`: for each 4-bit mask of rows
 * going left, 16 bytes picking those rows' lanes in order (then 0x80: zero), and after
 * the 16 of them, the same for the rows going right.
 */
export function writePartitionShuffles(buffer: ArrayBufferLike, at: number): void {
  const out = new Uint8Array(buffer, at, PARTITION_SHUFFLE_BYTES);
  out.fill(0x80);
  for (let mask = 0; mask < 16; mask++) {
    let left = 0;
    let right = 0;
    for (let lane = 0; lane < 4; lane++) {
      const goesLeft = (mask >> lane) & 1;
      const o = goesLeft ? mask * 16 + 4 * left++ : 256 + mask * 16 + 4 * right++;
      for (let b = 0; b < 4; b++) out[o + b] = 4 * lane + b;
    }
  }
}

/** Largest memory the kernels use: pointers stay below 2^31, so they are positive in JavaScript. */
export const MAX_KERNEL_BYTES = 2 ** 31 - 65536;

/**
 * Lays out buffers in one wasm memory: `alloc` hands out aligned byte offsets, then
 * `create` makes the memory (the size is fixed from then on, so views never detach).
 */
export class KernelArena {
  private top = 0;

  /** Reserves `bytes` (rounded up to 16) and returns their byte offset. */
  alloc(bytes: number): number {
    const at = this.top;
    this.top += Math.ceil(Math.max(bytes, 1) / 16) * 16;
    return at;
  }

  get size(): number {
    return this.top;
  }

  /** A memory holding everything allocated, or null when it would be too large. */
  create(shared: boolean): KernelMemory | null {
    if (this.top > MAX_KERNEL_BYTES || !wasm || !kernelsAvailable(shared)) return null;
    const pages = Math.max(1, Math.ceil(this.top / 65536));
    try {
      return shared
        ? new wasm.Memory({ initial: pages, maximum: pages, shared: true })
        : new wasm.Memory({ initial: pages, maximum: pages });
    } catch {
      return null;
    }
  }
}
