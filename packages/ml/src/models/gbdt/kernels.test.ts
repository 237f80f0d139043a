import { describe, expect, it, onTestFinished } from "vitest";
import { Rng } from "../../datasets/rng.js";
import type { TreeEnsemble } from "../ensemble/types.js";
import { kernelSettings, threadSettings } from "./builder.js";
import {
  buildHistogram,
  buildPackedHistogram,
  combineHistograms,
  HIST_FEATURE_STRIDE,
  partitionRows,
} from "./histogram.js";
import { scanRegionBytes } from "./kernel-constants.js";
import {
  instantiateKernels,
  KernelArena,
  logisticGradients,
  PARTITION_SHUFFLE_BYTES,
  squaredGradients,
  writePartitionShuffles,
} from "./kernels.js";
import { SplitFinder, SplitInfo, type SplitParams } from "./split.js";
import { binaryTable, categoricalTable, regressionTable } from "./test-data.js";
import { trainGbdt } from "./train.js";

const same = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

describe("wasm kernels", () => {
  for (const shared of [false, true]) {
    it(`match the JavaScript kernels bit for bit (${shared ? "shared" : "private"} memory)`, () => {
      const rng = new Rng(5);
      const rows = 3000;
      const cols = 13;
      const a = new KernelArena();
      const at = {
        bins: a.alloc(rows * cols),
        gh: a.alloc(rows * 16),
        q: a.alloc(rows * 8),
        idx: a.alloc(rows * 4),
        scratch: a.alloc(rows * 4),
        feats: a.alloc(cols * 4),
        hist: a.alloc(cols * 4096),
        hist2: a.alloc(cols * 4096),
        col: a.alloc(rows),
        col2: a.alloc(rows),
        goLeft: a.alloc(256),
        shuffles: a.alloc(PARTITION_SHUFFLE_BYTES),
      };
      const mem = a.create(shared)!;
      expect(mem).not.toBeNull();
      const k = instantiateKernels(mem, shared);
      const buf = mem.buffer;
      const bins = new Uint8Array(buf, at.bins, rows * cols);
      const gh = new Float64Array(buf, at.gh, rows * 2);
      const q = new Float64Array(buf, at.q, rows);
      const idx = new Uint32Array(buf, at.idx, rows);
      const feats = new Int32Array(buf, at.feats, cols);
      const hist = new Float64Array(buf, at.hist, cols * 512);
      const hist2 = new Float64Array(buf, at.hist2, cols * 512);
      for (let i = 0; i < bins.length; i++) bins[i] = rng.int(0, 256);
      for (let i = 0; i < gh.length; i++) gh[i] = rng.normal();
      for (let i = 0; i < q.length; i++) q[i] = rng.int(0, 1 << 20) * 2 ** 26 + rng.int(0, 1 << 20);
      let m = 0;
      for (let r = 0; r < rows; r++) if (rng.next() < 0.6) idx[m++] = r;
      const js = new Float64Array(cols * 512);

      // Sparse feature lists, with a tail that is not a multiple of four.
      const list = [0, 2, 3, 5, 7, 8, 11, 12];
      feats.set(list);
      buildHistogram(js, bins, cols, gh, idx, 5, m - 3, feats, 1, list.length, false);
      hist.fill(0);
      k.histSparse(at.hist, at.bins, cols, at.gh, at.idx, 5, m - 3, at.feats, 1, list.length);
      expect(same(hist, js)).toBe(true);
      js.fill(0);
      buildPackedHistogram(js, bins, cols, q, idx, 0, m, feats, 0, list.length, false);
      hist.fill(0);
      k.packedSparse(at.hist, at.bins, cols, at.q, at.idx, 0, m, at.feats, 0, list.length);
      expect(same(hist, js)).toBe(true);

      for (let f = 0; f < cols; f++) feats[f] = f;
      js.fill(0);
      buildHistogram(js, bins, cols, gh, idx, 0, m, feats, 2, 11, true);
      hist.fill(0);
      k.histDense(at.hist, at.bins, cols, at.gh, at.idx, 0, m, 2, 11);
      expect(same(hist, js)).toBe(true);
      js.fill(0);
      buildPackedHistogram(js, bins, cols, q, idx, 0, m, feats, 0, cols, true);
      hist.fill(0);
      k.packedDense(at.hist, at.bins, cols, at.q, at.idx, 0, m, 0, cols);
      expect(same(hist, js)).toBe(true);

      // Subtraction of a child histogram.
      hist.fill(0);
      k.histDense(at.hist, at.bins, cols, at.gh, at.idx, 0, m, 0, cols);
      hist2.fill(0);
      k.histDense(at.hist2, at.bins, cols, at.gh, at.idx, 0, 100, 0, cols);
      const expected = hist.slice();
      const numBins = new Int32Array(cols).fill(256);
      combineHistograms(expected, hist2, -1, feats, cols, numBins, 2);
      for (let f = 0; f < cols; f++) k.subtract(at.hist + f * 4096, at.hist2 + f * 4096, 512);
      expect(same(hist, expected)).toBe(true);

      // Few-bin features summed in registers: the same as row by row.
      for (let i = 0; i < bins.length; i++) bins[i] = rng.int(0, 4);
      const col = new Uint8Array(buf, at.col, rows);
      for (const f of [0, 5]) {
        for (let r = 0; r < rows; r++) col[r] = bins[r * cols + f]!;
        js.fill(0);
        buildHistogram(js, bins, cols, gh, idx, 4, m - 9, feats, f, f + 1, true);
        hist.fill(7);
        k.histSmall4(at.hist + f * 4096, at.col, 0, at.gh, at.idx, 4, m - 9);
        expect(same(hist.subarray(f * 512, f * 512 + 8), js.subarray(f * 512, f * 512 + 8))).toBe(true);
      }
      // Two of them in one pass; feature 9 never in bin 0 (no missing values), so its
      // pass sums bins 1..3 only and leaves bin 0 to the caller.
      for (let r = 0; r < rows; r++) bins[r * cols + 9] = rng.int(1, 4);
      const col2 = new Uint8Array(buf, at.col2, rows);
      for (let r = 0; r < rows; r++) {
        col[r] = bins[r * cols + 3]!;
        col2[r] = bins[r * cols + 9]!;
      }
      js.fill(0);
      buildHistogram(js, bins, cols, gh, idx, 2, m - 1, feats, 0, cols, true);
      hist.fill(0);
      k.histPair4(at.hist + 3 * 4096, at.col, 0, at.hist + 9 * 4096 + 16, at.col2, 1, at.gh, at.idx, 2, m - 1);
      for (const f of [3, 9]) {
        expect(same(hist.subarray(f * 512, f * 512 + 8), js.subarray(f * 512, f * 512 + 8))).toBe(true);
      }
      // The same feature alone, three bins from bin 1.
      hist.fill(0);
      k.histSmall3(at.hist + 9 * 4096 + 16, at.col2, 1, at.gh, at.idx, 2, m - 1);
      expect(same(hist.subarray(9 * 512, 9 * 512 + 8), js.subarray(9 * 512, 9 * 512 + 8))).toBe(true);

      // Partitions of ranges of every length mod 4 (the kernel steps four rows at a time),
      // all rows left, none, or some; nothing outside the range or its scratch rows changes.
      const goLeft = new Uint8Array(buf, at.goLeft, 256);
      const scratch = new Uint32Array(buf, at.scratch, rows);
      writePartitionShuffles(buf, at.shuffles);
      for (let r = 0; r < rows; r++) col[r] = rng.int(0, 256);
      for (const [start, end, share] of [
        [17, m - 5, 0.4],
        [0, m, 0.5],
        [3, 3, 0.5],
        [5, 6, 1],
        [8, 15, 0],
        [20, 29, 1],
        [31, 45, 0.5],
        [100, 160, 0.1],
      ] as const) {
        for (let b = 0; b < 256; b++) goLeft[b] = rng.next() < share ? 1 : 0;
        for (let r = 0; r < m; r++) idx[r] = (r * 7919) % m;
        scratch.fill(0xdead);
        const jsIdx = idx.slice();
        const mid = partitionRows(jsIdx, start, end, col, goLeft, new Uint32Array(rows));
        expect(k.partition(at.idx, start, end, at.col, at.goLeft, at.scratch + 4 * start, at.shuffles)).toBe(mid);
        expect(Array.from(idx)).toEqual(Array.from(jsIdx));
        expect(scratch.subarray(0, start).every((v) => v === 0xdead)).toBe(true);
        expect(scratch.subarray(end).every((v) => v === 0xdead)).toBe(true);
      }
    });
  }
});

