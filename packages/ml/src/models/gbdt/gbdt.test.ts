import { CancelledError, type QuintetError, ValidationError } from "@quintet/core";
import { describe, expect, it, onTestFinished } from "vitest";
import { Rng } from "../../datasets/rng.js";
import { accuracy, logLoss, multiLogLoss, rocAuc } from "../../metrics/classification.js";
import { mae, poissonNegLogLik, rmse } from "../../metrics/regression.js";
import type { Matrix } from "../ensemble/matrix.js";
import { leafIndex } from "../ensemble/reference.js";
import { SplitKind, type TreeEnsemble } from "../ensemble/types.js";
import { compileEnsemble } from "../predict/compile.js";
import { threadSettings, threadStats } from "./builder.js";
import { GbdtClassifier, GbdtRegressor } from "./estimators.js";
import { featureImportance } from "./importance.js";
import type { GbdtProgress } from "./options.js";
import { binaryTable, categoricalTable, regressionTable, sliceTable } from "./test-data.js";
import { trainGbdt } from "./train.js";

const predict = (m: TreeEnsemble, X: Matrix) => compileEnsemble(m).predict(X);

/** Trees as plain arrays, for exact comparison. */
function treesOf(m: TreeEnsemble): unknown[] {
  return m.trees.map((t) => ({
    left: Array.from(t.left),
    feature: Array.from(t.feature),
    threshold: Array.from(t.threshold),
    value: Array.from(t.value),
    defaultLeft: Array.from(t.defaultLeft),
    categories: t.categories.map((c) => (c ? Array.from(c) : null)),
  }));
}

function depthOf(m: TreeEnsemble, ti: number): number {
  const t = m.trees[ti]!;
  const walk = (n: number): number => (t.left[n] === -1 ? 0 : 1 + Math.max(walk(t.left[n]!), walk(t.right[n]!)));
  return walk(0);
}

