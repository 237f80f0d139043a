import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { QuintetError } from "@quintet/core";
import type { BinnedMatrix } from "./binning.js";
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
import {
  buildChunk,
  type ChunkContext,
  instantiateKernels,
  KernelArena,
  type KernelExports,
  type KernelMemory,
  logisticGradients,
  SMALL_BINS,
  squaredGradients,
} from "./kernels.js";
import {
  blockChunk,
  Cmd,
  CTRL,
  CTRL_SIZE,
  claimChunk,
  claimTag,
  type KernelLayout,
  MAX_CHUNKS,
  MAX_SCAN_CHUNKS,
  partitionBlock,
  partitionSplit,
  SCAN_F64,
  ScanResults,
  scanRun,
  type WorkerInit,
} from "./protocol.js";
import { type NumericScan, type SplitFinder, SplitInfo, type SplitParams } from "./split.js";

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
  /** The wasm split scan over this builder's histograms, when they are in wasm memory. */
  readonly scan: NumericScan | null;
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

class SerialBuilder implements HistogramBuilder {
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
  readonly scan: NumericScan | null = null;

  constructor(
    protected readonly data: BinnedMatrix,
    capacity: number,
    shared: boolean,
    readonly packed: boolean,
  ) {
    const { rows, cols } = data;
    this.featureStride = packed ? PACKED_FEATURE_STRIDE : HIST_FEATURE_STRIDE;
    const poolBytes = cols * this.featureStride * (capacity + BLOCK_SLOTS) * 8;
    const hasColumns = data.colBins !== undefined;
    this.numBins = Int32Array.from(data.layout.features, (f) => f.numValueBins + 1);
    this.smallLo = smallFirstBins(data, this.numBins);
    if (kernelSettings.wasm) {
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
        bins: a.alloc(rows * cols),
        colBins: a.alloc(hasColumns ? rows * cols : 0),
        // The wasm split scan's output, 16 bytes for each thread (see WorkerInit.scanOut).
        scanOut: a.alloc(16 * (MAX_SCAN_CHUNKS + 1)),
      };
      const memory = a.create(shared);
      if (memory) {
        this.memory = memory;
        this.kernels = instantiateKernels(memory, shared);
        this.at = at;
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
        missLeft: new Int32Array(buf, at.scanOut + 8, 1),
      };
      this.bins = new Uint8Array(buf, at.bins, rows * cols);
      this.bins.set(data.bins);
      if (hasColumns) new Uint8Array(buf, at.colBins, rows * cols).set(data.colBins!);
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
      const base = this.at!.pool;
      const slotBytes = this.pool.slotSize * 8;
      const p = base + parent * slotBytes;
      const c = base + child * slotBytes;
      const feats = this.feats;
      for (let i = 0; i < this.count; i++) {
        const o = feats[i]! * this.featureStride * 8;
        // The kernel works in pairs of doubles; a packed feature's extra bin is zero in both.
        this.kernels.subtract(p + o, c + o, (perBin * numBins[feats[i]!]! + 1) & ~1);
      }
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
      return this.kernels.partition(at.idx, start, end, at.colBins + feature * rows, at.goLeft, at.scratch);
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
      const base = this.at!.pool;
      const slotBytes = this.pool.slotSize * 8;
      const p = base + slot * slotBytes;
      const b = base + this.pool.blockSlot * slotBytes;
      const feats = this.feats;
      for (let i = 0; i < this.count; i++) {
        const f = feats[i]!;
        const o = f * this.featureStride * 8;
        this.kernels.add(p + o, b + o, (perBin * this.numBins[f]! + 1) & ~1);
      }
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
};

/**
 * Chunks of work the workers of finished trainings took on, all tasks and split searches
 * among them (how much threading actually shared: tests check the workers took part), and
 * how many workers were started (the rest were reused).
 */
export const threadStats = { workerChunks: 0, workerScans: 0, workerBlocks: 0, workersStarted: 0 };

/**
 * Features per chunk, about: fewer means more passes over the rows, more means coarser
 * sharing. With the wasm kernels a pass costs little per row, and on a busy machine one
 * chunk per thread measured fastest (idle threads simply claim nothing).
 */
const CHUNK_FEATURES = 16;

/**
 * A row's logistic gradient costs about as much as this many histogram cells, so the
 * histograms' `minCells` limit also tells when sharing the rows pays for the wake-up.
 */
const LOGISTIC_CELLS_PER_ROW = 8;

/**
 * How long the calling thread polls for the workers' chunks before it sleeps. It has
 * nothing else to do meanwhile, and being woken from a sleep costs tens to hundreds of
 * microseconds on a virtual machine, each time: paired runs on the synthetic table, 2 ms
 * against 0.1 ms, took the 2-thread time from 1.02 to 0.84 of the 1-thread time.
 */
const AWAIT_SPIN_MS = 2;

/** How long to wait for a claimed chunk before concluding a worker has died. */
const WORKER_TIMEOUT_MS = 120_000;

/**
 * Shares each histogram's features between the calling thread and `workers` worker
 * threads: all of them claim chunks of features until none is left (see protocol.ts).
 * Every feature is still summed by one thread in row order, so the histograms are
 * bit-identical to the serial builder's, and so is the model. Binary logistic gradients
 * are shared by rows the same way, each row computed alone.
 */
class ThreadedBuilder extends SerialBuilder {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SIZE * 4));
  private seq = 0;
  private chunks = 1;

  private readonly workers: Worker[];
  /** Split search tasks: the node's totals and scales, its feature list, each chunk's best. */
  private readonly scanF64 = new Float64Array(new SharedArrayBuffer(8 * 8));
  private readonly scanFeats: Int32Array;
  private readonly results = new ScanResults();
  private readonly chunkBest = new SplitInfo();

  constructor(
    data: BinnedMatrix,
    capacity: number,
    private readonly crew: HistogramWorkers,
    packed: boolean,
    split: SplitParams,
  ) {
    super(data, capacity, true, packed);
    this.workers = crew.workers;
    this.scanFeats = new Int32Array(new SharedArrayBuffer(Math.max(1, data.cols) * 4));
    for (const [w, worker] of this.workers.entries()) {
      const init: WorkerInit = {
        ctrl: this.ctrl.buffer as SharedArrayBuffer,
        ...(this.memory ? { memory: this.memory, at: this.at! } : {}),
        bins: this.bins.buffer as SharedArrayBuffer,
        cols: data.cols,
        gh: this.gh.buffer as SharedArrayBuffer,
        q: this.q.buffer as SharedArrayBuffer,
        packed: this.packed,
        idx: this.idx.buffer as SharedArrayBuffer,
        feats: this.feats.buffer as SharedArrayBuffer,
        pool: this.pool.buffer.buffer as SharedArrayBuffer,
        slotSize: this.pool.slotSize,
        slots: this.pool.total,
        numBins: this.numBins,
        smallLo: this.smallLo,
        rows: data.rows,
        layout: data.layout,
        split,
        scanF64: this.scanF64.buffer as SharedArrayBuffer,
        scanFeats: this.scanFeats.buffer as SharedArrayBuffer,
        results: this.results.buffer,
        scanOut: this.at ? this.at.scanOut + 16 * (w + 1) : 0,
      };
      worker.postMessage(init);
    }
  }

  /** Set once every worker has joined (see {@link joined}). */
  private live = false;

  /**
   * Whether every worker has attached to this training's buffers. Until then each step
   * runs on the calling thread alone, which gives the same results, so training never
   * waits for a worker to start: a new worker joins after tens of milliseconds, once it
   * has loaded and warmed up. A worker that failed to start fails the training (its error
   * arrives between rounds).
   */
  private joined(): boolean {
    if (this.live) return true;
    for (let i = 0; i < this.workers.length; i++) {
      const failed = this.crew.failures[i];
      if (failed !== undefined) throw workerFailed(failed);
    }
    this.live = Atomics.load(this.ctrl, CTRL.READY) === this.workers.length;
    return this.live;
  }

  /** Resolves once every worker has joined (see `threadSettings.awaitWorkers`). */
  async ready(): Promise<void> {
    while (!this.joined()) await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }

  override setFeatures(feats: Int32Array, count: number): void {
    super.setFeatures(feats, count);
    const threads = this.workers.length + 1;
    this.chunks = Math.min(
      MAX_CHUNKS,
      Math.max(1, Math.min(count, Math.max(threads, Math.ceil(count / CHUNK_FEATURES)))),
    );
    // Chunk bounds only change here, between trees, when no task is running.
    for (let c = 0; c <= this.chunks; c++) this.ctrl[CTRL.BOUNDS + c] = Math.round((count * c) / this.chunks);
  }

  /**
   * Shares the rows between the threads in chunks claimed like histogram chunks: each row's
   * gradients depend on that row only, so any sharing gives the serial values.
   */
  protected override logisticRows(rows: number): void {
    if (rows * LOGISTIC_CELLS_PER_ROW < threadSettings.minCells || !this.joined()) {
      super.logisticRows(rows);
      return;
    }
    const chunks = this.workers.length + 1;
    // Even chunk sizes: the kernel works on pairs of rows.
    const per = Math.ceil(rows / chunks / 2) * 2;
    const tag = this.post(Cmd.Logistic, chunks, (c) => {
      c[CTRL.START] = per;
      c[CTRL.END] = rows;
    });
    const c = this.ctrl;
    for (let k = claimChunk(c, tag, chunks); k >= 0; k = claimChunk(c, tag, chunks)) {
      this.logisticChunk(k * per, Math.min(rows, (k + 1) * per));
      Atomics.add(c, CTRL.FINISHED, 1);
    }
    this.await(chunks);
  }

  /**
   * Long ranges are partitioned in two blocks at once, one per thread, then joined (see
   * `joinBlocks`): the same order as the serial partition, row for row.
   */
  override partition(start: number, end: number, feature: number, goLeft: Uint8Array): number {
    if (!this.kernels || end - start < threadSettings.minPartitionRows || !this.joined()) {
      return super.partition(start, end, feature, goLeft);
    }
    const at = this.at!;
    this.goLeft.set(goLeft.subarray(0, 256));
    const column = at.colBins + feature * this.data.rows;
    const tag = this.post(Cmd.Partition, 2, (c) => {
      c[CTRL.START] = start;
      c[CTRL.END] = end;
      c[CTRL.COLUMN] = column;
    });
    const c = this.ctrl;
    for (let k = claimChunk(c, tag, 2); k >= 0; k = claimChunk(c, tag, 2)) {
      c[CTRL.MID + k] = partitionBlock(this.kernels, at, start, end, k, column);
      Atomics.add(c, CTRL.FINISHED, 1);
    }
    this.await(2);
    return this.joinBlocks(start, partitionSplit(start, end), c[CTRL.MID]!, c[CTRL.MID + 1]!);
  }

  /** Writes a task with `chunks` chunks, wakes the workers, and returns its claim tag. */
  private post(cmd: number, chunks: number, fill: (c: Int32Array) => void): number {
    const c = this.ctrl;
    // Close claims while the task is written, so no late worker mixes two tasks.
    Atomics.store(c, CTRL.CLAIM, -1);
    c[CTRL.CMD] = cmd;
    c[CTRL.CHUNKS] = chunks;
    fill(c);
    Atomics.store(c, CTRL.FINISHED, 0);
    this.seq++;
    const tag = claimTag(this.seq);
    Atomics.store(c, CTRL.CLAIM, tag);
    Atomics.store(c, CTRL.SEQ, this.seq);
    // A worker counts itself in SLEEPERS before it waits on SEQ, and its wait rechecks SEQ:
    // one that is not counted yet will see the new task without being woken.
    if (Atomics.load(c, CTRL.SLEEPERS) > 0) Atomics.notify(c, CTRL.SEQ);
    return tag;
  }

  override build(slot: number, start: number, end: number): void {
    if ((end - start) * this.count < threadSettings.minCells || !this.joined()) {
      super.build(slot, start, end);
      return;
    }
    const c = this.ctrl;
    if (end - start >= threadSettings.blockRows) {
      // Each block's features in one run per two threads: with two threads, one block each.
      const chunks = 2 * Math.min(this.count, Math.ceil((this.workers.length + 1) / 2));
      const count = this.count;
      const tag = this.post(Cmd.Blocks, chunks, (c) => {
        c[CTRL.SLOT] = slot;
        c[CTRL.BLOCK_SLOT] = this.pool.blockSlot;
        c[CTRL.START] = start;
        c[CTRL.END] = end;
        c[CTRL.FEATURES] = count;
        c[CTRL.DENSE] = this.dense ? 1 : 0;
        c[CTRL.LARGE] = this.numLarge;
      });
      for (let k = claimChunk(c, tag, chunks); k >= 0; k = claimChunk(c, tag, chunks)) {
        const b = blockChunk(k, chunks, start, end, count);
        this.buildChunk(b.block === 0 ? slot : this.pool.blockSlot, b.r0, b.r1, b.fi0, b.fi1);
        Atomics.add(c, CTRL.FINISHED, 1);
      }
      this.await(chunks);
      this.addBlock(slot);
      return;
    }
    const tag = this.post(Cmd.Build, this.chunks, (c) => {
      c[CTRL.SLOT] = slot;
      c[CTRL.START] = start;
      c[CTRL.END] = end;
      c[CTRL.DENSE] = this.dense ? 1 : 0;
      c[CTRL.LARGE] = this.numLarge;
    });
    for (let k = claimChunk(c, tag, this.chunks); k >= 0; k = claimChunk(c, tag, this.chunks)) {
      this.buildChunk(slot, start, end, c[CTRL.BOUNDS + k]!, c[CTRL.BOUNDS + k + 1]!);
      Atomics.add(c, CTRL.FINISHED, 1);
    }
    this.await(this.chunks);
  }

  /**
   * Cuts the features into runs that the threads claim like histogram chunks, each run
   * searched with a fresh best. The runs' bests are then taken in feature order, a later
   * one only when its gain is strictly higher: the split the serial search finds, which
   * keeps the first of equal gains.
   */
  override findSplit(
    finder: SplitFinder,
    slot: number,
    G: number,
    H: number,
    features: Int32Array,
    count: number,
    out: SplitInfo,
  ): void {
    const chunks = Math.min(
      this.workers.length + 1,
      MAX_SCAN_CHUNKS,
      Math.floor(count / threadSettings.scanChunkFeatures),
    );
    if (chunks < 2 || !this.joined()) {
      super.findSplit(finder, slot, G, H, features, count, out);
      return;
    }
    this.scanFeats.set(features.subarray(0, count));
    const f = this.scanF64;
    f[SCAN_F64.G] = G;
    f[SCAN_F64.H] = H;
    f[SCAN_F64.G_SCALE] = this.gScale;
    f[SCAN_F64.H_SCALE] = this.hScale;
    f[SCAN_F64.PACKED] = this.packed ? 1 : 0;
    const tag = this.post(Cmd.Scan, chunks, (c) => {
      c[CTRL.SLOT] = slot;
      c[CTRL.START] = count;
    });
    const c = this.ctrl;
    const hist = this.pool.view(slot);
    for (let k = claimChunk(c, tag, chunks); k >= 0; k = claimChunk(c, tag, chunks)) {
      scanRun(finder, hist, G, H, this.scanFeats, count, chunks, k, this.chunkBest, this.results);
      Atomics.add(c, CTRL.FINISHED, 1);
    }
    this.await(chunks);
    out.reset();
    for (let k = 0; k < chunks; k++) {
      if (this.results.found(k) && (!out.found || this.results.gain(k) > out.gain)) this.results.read(k, out);
    }
  }

  /** Waits until all `chunks` chunks of the current task are finished. */
  private await(chunks: number): void {
    const c = this.ctrl;
    // Only chunks a worker has claimed are left: wait for those.
    // A claimed chunk is usually moments from done: poll before sleeping (AWAIT_SPIN_MS).
    const spinUntil = performance.now() + AWAIT_SPIN_MS;
    while (Atomics.load(c, CTRL.FINISHED) < chunks && performance.now() < spinUntil);
    const deadline = Date.now() + WORKER_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(c, CTRL.FINISHED);
      if (done >= chunks) break;
      // Workers notify FINISHED only while WAITING is set (see protocol.ts).
      Atomics.store(c, CTRL.WAITING, 1);
      const woke = Atomics.wait(c, CTRL.FINISHED, done, 1000);
      Atomics.store(c, CTRL.WAITING, 0);
      if (woke === "timed-out" && Date.now() > deadline) {
        throw new QuintetError("INTERNAL", "a histogram worker stopped responding", {
          hint: "Train with threads: 1 and report this, with the data shape, as a bug.",
        });
      }
    }
    if (c[CTRL.ERROR] !== 0) {
      throw new QuintetError("INTERNAL", "a histogram worker failed", {
        hint: "Train with threads: 1 and report this, with the data shape, as a bug.",
      });
    }
  }

  override async close(): Promise<void> {
    threadStats.workerChunks += Atomics.load(this.ctrl, CTRL.WORKER_CHUNKS);
    threadStats.workerScans += Atomics.load(this.ctrl, CTRL.WORKER_SCANS);
    threadStats.workerBlocks += Atomics.load(this.ctrl, CTRL.WORKER_BLOCKS);
    Atomics.store(this.ctrl, CTRL.CLAIM, -1);
    this.ctrl[CTRL.CMD] = Cmd.Exit;
    Atomics.store(this.ctrl, CTRL.SEQ, ++this.seq);
    Atomics.notify(this.ctrl, CTRL.SEQ);
    // Healthy workers go back to the pool for the next training; they leave this
    // training's loop on Exit before they read the next one's buffers.
    if (this.ctrl[CTRL.ERROR] === 0) releaseHistogramWorkers(this.crew);
    else await stopHistogramWorkers(this.crew);
  }
}

