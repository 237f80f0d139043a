import { ValidationError } from "@quintet/core";
import { describe, expect, it } from "vitest";
import { Frame } from "../data/frame.js";
import { frameFromRecords } from "../data/records.js";
import { Rng } from "../datasets/rng.js";
import { rocAuc } from "../metrics/classification.js";
import { type Matrix, matrixFromRows } from "../models/ensemble/matrix.js";
import { crossValidate, learningCurve, stackRows, takeRows } from "./cross-validate.js";
import { type Fold, groupKFold, holdout, kFold, stratifiedKFold, timeSeriesSplit } from "./splits.js";

function checkPartition(folds: Fold[], n: number): void {
  const seen = new Int32Array(n);
  for (const f of folds) {
    const inTrain = new Set(f.train);
    for (const v of f.valid) {
      expect(inTrain.has(v)).toBe(false);
      seen[v]!++;
    }
    expect(f.train.length + f.valid.length).toBe(n);
  }
  expect(Array.from(seen).every((c) => c === 1)).toBe(true);
}

describe("splitters", () => {
  it("k-fold partitions the rows into near-equal folds, the same for the same seed", () => {
    const folds = kFold({ k: 4, seed: 3 }).split({ n: 10 });
    checkPartition(folds, 10);
    expect(folds.map((f) => f.valid.length)).toEqual([3, 3, 2, 2]);
    expect(kFold({ k: 4, seed: 3 }).split({ n: 10 })).toEqual(folds);
    expect(kFold({ k: 4, seed: 4 }).split({ n: 10 })).not.toEqual(folds);
    expect(Array.from(kFold({ k: 2, shuffle: false }).split({ n: 4 })[0]!.valid)).toEqual([0, 1]);
    expect(() => kFold({ k: 1 }).split({ n: 10 })).toThrow(/k must be an integer >= 2/);
    expect(() => kFold({ k: 5 }).split({ n: 3 })).toThrow(ValidationError);
  });

  it("stratified k-fold keeps the class mix in every fold", () => {
    const y = Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? 1 : 0));
    const folds = stratifiedKFold({ k: 5, seed: 1 }).split({ n: 100, y });
    checkPartition(folds, 100);
    for (const f of folds) {
      expect(f.valid.length).toBe(20);
      expect(Array.from(f.valid).filter((i) => y[i] === 1)).toHaveLength(2);
    }
    // A continuous target is stratified on its quantiles: every fold spans the range.
    const r = Array.from({ length: 50 }, (_, i) => i * 1.5);
    for (const f of stratifiedKFold({ k: 5 }).split({ n: 50, y: r })) {
      expect(Math.min(...Array.from(f.valid, (i) => r[i]!))).toBeLessThan(8);
      expect(Math.max(...Array.from(f.valid, (i) => r[i]!))).toBeGreaterThan(65);
    }
    expect(() => stratifiedKFold().split({ n: 10 })).toThrow(/needs y/);
  });

  it("group k-fold never splits a group", () => {
    const groups = Array.from({ length: 60 }, (_, i) => `g${i % 13}`);
    const folds = groupKFold({ k: 4 }).split({ n: 60, groups });
    checkPartition(folds, 60);
    for (const f of folds) {
      const validGroups = new Set(Array.from(f.valid, (i) => groups[i]));
      for (const t of f.train) expect(validGroups.has(groups[t])).toBe(false);
    }
    expect(
      Math.max(...folds.map((f) => f.valid.length)) - Math.min(...folds.map((f) => f.valid.length)),
    ).toBeLessThanOrEqual(5);
    expect(() => groupKFold({ k: 5 }).split({ n: 4, groups: ["a", "a", "b", "b"] })).toThrow(/2 groups cannot fill/);
  });

  it("time-series split validates only on rows after the training window", () => {
    const times = [5, 1, 3, 2, 4, 9, 7, 6, 8, 10, 12, 11];
    const folds = timeSeriesSplit({ splits: 3, gap: 1 }).split({ n: 12, times });
    expect(folds.map((f) => [f.train.length, f.valid.length])).toEqual([
      [2, 3],
      [5, 3],
      [8, 3],
    ]);
    for (const f of folds) {
      const lastTrain = Math.max(...Array.from(f.train, (i) => times[i]!));
      const firstValid = Math.min(...Array.from(f.valid, (i) => times[i]!));
      expect(firstValid).toBeGreaterThan(lastTrain + 1);
    }
    const sliding = timeSeriesSplit({ splits: 3, maxTrainSize: 2 }).split({ n: 12 });
    expect(sliding.map((f) => Array.from(f.train))).toEqual([
      [1, 2],
      [4, 5],
      [7, 8],
    ]);
    expect(() => timeSeriesSplit({ splits: 5 }).split({ n: 4 })).toThrow(/too few/);
  });

  it("holdout holds out the asked share, stratified on request", () => {
    const y = Array.from({ length: 200 }, (_, i) => (i < 40 ? 1 : 0));
    const [f] = holdout({ testShare: 0.25, stratify: true, seed: 2 }).split({ n: 200, y });
    checkPartition([f!, { train: f!.valid, valid: f!.train }], 200);
    expect(f!.valid.length).toBe(50);
    expect(Array.from(f!.valid).filter((i) => y[i] === 1)).toHaveLength(10);
  });
});