/** Trees as plain arrays, for exact comparison. */
function treesOf(m: TreeEnsemble): unknown[] {
  return m.trees.map((t) => ({
    feature: Array.from(t.feature),
    threshold: Array.from(t.threshold),
    value: Array.from(t.value),
    categories: t.categories.map((c) => (c ? Array.from(c) : null)),
  }));
}

describe("training with and without the wasm kernels", () => {
  it("gives the same model", async () => {
    const t = binaryTable(4000, 8, { noise: 6, missingRate: 0.05 });
    const c = categoricalTable(3000, 2);
    const q = regressionTable(3001, 4);
    const qw = Float64Array.from({ length: q.X.rows }, (_, i) => 0.5 + (i % 3));
    // Few-bin columns (binary, three levels, constant) next to the continuous ones.
    const w = binaryTable(3000, 9, { missingRate: 0.1 });
    for (let r = 0; r < w.X.rows; r++) {
      w.X.data[r * w.X.cols] = r % 2;
      w.X.data[r * w.X.cols + 1] = w.y[r]! > 0 && r % 3 === 0 ? 2 : r % 3 === 1 ? Number.NaN : 1;
      w.X.data[r * w.X.cols + 2] = 5;
    }
    const runs = [
      () => trainGbdt(t.X, t.y, { objective: "binary", numRounds: 8, colsampleByTree: 0.7, threads: 1 }),
      () => trainGbdt(t.X, t.y, { objective: "binary", numRounds: 8, threads: 2 }),
      () => trainGbdt(t.X, t.y, { objective: "binary", numRounds: 8, quantizedGradients: true, threads: 1 }),
      () => trainGbdt(t.X, t.y, { objective: "binary", numRounds: 8, lambda: 0, minChildWeight: 0, threads: 1 }),
      () => trainGbdt(w.X, w.y, { objective: "binary", numRounds: 8, categoricalFeatures: [1], threads: 1 }),
      () => trainGbdt(w.X, w.y, { objective: "binary", numRounds: 8, colsampleByTree: 0.5, threads: 2 }),
      () => trainGbdt(c.X, c.y, { objective: "binary", numRounds: 8, categoricalFeatures: [0], threads: 1 }),
      () => trainGbdt(q.X, q.y, { objective: "squared", numRounds: 8, sampleWeight: qw, threads: 1 }),
    ];
    const saved = { ...threadSettings };
    threadSettings.minWork = 0;
    threadSettings.minCells = 0;
    // Root histograms in two row blocks, the rest in one.
    threadSettings.blockRows = 2500;
    threadSettings.awaitWorkers = true;
    onTestFinished(() => {
      Object.assign(threadSettings, saved);
    });
    for (const run of runs) {
      kernelSettings.wasm = false;
      let plain: TreeEnsemble;
      try {
        plain = await run();
      } finally {
        kernelSettings.wasm = true;
      }
      expect(treesOf(await run())).toEqual(treesOf(plain));
    }
  });
});

