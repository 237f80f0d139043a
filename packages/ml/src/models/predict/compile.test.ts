import { QuintetError } from "@quintet/core";
import { describe, expect, it } from "vitest";
import { Rng } from "../../datasets/rng.js";
import {
  allocTree,
  applyLink,
  type Link,
  type Matrix,
  MissingKind,
  referenceMargin,
  SplitKind,
  type Tree,
  type TreeEnsemble,
} from "../ensemble/index.js";
import { compileEnsemble } from "./compile.js";

interface Opts {
  trees: number;
  depth: number;
  features: number;
  groups: number;
  float32: boolean;
  categorical: boolean;
  missingKinds: number[];
  kinds: number[];
  link: Link;
  average?: boolean;
}

/** A random full-ish tree whose nodes are numbered in depth-first order (not the compiled layout). */
function randomTree(rng: Rng, o: Opts): Tree {
  const nodes: {
    f: number;
    t: number;
    kind: number;
    miss: number;
    dl: number;
    cats: Int32Array | null;
    cl: number;
    v: number;
    l: number;
    r: number;
  }[] = [];
  const build = (d: number): number => {
    const id = nodes.length;
    nodes.push({ f: 0, t: 0, kind: 0, miss: 0, dl: 0, cats: null, cl: 0, v: rng.normal(), l: -1, r: -1 });
    if (d < o.depth && (d < 2 || rng.next() < 0.8)) {
      const n = nodes[id]!;
      n.f = rng.int(0, o.features);
      const catFeature = o.categorical && n.f < 2;
      if (catFeature) {
        n.kind = SplitKind.Categorical;
        // Codes across several 32-bit words of the compiled bitset, 31/32 and 63/64 on word edges.
        const set = [0, 1, 2, 3, 4, 5, 31, 32, 63, 64, 100].filter(() => rng.next() < 0.4);
        n.cats = Int32Array.from(set);
        n.cl = rng.int(0, 2);
      } else {
        n.kind = o.kinds[rng.int(0, o.kinds.length)]!;
        // Thresholds on a coarse grid so rows hit them exactly and test <= vs <.
        n.t = rng.int(-6, 7) / 4 + (rng.next() < 0.2 ? 1e-9 : 0);
      }
      n.miss = o.missingKinds[rng.int(0, o.missingKinds.length)]!;
      n.dl = rng.int(0, 2);
      n.l = build(d + 1);
      n.r = build(d + 1);
    }
    return id;
  };
  build(0);
  const t = allocTree(nodes.length);
  nodes.forEach((n, i) => {
    t.left[i] = n.l;
    t.right[i] = n.r;
    t.feature[i] = n.f;
    t.threshold[i] = n.t;
    t.kind[i] = n.kind;
    t.missing[i] = n.miss;
    t.defaultLeft[i] = n.dl;
    t.value[i] = n.v;
    t.categories[i] = n.cats;
    t.categoryLeft[i] = n.cl;
  });
  return t;
}

function randomEnsemble(seed: number, o: Opts): TreeEnsemble {
  const rng = new Rng(seed);
  const trees = Array.from({ length: o.trees }, () => randomTree(rng, o));
  return {
    numFeatures: o.features,
    numGroups: o.groups,
    treeGroup: Int32Array.from(trees.map((_, i) => i % o.groups)),
    baseMargin: Array.from({ length: o.groups }, () => rng.normal()),
    link: o.link,
    averageTrees: o.average ?? false,
    float32: o.float32,
    objective: "test",
    trees,
    ...(o.categorical ? { categoricalFeatures: [0, 1] } : {}),
  };
}

function randomRows(seed: number, rows: number, cols: number, categorical: boolean): Matrix {
  const rng = new Rng(seed);
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) {
    const j = i % cols;
    const u = rng.next();
    if (u < 0.1) data[i] = Number.NaN;
    else if (u < 0.2) data[i] = 0;
    else if (categorical && j < 2)
      data[i] =
        u < 0.25
          ? -1
          : u < 0.28
            ? 2.5
            : u < 0.4
              ? [31, 32, 33, 63, 64, 99, 100, 1000, 1e12][rng.int(0, 9)]!
              : rng.int(0, 8);
    // Exact grid values, values just around them, and float32-sensitive values.
    else if (u < 0.5) data[i] = rng.int(-6, 7) / 4;
    else if (u < 0.6) data[i] = rng.int(-6, 7) / 4 + (rng.next() < 0.5 ? 1e-9 : -1e-9);
    else data[i] = rng.normal() * 2;
  }
  return { data, rows, cols };
}

function expectSameAsReference(e: TreeEnsemble, m: Matrix): void {
  const p = compileEnsemble(e);
  const margins = p.predictMargin(m);
  const preds = p.predict(m);
  const G = e.numGroups;
  const out = new Float64Array(G);
  for (let r = 0; r < m.rows; r++) {
    const row = m.data.subarray(r * m.cols, (r + 1) * m.cols);
    const ref = referenceMargin(e, row);
    const refLinked = applyLink(e.link, Float64Array.from(ref));
    for (let g = 0; g < G; g++) {
      expect(margins[r * G + g]).toBe(ref[g]);
      expect(preds[r * G + g]).toBe(refLinked[g]);
    }
    expect(Array.from(p.predictRowMarginInto(row, out))).toEqual(Array.from(ref));
    expect(Array.from(p.predictRow(Array.from(row)))).toEqual(Array.from(refLinked));
  }
}