describe("trainGbdt: learning", () => {
  const all = binaryTable(6000, 1);
  const train = sliceTable(all, 0, 4000);
  const test = sliceTable(all, 4000, 6000);

  it("binary: test AUC close to the Bayes AUC of the generating function", async () => {
    const model = await trainGbdt(train.X, train.y, { objective: "binary", numRounds: 150, maxDepth: 4 });
    const p = predict(model, test.X);
    const oracle = rocAuc(test.y, test.truth);
    const auc = rocAuc(test.y, p);
    // A constant model scores 0.5; the oracle about 0.86 here. Boosting should get close.
    expect(oracle).toBeGreaterThan(0.8);
    expect(auc).toBeGreaterThan(oracle - 0.03);
    const constant = logLoss(test.y, new Float64Array(test.y.length).fill(train.y.reduce((a, b) => a + b, 0) / 4000));
    expect(logLoss(test.y, p)).toBeLessThan(logLoss(test.y, test.truth) + 0.04);
    expect(logLoss(test.y, p)).toBeLessThan(constant - 0.15);
    expect(model.link).toBe("sigmoid");
    expect(model.trees).toHaveLength(150);
    for (let t = 0; t < model.trees.length; t++) expect(depthOf(model, t)).toBeLessThanOrEqual(4);
  });

  it("squared regression: RMSE falls from the label spread to near the noise level", async () => {
    const all = regressionTable(5000, 2, 0.5);
    const tr = sliceTable(all, 0, 4000);
    const te = sliceTable(all, 4000, 5000);
    const model = await trainGbdt(tr.X, tr.y, { objective: "squared", numRounds: 300, maxDepth: 4 });
    const yhat = predict(model, te.X);
    const mean = tr.y.reduce((a, b) => a + b, 0) / tr.y.length;
    const baseline = rmse(te.y, new Float64Array(te.y.length).fill(mean));
    const err = rmse(te.y, yhat);
    expect(baseline).toBeGreaterThan(1.5);
    expect(err).toBeLessThan(0.7); // noise sd is 0.5
    expect(rmse(te.truth, yhat)).toBeLessThan(0.45);
  });

  it("absolute, huber and poisson objectives beat the constant model on their own loss", async () => {
    const all = regressionTable(3000, 3, 0.3);
    const tr = sliceTable(all, 0, 2400);
    const te = sliceTable(all, 2400, 3000);
    // Heavy outliers on 5% of training rows: the robust losses should shrug them off.
    const yOut = tr.y.slice();
    const rng = new Rng(9);
    for (let i = 0; i < yOut.length; i++) if (rng.next() < 0.05) yOut[i]! += 40;
    const sq = await trainGbdt(tr.X, yOut, { objective: "squared", numRounds: 200, maxDepth: 3 });
    for (const objective of ["absolute", "huber"] as const) {
      const m = await trainGbdt(tr.X, yOut, { objective, numRounds: 200, maxDepth: 3, learningRate: 0.2 });
      const err = mae(te.y, predict(m, te.X));
      expect(err).toBeLessThan(0.6);
      expect(err).toBeLessThan(mae(te.y, predict(sq, te.X)));
    }
    // Poisson: counts whose log-mean is the smooth function (scaled down).
    const counts = new Float64Array(all.y.length);
    const mu = new Float64Array(all.y.length);
    for (let i = 0; i < counts.length; i++) {
      mu[i] = Math.exp(all.truth[i]! / 3);
      counts[i] = rng.poisson(mu[i]!);
    }
    const pm = await trainGbdt(tr.X, counts.subarray(0, 2400), { objective: "poisson", numRounds: 200, maxDepth: 3 });
    expect(pm.link).toBe("exp");
    const pred = predict(pm, te.X);
    const meanCount = counts.subarray(0, 2400).reduce((a, b) => a + b, 0) / 2400;
    const teCounts = counts.subarray(2400);
    expect(poissonNegLogLik(teCounts, pred)).toBeLessThan(
      poissonNegLogLik(teCounts, new Float64Array(600).fill(meanCount)) - 0.15,
    );
    expect(poissonNegLogLik(teCounts, pred)).toBeLessThan(poissonNegLogLik(teCounts, mu.subarray(2400)) + 0.05);
  });

  it("multiclass softmax: one tree per class per round, probabilities sum to 1, accurate", async () => {
    const rng = new Rng(4);
    const rows = 3000;
    const data = new Float64Array(rows * 3);
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const a = rng.normal();
      const b = rng.normal();
      data[r * 3] = a;
      data[r * 3 + 1] = b;
      data[r * 3 + 2] = rng.normal();
      const cls = a > 0.5 ? 2 : b > 0 ? 1 : 0;
      y[r] = rng.next() < 0.9 ? cls : rng.int(0, 3);
    }
    const X = { data: data.subarray(0, 2400 * 3), rows: 2400, cols: 3 };
    const Xt = { data: data.subarray(2400 * 3), rows: 600, cols: 3 };
    const model = await trainGbdt(X, y.subarray(0, 2400), { objective: "multiclass", numRounds: 40, maxDepth: 3 });
    expect(model.numGroups).toBe(3);
    expect(model.trees).toHaveLength(120);
    expect(Array.from(model.treeGroup.subarray(0, 6))).toEqual([0, 1, 2, 0, 1, 2]);
    const p = predict(model, Xt);
    const cls = new Float64Array(600);
    for (let r = 0; r < 600; r++) {
      expect(p[r * 3]! + p[r * 3 + 1]! + p[r * 3 + 2]!).toBeCloseTo(1, 12);
      cls[r] = [0, 1, 2].reduce((best, k) => (p[r * 3 + k]! > p[r * 3 + best]! ? k : best), 0);
    }
    expect(accuracy(y.subarray(2400), cls)).toBeGreaterThan(0.88);
    expect(multiLogLoss(y.subarray(2400), p, 3)).toBeLessThan(0.45);
  });

  it("quantized gradients learn as well as exact ones", async () => {
    const exact = await trainGbdt(train.X, train.y, { objective: "binary", numRounds: 150, maxDepth: 4 });
    const quant = await trainGbdt(train.X, train.y, {
      objective: "binary",
      numRounds: 150,
      maxDepth: 4,
      quantizedGradients: true,
    });
    expect(treesOf(quant)).not.toEqual(treesOf(exact));
    const aucExact = rocAuc(test.y, predict(exact, test.X));
    const aucQuant = rocAuc(test.y, predict(quant, test.X));
    expect(Math.abs(aucQuant - aucExact)).toBeLessThan(0.01);
    const reg = regressionTable(3000, 8);
    const q = await trainGbdt(reg.X, reg.y, {
      objective: "squared",
      numRounds: 200,
      maxDepth: 4,
      quantizedGradients: true,
    });
    expect(rmse(reg.truth, predict(q, reg.X))).toBeLessThan(0.45);
  });

  it("lossguide growth respects numLeaves and beats a stump", async () => {
    const model = await trainGbdt(train.X, train.y, {
      objective: "binary",
      growPolicy: "lossguide",
      numLeaves: 7,
      numRounds: 60,
    });
    for (const t of model.trees) {
      const leaves = Array.from(t.left).filter((l) => l === -1).length;
      expect(leaves).toBeLessThanOrEqual(7);
    }
    expect(model.trees.some((t) => Array.from(t.left).filter((l) => l === -1).length === 7)).toBe(true);
    expect(rocAuc(test.y, predict(model, test.X))).toBeGreaterThan(0.8);
  });

  it("bin-space routing during training agrees with value-space prediction", async () => {
    // The validation metric is computed from margins routed by bins; recomputing it from
    // compileEnsemble's predictions must give the same value, or thresholds are off.
    const t = binaryTable(2000, 5, { missingRate: 0.1 });
    const cat = categoricalTable(2000, 6);
    const cols = t.X.cols + 1;
    const data = new Float64Array(2000 * cols);
    for (let r = 0; r < 2000; r++) {
      data.set(t.X.data.subarray(r * t.X.cols, (r + 1) * t.X.cols), r * cols);
      data[r * cols + t.X.cols] = cat.X.data[r * 2]!;
    }
    const X = { data, rows: 2000, cols };
    const model = await trainGbdt(X, t.y, {
      objective: "binary",
      numRounds: 30,
      categoricalFeatures: [t.X.cols],
      validation: { X, y: t.y },
      evalMetric: "logloss",
    });
    expect(
      model.trees.some((tr) => Array.from(tr.kind).some((k, i) => tr.left[i] !== -1 && k === SplitKind.Categorical)),
    ).toBe(true);
    const last = model.evalHistory.valid[model.evalHistory.valid.length - 1]!;
    expect(logLoss(t.y, predict(model, X))).toBeCloseTo(last, 12);
  });
});

