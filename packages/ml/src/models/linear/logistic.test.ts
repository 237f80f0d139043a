import { QuintetError } from "@quintet/core";
import { describe, expect, it } from "vitest";
import { Rng } from "../../datasets/rng.js";
import { logLoss, rocAuc } from "../../metrics/index.js";
import type { Matrix } from "../ensemble/matrix.js";
import { fitLogistic, LogisticModel } from "./index.js";

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Binary labels drawn from a known logistic model over features of mixed scale. */
function binary(seed: number, n: number, coef: number[], intercept: number) {
  const rng = new Rng(seed);
  const p = coef.length;
  const scales = [1, 100, 0.1, 3, 10, 0.5];
  const data = new Float64Array(n * p);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = intercept;
    for (let j = 0; j < p; j++) {
      const x = rng.normal(0, scales[j % scales.length]!);
      data[i * p + j] = x;
      s += coef[j]! * x;
    }
    y[i] = rng.bernoulli(sigmoid(s)) ? 1 : 0;
  }
  return { X: { data, rows: n, cols: p } as Matrix, y };
}

/** Labels 10/20/30 from a known softmax model (class 10's margin fixed at 0). */
function multiclass(seed: number, n: number, W: number[][]) {
  const rng = new Rng(seed);
  const p = W[0]!.length;
  const data = new Float64Array(n * p);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < p; j++) data[i * p + j] = rng.normal();
    const m = [0, ...W.map((w) => w.reduce((s, c, j) => s + c * data[i * p + j]!, 0))];
    const e = m.map(Math.exp);
    y[i] = rng.choice([10, 20, 30], e);
  }
  return { X: { data, rows: n, cols: p } as Matrix, y };
}

function catchError(fn: () => unknown): QuintetError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(QuintetError);
    return e as QuintetError;
  }
  throw new Error("expected an error");
}

