/**
 * Tuning quality: on each example's held-out test split (examples/datasets.ts), Quintet
 * tuned by its study (TPE + successive halving, trials on 2 worker threads) against
 * XGBoost tuned by random search over the same space with the same time budget, on the
 * same train/validation matrices with the same early stopping; test AUC side by side.
 *
 * The Quintet side is what `trainTable({ tune })` does (same defaults: TPE with 8 random
 * startup trials, successive halving from round 20 with η = 3, 1000 rounds, patience 50,
 * validation AUC), written out with the public APIs so XGBoost can get the very same
 * matrices: cleaning and profiling on the training history, features fitted on the train
 * rows only, the test rows untouched until the end.
 *
 * Run: `npm run bench:ml`, or
 * `node --conditions=source --import tsx bench/ml-workflow/quality.ts [--data DIR] [--budget 60] [--seeds 1,2] [--only churn]`.
 * Writes `bench/results/ml-workflow.{json,md}`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "@quintet/core";
import {
  autoPipeline,
  CV_TUNING_MAX_ROWS,
  cleanFrame,
  compileEnsemble,
  type GbdtParams,
  gbdtObjective,
  gbdtSearchSpace,
  holdout,
  type Matrix,
  openStudy,
  profileFrame,
  rocAuc,
  splitTarget,
  stackRows,
  stratifiedKFold,
  trainGbdt,
  tuningFolds,
} from "@quintet/ml";
import { DATASETS, dataDir, type ExampleName, heldOutSplit, loadExample } from "../../examples/datasets.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");
const PY = "/usr/bin/python3";
const argv = process.argv.slice(2);
const arg = (flag: string) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};
const budgetSeconds = Number(arg("--budget") ?? 60);
const seeds = (arg("--seeds") ?? "1").split(",").map(Number);
const only = arg("--only");
const names = (Object.keys(DATASETS) as ExampleName[]).filter((n) => !only || n === only);
const samplerType = (arg("--sampler") ?? "tpe") as "tpe" | "random";
const pruning = (arg("--pruner") ?? "sh") !== "none";
const withPeer = !argv.includes("--no-peer");
const pruneAt = Number(arg("--prune-at") ?? 20);
const pruneMinTrials = Number(arg("--prune-min-trials") ?? 3);
// As trainTable: trials on tables under CV_TUNING_MAX_ROWS rows are scored by stratified 5-fold CV
// over train + validation rows (both sides, the same folds), larger ones on the validation split.
// `--cv K` forces K folds, `--cv 0` the validation split (ablations: printed, not written).
const cvArg = arg("--cv");
const foldsFor = (d: Data) => (cvArg === undefined ? tuningFolds(d.Xtr.rows + d.Xva.rows) : Number(cvArg));
const WORKERS = 2;
const ROUNDS = 1000;
const PATIENCE = 50;
/** trainTable's untuned defaults. */
const DEFAULTS = { numRounds: 500, maxDepth: 6, learningRate: 0.05, earlyStoppingRounds: 40 };

async function matrices(name: ExampleName, seed: number) {
  const spec = DATASETS[name];
  const raw = await loadExample(name, dataDir(argv));
  const { history, test } = heldOutSplit(name, raw);
  // As trainTable: clean and profile the history, carve validation rows out of it, fit features on train.
  const cleaned = cleanFrame(history, { exclude: [spec.target] }).frame;
  const targetOptions = { positive: spec.positive };
  const labelled = splitTarget(cleaned, spec.target, targetOptions);
  const profile = profileFrame(cleaned, { target: spec.target, targetOptions, seed });
  const [inner] = holdout({ testShare: 0.15, stratify: true, seed: seed + 1 }).split({
    n: cleaned.rows,
    y: labelled.y,
  });
  const train = cleaned.take(inner!.train);
  const valid = cleaned.take(inner!.valid);
  const { pipeline } = autoPipeline(profile, { model: "trees", seed, exclude: spec.exclude });
  const fitted = await pipeline.fitTransform(train, spec.target);
  const Xva = await pipeline.transform(valid);
  const Xte = await pipeline.transform(test, { unseenCategories: "missing" });
  return {
    Xtr: fitted.X as Matrix,
    ytr: fitted.y!,
    Xva: Xva as Matrix,
    yva: splitTarget(valid, spec.target, targetOptions).y,
    Xte: Xte as Matrix,
    yte: splitTarget(test, spec.target, targetOptions).y,
    categorical: fitted.X.categoricalFeatures,
    features: fitted.X.cols,
  };
}

type Data = Awaited<ReturnType<typeof matrices>>;

/** Train + validation rows as one table, for cross-validated tuning. */
const trainAndValid = (d: Data) => stackRows({ X: d.Xtr, y: d.ytr }, { X: d.Xva, y: d.yva });