/** A one-feature model: the class-1 rate on each side of the training median. */
function fitStump(x: Float64Array, y: Float64Array) {
  const sorted = Float64Array.from(x).sort();
  const cut = sorted[Math.floor(sorted.length / 2)]!;
  const rate = [0, 0];
  const count = [0, 0];
  x.forEach((v, i) => {
    const side = v >= cut ? 1 : 0;
    rate[side]! += y[i]!;
    count[side]!++;
  });
  return { cut, p: rate.map((r, s) => (r + 0.5) / (count[s]! + 1)) };
}

describe("crossValidate", () => {
  const rng = new Rng(9);
  const n = 400;
  const x = Float64Array.from({ length: n }, () => rng.normal());
  const y = Float64Array.from(x, (v) => (rng.next() < 1 / (1 + Math.exp(-2 * v)) ? 1 : 0));
  const X: Matrix & { featureNames: string[] } = { ...matrixFromRows(Array.from(x, (v) => [v])), featureNames: ["x"] };

  it("scores any fit/predict pair per fold with mean ± std and out-of-fold predictions", async () => {
    const seenRows: number[] = [];
    const cv = await crossValidate({
      data: X,
      y,
      splitter: stratifiedKFold({ k: 5, seed: 1 }),
      metrics: ["auc", "logloss"],
      trainScores: true,
      fit: (train, yTrain, ctx) => {
        // The validation rows handed over for early stopping are disjoint from training.
        expect(train.rows + ctx.valid.data.rows).toBe(n);
        expect(train.featureNames).toEqual(["x"]);
        return fitStump(train.data, yTrain);
      },
      predict: (m, rows) => Float64Array.from(rows.data, (v) => m.p[v >= m.cut ? 1 : 0]!),
      onFold: (r) => seenRows.push(r.validRows),
    });
    expect(cv.folds).toHaveLength(5);
    expect(seenRows).toEqual([80, 80, 80, 80, 80]);
    const aucs = cv.folds.map((f) => f.valid.auc!);
    const mean = aucs.reduce((a, b) => a + b) / 5;
    const std = Math.sqrt(aucs.reduce((a, b) => a + (b - mean) ** 2, 0) / 4);
    expect(cv.summary.auc!.mean).toBeCloseTo(mean, 12);
    expect(cv.summary.auc!.std).toBeCloseTo(std, 12);
    expect(cv.summary.auc!.mean).toBeGreaterThan(0.65);
    expect(cv.trainSummary!.logloss!.mean).toBeLessThan(cv.summary.logloss!.mean + 0.05);
    expect(cv.oof.every((v) => v > 0 && v < 1)).toBe(true);
    // Out-of-fold predictions score like the folds do.
    expect(Math.abs(rocAuc(y, cv.oof) - mean)).toBeLessThan(0.05);
  });

  it("hands Frames to fit so pipelines are fitted inside the fold", async () => {
    const frame = frameFromRecords(Array.from(x, (v, i) => ({ x: v, id: i })));
    const cv = await crossValidate({
      data: frame,
      y,
      splitter: kFold({ k: 3, seed: 2 }),
      metrics: ["auc"],
      fit: (train: Frame, yTrain) => {
        expect(train).toBeInstanceOf(Frame);
        const col = train.column("x");
        if (col.kind !== "numeric") throw new Error("x must be numeric");
        return fitStump(col.values, yTrain);
      },
      predict: (m, rows: Frame) => {
        const col = rows.column("x");
        return Float64Array.from(col.kind === "numeric" ? col.values : [], (v) => m.p[v >= m.cut ? 1 : 0]!);
      },
    });
    expect(cv.folds.map((f) => f.validRows)).toEqual([134, 133, 133]);
  });

  it("marks rows no fold validated, and refuses wrong prediction counts", async () => {
    const cv = await crossValidate({
      data: X,
      y,
      splitter: timeSeriesSplit({ splits: 3 }),
      metrics: ["rmse"],
      fit: () => 0.5,
      predict: (c, rows) => new Float64Array(rows.rows).fill(c),
    });
    expect(Number.isNaN(cv.oof[0]!)).toBe(true);
    expect(cv.oof[n - 1]).toBe(0.5);
    await expect(
      crossValidate({ data: X, y, splitter: kFold(), metrics: ["auc"], fit: () => 0, predict: () => [0.5] }),
    ).rejects.toThrow(/predict returned 1 values for 80 rows/);
    await expect(
      crossValidate({
        data: X,
        y: y.subarray(1),
        splitter: kFold(),
        metrics: ["auc"],
        fit: () => 0,
        predict: () => [],
      }),
    ).rejects.toThrow(/y has 399 values for 400 rows/);
    await expect(
      crossValidate({ data: X, y, splitter: kFold(), metrics: ["accuracy" as "auc"], fit: () => 0, predict: () => [] }),
    ).rejects.toThrow(/unknown metric "accuracy"/);
  });
});