describe("trainGbdt: missing values, categories, weights", () => {
  it("learns the default direction for missing values from the rows that have them", async () => {
    // y = 1 when x0 > 0.5 or x0 is missing: missing rows must go with the high side.
    const rng = new Rng(11);
    const rows = 3000;
    const data = new Float64Array(rows * 2);
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const miss = rng.next() < 0.2;
      const x0 = rng.normal();
      data[r * 2] = miss ? Number.NaN : x0;
      data[r * 2 + 1] = rng.normal();
      y[r] = miss || x0 > 0.5 ? 1 : 0;
    }
    const model = await trainGbdt({ data, rows, cols: 2 }, y, { objective: "binary", numRounds: 20, maxDepth: 2 });
    const root = model.trees[0]!;
    expect(root.feature[0]).toBe(0);
    const p = compileEnsemble(model);
    expect(p.predictRow([Number.NaN, 0])[0]).toBeGreaterThan(0.9);
    expect(p.predictRow([-1, 0])[0]).toBeLessThan(0.1);
    expect(p.predictRow([2, 0])[0]).toBeGreaterThan(0.9);
    // The split that separates missing from low values sends NaN the same way as high values.
    const nanLeaf = leafIndex(root, [Number.NaN, 0], false);
    expect(leafIndex(root, [2, 0], false)).toBe(nanLeaf);
    expect(leafIndex(root, [-1, 0], false)).not.toBe(nanLeaf);
  });

  it("native categorical splits beat ordinal codes on a categorical signal", async () => {
    const all = categoricalTable(6000, 12);
    const tr = sliceTable(all, 0, 4000);
    const te = sliceTable(all, 4000, 6000);
    const opts = { objective: "binary", numRounds: 20, maxDepth: 2, learningRate: 0.3 } as const;
    const ordinal = await trainGbdt(tr.X, tr.y, opts);
    const native = await trainGbdt(tr.X, tr.y, { ...opts, categoricalFeatures: [0] });
    const aucOrdinal = rocAuc(te.y, predict(ordinal, te.X));
    const aucNative = rocAuc(te.y, predict(native, te.X));
    const oracle = rocAuc(te.y, te.truth);
    expect(aucNative).toBeGreaterThan(aucOrdinal + 0.01);
    expect(aucNative).toBeGreaterThan(oracle - 0.01);
    // The root splits the categories into two sets in one go.
    const root = native.trees[0]!;
    expect(root.kind[0]).toBe(SplitKind.Categorical);
    expect(root.categories[0]!.length).toBeGreaterThan(1);
    // One-hot mode: every categorical split isolates exactly one category.
    const onehot = await trainGbdt(tr.X, tr.y, { ...opts, categoricalFeatures: [0], maxCatToOnehot: 255 });
    for (const t of onehot.trees) {
      for (let i = 0; i < t.left.length; i++) {
        if (t.left[i] !== -1 && t.kind[i] === SplitKind.Categorical) {
          const set = t.categories[i]!;
          // The set stored is the side missing does not take: one category, or all but one.
          expect(set.length === 1 || set.length === 23).toBe(true);
        }
      }
    }
  });

  it("sends unseen categories the same way as missing values", async () => {
    const all = categoricalTable(3000, 13);
    const model = await trainGbdt(all.X, all.y, { objective: "binary", numRounds: 5, categoricalFeatures: [0] });
    const p = compileEnsemble(model);
    expect(p.predictRow([999, 0.1])[0]).toBe(p.predictRow([Number.NaN, 0.1])[0]);
    expect(p.predictRow([-3, 0.1])[0]).toBe(p.predictRow([Number.NaN, 0.1])[0]);
  });

  it("scalePosWeight raises the predicted positive rate; zero weights make rows irrelevant", async () => {
    const t = binaryTable(3000, 14);
    const base = await trainGbdt(t.X, t.y, { objective: "binary", numRounds: 30, maxDepth: 3 });
    const scaled = await trainGbdt(t.X, t.y, { objective: "binary", numRounds: 30, maxDepth: 3, scalePosWeight: 4 });
    const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
    const pBase = mean(predict(base, t.X));
    const pScaled = mean(predict(scaled, t.X));
    expect(pScaled).toBeGreaterThan(pBase + 0.1);
    // scalePosWeight = 4 is the same as weighting every positive row by 4.
    const w = Float64Array.from(t.y, (v) => (v === 1 ? 4 : 1));
    const weighted = await trainGbdt(t.X, t.y, { objective: "binary", numRounds: 30, maxDepth: 3, sampleWeight: w });
    expect(treesOf(weighted)).toEqual(treesOf(scaled));
    // Rows with weight 0 do not influence the model: flipping their labels changes nothing.
    const w0 = Float64Array.from(t.y, (_, i) => (i % 3 === 0 ? 0 : 1));
    const flipped = Float64Array.from(t.y, (v, i) => (i % 3 === 0 ? 1 - v : v));
    const a = await trainGbdt(t.X, t.y, { objective: "binary", numRounds: 10, sampleWeight: w0 });
    const b = await trainGbdt(t.X, flipped, { objective: "binary", numRounds: 10, sampleWeight: w0 });
    expect(treesOf(a)).toEqual(treesOf(b));
    expect(treesOf(a)).not.toEqual(treesOf(await trainGbdt(t.X, flipped, { objective: "binary", numRounds: 10 })));
  });

  it("ignores a constant column and ranks informative features above noise", async () => {
    const t = binaryTable(3000, 15, { noise: 3 });
    const cols = t.X.cols + 1;
    const data = new Float64Array(t.X.rows * cols);
    for (let r = 0; r < t.X.rows; r++) {
      data.set(t.X.data.subarray(r * t.X.cols, (r + 1) * t.X.cols), r * cols);
      data[r * cols + t.X.cols] = 7;
    }
    const model = await trainGbdt({ data, rows: t.X.rows, cols }, t.y, { objective: "binary", numRounds: 50 });
    const gain = featureImportance(model, "gain", { normalize: true });
    const split = featureImportance(model, "split");
    const cover = featureImportance(model, "cover");
    expect(gain[cols - 1]).toBe(0);
    expect(split[cols - 1]).toBe(0);
    expect(gain.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // x0 (weight 1.5) beats every noise feature (6..8) on gain and cover.
    for (let j = 6; j < 9; j++) {
      expect(gain[0]).toBeGreaterThan(gain[j]!);
      expect(cover[0]).toBeGreaterThan(cover[j]!);
    }
  });
});