async function quintet(d: Data, seed: number, dir: string) {
  const base: GbdtParams = {
    objective: "binary",
    numRounds: ROUNDS,
    earlyStoppingRounds: PATIENCE,
    evalMetric: "auc",
    seed,
    categoricalFeatures: d.categorical,
  };
  const test = async (params: GbdtParams) => {
    const t0 = performance.now();
    const model = await trainGbdt(d.Xtr, d.ytr, { ...params, validation: { X: d.Xva, y: d.yva } });
    const p = compileEnsemble(model).predict(d.Xte);
    return { model, seconds: (performance.now() - t0) / 1000, auc: rocAuc(d.yte, p) };
  };
  const def = await test({ ...DEFAULTS, objective: "binary", seed, categoricalFeatures: d.categorical });

  const store = await openStore({ url: `sqlite:${join(dir, "studies.db")}` });
  const study = await openStudy({
    store,
    name: `bench-${seed}`,
    space: gbdtSearchSpace(),
    direction: "maximize",
    sampler: samplerType === "tpe" ? { type: "tpe", startupTrials: 8 } : { type: "random" },
    pruner: pruning
      ? { type: "successiveHalving", minResource: pruneAt, reductionFactor: 3, minTrials: pruneMinTrials }
      : { type: "none" },
    seed,
  });
  const t0 = performance.now();
  const both = trainAndValid(d);
  const result = await study.optimize(
    foldsFor(d)
      ? gbdtObjective({ X: both.X, y: both.y, folds: foldsFor(d), foldSeed: seed, params: base, reportEvery: 10 })
      : gbdtObjective({ X: d.Xtr, y: d.ytr, validation: { X: d.Xva, y: d.yva }, params: base, reportEvery: 10 }),
    { timeoutMs: budgetSeconds * 1000, concurrency: WORKERS },
  );
  const seconds = (performance.now() - t0) / 1000;
  await store.close();
  const best = result.best!;
  const final = await test({ ...base, ...(best.params as Partial<GbdtParams>) });
  return {
    default: { valid_auc: def.model.bestScore, test_auc: def.auc, rounds: def.model.numRounds, seconds: def.seconds },
    tuned: {
      trials: result.trials.length,
      complete: result.trials.filter((t) => t.state === "complete").length,
      pruned: result.trials.filter((t) => t.state === "pruned").length,
      seconds,
      valid_auc: best.value!,
      params: best.params,
      rounds: final.model.numRounds,
      test_auc: final.auc,
      final_valid_auc: final.model.bestScore,
    },
  };
}

