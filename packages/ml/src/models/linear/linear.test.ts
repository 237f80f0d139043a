import { QuintetError } from "@quintet/core";
import { describe, expect, it } from "vitest";
import { Rng } from "../../datasets/rng.js";
import type { Matrix } from "../ensemble/matrix.js";
import { fitLinear, LinearModel } from "./index.js";

/** y = 4 + X·coef + noise on features with very different scales. */
function regression(seed: number, n: number, coef: number[], noise: number) {
  const rng = new Rng(seed);
  const p = coef.length;
  const scales = [1, 1000, 0.01, 5, 50, 0.3, 2, 7];
  const data = new Float64Array(n * p);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 4;
    for (let j = 0; j < p; j++) {
      const x = rng.normal(j, 1) * scales[j % scales.length]!;
      data[i * p + j] = x;
      s += coef[j]! * x;
    }
    y[i] = s + rng.normal(0, noise);
  }
  return { X: { data, rows: n, cols: p } as Matrix, y };
}

const quiet = { onWarning: () => {} };

function catchError(fn: () => unknown): QuintetError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(QuintetError);
    return e as QuintetError;
  }
  throw new Error("expected an error");
}

describe("fitLinear", () => {
  it("recovers known coefficients by least squares", () => {
    const coef = [2, -0.003, 150, 0.5, 0, -1];
    const { X, y } = regression(1, 2000, coef, 0.01);
    const m = fitLinear(X, y, { tol: 1e-10 });
    expect(m.fitInfo.converged).toBe(true);
    m.coefficients.forEach((c, j) => {
      // Noise 0.01 over 2000 rows: standard errors are ~2e-4 / scale.
      expect(Math.abs(c - coef[j]!)).toBeLessThan(2e-3 / [1, 1000, 0.01, 5, 50, 0.3][j]!);
    });
    expect(m.intercept).toBeCloseTo(4, 1);
    const pred = m.predict(X);
    let sse = 0;
    for (let i = 0; i < y.length; i++) sse += (pred[i]! - y[i]!) ** 2;
    expect(Math.sqrt(sse / y.length)).toBeLessThan(0.011);
  });

  it("the lasso zeroes irrelevant features and keeps the relevant ones", () => {
    const coef = [1.5, 0, 0, 0.2, 0, 0, -0.8, 0];
    const { X, y } = regression(2, 500, coef, 0.5);
    const m = fitLinear(X, y, { alpha: 0.05, l1Ratio: 1 });
    const zero = [1, 2, 4, 5, 7];
    for (const j of zero) expect(m.coefficients[j]).toBe(0);
    for (const j of [0, 3, 6]) expect(Math.sign(m.coefficients[j]!)).toBe(Math.sign(coef[j]!));
    // Ridge keeps every feature.
    const ridge = fitLinear(X, y, { alpha: 0.05, l1Ratio: 0 });
    for (const j of zero) expect(ridge.coefficients[j]).not.toBe(0);
  });

  it("penalises standardised coefficients: rescaling a feature rescales its coefficient", () => {
    const { X, y } = regression(3, 300, [1, 0.001, 20], 0.3);
    const scaled = { ...X, data: X.data.map((v, k) => (k % 3 === 1 ? v * 1000 : v)) };
    const a = fitLinear(X, y, { alpha: 0.1, l1Ratio: 0.5, tol: 1e-12 });
    const b = fitLinear(scaled, y, { alpha: 0.1, l1Ratio: 0.5, tol: 1e-12 });
    expect(b.coefficients[1]! * 1000).toBeCloseTo(a.coefficients[1]!, 10);
    expect(b.coefficients[0]).toBeCloseTo(a.coefficients[0]!, 10);
    expect(b.intercept).toBeCloseTo(a.intercept, 8);
    // Without standardisation the penalty falls on raw coefficients, so the fits differ.
    // Feature 2 (scale 0.01, coefficient 20) costs far more raw than standardised.
    const raw = fitLinear(X, y, { alpha: 0.1, l1Ratio: 0.5, standardize: false });
    expect(a.coefficients[2]).toBeGreaterThan(10);
    expect(Math.abs(raw.coefficients[2]!)).toBeLessThan(1);
  });

  it("weights a row like repeating it", () => {
    const { X, y } = regression(4, 60, [1, 0.002, -30], 0.5);
    const w = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 3 : 1));
    const rows: number[][] = [];
    const ys: number[] = [];
    for (let i = 0; i < 60; i++) {
      for (let r = 0; r < w[i]!; r++) {
        rows.push(Array.from(X.data.subarray(i * 3, i * 3 + 3)));
        ys.push(y[i]!);
      }
    }
    const o = { alpha: 0.05, l1Ratio: 0.7, tol: 1e-12 };
    const weighted = fitLinear(X, y, { ...o, sampleWeight: w });
    const repeated = fitLinear(rows, ys, o);
    for (const [j, c] of weighted.coefficients.entries()) expect(c).toBeCloseTo(repeated.coefficients[j]!, 9);
    expect(weighted.intercept).toBeCloseTo(repeated.intercept, 8);
    // Zero weights drop rows.
    const dropped = fitLinear(X, y, { ...o, sampleWeight: w.map((v, i) => (i < 10 ? 0 : v)) });
    const kept = fitLinear({ data: X.data.subarray(30), rows: 50, cols: 3 }, y.subarray(10), {
      ...o,
      sampleWeight: w.slice(10),
    });
    for (const [j, c] of dropped.coefficients.entries()) expect(c).toBeCloseTo(kept.coefficients[j]!, 9);
  });

  it("rejects missing values naming the column, or imputes the training mean when asked", () => {
    const rows = [
      [1, 2, 3],
      [2, null, 1],
      [3, 5, 2],
      [4, 7, 0],
    ];
    const y = [1, 2, 3, 4];
    const e = catchError(() => fitLinear(rows, y, { featureNames: ["a", "b", "c"] }));
    expect(e.code).toBe("VALIDATION_FAILED");
    expect(e.message).toBe('feature "b" (column 1) has a missing value at row 1');
    expect(e.hint).toContain('missing: "mean"');
    expect(catchError(() => fitLinear(rows, y)).message).toBe("column 1 has a missing value at row 1");

    const m = fitLinear(rows, y, { missing: "mean", featureNames: ["a", "b", "c"], ...quiet });
    expect(Array.from(m.imputeValues!)).toEqual([2.5, 14 / 3, 1.5]);
    // At predict time a missing value takes the same mean.
    const withNull = m.predict([[2, null, 1]])[0]!;
    expect(withNull).toBeCloseTo(m.predict([[2, 14 / 3, 1]])[0]!, 12);
    const strict = fitLinear(rows.slice(2).concat([[0, 0, 1]]), [3, 4, 0], quiet);
    expect(() => strict.predict([[1, Number.NaN, 2]])).toThrow(/column 1 is missing at row 0/);
  });

  it("rejects bad input with errors that say what is wrong", () => {
    const X = [
      [1, 2],
      [2, 1],
      [3, 3],
    ];
    expect(catchError(() => fitLinear([], [])).message).toBe("X has no rows");
    expect(catchError(() => fitLinear(X, [1, 2])).message).toBe("y has 2 values but X has 3 rows");
    expect(catchError(() => fitLinear(X, [1, Number.NaN, 2])).message).toBe("y[1] is NaN, expected a finite number");
    expect(catchError(() => fitLinear(X, [1, Number.POSITIVE_INFINITY, 2])).message).toMatch(/y\[1\] is Infinity/);
    expect(catchError(() => fitLinear([[1, Number.POSITIVE_INFINITY], ...X], [0, 1, 2, 3])).message).toBe(
      "column 1 has an infinite value (Infinity) at row 0",
    );
    expect(catchError(() => fitLinear(X, [1, 2, 3], { alpha: -1 })).message).toMatch(/invalid fitLinear option alpha/);
    expect(catchError(() => fitLinear(X, [1, 2, 3], { l1Ratio: 2 })).message).toMatch(/option l1Ratio/);
    expect(catchError(() => fitLinear(X, [1, 2, 3], { maxIter: 0.5 })).message).toMatch(/option maxIter/);
    expect(catchError(() => fitLinear(X, [1, 2, 3], { typo: 1 } as never)).message).toMatch(/typo/);
    expect(catchError(() => fitLinear(X, [1, 2, 3], { sampleWeight: [1, -1, 1] })).message).toBe(
      "sampleWeight[1] is -1, expected a finite number >= 0",
    );
    expect(catchError(() => fitLinear(X, [1, 2, 3], { sampleWeight: [0, 0, 0] })).message).toBe(
      "sampleWeight sums to 0",
    );
    expect(catchError(() => fitLinear(X, [1, 2, 3], { featureNames: ["a"] })).message).toMatch(/featureNames has 1/);
    const m = fitLinear(X, [1, 2, 3]);
    expect(catchError(() => m.predict([[1, 2, 3]])).message).toBe(
      "X has 3 columns but the model was fitted on 2 features",
    );
    expect(catchError(() => m.predictRow([1])).message).toMatch(/row has 1 values/);
    expect(catchError(() => m.predict([[1, Number.NEGATIVE_INFINITY]])).message).toBe("column 1 is -Infinity at row 0");
  });

  it("gives a constant column coefficient 0 and says so", () => {
    const warnings: string[] = [];
    const m = fitLinear(
      [
        [1, 7],
        [2, 7],
        [3, 7],
        [5, 7],
      ],
      [2, 4, 6, 10],
      { onWarning: (w) => warnings.push(w), featureNames: ["x", "k"] },
    );
    expect(m.coefficients[1]).toBe(0);
    expect(m.coefficients[0]).toBeCloseTo(2, 8);
    expect(m.intercept).toBeCloseTo(0, 8);
    expect(warnings).toEqual([expect.stringContaining('feature "k" (column 1)')]);
    expect(m.fitInfo.warnings).toEqual(warnings);
  });

  it("flags a fit that did not converge", () => {
    const { X, y } = regression(5, 200, [1, 0.01, 3, -2], 0.1);
    const warnings: string[] = [];
    const m = fitLinear(X, y, { maxIter: 1, tol: 1e-12, onWarning: (w) => warnings.push(w) });
    expect(m.fitInfo.converged).toBe(false);
    expect(m.fitInfo.iterations).toBe(1);
    expect(warnings[0]).toMatch(/did not converge in 1 passes/);
  });

  it("emits a process warning when no handler is given", async () => {
    const { X, y } = regression(6, 50, [1, 0.01], 0.1);
    const seen = new Promise<Error>((resolve) => process.once("warning", resolve));
    fitLinear(X, y, { maxIter: 1, tol: 1e-12 });
    const w = await seen;
    expect(w.name).toBe("QuintetWarning");
    expect(w.message).toMatch(/did not converge/);
  });

  it("round-trips through JSON exactly and rejects corrupt models", () => {
    const { X, y } = regression(7, 100, [1, 0.01, 3], 0.1);
    const m = fitLinear(X, y, { alpha: 0.01, missing: "mean", featureNames: ["a", "b", "c"], ...quiet });
    const text = JSON.stringify(m);
    const back = LinearModel.fromJSON(text);
    expect(Array.from(back.predict(X))).toEqual(Array.from(m.predict(X)));
    expect(back.toJSON()).toEqual(m.toJSON());
    expect(back.featureNames).toEqual(["a", "b", "c"]);
    expect(back.predictRow([1, null, 2])).toBe(m.predictRow([1, null, 2]));

    const json = m.toJSON();
    expect(catchError(() => LinearModel.fromJSON("{not json")).code).toBe("ARTIFACT_CORRUPT");
    expect(catchError(() => LinearModel.fromJSON({ ...json, coefficients: [1, 2] })).message).toBe(
      "corrupt linear model: coefficients has 2 values, expected 3",
    );
    expect(catchError(() => LinearModel.fromJSON({ ...json, intercept: "x" })).message).toMatch(/intercept/);
    expect(catchError(() => LinearModel.fromJSON({ ...json, version: 9 })).code).toBe("UNSUPPORTED");
    expect(catchError(() => LinearModel.fromJSON({ ...json, format: "xgboost" })).code).toBe("ARTIFACT_CORRUPT");
    expect(catchError(() => LinearModel.fromJSON({ ...json, kind: "logistic" })).message).toMatch(
      /expected a linear model/,
    );
    const { imputeValues: _, ...noImpute } = json;
    expect(catchError(() => LinearModel.fromJSON(noImpute)).message).toMatch(/imputeValues is absent/);
  });
});
