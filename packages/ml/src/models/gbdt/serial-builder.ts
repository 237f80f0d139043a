/**
 * The serial histogram builder, and what a histogram worker needs of it: this module
 * imports neither `@quintet/core` nor `node:worker_threads`, so workers can load it
 * (see worker-imports.test.ts) to grow whole subtrees with a builder of their own.
 */
import type { BinnedMatrix } from "./bins.js";
import {
  BLOCK_SLOTS,
  buildHistogram,
  buildPackedHistogram,
  combineHistograms,
  HIST_FEATURE_STRIDE,
  HistogramPool,
  PACKED_FEATURE_STRIDE,
  partitionRows,
} from "./histogram.js";
import { scanRegionBytes } from "./kernel-constants.js";
import {
  buildChunk,
  type ChunkContext,
  instantiateKernels,
  KernelArena,
  type KernelExports,
  type KernelMemory,
  logisticGradients,
  PARTITION_SHUFFLE_BYTES,
  SMALL_BINS,
  squaredGradients,
  writePartitionShuffles,
} from "./kernels.js";
import { type KernelLayout, MAX_SCAN_CHUNKS, partitionSplit, SubtreeIO } from "./protocol.js";
import type { SplitFinder, SplitInfo, SplitScan } from "./split.js";

/**
 * Builds node histograms for the tree learner. The learner partitions `idx` in place and
 * the trainer writes gradients into `gh` (interleaved gradient, hessian per row) before
 * each tree; both live in shared memory when threaded so workers read them directly.
 */
export interface HistogramBuilder {
  readonly pool: HistogramPool;
  readonly idx: Uint32Array;
  readonly gh: Float64Array;
  /** Histograms are packed from quantized gradients (see histogram.ts) rather than exact. */
  readonly packed: boolean;
  /** Packed mode: what one unit of quantized gradient and hessian is worth. */
  readonly gScale: number;
  readonly hScale: number;
  /**
   * Packed mode: quantizes the gradients of rows `idx[0..m)` for the next tree, rounding
   * stochastically (unbiased) with a generator seeded by `seed`.
   */
  quantize(m: number, seed: number): void;
  /** Features the histograms of the next tree cover: `feats[0..count)`, ascending. */
  setFeatures(feats: Int32Array, count: number): void;
  /** Fills histogram `slot` from rows `idx[start..end)`. */
  build(slot: number, start: number, end: number): void;
  /**
   * `parent -= child` over the tree's features, the first `numBins[f]` bins of each: the
   * parent's slot becomes the sibling's histogram (histogram subtraction).
   */
  subtract(parent: number, child: number, numBins: Int32Array): void;
  /**
   * Stable in-place partition of `idx[start..end)`: rows whose bin `b` of `feature` has
   * `goLeft[b] === 1` first, both sides in their order. Returns the first right position.
   * Needs column-major bins (`binMatrix(..., columns = true)`).
   */
  partition(start: number, end: number, feature: number, goLeft: Uint8Array): number;
  /** Gradient and hessian sums of rows `idx[start..end)` into `out[0]`, `out[1]`, in row order. */
  sumGradients(start: number, end: number, out: Float64Array): void;
  /**
   * Binary logistic loss: writes `gh` from the margins of every row (see kernels.ts
   * `logisticGradients`). `y` and `w` must not change between calls.
   */
  logisticGradients(y: ArrayLike<number>, margin: Float64Array, w: Float64Array): void;
  /** Squared error: writes `gh` as `logisticGradients` does (see kernels.ts `squaredGradients`). */
  squaredGradients(y: ArrayLike<number>, margin: Float64Array, w: Float64Array): void;
  /**
   * A zeroed array for the training margins (`size` doubles): for one margin per row, the
   * kernels' own copy, which `logisticGradients` then reads without copying it each round.
   */
  marginArray(size: number): Float64Array;
  /**
   * Adds `values[leafNode[l]]` to the margins of the rows of each leaf `l` (rows
   * `idx[leafStart[l]..leafEnd[l])`) with one kernel call, when `margins` is this builder's
   * {@link marginArray} (one margin per row); false, having done nothing, otherwise.
   */
  addLeafValues(
    margins: Float64Array,
    numLeaves: number,
    leafNode: Int32Array,
    leafStart: Int32Array,
    leafEnd: Int32Array,
    values: Float64Array,
  ): boolean;
  /** The wasm split scan over this builder's histograms, when they are in wasm memory. */
  readonly scan: SplitScan | null;
  /**
   * The best split of histogram `slot` (node totals `G`, `H`) over `features[0..count)`,
   * into `out`: `finder.find`, shared between the threads by features when threaded.
   */
  findSplit(
    finder: SplitFinder,
    slot: number,
    G: number,
    H: number,
    features: Int32Array,
    count: number,
    out: SplitInfo,
  ): void;
  /** Stops the workers (no-op when serial). */
  close(): Promise<void>;
  /** Subtree tasks' inputs and outputs, when this builder was made for them. */
  readonly subtrees: SubtreeIO | null;
  /** A builder of thread `k`'s own over the same rows, for growing subtrees (see SerialBuilder). */
  localBuilder(k: number): HistogramBuilder | null;
  /** Runs tasks `0..count`: `run(k)` on this thread, or the workers' own learners. */
  runTasks(count: number, run: (k: number) => void): void;
}