/** Margins, labels, weights and gradient pairs for `n` rows (plus one) in a kernel memory. */
function gradientBuffers(n: number) {
  const a = new KernelArena();
  const at = { m: a.alloc((n + 1) * 8), y: a.alloc((n + 1) * 8), w: a.alloc((n + 1) * 8), gh: a.alloc((n + 1) * 16) };
  const mem = a.create(false)!;
  const k = instantiateKernels(mem, false);
  const margin = new Float64Array(mem.buffer, at.m, n);
  const y = new Float64Array(mem.buffer, at.y, n);
  const w = new Float64Array(mem.buffer, at.w, n);
  return { k, at, mem, margin, y, w };
}

describe("squared-error gradients", () => {
  it("are the same from the wasm kernel and in JavaScript, an odd row count included", () => {
    const rng = new Rng(12);
    const n = 1001;
    const { k, at, mem, margin, y, w } = gradientBuffers(n);
    for (let r = 0; r < n; r++) {
      margin[r] = rng.normal() * 10 ** rng.int(-3, 3);
      y[r] = rng.normal() * 5;
      w[r] = rng.next() * 2;
    }
    const js = new Float64Array(2 * n);
    squaredGradients(y, margin, w, js, n);
    k.squared(at.m, at.y, at.w, at.gh, n);
    expect(same(new Float64Array(mem.buffer, at.gh, 2 * n), js)).toBe(true);
    for (let r = 0; r < n; r++) {
      expect(js[2 * r]).toBe((margin[r]! - y[r]!) * w[r]!);
      expect(js[2 * r + 1]).toBe(w[r]);
    }
  });
});

describe("logistic gradients", () => {
  it("are the same from the wasm kernel and in JavaScript, and close to Math.exp's", () => {
    const rng = new Rng(11);
    const n = 1001;
    const { k, at, mem, margin, y, w } = gradientBuffers(n);
    for (let r = 0; r < n; r++) {
      margin[r] = r < 8 ? [0, -0, 800, -800, 708.5, -709, 1e-300, 36][r]! : rng.normal() * 10 ** rng.int(-3, 3);
      y[r] = rng.next() < 0.5 ? 1 : 0;
      w[r] = rng.next() * 2;
    }
    const js = new Float64Array(2 * n);
    logisticGradients(y, margin, w, js, n);
    k.logistic(at.m, at.y, at.w, at.gh, n);
    expect(same(new Float64Array(mem.buffer, at.gh, 2 * n), js)).toBe(true);
    for (let r = 0; r < n; r++) {
      const p = 1 / (1 + Math.exp(-margin[r]!));
      expect(js[2 * r]).toBeCloseTo((p - y[r]!) * w[r]!, 14);
      expect(js[2 * r + 1]).toBeCloseTo(Math.max(p * (1 - p), 1e-16) * w[r]!, 14);
    }
  });
});