describe("fitLogistic, binary", () => {
  it("recovers known coefficients on generated data", () => {
    const coef = [1, -0.02, 5, 0, 0.15];
    const { X, y } = binary(11, 20_000, coef, -0.5);
    const m = fitLogistic(X, y, { alpha: 1e-6 });
    expect(m.fitInfo.converged).toBe(true);
    expect(m.coefficients).toHaveLength(1);
    // Standard errors at n = 20k are ~0.02 in standardised units.
    m.coefficients[0]!.forEach((c, j) => {
      const sd = [1, 100, 0.1, 3, 10][j]!;
      expect(Math.abs(c - coef[j]!) * sd).toBeLessThan(0.07);
    });
    expect(m.intercept[0]).toBeCloseTo(-0.5, 1);
    expect(Array.from(m.classes)).toEqual([0, 1]);
    const p = m.predictPositiveProba(X);
    expect(rocAuc(y, p)).toBeGreaterThan(0.8);
    // The fitted model is at least as good as the true one on its own training data.
    const truth = Array.from({ length: y.length }, (_, i) =>
      sigmoid(-0.5 + coef.reduce((s, c, j) => s + c * X.data[i * 5 + j]!, 0)),
    );
    expect(logLoss(y, p)).toBeLessThanOrEqual(logLoss(y, truth));
  });

  it("the L1 penalty zeroes irrelevant features", () => {
    const coef = [1, 0, 3, 0, 0, 0.8];
    const { X, y } = binary(12, 3000, coef, 0.3);
    // Noise features' gradients are ~0.01 (sd) at n = 3000; alpha 0.03 is three of those.
    const m = fitLogistic(X, y, { alpha: 0.03, l1Ratio: 1 });
    const c = m.coefficients[0]!;
    for (const j of [1, 3, 4]) expect(c[j]).toBe(0);
    for (const j of [0, 2, 5]) expect(c[j]).toBeGreaterThan(0);
    const ridge = fitLogistic(X, y, { alpha: 0.01, l1Ratio: 0 });
    for (const j of [1, 3, 4]) expect(ridge.coefficients[0]![j]).not.toBe(0);
  });

  it("predicts labels and probabilities consistently for arbitrary class labels", () => {
    const { X, y } = binary(13, 500, [1, 0.01], 0);
    const labels = y.map((v) => (v === 1 ? 7 : -3));
    const m = fitLogistic(X, labels);
    expect(Array.from(m.classes)).toEqual([-3, 7]);
    const proba = m.predictProba(X);
    const pos = m.predictPositiveProba(X);
    const pred = m.predict(X);
    const margin = m.decisionFunction(X);
    for (let i = 0; i < 500; i++) {
      expect(proba[2 * i]! + proba[2 * i + 1]!).toBeCloseTo(1, 15);
      expect(proba[2 * i + 1]).toBe(pos[i]);
      expect(pred[i]).toBe(margin[i]! > 0 ? 7 : -3);
    }
    const row = Array.from(X.data.subarray(0, 2));
    expect(Array.from(m.predictProbaRow(row))).toEqual([proba[0], proba[1]]);
  });

  it("weights a row like repeating it", () => {
    const { X, y } = binary(14, 80, [1, 0.02, 2], 0.2);
    const w = Array.from({ length: 80 }, (_, i) => 1 + (i % 4));
    const rows: number[][] = [];
    const ys: number[] = [];
    for (let i = 0; i < 80; i++) {
      for (let r = 0; r < w[i]!; r++) {
        rows.push(Array.from(X.data.subarray(i * 3, i * 3 + 3)));
        ys.push(y[i]!);
      }
    }
    const o = { alpha: 0.01, l1Ratio: 0.5, tol: 1e-10 };
    const a = fitLogistic(X, y, { ...o, sampleWeight: w });
    const b = fitLogistic(rows, ys, o);
    for (const [j, c] of a.coefficients[0]!.entries()) expect(c).toBeCloseTo(b.coefficients[0]![j]!, 8);
    expect(a.intercept[0]).toBeCloseTo(b.intercept[0]!, 8);
  });

  it("flags perfectly separated classes without a penalty", () => {
    const rows = [[-3], [-2], [-1], [1], [2], [3]];
    const warnings: string[] = [];
    const m = fitLogistic(rows, [0, 0, 0, 1, 1, 1], { alpha: 0, maxIter: 25, onWarning: (w) => warnings.push(w) });
    expect(m.fitInfo.converged).toBe(false);
    expect(warnings[0]).toMatch(/perfectly separate/);
    expect(m.coefficients[0]![0]).toBeGreaterThan(3);
    // Any penalty makes the problem well posed.
    expect(fitLogistic(rows, [0, 0, 0, 1, 1, 1], { alpha: 0.01 }).fitInfo.converged).toBe(true);
  });
});