/**
 * Bytes of histogram memory a learner may hold. Depth-limited trees need far less; deep
 * random-forest trees fall back to building both children when the pool is full.
 */
const POOL_BYTES = 256 * 1024 * 1024;

/**
 * Histogram slots for trees of this shape: as many as can be pending at once (the
 * frontier for a leaf budget, one per level for depth-first growth), within POOL_BYTES.
 * A learner that runs out builds both children instead of subtracting.
 */
export function poolCapacity(cols: number, maxDepth: number, maxLeaves: number): number {
  const needed = maxLeaves > 0 ? 2 * maxLeaves : maxDepth > 0 ? maxDepth : 128;
  const byMemory = Math.floor(POOL_BYTES / (Math.max(1, cols) * 4096));
  return Math.max(4, Math.min(needed + 4, byMemory));
}

/**
 * Few-bin features get passes of their own (kernels.ts `smallKernel`) only on tables up to
 * this many rows. Each such pass gathers the gradient pairs again: cheap while they stay in
 * cache (16 bytes a row), dearer than the row-wise pass's stalls beyond that. Measured
 * (paired runs): telco, 5,635 rows with 16 of 19 features few-bin, 1.46x faster with the
 * passes; adult (32,561 rows) and bank marketing (36,169) 11% and 15% slower.
 */
const SMALL_PATH_ROWS = 16_384;

/** Leaves a tree may have for its margin update to go through the kernel (depth 10 and less). */
const LEAF_RECORDS = 1024;

/**
 * Per feature, the first bin a small-kernel pass sums (see `ChunkContext.smallLo`): 1 when
 * a few-bin feature has no row in the missing bin, else 0. Only tables that take the
 * small path are scanned.
 */
function smallFirstBins(data: BinnedMatrix, numBins: Int32Array): Uint8Array {
  const lo = new Uint8Array(data.cols);
  const col = data.colBins;
  if (!col || data.rows > SMALL_PATH_ROWS) return lo;
  for (let f = 0; f < data.cols; f++) {
    if (numBins[f]! > SMALL_BINS) continue;
    // The built-in search: this runs once per training, so a loop here would run cold.
    lo[f] = col.subarray(f * data.rows, (f + 1) * data.rows).indexOf(0) >= 0 ? 0 : 1;
  }
  return lo;
}

/** Largest quantization level used per row (more gains nothing measurable). */
const MAX_LEVELS = 1 << 15;

/**
 * Whether histograms and partitions run in the WebAssembly kernels (kernels.ts) when they
 * can. Off only to compare against the JavaScript kernels, which give identical results.
 */
export const kernelSettings = { wasm: true };

/** Subtree growth for a tree shape (see learner.ts `subtreePlan`). */
export interface SubtreePlan {
  /** Frontier nodes at most, one task each. */
  tasks: number;
  /** Nodes a subtree can have. */
  maxNodes: number;
}

/** Another builder's kernel memory, for {@link SerialBuilder}'s `attach`. */
export interface BuilderAttachment {
  memory: KernelMemory;
  kernels: KernelExports;
  at: KernelLayout;
}