describe("split scans", () => {
  it("find the split the JavaScript search finds, bit for bit, numeric and categorical features mixed", () => {
    const rng = new Rng(21);
    const a = new KernelArena();
    const histAt = a.alloc(3 * HIST_FEATURE_STRIDE * 8);
    const outAt = a.alloc(scanRegionBytes(3));
    const mem = a.create(false)!;
    const k = instantiateKernels(mem, false);
    const hist = new Float64Array(mem.buffer, histAt, 3 * HIST_FEATURE_STRIDE);
    const scan = {
      kernels: k,
      buffer: mem.buffer,
      out: outAt,
      gain: new Float64Array(mem.buffer, outAt, 2),
    };
    let checked = 0;
    let found = 0;
    let sorted = 0;
    let numericWins = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const nb = rng.int(1, 60);
      const numeric = () => {
        const bins = rng.int(1, 255);
        return { categorical: false, cuts: new Float64Array(bins - 1), codes: new Int32Array(0), numValueBins: bins };
      };
      const categories = { categorical: true, cuts: new Float64Array(0), codes: new Int32Array(nb), numValueBins: nb };
      const layout = { features: [numeric(), categories, numeric()] };
      const p: SplitParams = {
        lambda: [0, 1, 3.5][rng.int(0, 2)]!,
        alpha: 0,
        minChildWeight: [0, 1, 20][rng.int(0, 2)]!,
        minSplitGain: rng.next() < 0.2 ? rng.next() * 5 : 0,
        maxDeltaStep: 0,
        maxCatToOnehot: [1, 4, 8][rng.int(0, 2)]!,
        catSmooth: [0, 10][rng.int(0, 1)]!,
        catL2: [0, 10][rng.int(0, 1)]!,
        maxCatThreshold: [2, 32][rng.int(0, 1)]!,
      };
      hist.fill(0);
      // Empty bins, subtraction residue, ties in the gradient ratio, and ordinary bins; the
      // node's totals from the categorical feature, the numeric ones scaled to about match.
      const fill = (f: number, nbf: number, scale: number) => {
        let G = 0;
        let H = 0;
        const missing = rng.next() < 0.5;
        for (let b = missing ? 0 : 1; b <= nbf; b++) {
          const u = rng.next();
          const h = (u < 0.2 ? 0 : u < 0.3 ? 1e-17 : u < 0.4 ? 4 : rng.next() * 50) * scale;
          const g = u < 0.3 ? 0 : u < 0.4 ? -2 * scale : (rng.next() - 0.45) * h;
          hist[f * HIST_FEATURE_STRIDE + 2 * b] = g;
          hist[f * HIST_FEATURE_STRIDE + 2 * b + 1] = h;
          G += g;
          H += h;
        }
        return { G, H };
      };
      const { G, H } = fill(1, nb, 1);
      fill(0, layout.features[0]!.numValueBins, nb / layout.features[0]!.numValueBins);
      fill(2, layout.features[2]!.numValueBins, nb / layout.features[2]!.numValueBins);
      const features = [Int32Array.of(0, 1, 2), Int32Array.of(1), Int32Array.of(2, 1), Int32Array.of(1, 0, 2, 2)][
        rng.int(0, 3)
      ]!;
      const count = Math.min(features.length, 3);
      // A previous feature's best, which the categorical split has to beat.
      const prior = rng.next() < 0.3 ? rng.next() * 10 : Number.NEGATIVE_INFINITY;
      const run = (withScan: boolean) => {
        const finder = new SplitFinder(layout, p);
        finder.setScan(withScan ? scan : null);
        const out = new SplitInfo();
        out.gain = prior;
        finder.find(hist, G, H, features, count, out);
        return { ...out, goLeft: Array.from(out.goLeft) };
      };
      const js = run(false);
      const wasm = run(true);
      expect(wasm).toEqual(js);
      checked++;
      if (js.feature === 1) {
        found++;
        if (js.goLeft.slice(1, nb + 1).filter((x) => x === 1).length > 1) sorted++;
      } else if (js.feature >= 0) numericWins++;
    }
    // Both searches were exercised: one-vs-rest and prefixes of the sorted order.
    expect(checked).toBe(3000);
    expect(found).toBeGreaterThan(500);
    expect(sorted).toBeGreaterThan(100);
    expect(numericWins).toBeGreaterThan(500);
  });
});