const base: Opts = {
  trees: 30,
  depth: 5,
  features: 6,
  groups: 1,
  float32: false,
  categorical: false,
  missingKinds: [MissingKind.NaN],
  kinds: [SplitKind.LessThan],
  link: "sigmoid",
};

describe("compileEnsemble", () => {
  it("equals the reference on XGBoost-style trees (x < t, NaN default direction, float32)", () => {
    for (const seed of [1, 2, 3]) {
      const e = randomEnsemble(seed, { ...base, float32: true });
      expectSameAsReference(e, randomRows(seed + 100, 300, 6, false));
    }
  });

  it("equals the reference on LightGBM-style trees (x <= t, every missing kind, categorical sets either way)", () => {
    for (const seed of [4, 5, 6]) {
      const e = randomEnsemble(seed, {
        ...base,
        kinds: [SplitKind.LessOrEqual],
        missingKinds: [MissingKind.NaN, MissingKind.Zero, MissingKind.None],
        categorical: true,
        link: "identity",
      });
      expectSameAsReference(e, randomRows(seed + 100, 300, 6, true));
    }
  });

  it("equals the reference on mixed kinds, float32, multiclass softmax, more rows than one block", () => {
    const e = randomEnsemble(7, {
      ...base,
      trees: 45,
      groups: 3,
      float32: true,
      categorical: true,
      kinds: [SplitKind.LessThan, SplitKind.LessOrEqual],
      missingKinds: [MissingKind.NaN, MissingKind.Zero, MissingKind.None],
      link: "softmax",
    });
    expectSameAsReference(e, randomRows(8, 203, 6, true));
  });

  it("equals the reference through the predictor module: categorical bitsets, NaN as missing or as 0, float32, multiclass", () => {
    // No zero-as-missing or infinite thresholds: every node is one the module decides.
    for (const seed of [13, 14]) {
      const e = randomEnsemble(seed, {
        ...base,
        trees: 40,
        groups: seed === 13 ? 1 : 3,
        float32: seed === 14,
        categorical: true,
        kinds: [SplitKind.LessThan, SplitKind.LessOrEqual],
        missingKinds: [MissingKind.NaN, MissingKind.None],
        link: seed === 13 ? "sigmoid" : "softmax",
      });
      expectSameAsReference(e, randomRows(seed + 50, 301, 6, true));
    }
  });

  it("equals the reference for averaged forests and the exp link", () => {
    expectSameAsReference(
      randomEnsemble(9, { ...base, average: true, link: "identity" }),
      randomRows(10, 100, 6, false),
    );
    expectSameAsReference(randomEnsemble(11, { ...base, trees: 5, link: "exp" }), randomRows(12, 100, 6, false));
  });

  it("compares float32 models in float32: a value between two float32s rounds like XGBoost", () => {
    const t = allocTree(3);
    t.left[0] = 1;
    t.right[0] = 2;
    t.threshold[0] = Math.fround(0.1); // 0.10000000149..., as XGBoost stores it
    t.value[1] = -1;
    t.value[2] = 1;
    const e: TreeEnsemble = {
      ...randomEnsemble(1, { ...base, trees: 1 }),
      trees: [t],
      baseMargin: [0],
      link: "identity",
    };
    const x = 0.1000000001; // < float32(0.1) as a double, but rounds to it in float32
    expect(compileEnsemble({ ...e, float32: false }).predictRow([x, 0, 0, 0, 0, 0])[0]).toBe(-1);
    expect(compileEnsemble({ ...e, float32: true }).predictRow([x, 0, 0, 0, 0, 0])[0]).toBe(1);
  });

  it("rejects a different feature count, infinities and malformed trees", () => {
    const p = compileEnsemble(randomEnsemble(1, base));
    const bad = (f: () => unknown, re: RegExp) => {
      try {
        f();
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(QuintetError);
        expect((err as QuintetError).code).toBe("VALIDATION_FAILED");
        expect((err as Error).message).toMatch(re);
      }
    };
    bad(() => p.predictRow([1, 2, 3]), /3 features, the model expects 6/);
    bad(() => p.predictMargin({ data: new Float64Array(14), rows: 2, cols: 7 }), /7 features, the model expects 6/);
    bad(() => p.predictRow([1, 2, Number.POSITIVE_INFINITY, 0, 0, 0]), /infinite|Infinity/);
    const cyclic = randomEnsemble(2, { ...base, trees: 1 });
    cyclic.trees[0]!.left[1] = 0;
    bad(() => compileEnsemble(cyclic), /reached twice|out of range/);
    const badFeature = randomEnsemble(2, { ...base, trees: 1 });
    badFeature.trees[0]!.feature[0] = 99;
    bad(() => compileEnsemble(badFeature), /feature 99/);
  });

  it("reuses its buffers: predictRowInto writes into the given array", () => {
    const p = compileEnsemble(randomEnsemble(3, { ...base, groups: 2, link: "softmax" }));
    const out = new Float64Array(2);
    const r1 = p.predictRowInto([0, 1, 2, 3, 4, 5], out);
    expect(r1).toBe(out);
    expect(out[0]! + out[1]!).toBeCloseTo(1, 12);
  });
});