export class SerialBuilder implements HistogramBuilder {
  readonly pool: HistogramPool;
  readonly idx: Uint32Array;
  readonly gh: Float64Array;
  /** Packed gradient pair per row (packed mode). */
  readonly q: Float64Array;
  gScale = 1;
  hScale = 1;
  protected readonly feats: Int32Array;
  protected count = 0;
  protected dense = true;
  /** Features at the front of `feats` summed row by row (see kernels.ts `buildChunk`). */
  protected numLarge = 0;
  /** Bins per feature, the missing bin included. */
  protected readonly numBins: Int32Array;
  /** See `ChunkContext.smallLo`. */
  protected readonly smallLo: Uint8Array;
  /** The kernels' view of this builder, when they run. */
  protected readonly chunk: ChunkContext | null = null;
  /** The wasm kernels and their memory, or null when building in JavaScript. */
  protected readonly kernels: KernelExports | null = null;
  protected readonly memory: KernelMemory | null = null;
  protected readonly at: KernelLayout | null = null;
  /** Row-major bins the kernels read (a copy inside their memory), else `data.bins`. */
  protected readonly bins: Uint8Array;
  /** Each feature's column of bins, for partitioning (empty without column-major bins). */
  private readonly columns: Uint8Array[] = [];
  protected readonly scratch: Uint32Array;
  protected readonly goLeft: Uint8Array;
  private readonly featureStride: number;
  readonly scan: SplitScan | null = null;

  /**
   * `plan` reserves each of its `threads` a region of its own for growing subtrees (see
   * {@link localBuilder}); `attach` builds over another builder's kernel memory instead of
   * allocating: its rows, gradients and bins, with the regions `attach.at` names as its own.
   */
  constructor(
    protected readonly data: BinnedMatrix,
    private readonly capacity: number,
    shared: boolean,
    readonly packed: boolean,
    plan?: SubtreePlan & { threads: number },
    attach?: BuilderAttachment,
  ) {
    const locals = plan ? plan.threads : 0;
    const { rows, cols } = data;
    this.featureStride = packed ? PACKED_FEATURE_STRIDE : HIST_FEATURE_STRIDE;
    const poolBytes = cols * this.featureStride * (capacity + BLOCK_SLOTS) * 8;
    const hasColumns = data.colBins !== undefined;
    this.numBins = Int32Array.from(data.layout.features, (f) => f.numValueBins + 1);
    this.smallLo = smallFirstBins(data, this.numBins);
    if (attach) {
      this.memory = attach.memory;
      this.kernels = attach.kernels;
      this.at = attach.at;
    } else if (kernelSettings.wasm) {
      const a = new KernelArena();
      const at: KernelLayout = {
        pool: a.alloc(poolBytes),
        // One row of room past the end: the logistic kernel works two rows at a time.
        gh: a.alloc((rows + 1) * 16),
        margin: a.alloc((rows + 1) * 8),
        y: a.alloc((rows + 1) * 8),
        w: a.alloc((rows + 1) * 8),
        q: a.alloc(packed ? rows * 8 : 8),
        idx: a.alloc(rows * 4),
        scratch: a.alloc(rows * 4),
        feats: a.alloc(cols * 4),
        goLeft: a.alloc(256),
        shuffles: a.alloc(PARTITION_SHUFFLE_BYTES),
        combineLens: a.alloc(cols * 4),
        leaves: a.alloc(LEAF_RECORDS * 16),
        bins: a.alloc(rows * cols),
        colBins: a.alloc(hasColumns ? rows * cols : 0),
        // The wasm split scans' output and scratch, a region for each thread (see WorkerInit.scanOut).
        scanOut: a.alloc(scanRegionBytes(cols) * (MAX_SCAN_CHUNKS + 1)),
        locals: Array.from({ length: locals }, () => ({
          pool: a.alloc(poolBytes),
          goLeft: a.alloc(256),
          scanOut: a.alloc(scanRegionBytes(cols)),
          feats: a.alloc(cols * 4),
        })),
      };
      const memory = a.create(shared);
      if (memory) {
        this.memory = memory;
        this.kernels = instantiateKernels(memory, shared);
        writePartitionShuffles(memory.buffer, at.shuffles);
        this.at = at;
        if (plan) this.subtrees = new SubtreeIO(cols, plan.tasks, plan.maxNodes);
      }
    }
    const at = this.at;
    if (at) {
      const buf = this.memory!.buffer;
      this.pool = new HistogramPool(
        cols,
        capacity,
        shared,
        this.featureStride,
        new Float64Array(buf, at.pool, poolBytes / 8),
      );
      this.idx = new Uint32Array(buf, at.idx, rows);
      this.scratch = new Uint32Array(buf, at.scratch, rows);
      this.gh = new Float64Array(buf, at.gh, rows * 2);
      this.q = new Float64Array(buf, at.q, packed ? rows : 1);
      this.feats = new Int32Array(buf, at.feats, Math.max(1, cols));
      this.goLeft = new Uint8Array(buf, at.goLeft, 256);
      this.scan = {
        kernels: this.kernels!,
        buffer: buf,
        out: at.scanOut,
        gain: new Float64Array(buf, at.scanOut, 2),
      };
      this.bins = new Uint8Array(buf, at.bins, rows * cols);
      if (!attach) {
        // Doubles of each feature that subtraction and block joins touch (kernels work in pairs).
        const perBin = packed ? 1 : 2;
        const lens = new Int32Array(buf, at.combineLens, cols);
        for (let f = 0; f < cols; f++) lens[f] = (perBin * this.numBins[f]! + 1) & ~1;
        this.bins.set(data.bins);
        if (hasColumns) new Uint8Array(buf, at.colBins, rows * cols).set(data.colBins!);
      }
      this.chunk = {
        kernels: this.kernels!,
        at,
        rows,
        cols,
        slotBytes: this.pool.slotSize * 8,
        packed,
        numBins: this.numBins,
        feats: this.feats,
        pool: this.pool.buffer,
        smallLo: this.smallLo,
      };
    } else {
      const buf = (bytes: number) => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
      this.pool = new HistogramPool(cols, capacity, shared, this.featureStride);
      this.idx = new Uint32Array(buf(rows * 4));
      this.scratch = new Uint32Array(rows);
      this.gh = new Float64Array(buf(rows * 16));
      this.q = new Float64Array(buf(packed ? rows * 8 : 8));
      this.feats = new Int32Array(buf(Math.max(1, cols) * 4));
      this.goLeft = new Uint8Array(256);
      this.bins = data.bins;
      if (hasColumns) {
        for (let f = 0; f < cols; f++) this.columns.push(data.colBins!.subarray(f * rows, (f + 1) * rows));
      }
    }
  }