describe("fitLogistic, multinomial", () => {
  const W = [
    [1.5, -1, 0, 0.5],
    [-0.5, 1, 0, 1.2],
  ];

  it("recovers the softmax model; probabilities sum to 1", () => {
    const { X, y } = multiclass(21, 10_000, W);
    const m = fitLogistic(X, y, { alpha: 1e-6 });
    expect(m.fitInfo.converged).toBe(true);
    expect(m.multinomial).toBe(true);
    expect(Array.from(m.classes)).toEqual([10, 20, 30]);
    expect(m.coefficients).toHaveLength(3);
    // Identified up to a common shift per feature: compare differences to class 10.
    for (let k = 1; k < 3; k++) {
      for (let j = 0; j < 4; j++) {
        const d = m.coefficients[k]![j]! - m.coefficients[0]![j]!;
        expect(Math.abs(d - W[k - 1]![j]!)).toBeLessThan(0.1);
      }
    }
    const proba = m.predictProba(X);
    const pred = m.predict(X);
    let correct = 0;
    for (let i = 0; i < X.rows; i++) {
      const row = proba.subarray(3 * i, 3 * i + 3);
      expect(row[0]! + row[1]! + row[2]!).toBeCloseTo(1, 14);
      const best = row.indexOf(Math.max(...row));
      expect(pred[i]).toBe(m.classes[best]);
      if (pred[i] === y[i]) correct++;
    }
    expect(correct / X.rows).toBeGreaterThan(0.6);
    expect(() => m.predictPositiveProba(X)).toThrow(/needs a binary model/);
  });

  it("the L1 penalty zeroes a feature no class uses", () => {
    const { X, y } = multiclass(22, 3000, W);
    const m = fitLogistic(X, y, { alpha: 0.01, l1Ratio: 1 });
    for (let k = 0; k < 3; k++) expect(m.coefficients[k]![2]).toBe(0);
    for (const j of [0, 1, 3]) expect(m.coefficients.some((c) => c[j] !== 0)).toBe(true);
  });

  it("round-trips through JSON exactly and rejects corrupt models", () => {
    const { X, y } = multiclass(23, 300, W);
    const m = fitLogistic(X, y, { alpha: 0.01, featureNames: ["a", "b", "c", "d"] });
    const back = LogisticModel.fromJSON(JSON.stringify(m));
    expect(Array.from(back.predictProba(X))).toEqual(Array.from(m.predictProba(X)));
    expect(back.toJSON()).toEqual(m.toJSON());
    const json = m.toJSON();
    expect(catchError(() => LogisticModel.fromJSON({ ...json, intercept: [0, 0] })).message).toBe(
      "corrupt logistic model: intercept has 2 values, expected 3",
    );
    expect(catchError(() => LogisticModel.fromJSON({ ...json, classes: [1, 1, 2] })).message).toMatch(/ascending/);
    expect(
      catchError(() => LogisticModel.fromJSON({ ...json, coefficients: [[1, 2, 3, 4], [1, 2, 3, 4], [1]] })).message,
    ).toBe("corrupt logistic model: coefficients[2] has 1 values, expected 4");
    expect(catchError(() => LogisticModel.fromJSON({ ...json, kind: "linear" })).hint).toMatch(/LinearModel/);
  });
});

describe("fitLogistic, bad input", () => {
  const X = [
    [1, 2],
    [2, 1],
    [3, 3],
    [4, 1],
  ];

  it("says what is wrong with the labels", () => {
    expect(catchError(() => fitLogistic(X, [1, 1, 1, 1])).message).toBe(
      "y has a single class (1); logistic regression needs at least two",
    );
    expect(catchError(() => fitLogistic(X, [0, 1, Number.NaN, 1])).message).toBe(
      "y[2] is NaN, expected a finite number",
    );
    expect(catchError(() => fitLogistic(X, [0, 1, 2, 1], { sampleWeight: [1, 1, 0, 1] })).message).toBe(
      "class 2 only occurs in rows with zero weight",
    );
    const many = Array.from({ length: 1500 }, (_, i) => [i % 7, i % 11]);
    const e = catchError(() =>
      fitLogistic(
        many,
        many.map((_, i) => i),
      ),
    );
    expect(e.hint).toMatch(/fitLinear/);
  });

  it("rejects missing values and wrong shapes at fit and predict time", () => {
    expect(catchError(() => fitLogistic([[1, Number.NaN], ...X.slice(1)], [0, 1, 0, 1])).message).toBe(
      "column 1 has a missing value at row 0",
    );
    const m = fitLogistic(X, [0, 1, 0, 1]);
    expect(catchError(() => m.predictProba([[1]])).message).toMatch(/fitted on 2 features/);
    expect(catchError(() => m.predictProbaRow([1, Number.NaN])).message).toMatch(/column 1 is missing/);
    expect(catchError(() => m.predictProbaRow([1, 2], new Float64Array(3))).message).toMatch(/out has length 3/);
    expect(catchError(() => fitLogistic(X, [0, 1, 0, 1], { alpha: Number.NaN })).message).toMatch(/option alpha/);
  });
});