describe("learningCurve", () => {
  it("shows the validation error falling and the training error rising with more data", async () => {
    const rng = new Rng(4);
    const n = 600;
    const rows = Array.from({ length: n }, () => Array.from({ length: 8 }, () => rng.normal()));
    const y = Float64Array.from(rows, (r) => r.reduce((a, v, j) => a + v * (j + 1), 0) + rng.normal(0, 1));
    const X = matrixFromRows(rows);
    const points = await learningCurve({
      data: X,
      y,
      splitter: kFold({ k: 3, seed: 1 }),
      metrics: ["rmse"],
      trainSizes: [12, 0.2, 1],
      fit: (train, yTrain) => leastSquares(train, yTrain),
      predict: (w, m) =>
        Float64Array.from({ length: m.rows }, (_, i) => dot(w, m.data.subarray(i * m.cols, i * m.cols + m.cols))),
    });
    expect(points.map((p) => p.trainRows)).toEqual([12, 80, 400]);
    expect(points[0]!.valid.rmse!.mean).toBeGreaterThan(points[2]!.valid.rmse!.mean);
    expect(points[0]!.train.rmse!.mean).toBeLessThan(points[2]!.train.rmse!.mean);
    expect(points[2]!.valid.rmse!.mean).toBeLessThan(1.3);
    expect(takeRows(X, [2, 0]).data.subarray(0, 8)).toEqual(X.data.subarray(16, 24));
  });
});

function dot(w: Float64Array, x: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < w.length; j++) s += w[j]! * x[j]!;
  return s;
}

/** Ordinary least squares via the normal equations (Gaussian elimination), test-sized. */
function leastSquares(m: Matrix, y: Float64Array): Float64Array {
  const p = m.cols;
  const a = Array.from({ length: p }, () => new Float64Array(p + 1));
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < p; j++) {
      const xj = m.data[i * p + j]!;
      for (let k = 0; k < p; k++) a[j]![k]! += xj * m.data[i * p + k]!;
      a[j]![p]! += xj * y[i]!;
    }
  }
  for (let j = 0; j < p; j++) a[j]![j]! += 1e-9;
  for (let c = 0; c < p; c++) {
    for (let r = c + 1; r < p; r++) {
      const f = a[r]![c]! / a[c]![c]!;
      for (let k = c; k <= p; k++) a[r]![k]! -= f * a[c]![k]!;
    }
  }
  const w = new Float64Array(p);
  for (let r = p - 1; r >= 0; r--) {
    let s = a[r]![p]!;
    for (let k = r + 1; k < p; k++) s -= a[r]![k]! * w[k]!;
    w[r] = s / a[r]![r]!;
  }
  return w;
}

describe("stackRows", () => {
  it("puts the second table's rows after the first's and refuses a column mismatch", () => {
    const a = {
      X: matrixFromRows([
        [1, 2],
        [3, 4],
      ]),
      y: [0, 1],
    };
    const b = { X: matrixFromRows([[5, 6]]), y: [1] };
    const s = stackRows(a, b);
    expect(s.X).toMatchObject({ rows: 3, cols: 2 });
    expect(Array.from(s.X.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(s.y)).toEqual([0, 1, 1]);
    expect(() => stackRows(a, { X: matrixFromRows([[1, 2, 3]]), y: [0] })).toThrow(ValidationError);
  });
});