  /**
   * A builder of thread `k`'s own (histogram slots, partition table, scan output, feature
   * list) over this one's rows and gradients, for growing a subtree; null without kernels
   * or without that region.
   */
  localBuilder(k: number): SerialBuilder | null {
    const at = this.at;
    const r = at?.locals[k];
    if (!at || !r) return null;
    return new SerialBuilder(this.data, this.capacity, true, this.packed, undefined, {
      memory: this.memory!,
      kernels: this.kernels!,
      at: { ...at, pool: r.pool, goLeft: r.goLeft, scanOut: r.scanOut, feats: r.feats, locals: [] },
    });
  }

  /** Where subtree tasks and their nodes go (with a `plan` and kernels), else null. */
  readonly subtrees: SubtreeIO | null = null;

  /** Runs tasks `0..count` with `run` (on this thread; threaded builders share them). */
  runTasks(count: number, run: (k: number) => void): void {
    for (let k = 0; k < count; k++) run(k);
  }

  setFeatures(feats: Int32Array, count: number): void {
    this.count = count;
    let n = 0;
    if (this.chunk && !this.packed && this.data.colBins !== undefined && this.data.rows <= SMALL_PATH_ROWS) {
      // Features with many bins first, then the few-bin ones the kernels sum in registers,
      // by the number of bins they sum so that pairs of them agree.
      for (let i = 0; i < count; i++) if (this.numBins[feats[i]!]! > SMALL_BINS) this.feats[n++] = feats[i]!;
      this.numLarge = n;
      for (let w = 1; w <= SMALL_BINS; w++) {
        for (let i = 0; i < count; i++) {
          const f = feats[i]!;
          if (this.numBins[f]! <= SMALL_BINS && this.numBins[f]! - this.smallLo[f]! === w) this.feats[n++] = f;
        }
      }
    } else {
      this.feats.set(feats.subarray(0, count));
      this.numLarge = count;
    }
    let dense = true;
    for (let i = 0; i < count; i++) if (this.feats[i] !== i) dense = false;
    this.dense = dense;
  }