describe("trainGbdt: determinism, threads, early stopping, progress", () => {
  const t = binaryTable(6000, 21, { noise: 14, missingRate: 0.05 });
  const opts = {
    objective: "binary",
    numRounds: 12,
    maxDepth: 5,
    subsample: 0.7,
    colsampleByTree: 0.8,
    colsampleByNode: 0.8,
    seed: 3,
  } as const;

  it("the same seed gives identical trees; another seed does not", async () => {
    const a = await trainGbdt(t.X, t.y, { ...opts, threads: 1 });
    const b = await trainGbdt(t.X, t.y, { ...opts, threads: 1 });
    expect(treesOf(a)).toEqual(treesOf(b));
    const c = await trainGbdt(t.X, t.y, { ...opts, threads: 1, seed: 4 });
    expect(treesOf(c)).not.toEqual(treesOf(a));
  });

  it("threaded training gives exactly the serial model", async () => {
    // Small data stays serial by default: let every histogram go to the workers here.
    const saved = { ...threadSettings };
    threadSettings.minWork = 0;
    threadSettings.minCells = 0;
    threadSettings.minPartitionRows = 0;
    threadSettings.scanChunkFeatures = 3;
    threadSettings.awaitWorkers = true;
    // Nodes of 300 rows and more in two row blocks (a few hundred block tasks, so the worker
    // surely takes some), smaller nodes by features.
    threadSettings.blockRows = 300;
    onTestFinished(() => {
      Object.assign(threadSettings, saved);
    });
    const serial = await trainGbdt(t.X, t.y, { ...opts, threads: 1 });
    // First the workers alone take every shared task: they provably did some of each kind
    // (on a busy machine the calling thread could otherwise take them all).
    threadSettings.callerClaims = false;
    const before = { ...threadStats };
    const threaded = await trainGbdt(t.X, t.y, { ...opts, threads: 2 });
    expect(treesOf(threaded)).toEqual(treesOf(serial));
    expect(threadStats.workerChunks).toBeGreaterThan(before.workerChunks);
    expect(threadStats.workerScans).toBeGreaterThan(before.workerScans);
    expect(threadStats.workerBlocks).toBeGreaterThan(before.workerBlocks);
    // Without per-node column sampling, subtrees below the second level are grown as tasks.
    const whole = { ...opts, colsampleByNode: 1 } as const;
    const wholeSerial = treesOf(await trainGbdt(t.X, t.y, { ...whole, threads: 1 }));
    expect(treesOf(await trainGbdt(t.X, t.y, { ...whole, threads: 2 }))).toEqual(wholeSerial);
    expect(threadStats.workerSubtrees).toBeGreaterThan(before.workerSubtrees);
    // Then both threads take tasks, as in use: the same models.
    threadSettings.callerClaims = true;
    expect(treesOf(await trainGbdt(t.X, t.y, { ...opts, threads: 2 }))).toEqual(treesOf(serial));
    expect(treesOf(await trainGbdt(t.X, t.y, { ...whole, threads: 2 }))).toEqual(wholeSerial);
    // The next training reuses the worker (with new buffers) instead of starting one.
    const started = threadStats.workersStarted;
    const quant = { ...opts, quantizedGradients: true } as const;
    expect(treesOf(await trainGbdt(t.X, t.y, { ...quant, threads: 2 }))).toEqual(
      treesOf(await trainGbdt(t.X, t.y, { ...quant, threads: 1 })),
    );
    expect(threadStats.workersStarted).toBe(started);
    // Without waiting, new workers join mid-training (or not at all on a small table):
    // the model is the serial one whichever steps they took.
    threadSettings.awaitWorkers = false;
    expect(treesOf(await trainGbdt(t.X, t.y, { ...opts, numRounds: 40, threads: 4 }))).toEqual(
      treesOf(await trainGbdt(t.X, t.y, { ...opts, numRounds: 40, threads: 1 })),
    );
    threadSettings.awaitWorkers = true;
    const lossguide = { ...opts, growPolicy: "lossguide", numLeaves: 20 } as const;
    expect(treesOf(await trainGbdt(t.X, t.y, { ...lossguide, threads: 3 }))).toEqual(
      treesOf(await trainGbdt(t.X, t.y, { ...lossguide, threads: 1 })),
    );
  });

  it("histograms summed in two row blocks give the model of one pass, up to rounding", async () => {
    const saved = { ...threadSettings };
    onTestFinished(() => {
      Object.assign(threadSettings, saved);
    });
    threadSettings.blockRows = Number.MAX_SAFE_INTEGER;
    const whole = await trainGbdt(t.X, t.y, { ...opts, threads: 1 });
    threadSettings.blockRows = 300;
    const blocked = await trainGbdt(t.X, t.y, { ...opts, threads: 1 });
    const a = predict(whole, t.X);
    const b = predict(blocked, t.X);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    expect(worst).toBeLessThan(1e-9);
    expect(whole.trees.map((tr) => Array.from(tr.feature))).toEqual(blocked.trees.map((tr) => Array.from(tr.feature)));
  });

  it("early stopping stops, keeps the best round and reports it", async () => {
    const all = binaryTable(3000, 22, { noise: 10 });
    const tr = sliceTable(all, 0, 2000);
    const va = sliceTable(all, 2000, 3000);
    // A high learning rate and deep trees overfit within a few dozen rounds.
    const model = await trainGbdt(tr.X, tr.y, {
      objective: "binary",
      numRounds: 500,
      learningRate: 0.5,
      maxDepth: 8,
      minChildWeight: 0,
      lambda: 0,
      validation: va,
      earlyStoppingRounds: 10,
    });
    const best = model.bestIteration!;
    expect(model.evalHistory.valid.length).toBe(best + 11);
    expect(model.evalHistory.valid.length).toBeLessThan(500);
    expect(model.numRounds).toBe(best + 1);
    expect(model.trees).toHaveLength(best + 1);
    const minLoss = Math.min(...model.evalHistory.valid);
    expect(model.bestScore).toBe(minLoss);
    expect(model.evalHistory.valid[best]).toBe(minLoss);
    expect(logLoss(va.y, predict(model, va.X))).toBeCloseTo(minLoss, 12);
  });

  it("early stopping on AUC maximises it", async () => {
    const all = binaryTable(2000, 23);
    const model = await trainGbdt(sliceTable(all, 0, 1500).X, sliceTable(all, 0, 1500).y, {
      objective: "binary",
      numRounds: 300,
      learningRate: 0.5,
      maxDepth: 6,
      validation: sliceTable(all, 1500, 2000),
      evalMetric: "auc",
      earlyStoppingRounds: 5,
    });
    expect(model.bestScore).toBe(Math.max(...model.evalHistory.valid));
  });

  it("reports progress every round and can be cancelled", async () => {
    const seen: GbdtProgress[] = [];
    await trainGbdt(t.X, t.y, {
      objective: "binary",
      numRounds: 5,
      validation: { X: t.X, y: t.y },
      evalMetric: "auc",
      onIteration: (p) => {
        seen.push(p);
      },
    });
    expect(seen.map((p) => p.iteration)).toEqual([0, 1, 2, 3, 4]);
    expect(seen[4]!.metric).toBe("auc");
    expect(seen[4]!.train).toBeGreaterThan(seen[0]!.train!);
    expect(seen[4]!.valid).toBe(seen[4]!.train);
    const ac = new AbortController();
    const run = trainGbdt(t.X, t.y, {
      objective: "binary",
      numRounds: 1000,
      signal: ac.signal,
      onIteration: (p) => {
        if (p.iteration === 2) ac.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
  });
});

describe("trainGbdt: bad input", () => {
  const t = binaryTable(200, 31);
  const expectInvalid = async (p: Promise<unknown>, pattern: RegExp) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as QuintetError).message).toMatch(pattern);
    expect((err as QuintetError).hint ?? "").not.toBe("");
  };

  it("rejects bad labels", async () => {
    const nan = t.y.slice();
    nan[5] = Number.NaN;
    await expectInvalid(trainGbdt(t.X, nan, { objective: "binary" }), /y\[5\] = NaN is not a finite number/);
    const inf = t.y.slice();
    inf[7] = Number.POSITIVE_INFINITY;
    await expectInvalid(trainGbdt(t.X, inf, { objective: "squared" }), /y\[7\] = Infinity/);
    await expectInvalid(trainGbdt(t.X, new Float64Array(200), { objective: "binary" }), /only one class/);
    const two = t.y.slice();
    two[3] = 2;
    await expectInvalid(trainGbdt(t.X, two, { objective: "binary" }), /y\[3\] = 2 is not 0 or 1/);
    await expectInvalid(trainGbdt(t.X, t.y.subarray(0, 100), { objective: "binary" }), /100 labels but X has 200 rows/);
    const neg = Float64Array.from(t.y, (v) => v - 1);
    await expectInvalid(trainGbdt(t.X, neg, { objective: "poisson" }), /is negative/);
  });

  it("rejects empty or malformed data and bad weights", async () => {
    await expectInvalid(
      trainGbdt({ data: new Float64Array(0), rows: 0, cols: 3 }, [], { objective: "squared" }),
      /X has no rows/,
    );
    await expectInvalid(
      trainGbdt({ data: new Float64Array(5), rows: 2, cols: 3 }, [0, 1], { objective: "squared" }),
      /expected rows\*cols = 6/,
    );
    const inf = t.X.data.slice();
    inf[4] = Number.NEGATIVE_INFINITY;
    await expectInvalid(trainGbdt({ ...t.X, data: inf }, t.y, { objective: "binary" }), /is infinite/);
    const w = new Float64Array(200).fill(1);
    w[9] = -1;
    await expectInvalid(trainGbdt(t.X, t.y, { objective: "binary", sampleWeight: w }), /sampleWeight\[9\] = -1/);
    await expectInvalid(
      trainGbdt(t.X, t.y, { objective: "binary", sampleWeight: new Float64Array(200) }),
      /zero for every row/,
    );
    await expectInvalid(
      trainGbdt(t.X, t.y, {
        objective: "binary",
        validation: { X: { data: new Float64Array(4), rows: 2, cols: 2 }, y: [0, 1] },
      }),
      /validation.X has 2 columns/,
    );
  });

  it("rejects bad options with the option's name", async () => {
    const run = (o: Record<string, unknown>) => trainGbdt(t.X, t.y, { objective: "binary", ...o } as never);
    await expectInvalid(run({ learningRate: 0 }), /option "learningRate"/);
    await expectInvalid(run({ maxBins: 300 }), /option "maxBins"/);
    await expectInvalid(run({ numRounds: 1.5 }), /option "numRounds"/);
    await expectInvalid(run({ learnignRate: 0.1 }), /learnignRate/);
    await expectInvalid(run({ objective: "hinge" }), /option "objective"/);
    await expectInvalid(run({ evalMetric: "rmse2" }), /option "evalMetric"/);
    await expectInvalid(run({ evalMetric: "mlogloss" }), /does not apply to objective "binary"/);
    await expectInvalid(run({ earlyStoppingRounds: 5 }), /needs a validation set/);
    await expectInvalid(run({ numClasses: 3 }), /only for objective "multiclass"/);
    await expectInvalid(run({ categoricalFeatures: [40] }), /lists column 40/);
    await expectInvalid(run({ maxDepth: 0 }), /grow without limit/);
    await expectInvalid(
      trainGbdt(t.X, t.y, { objective: "squared", scalePosWeight: 2 }),
      /scalePosWeight is only for objective "binary"/,
    );
    expect(() => new GbdtClassifier({ maxDepth: -1 })).toThrow(/option "maxDepth"/);
    expect(() => new GbdtRegressor({ objective: "binary" as never })).toThrow(/not a regression objective/);
  });

  it("predicting with a different feature count is an error, not a silent guess", async () => {
    const clf = await new GbdtClassifier({ numRounds: 3 }).fit(t.X, t.y);
    expect(() => clf.predictProba({ data: new Float64Array(4), rows: 1, cols: 4 })).toThrow(/expects 10/);
    expect(() => new GbdtClassifier().predict(t.X)).toThrow(/not trained yet/);
  });
});