function workerFailed(err: unknown): QuintetError {
  return new QuintetError("INTERNAL", `histogram worker failed to start: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
    hint: "Train with threads: 1 to avoid worker threads.",
  });
}

/**
 * How to start a worker. Built code runs `worker.js` directly. From source (tests,
 * `--conditions=source`) the worker is `worker.ts`: a worker does not inherit the tsx
 * loader, so a small bootstrap registers tsx's ESM hooks inside it first.
 */
function workerEntry(): { entry: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith(".ts")) return { entry: new URL("./worker.js", import.meta.url), eval: false };
  const req = createRequire(import.meta.url);
  const pkgPath = req.resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as {
    exports: Record<string, { import?: { default?: string } } | string>;
  };
  const api = pkg.exports["./esm/api"];
  const rel = typeof api === "object" ? api.import?.default : undefined;
  if (!rel) throw new QuintetError("INTERNAL", "cannot find tsx's ESM API to run the histogram worker from source");
  const apiUrl = pathToFileURL(join(dirname(pkgPath), rel)).href;
  const workerUrl = new URL("./worker.ts", import.meta.url).href;
  const code = `import(${JSON.stringify(apiUrl)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl)}); });`;
  return { entry: code, eval: true };
}

/** Worker threads started ahead of their builder, so they load while the data is binned. */
export interface HistogramWorkers {
  readonly workers: Worker[];
  /** A worker's startup error, by index, until a builder takes over. */
  readonly failures: unknown[];
}

/**
 * Starts the `threads - 1` workers a threaded builder over `cols` features will use, or
 * returns undefined when it will not use any. Hand them to {@link createHistogramBuilder},
 * or to {@link stopHistogramWorkers} if training ends before.
 */
export function startHistogramWorkers(threads: number, cols: number): HistogramWorkers | undefined {
  if (threads <= 1 || cols < 2) return undefined;
  const crew: HistogramWorkers = { workers: [], failures: [] };
  for (let w = 0; w < Math.min(threads, cols) - 1; w++) {
    let worker = idleWorkers.pop();
    if (!worker) {
      const { entry, eval: isEval } = workerEntry();
      worker = new Worker(entry, { eval: isEval });
      // Idle or not, a worker never keeps the process alive.
      worker.unref();
      worker.once("exit", () => {
        const i = idleWorkers.indexOf(worker!);
        if (i >= 0) idleWorkers.splice(i, 1);
      });
      threadStats.workersStarted++;
    }
    // Kept until the crew ends, so an early failure is neither lost nor uncaught.
    const onError = (err: unknown) => {
      crew.failures[w] ??= err;
    };
    worker.on("error", onError);
    errorListeners.set(worker, onError);
    crew.workers.push(worker);
  }
  return crew;
}

/**
 * Workers waiting for their next training. Starting one costs tens of milliseconds and its
 * code starts cold, so repeated trainings in one process (tuning, cross-validation)
 * reuse them; idle workers are unreferenced and cost only their memory.
 */
const idleWorkers: Worker[] = [];
const MAX_IDLE_WORKERS = 8;
const errorListeners = new WeakMap<Worker, (err: unknown) => void>();

function detach(worker: Worker): void {
  const listener = errorListeners.get(worker);
  if (listener) worker.off("error", listener);
  errorListeners.delete(worker);
}

/** Hands the crew's workers back to the pool (after their builder sent Exit). */
function releaseHistogramWorkers(crew: HistogramWorkers): void {
  for (const [w, worker] of crew.workers.entries()) {
    detach(worker);
    if (crew.failures[w] === undefined && idleWorkers.length < MAX_IDLE_WORKERS) idleWorkers.push(worker);
    else void worker.terminate();
  }
}

export async function stopHistogramWorkers(crew: HistogramWorkers | undefined): Promise<void> {
  if (!crew) return;
  for (const worker of crew.workers) detach(worker);
  await Promise.all(crew.workers.map((w) => w.terminate()));
}

/**
 * A histogram builder over `data`: serial when `threads <= 1`, otherwise the calling thread
 * plus `threads - 1` workers (`crew` from {@link startHistogramWorkers}, or started here),
 * which join the work once they have started (see `threadSettings.awaitWorkers`).
 */
export async function createHistogramBuilder(
  data: BinnedMatrix,
  capacity: number,
  threads: number,
  split: SplitParams,
  packed = false,
  crew?: HistogramWorkers,
): Promise<HistogramBuilder> {
  const workers = crew ?? startHistogramWorkers(threads, data.cols);
  if (!workers) return new SerialBuilder(data, capacity, false, packed);
  let b: ThreadedBuilder | undefined;
  try {
    if (!(data.bins.buffer instanceof SharedArrayBuffer)) {
      throw new QuintetError("INTERNAL", "threaded histograms need bins in shared memory (binMatrix(..., true))");
    }
    b = new ThreadedBuilder(data, capacity, workers, packed, split);
    if (threadSettings.awaitWorkers) await b.ready();
  } catch (err) {
    await stopHistogramWorkers(workers);
    throw err;
  }
  return b;
}