  subtract(parent: number, child: number, numBins: Int32Array): void {
    const perBin = this.packed ? 1 : 2;
    if (this.kernels) {
      const at = this.at!;
      const slotBytes = this.pool.slotSize * 8;
      // A packed feature's extra bin (lengths are rounded up to pairs) is zero in both.
      this.kernels.subtractList(
        at.pool + parent * slotBytes,
        at.pool + child * slotBytes,
        at.feats,
        this.count,
        at.combineLens,
        this.featureStride * 8,
      );
      return;
    }
    combineHistograms(this.pool.view(parent), this.pool.view(child), -1, this.feats, this.count, numBins, perBin);
  }

  private labelsCopied: ArrayLike<number> | null = null;

  logisticGradients(y: ArrayLike<number>, margin: Float64Array, w: Float64Array): void {
    const rows = this.data.rows;
    if (!this.kernels) {
      logisticGradients(y, margin, w, this.gh, rows);
      return;
    }
    this.copyInputs(y, margin, w);
    this.logisticRows(rows);
  }

  squaredGradients(y: ArrayLike<number>, margin: Float64Array, w: Float64Array): void {
    const rows = this.data.rows;
    if (!this.kernels) {
      squaredGradients(y, margin, w, this.gh, rows);
      return;
    }
    this.copyInputs(y, margin, w);
    const at = this.at!;
    this.kernels.squared(at.margin, at.y, at.w, at.gh, rows);
  }

  /** Copies labels and weights (once) and margins (unless they live there) into wasm memory. */
  private copyInputs(y: ArrayLike<number>, margin: Float64Array, w: Float64Array): void {
    const rows = this.data.rows;
    const at = this.at!;
    const buf = this.memory!.buffer;
    if (this.labelsCopied !== y) {
      const yc = new Float64Array(buf, at.y, rows);
      for (let r = 0; r < rows; r++) yc[r] = y[r]!;
      new Float64Array(buf, at.w, rows).set(w.subarray(0, rows));
      this.labelsCopied = y;
    }
    if (margin.buffer !== buf || margin.byteOffset !== at.margin) {
      new Float64Array(buf, at.margin, rows).set(margin.subarray(0, rows));
    }
  }

  marginArray(size: number): Float64Array {
    const at = this.at;
    if (!at || size !== this.data.rows) return new Float64Array(size);
    return new Float64Array(this.memory!.buffer, at.margin, size).fill(0);
  }

  addLeafValues(
    margins: Float64Array,
    numLeaves: number,
    leafNode: Int32Array,
    leafStart: Int32Array,
    leafEnd: Int32Array,
    values: Float64Array,
  ): boolean {
    const at = this.at;
    if (!at || numLeaves > LEAF_RECORDS || margins.buffer !== this.memory!.buffer || margins.byteOffset !== at.margin) {
      return false;
    }
    this.leafBounds ??= new Int32Array(this.memory!.buffer, at.leaves, 4 * LEAF_RECORDS);
    this.leafValues ??= new Float64Array(this.memory!.buffer, at.leaves, 2 * LEAF_RECORDS);
    const bounds = this.leafBounds;
    const vals = this.leafValues;
    for (let l = 0; l < numLeaves; l++) {
      bounds[4 * l] = leafStart[l]!;
      bounds[4 * l + 1] = leafEnd[l]!;
      vals[2 * l + 1] = values[leafNode[l]!]!;
    }
    this.kernels!.addLeaves(at.margin, at.idx, at.leaves, numLeaves);
    return true;
  }

  /** Views of the leaf records `addLeafValues` hands the kernel: (start, end) and the value. */
  private leafBounds: Int32Array | null = null;
  private leafValues: Float64Array | null = null;

  /** The logistic kernel over rows `[0, rows)` of the copies in wasm memory. */
  protected logisticRows(rows: number): void {
    this.logisticChunk(0, rows);
  }