describe("estimators", () => {
  it("GbdtClassifier picks binary or multiclass from the labels and predicts classes", async () => {
    const t = binaryTable(1500, 41);
    const clf = await new GbdtClassifier({ numRounds: 30, maxDepth: 3 }).fit(t.X, t.y);
    expect(clf.numClasses).toBe(2);
    const p = clf.predictProba(t.X);
    expect(p).toHaveLength(1500);
    expect(Array.from(clf.predict(t.X))).toEqual(Array.from(p, (v) => (v > 0.5 ? 1 : 0)));
    const y3 = Float64Array.from(t.y, (v, i) => (v === 1 ? 1 : i % 2 === 0 ? 0 : 2));
    const multi = await new GbdtClassifier({ numRounds: 5 }).fit(t.X, y3);
    expect(multi.numClasses).toBe(3);
    expect(multi.predictProba(t.X)).toHaveLength(4500);
    expect(clf.featureImportance("split").length).toBe(10);
  });

  it("GbdtRegressor fits and predicts", async () => {
    const t = regressionTable(1500, 42);
    const reg = await new GbdtRegressor({ numRounds: 100, maxDepth: 3 }).fit(t.X, t.y);
    expect(rmse(t.y, reg.predict(t.X))).toBeLessThan(0.7);
    expect(GbdtRegressor.fromModel(reg.model).predict(t.X)).toEqual(reg.predict(t.X));
  });
});
