import { describe, expect, it } from "vitest";
import { Rng } from "../../datasets/rng.js";
import { binMatrix, CutIndex, fitBinLayout, MISSING_BIN, numericBin, sortFloat32 } from "./binning.js";
import { binningSettings } from "./binning-wasm.js";
import { kernelsAvailable } from "./kernels.js";

function column(values: number[]) {
  return { data: Float64Array.from(values), rows: values.length, cols: 1 };
}

describe("binning", () => {
  it("puts NaN in the missing bin and gives few distinct values a bin each", () => {
    const X = column([3, 1, Number.NaN, 2, 2, 3, 1]);
    const layout = fitBinLayout(X, { maxBins: 255 });
    const f = layout.features[0]!;
    expect(f.numValueBins).toBe(3);
    expect(Array.from(f.cuts)).toEqual([1.5, 2.5]);
    expect(Array.from(binMatrix(X, layout).bins)).toEqual([3, 1, MISSING_BIN, 2, 2, 3, 1]);
  });

  it("caps bins at maxBins with roughly equal counts, and bin <= b is fround(x) < cut[b-1]", () => {
    const rng = new Rng(1);
    const values = Array.from({ length: 20_000 }, () => rng.normal() * 1000);
    const X = column(values);
    const layout = fitBinLayout(X, { maxBins: 64 });
    const f = layout.features[0]!;
    expect(f.numValueBins).toBeLessThanOrEqual(64);
    expect(f.numValueBins).toBeGreaterThan(55);
    const bins = binMatrix(X, layout).bins;
    const counts = new Array<number>(f.numValueBins + 1).fill(0);
    for (const b of bins) counts[b]!++;
    expect(counts[MISSING_BIN]).toBe(0);
    expect(Math.max(...counts.slice(1))).toBeLessThan((2.5 * 20_000) / 64);
    for (let i = 0; i < values.length; i++) {
      const b = bins[i]!;
      const x = Math.fround(values[i]!);
      if (b > 1) expect(x >= f.cuts[b - 2]!).toBe(true);
      if (b <= f.cuts.length) expect(x < f.cuts[b - 1]!).toBe(true);
    }
    for (const c of f.cuts) expect(Math.fround(c)).toBe(c);
  });

  it("keeps a heavy value in a bin of its own", () => {
    const values = [...new Array(5000).fill(0), ...Array.from({ length: 5000 }, (_, i) => i + 1)];
    const layout = fitBinLayout(column(values), { maxBins: 16 });
    const bins = binMatrix(column(values), layout).bins;
    expect(new Set(Array.from(bins.subarray(0, 5000))).size).toBe(1);
    expect(bins[5000]).not.toBe(bins[0]);
  });

  it("bins categories by code; negative, unseen and rare codes share the missing bin", () => {
    const X = column([5, 2, 2, 9, -1, 2.7, Number.NaN, 5, 5]);
    const layout = fitBinLayout(X, { maxBins: 2, categoricalFeatures: [0] });
    const f = layout.features[0]!;
    // The two most frequent codes (2: 3 times counting 2.7, 5: 3 times) get bins; 9 does not.
    expect(Array.from(f.codes)).toEqual([2, 5]);
    const bins = Array.from(binMatrix(X, layout).bins);
    expect(bins).toEqual([2, 1, 1, MISSING_BIN, MISSING_BIN, 1, MISSING_BIN, 2, 2]);
    expect(Array.from(binMatrix(column([3, 5]), layout).bins)).toEqual([MISSING_BIN, 2]);
  });

  it("fits cuts from a seeded sample when rows exceed sampleRows", () => {
    const rng = new Rng(2);
    const X = column(Array.from({ length: 5000 }, () => rng.next()));
    const a = fitBinLayout(X, { maxBins: 32, sampleRows: 1000, seed: 1 });
    const b = fitBinLayout(X, { maxBins: 32, sampleRows: 1000, seed: 1 });
    const c = fitBinLayout(X, { maxBins: 32, sampleRows: 1000, seed: 2 });
    expect(Array.from(a.features[0]!.cuts)).toEqual(Array.from(b.features[0]!.cuts));
    expect(Array.from(a.features[0]!.cuts)).not.toEqual(Array.from(c.features[0]!.cuts));
  });

  it("sorts float32 columns exactly as the built-in sort (radix sort)", () => {
    const rng = new Rng(3);
    const gens = [
      () => rng.normal() * 100,
      () => Math.round(rng.normal() * 4) / 2,
      () => (rng.next() < 0.5 ? -0 : 0),
      () => Math.exp(rng.normal() * 30) * (rng.next() < 0.3 ? -1 : 1),
      () => 7,
    ];
    for (const gen of gens) {
      const a = Float32Array.from({ length: 5000 }, gen).subarray(3, 4990);
      const b = a.slice();
      sortFloat32(a);
      b.sort();
      expect(a.every((v, i) => Object.is(v, b[i]))).toBe(true);
    }
  });

  it("finds bins through the cut index exactly as by binary search", () => {
    const rng = new Rng(4);
    const cases = [
      Float64Array.from({ length: 254 }, () => Math.fround(rng.normal())).sort(),
      // Clustered cuts next to a far outlier, negative and positive, with a cut at 0.
      Float64Array.from([-1e30, -5, -1e-3, 0, 1e-30, 1.7e9, 1.7e9 + 128, 1.7e9 + 256, 1.7e9 + 384].map(Math.fround)),
      Float64Array.from([Math.fround(2.5)]),
      new Float64Array(0),
    ];
    for (const cuts of cases) {
      const index = new CutIndex(cuts);
      const probes = [...cuts, ...Array.from(cuts, (c) => c * (1 + 1e-7)), -0, 0, 1e38, -1e38, 1.7e9 + 200];
      for (let i = 0; i < 2000; i++) probes.push(rng.normal() * 10 ** rng.int(-3, 12));
      for (const v of probes) expect(index.bin(v)).toBe(numericBin(cuts, v));
    }
  });

  it("bins through the wasm kernels exactly as through JavaScript", () => {
    // Runs with the kernels (the default here, see kernel-bytes.test.ts) and without.
    expect(kernelsAvailable(false)).toBe(true);
    const rng = new Rng(9);
    const rows = 3000;
    const make = (f: number, r: number): number => {
      const u = rng.next();
      switch (f) {
        case 0: // continuous, more distinct values than bins, some NaN
          return u < 0.05 ? Number.NaN : rng.normal() * 10 ** rng.int(-3, 6);
        case 1: // few values with signed zeros, infinities and float32 overflow
          return [-0, 0, 1, -1, 2.5, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e39, -1e39, Number.NaN][
            rng.int(0, 9)
          ]!;
        case 2: // integers in a narrow range, with values equal after float32 rounding
          return r % 7 === 0 ? 16777217 : rng.int(0, 40);
        case 3: // categorical: fractional, negative and missing codes, 300 codes (some rare)
          return u < 0.03 ? Number.NaN : u < 0.06 ? -2 : rng.int(0, 299) + (u < 0.2 ? 0.5 : 0);
        case 4: // categorical with large codes (still in a lookup array)
          return [7, 60_000, 65_535, 3][rng.int(0, 3)]!;
        default: // constant
          return 4;
      }
    };
    const cols = 6;
    const X = { data: new Float64Array(rows * cols), rows, cols };
    for (let r = 0; r < rows; r++) for (let f = 0; f < cols; f++) X.data[r * cols + f] = make(f, r);
    const run = (kernels: boolean, sampleRows: number, maxBins: number) => {
      binningSettings.kernels = kernels;
      try {
        const layout = fitBinLayout(X, { maxBins, categoricalFeatures: [3, 4], sampleRows, seed: 3 });
        const data = binMatrix(X, layout, false, true);
        return {
          features: layout.features.map((fb) => ({ ...fb, cuts: Array.from(fb.cuts), codes: Array.from(fb.codes) })),
          bins: Array.from(data.bins),
          colBins: Array.from(data.colBins!),
        };
      } finally {
        binningSettings.kernels = true;
      }
    };
    for (const [sampleRows, maxBins] of [
      [rows, 255],
      [1000, 255],
      [rows, 16],
    ] as const) {
      const viaKernels = run(true, sampleRows, maxBins);
      const viaJs = run(false, sampleRows, maxBins);
      expect(viaKernels.features).toEqual(viaJs.features);
      expect(viaKernels.bins).toEqual(viaJs.bins);
      expect(viaKernels.colBins).toEqual(viaJs.colBins);
      // The cases above are all there: missing values, many bins, rare categories.
      expect(viaKernels.features[0]!.numValueBins).toBe(maxBins);
      expect(viaKernels.bins.filter((b) => b === MISSING_BIN).length).toBeGreaterThan(rows / 10);
    }
  });
});