  /** The kernel over rows `[r0, r1)`; `r0` even keeps its pairs of rows the serial ones. */
  protected logisticChunk(r0: number, r1: number): void {
    // With more threads than pairs of rows the last chunks are empty.
    if (r1 <= r0) return;
    const at = this.at!;
    this.kernels!.logistic(at.margin + r0 * 8, at.y + r0 * 8, at.w + r0 * 8, at.gh + r0 * 16, r1 - r0);
  }

  sumGradients(start: number, end: number, out: Float64Array): void {
    if (this.kernels) {
      const at = this.at!;
      this.kernels.sumRows(at.gh, at.idx, start, end, at.scanOut);
      out[0] = this.scan!.gain[0]!;
      out[1] = this.scan!.gain[1]!;
      return;
    }
    const { idx, gh } = this;
    let g = 0;
    let h = 0;
    for (let k = start; k < end; k++) {
      const r = idx[k]!;
      g += gh[2 * r]!;
      h += gh[2 * r + 1]!;
    }
    out[0] = g;
    out[1] = h;
  }

  partition(start: number, end: number, feature: number, goLeft: Uint8Array): number {
    const { rows } = this.data;
    if (this.data.colBins === undefined) {
      throw new Error("partitioning needs column-major bins: binMatrix(X, layout, shared, true)");
    }
    if (this.kernels) {
      this.goLeft.set(goLeft.subarray(0, 256));
      const at = this.at!;
      // The scratch rows of the range itself: subtrees are partitioned on several threads at once.
      const col = at.colBins + feature * rows;
      return this.kernels.partition(at.idx, start, end, col, at.goLeft, at.scratch + 4 * start, at.shuffles);
    }
    return partitionRows(this.idx, start, end, this.columns[feature]!, goLeft, this.scratch);
  }

  /**
   * Joins two blocks partitioned on their own, `[start, split)` with its first right row at
   * `mid0` and `[split, end)` with `mid1`: the second block's left rows move in front of
   * the first block's right rows (through the scratch rows), which gives exactly the
   * stable partition of the whole range. Returns the first right position.
   */
  protected joinBlocks(start: number, split: number, mid0: number, mid1: number): number {
    const { idx, scratch } = this;
    const right0 = split - mid0;
    scratch.set(idx.subarray(mid0, split), start);
    idx.copyWithin(mid0, split, mid1);
    const mid = mid0 + (mid1 - split);
    idx.set(scratch.subarray(start, start + right0), mid);
    return mid;
  }

  quantize(m: number, seed: number): void {
    const { idx, gh, q } = this;
    let gmax = 0;
    let hmax = 0;
    for (let k = 0; k < m; k++) {
      const r = idx[k]!;
      gmax = Math.max(gmax, Math.abs(gh[2 * r]!));
      hmax = Math.max(hmax, gh[2 * r + 1]!);
    }
    // Levels such that no node's sums can leave the exact-integer range of the packing.
    const qg = Math.min(MAX_LEVELS, Math.floor((2 ** 25 - 1) / m));
    const qh = Math.min(MAX_LEVELS, Math.floor((2 ** 26 - 1) / m));
    this.gScale = gmax > 0 ? gmax / qg : 1;
    this.hScale = hmax > 0 ? hmax / qh : 1;
    const gi = 1 / this.gScale;
    const hi = 1 / this.hScale;
    // xorshift32: cheap, and the same sequence however the work is threaded.
    let x = seed >>> 0 || 0x9e3779b9;
    for (let k = 0; k < m; k++) {
      const r = idx[k]!;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const u1 = (x >>> 0) / 4294967296;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const u2 = (x >>> 0) / 4294967296;
      const g = Math.max(-qg, Math.min(qg, Math.floor(gh[2 * r]! * gi + u1)));
      const h = Math.max(0, Math.min(qh, Math.floor(gh[2 * r + 1]! * hi + u2)));
      q[r] = g * 2 ** 26 + h;
    }
  }

  /**
   * Long ranges (`threadSettings.blockRows` rows and more) are summed in two row blocks,
   * the second in the pool's block slot, then added: the threaded builder gives each
   * block to a thread, and cutting the same way here keeps the histograms bit-identical.
   */
  build(slot: number, start: number, end: number): void {
    if (end - start < threadSettings.blockRows) {
      this.buildChunk(slot, start, end, 0, this.count);
      return;
    }
    const split = partitionSplit(start, end);
    this.buildChunk(slot, start, split, 0, this.count);
    this.buildChunk(this.pool.blockSlot, split, end, 0, this.count);
    this.addBlock(slot);
  }