function xgboost(d: Data, seed: number, dir: string) {
  const f64 = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  writeFileSync(join(dir, "Xtr.f64"), f64(d.Xtr.data));
  writeFileSync(join(dir, "Xva.f64"), f64(d.Xva.data));
  writeFileSync(join(dir, "Xte.f64"), f64(d.Xte.data));
  writeFileSync(join(dir, "ytr.f64"), f64(Float64Array.from(d.ytr)));
  writeFileSync(join(dir, "yva.f64"), f64(Float64Array.from(d.yva)));
  writeFileSync(join(dir, "yte.f64"), f64(Float64Array.from(d.yte)));
  const spec = {
    dir,
    rows: { train: d.Xtr.rows, valid: d.Xva.rows, test: d.Xte.rows },
    categorical: d.categorical,
    space: gbdtSearchSpace(),
    budgetSeconds,
    seed,
    rounds: ROUNDS,
    patience: PATIENCE,
    workers: WORKERS,
    // The very folds gbdtObjective cuts (stratified, seeded), as validation row lists over train + valid.
    folds: foldsFor(d)
      ? stratifiedKFold({ k: foldsFor(d), seed })
          .split({ n: d.Xtr.rows + d.Xva.rows, y: Float64Array.from([...d.ytr, ...d.yva]) })
          .map((f) => Array.from(f.valid))
      : undefined,
  };
  writeFileSync(join(dir, "spec.json"), JSON.stringify(spec));
  const r = spawnSync(PY, [join(here, "xgb_tune.py"), join(dir, "spec.json")], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`xgb_tune.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

const loadStart = loadavg();
const rows: Record<string, unknown>[] = [];
for (const name of names) {
  for (const seed of seeds) {
    const dir = mkdtempSync(join(tmpdir(), `quintet-bench-mlw-${name}-`));
    try {
      const d = await matrices(name, 42);
      console.log(
        `${name} seed ${seed}: ${d.Xtr.rows}/${d.Xva.rows}/${d.Xte.rows} rows × ${d.features} features; tuning each for ${budgetSeconds}s`,
      );
      const q = await quintet(d, seed, dir);
      console.log(
        `  Quintet: ${q.tuned.trials} trials (${q.tuned.pruned} pruned), valid ${q.tuned.valid_auc.toFixed(4)}, test ${q.tuned.test_auc.toFixed(4)} (default ${q.default.test_auc.toFixed(4)})`,
      );
      if (!withPeer) continue;
      const x = xgboost(d, seed, dir);
      console.log(
        `  XGBoost: ${x.tuned.trials} trials, valid ${x.tuned.valid_auc.toFixed(4)}, test ${x.tuned.test_auc.toFixed(4)} (default ${x.default.test_auc.toFixed(4)})`,
      );
      rows.push({
        dataset: name,
        seed,
        rows: { train: d.Xtr.rows, valid: d.Xva.rows, test: d.Xte.rows },
        folds: foldsFor(d),
        features: d.features,
        categorical: d.categorical.length,
        quintet: q,
        xgboost: x,
        delta_test_auc: q.tuned.test_auc - x.tuned.test_auc,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
const loadEnd = loadavg();
// Ablation runs (another sampler or pruner, no peer) print only; the results files hold the comparison.
if (!withPeer || samplerType !== "tpe" || !pruning || pruneAt !== 20 || pruneMinTrials !== 3 || cvArg !== undefined)
  process.exit(0);

const meta = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  budgetSeconds,
  seeds,
  workers: WORKERS,
  loadavg: { start: loadStart, end: loadEnd },
};
mkdirSync(join(repo, "bench", "results"), { recursive: true });
writeFileSync(join(repo, "bench", "results", "ml-workflow.json"), `${JSON.stringify({ meta, rows }, null, 2)}\n`);

const f4 = (v: number) => v.toFixed(4);
const md: string[] = [
  `# Tuning quality: Quintet vs XGBoost, same budget (${meta.date}, Node ${meta.node})`,
  "",
  `Each library gets ${budgetSeconds} s of tuning on the same matrices (features fitted on the train rows), the same search space (learning rate 0.01-0.3 log, depth 2-10, min child weight 0.1-50 log, subsample 0.5-1, colsample by tree 0.4-1, lambda 0.001-30 log, alpha 0.001-10 log), up to ${ROUNDS} rounds with early stopping after ${PATIENCE}, native categorical splits on the same category codes. As \`trainTable({ tune })\` does, trials on tables under ${CV_TUNING_MAX_ROWS.toLocaleString("en-US")} train + validation rows are scored by 5-fold stratified cross-validation over those rows, on the same folds for both libraries (Quintet: folds trained in lockstep, mean of each fold's best AUC; XGBoost: xgb.cv, early stopping on the mean); larger tables on the validation rows ("scored by" column). Quintet: TPE (8 random startup trials) with successive halving (rung 20 rounds, η 3), ${WORKERS} trials at once on worker threads. XGBoost ${rows[0] ? (rows[0].xgboost as { version: string }).version : ""} (Debian's python3-xgboost): random search, ${WORKERS} trials at once in single-threaded processes. Each library's best trial is refitted the same way (train rows, early stopping on the validation rows) and scored once on the example's held-out test split (20% of the file, stratified, never seen before). "Default" is each library's untuned defaults with the same early stopping (Quintet: trainTable's depth 6, eta 0.05; XGBoost: depth 6, eta 0.3).`,
  "",
  "| data | train/valid/test × features | scored by | Quintet trials (pruned) | Quintet trial AUC | Quintet test AUC | XGBoost trials | XGBoost trial AUC | XGBoost test AUC | Δ test AUC | default test AUC Quintet / XGBoost |",
  "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
];
for (const r of rows as any[]) {
  md.push(
    `| ${r.dataset}${seeds.length > 1 ? ` (seed ${r.seed})` : ""} | ${r.rows.train}/${r.rows.valid}/${r.rows.test} × ${r.features} (${r.categorical} categorical) | ${r.folds ? `${r.folds}-fold CV` : "validation rows"} | ${r.quintet.tuned.trials} (${r.quintet.tuned.pruned}) | ${f4(r.quintet.tuned.valid_auc)} | **${f4(r.quintet.tuned.test_auc)}** | ${r.xgboost.tuned.trials} | ${f4(r.xgboost.tuned.valid_auc)} | **${f4(r.xgboost.tuned.test_auc)}** | ${r.delta_test_auc >= 0 ? "+" : ""}${f4(r.delta_test_auc)} | ${f4(r.quintet.default.test_auc)} / ${f4(r.xgboost.default.test_auc)} |`,
  );
}
md.push(
  "",
  `load average at start ${loadStart.map((v) => v.toFixed(2)).join(", ")}; at end ${loadEnd.map((v) => v.toFixed(2)).join(", ")} (${meta.cpus} cores, shared with other work: a time budget buys fewer trials on a busy machine, for both sides).`,
  "",
  "Best parameters:",
  "",
);
for (const r of rows as any[]) {
  const show = (p: Record<string, number>) =>
    Object.entries(p)
      .map(([k, v]) => `${k} ${Number(v.toPrecision(3))}`)
      .join(", ");
  md.push(
    `- ${r.dataset}${seeds.length > 1 ? ` seed ${r.seed}` : ""}: Quintet ${show(r.quintet.tuned.params)} (${r.quintet.tuned.rounds} rounds); XGBoost ${show(r.xgboost.tuned.params)} (${r.xgboost.tuned.rounds} rounds)`,
  );
}
writeFileSync(join(repo, "bench", "results", "ml-workflow.md"), `${md.join("\n")}\n`);
console.log(`\n${md.join("\n")}`);
