/**
 * Warms a histogram worker's code up before its first training arrives. A worker starts
 * with cold code, and the calling thread waits for every chunk a worker has claimed: a
 * worker still running its first thousand scans in the interpreter (and its first
 * histograms in the baseline wasm tier) holds the main thread back for the first part of
 * training. Run while the main thread bins the data; about 20 ms.
 */

import type { BinLayout } from "./bins.js";
import { HIST_FEATURE_STRIDE } from "./histogram.js";
import { scanRegionBytes } from "./kernel-constants.js";
import {
  instantiateKernels,
  KernelArena,
  type KernelExports,
  PARTITION_SHUFFLE_BYTES,
  writePartitionShuffles,
} from "./kernels.js";
import { SplitFinder, SplitInfo } from "./split.js";

/** Scans of a four-feature node: about what a worker meets in the first trees. */
const ROUNDS = 2000;

/** Rows and passes of the kernel warm-up. */
const ROWS = 256;
const PASSES = 300;

export function warmUpWorker(): void {
  const numeric = { categorical: false, cuts: new Float64Array(254), codes: new Int32Array(0), numValueBins: 255 };
  const categorical = { categorical: true, cuts: new Float64Array(0), codes: new Int32Array(12), numValueBins: 12 };
  const layout: BinLayout = { features: [numeric, numeric, categorical, categorical] };
  const a = new KernelArena();
  const histAt = a.alloc(4 * HIST_FEATURE_STRIDE * 8);
  const outAt = a.alloc(scanRegionBytes(4));
  const binsAt = a.alloc(ROWS * 4);
  const ghAt = a.alloc((ROWS + 1) * 16);
  const idxAt = a.alloc(ROWS * 4);
  const scratchAt = a.alloc(ROWS * 4);
  const featsAt = a.alloc(16);
  const goLeftAt = a.alloc(256);
  const shufflesAt = a.alloc(PARTITION_SHUFFLE_BYTES);
  const marginAt = a.alloc((ROWS + 1) * 8);
  const yAt = a.alloc((ROWS + 1) * 8);
  const wAt = a.alloc((ROWS + 1) * 8);
  const memory = a.create(true);
  const finder = new SplitFinder(layout, {
    lambda: 1,
    alpha: 0,
    minChildWeight: 1,
    minSplitGain: 0,
    maxDeltaStep: 0,
    maxCatToOnehot: 4,
    catSmooth: 10,
    catL2: 10,
    maxCatThreshold: 32,
  });
  let hist: Float64Array<ArrayBufferLike> = new Float64Array(4 * HIST_FEATURE_STRIDE);
  if (memory) {
    const buffer = memory.buffer;
    hist = new Float64Array(buffer, histAt, 4 * HIST_FEATURE_STRIDE);
    const k = instantiateKernels(memory, true);
    writePartitionShuffles(buffer, shufflesAt);
    warmUpKernels(k, buffer, {
      hist: histAt,
      bins: binsAt,
      gh: ghAt,
      idx: idxAt,
      scratch: scratchAt,
      feats: featsAt,
      goLeft: goLeftAt,
      shuffles: shufflesAt,
      margin: marginAt,
      y: yAt,
      w: wAt,
    });
    finder.setScan({
      kernels: k,
      buffer,
      out: outAt,
      gain: new Float64Array(buffer, outAt, 2),
    });
  }
  // Gradients that change sign along the bins, so every scan finds a split.
  let G = 0;
  let H = 0;
  for (let f = 0; f < 4; f++) {
    const nb = layout.features[f]!.numValueBins;
    for (let b = 0; b <= nb; b++) {
      const g = Math.sin(b * 0.37 + f) * 3;
      const h = 2 + Math.cos(b * 0.11 + f);
      hist[f * HIST_FEATURE_STRIDE + 2 * b] = g;
      hist[f * HIST_FEATURE_STRIDE + 2 * b + 1] = h;
      if (f === 0) {
        G += g;
        H += h;
      }
    }
  }
  const feats = Int32Array.of(0, 1, 2, 3);
  const info = new SplitInfo();
  for (let i = 0; i < ROUNDS; i++) finder.find(hist, G, H, feats, 4, info);
}

/** Byte offsets of the kernel warm-up's buffers. */
interface WarmUpLayout {
  hist: number;
  bins: number;
  gh: number;
  idx: number;
  scratch: number;
  feats: number;
  goLeft: number;
  shuffles: number;
  margin: number;
  y: number;
  w: number;
}

/**
 * Runs the histogram, partition and logistic kernels over a small four-feature table, so
 * the engine moves them to its optimising tier before real work arrives.
 */
function warmUpKernels(k: KernelExports, buffer: ArrayBufferLike, at: WarmUpLayout): void {
  const bins = new Uint8Array(buffer, at.bins, ROWS * 4);
  const idx = new Uint32Array(buffer, at.idx, ROWS);
  new Int32Array(buffer, at.feats, 4).set([0, 1, 2, 3]);
  const goLeft = new Uint8Array(buffer, at.goLeft, 256);
  const margin = new Float64Array(buffer, at.margin, ROWS);
  const y = new Float64Array(buffer, at.y, ROWS);
  new Float64Array(buffer, at.w, ROWS).fill(1);
  for (let i = 0; i < bins.length; i++) bins[i] = (i * 37) & 0xff;
  for (let b = 0; b < 256; b++) goLeft[b] = b & 1;
  for (let r = 0; r < ROWS; r++) {
    margin[r] = Math.sin(r);
    y[r] = r & 1;
  }
  for (let p = 0; p < PASSES; p++) {
    for (let r = 0; r < ROWS; r++) idx[r] = r;
    k.logistic(at.margin, at.y, at.w, at.gh, ROWS);
    k.histDense(at.hist, at.bins, 4, at.gh, at.idx, 0, ROWS, 0, 4);
    k.histSparse(at.hist, at.bins, 4, at.gh, at.idx, 0, ROWS, at.feats, 0, 4);
    k.subtract(at.hist, at.hist + 4096, 512);
    // Column 0 of the row-major bins, read as a column: any bytes do for partitioning.
    k.partition(at.idx, 0, ROWS, at.bins, at.goLeft, at.scratch, at.shuffles);
  }
}