  /** Adds the block slot into `slot` over the tree's features. */
  protected addBlock(slot: number): void {
    const perBin = this.packed ? 1 : 2;
    if (this.kernels) {
      const at = this.at!;
      const slotBytes = this.pool.slotSize * 8;
      this.kernels.addList(
        at.pool + slot * slotBytes,
        at.pool + this.pool.blockSlot * slotBytes,
        at.feats,
        this.count,
        at.combineLens,
        this.featureStride * 8,
      );
      return;
    }
    const { pool } = this;
    combineHistograms(pool.view(slot), pool.view(pool.blockSlot), 1, this.feats, this.count, this.numBins, perBin);
  }

  findSplit(
    finder: SplitFinder,
    slot: number,
    G: number,
    H: number,
    features: Int32Array,
    count: number,
    out: SplitInfo,
  ): void {
    finder.find(this.pool.view(slot), G, H, features, count, out);
  }

  /** Histogram `slot` for features `feats[fi0..fi1)` over rows `idx[start..end)`. */
  protected buildChunk(slot: number, start: number, end: number, fi0: number, fi1: number): void {
    if (this.chunk) {
      buildChunk(this.chunk, slot, start, end, fi0, fi1, this.dense, this.numLarge);
      return;
    }
    const build = this.packed ? buildPackedHistogram : buildHistogram;
    const grads = this.packed ? this.q : this.gh;
    build(
      this.pool.view(slot),
      this.bins,
      this.data.cols,
      grads,
      this.idx,
      start,
      end,
      this.feats,
      fi0,
      fi1,
      this.dense,
    );
  }

  async close(): Promise<void> {}
}

/**
 * When worker threads pay off. Results are the same either way; tests lower both limits to
 * exercise the workers on small data.
 */
export const threadSettings = {
  /**
   * Below this many cells of histogram input (rows × features × trees) `trainGbdt` stays
   * on the calling thread whatever `threads` says: starting a worker takes about 0.1 s,
   * and a tree's histograms, about 2.5 × rows × features cells at well under a nanosecond
   * each in the wasm kernels, save less than that when shared.
   */
  minWork: 2e8,
  /**
   * Below this many (row × feature) cells a histogram is built on the calling thread:
   * handing a task to a polling worker and waiting for it costs a few microseconds,
   * about what the kernels take for 64k cells (paired runs: 64k against 256k cells was
   * 2-5 % faster at two threads on the synthetic and regression tables).
   */
  minCells: 64 * 1024,
  /**
   * Fewest features per chunk of a shared split search: a numeric feature's scan takes
   * about a microsecond, and the calling thread waited 4-5 µs on average for a worker's
   * chunk. Sharing the scans of 12 features (two chunks of 6) cost the regression table
   * 50 ms a training, so only nodes with 24 features or more share them.
   */
  scanChunkFeatures: 12,
  /**
   * Rows from which a node's partition is shared: a row costs a few nanoseconds, and the
   * join moves about half of them once more.
   */
  minPartitionRows: 16_384,
  /**
   * Rows from which a histogram is summed in two row blocks (see `SerialBuilder.build`),
   * one per thread when threaded: each thread then reads half the rows for every
   * feature, where sharing by features had both threads read every row. Serial training
   * cuts the same way (costing one histogram addition, not measurable in paired serial
   * runs at 16k rows, about 2 % at 4k), so that the models agree.
   */
  blockRows: 8_192,
  /**
   * Wait for the workers before the first tree. Off, training starts on the calling
   * thread and the workers join when they are ready (same model either way); tests turn
   * it on so that small trainings do use the workers.
   */
  awaitWorkers: false,
  /**
   * Whether the calling thread takes chunks of the tasks it shares. Tests turn it off so
   * that the workers provably do some of every kind of task (they do all of them then);
   * on a busy machine a calling thread that claims too can finish a small table's tasks
   * before a worker gets scheduled. The model is the same either way.
   */
  callerClaims: true,
};
