/**
 * Inference speed of the compiled tree predictor: one row at a time and in batches, for a
 * 200-tree depth-6 ensemble (the aim: one row in under 20 µs, in-process), both
 * with double comparisons (Quintet/LightGBM style) and float32 comparisons (XGBoost style).
 *
 * Run: `npm run bench:trees` (all tree benches) or
 * `node --conditions=source --import tsx bench/trees/predict.ts`.
 * Writes `bench/results/trees-predict.{json,md}`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { allocTree, compileEnsemble, type Matrix, Rng, type Tree, type TreeEnsemble } from "@quintet/ml";

const FEATURES = 30;

/** A complete depth-`depth` tree with random splits, like a boosted tree on dense data. */
function fullTree(rng: Rng, depth: number): Tree {
  const n = 2 ** (depth + 1) - 1;
  const t = allocTree(n);
  for (let i = 0; i < n; i++) {
    if (2 * i + 2 < n) {
      t.left[i] = 2 * i + 1;
      t.right[i] = 2 * i + 2;
      t.feature[i] = rng.int(0, FEATURES);
      t.threshold[i] = rng.normal();
      t.defaultLeft[i] = rng.int(0, 2);
    } else {
      t.value[i] = rng.normal() * 0.1;
    }
  }
  return t;
}

function ensemble(trees: number, depth: number, float32: boolean): TreeEnsemble {
  const rng = new Rng(42);
  return {
    numFeatures: FEATURES,
    numGroups: 1,
    treeGroup: new Int32Array(trees),
    baseMargin: [0],
    link: "sigmoid",
    averageTrees: false,
    float32,
    objective: "binary:logistic",
    trees: Array.from({ length: trees }, () => fullTree(rng, depth)),
  };
}

function rows(n: number): Matrix {
  const rng = new Rng(7);
  const data = new Float64Array(n * FEATURES);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() < 0.05 ? Number.NaN : rng.normal();
  return { data, rows: n, cols: FEATURES };
}

interface Result {
  model: string;
  singleRowUs: number;
  singleRowP99Us: number;
  batchRowsPerSec: number;
}

function bench(name: string, e: TreeEnsemble): Result {
  const p = compileEnsemble(e);
  const m = rows(20_000);
  const out = new Float64Array(1);
  const row = (i: number) => m.data.subarray((i % m.rows) * FEATURES, ((i % m.rows) + 1) * FEATURES);
  let sink = 0;
  // Warm up so the JIT has optimised the hot loop before timing.
  for (let i = 0; i < 50_000; i++) sink += p.predictRowInto(row(i), out)[0]!;
  const iters = 200_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) sink += p.predictRowInto(row(i), out)[0]!;
  const single = Number(process.hrtime.bigint() - t0) / 1e3 / iters;
  // Tail latency from individually timed calls (includes hrtime overhead, ~0.1 µs).
  const lat = new Float64Array(20_000);
  for (let i = 0; i < lat.length; i++) {
    const s = process.hrtime.bigint();
    sink += p.predictRowInto(row(i), out)[0]!;
    lat[i] = Number(process.hrtime.bigint() - s) / 1e3;
  }
  lat.sort();
  p.predict(m);
  const b0 = process.hrtime.bigint();
  const reps = 5;
  for (let r = 0; r < reps; r++) sink += p.predict(m)[0]!;
  const batchSec = Number(process.hrtime.bigint() - b0) / 1e9;
  if (Number.isNaN(sink)) console.log("(unreachable)");
  return {
    model: name,
    singleRowUs: single,
    singleRowP99Us: lat[Math.floor(lat.length * 0.99)]!,
    batchRowsPerSec: (reps * m.rows) / batchSec,
  };
}

const results = [
  bench("200 trees, depth 6, float64", ensemble(200, 6, false)),
  bench("200 trees, depth 6, float32 (XGBoost)", ensemble(200, 6, true)),
  bench("1000 trees, depth 8, float64", ensemble(1000, 8, false)),
];

const md = [
  "| model | single row (µs, mean) | single row p99 (µs) | batch (rows/s) |",
  "| --- | ---: | ---: | ---: |",
  ...results.map(
    (r) =>
      `| ${r.model} | ${r.singleRowUs.toFixed(2)} | ${r.singleRowP99Us.toFixed(2)} | ${Math.round(r.batchRowsPerSec).toLocaleString("en-US")} |`,
  ),
].join("\n");
console.log(md);
console.log(`\naim: 200 trees depth 6 in < 20 µs per row -> ${results[0]!.singleRowUs < 20 ? "met" : "NOT met"}`);

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "results");
mkdirSync(dir, { recursive: true });
const meta = { node: process.version, date: new Date().toISOString(), features: FEATURES };
writeFileSync(join(dir, "trees-predict.json"), `${JSON.stringify({ ...meta, results }, null, 2)}\n`);
writeFileSync(join(dir, "trees-predict.md"), `# Tree inference (${meta.date}, Node ${meta.node})\n\n${md}\n`);
