/**
 * Fraud on vehicle insurance claims (fraud_oracle.csv, about 6% fraud): an imbalanced
 * target, so precision-recall matters more than accuracy, and the decision is a threshold
 * set by what mistakes cost. The threshold is chosen on one half of the held-out claims
 * and its cost checked on the other half, so the saving shown is not fitted to its own data.
 *
 * Run: npm run example -- fraud [--data <dir>] [--home <dir>] [--budget 30s|5m|N trials] [--no-tune]
 */
import { averagePrecision, bestCostThreshold, type DecisionCosts, ModelBundle, rocAuc, splitTarget } from "@quintet/ml";
import { ModelRegistry, trainTable } from "@quintet/platform";
import { DATASETS, dataDir, heldOutSplit, loadExample } from "./datasets.js";
import { exampleFlags, openProject, progress, table } from "./project.js";

/** Illustrative costs: an investigation costs 150; a missed fraud pays out a 2,500 claim. */
const COSTS: DecisionCosts = { falsePositive: 150, falseNegative: 2500, truePositive: 150 };

const spec = DATASETS.fraud;
const flags = exampleFlags("fraud");
const raw = await loadExample("fraud", dataDir());
const { history, test } = heldOutSplit("fraud", raw);
const yAll = splitTarget(raw, spec.target, { positive: spec.positive }).y;
const rate = yAll.reduce((s, v) => s + v, 0) / yAll.length;
console.log(
  `Loaded ${raw.rows} claims × ${raw.names.length} columns, ${(rate * 100).toFixed(1)}% fraud. Holding out ${test.rows} claims.\n`,
);

const project = await openProject(flags.home);
const result = await trainTable(
  {
    data: history,
    target: spec.target,
    positive: spec.positive,
    name: "claims-fraud",
    exclude: spec.exclude,
    ...(flags.tune ? { tune: flags.tune } : {}),
    onEvent: progress,
  },
  project,
);
if (result.tuning)
  console.log(
    `\nTuning: ${result.tuning.trials} trials (${result.tuning.pruned} pruned), best validation AUC ${result.tuning.bestValue.toFixed(4)}`,
  );

const registry = new ModelRegistry(project.store, project.artifacts);
const { version, bundle } = await registry.loadBundle(`claims-fraud/${result.model.version}`);
// Rare categories (NumberOfCars "more than 8" is in 2 claims of 15,420) can be missing from
// the training rows; score such values as unknown rather than refusing the claim.
const p = (await ModelBundle.fromBytes(bundle).predict(test, { unseenCategories: "missing" })).values;
const y = splitTarget(test, spec.target, { positive: spec.positive }).y;
console.log(
  `\nHeld-out claims: ${test.rows} (${y.reduce((s, v) => s + v, 0)} fraud), scored by ${version.name}/${version.version}`,
);
console.log(
  table(
    ["metric", "value"],
    [
      ["AUC", rocAuc(y, p).toFixed(4)],
      ["PR-AUC (average precision)", averagePrecision(y, p).toFixed(4)],
      ["PR-AUC of guessing", rate.toFixed(4)],
    ],
  ),
);

// Choose on even-numbered held-out claims, check on odd-numbered ones.
const half = (k: number) => {
  const idx = Array.from({ length: y.length }, (_, i) => i).filter((i) => i % 2 === k);
  return { y: Float64Array.from(idx, (i) => y[i]!), p: Float64Array.from(idx, (i) => p[i]!) };
};
const choose = half(0);
const check = half(1);
const best = bestCostThreshold(choose.y, choose.p, COSTS);
const costAt = (t: number) => {
  let cost = 0;
  let flagged = 0;
  let caught = 0;
  for (let i = 0; i < check.y.length; i++) {
    const flag = check.p[i]! >= t;
    const fraud = check.y[i] === 1;
    if (flag) flagged++;
    if (flag && fraud) caught++;
    cost += flag ? (fraud ? COSTS.truePositive! : COSTS.falsePositive) : fraud ? COSTS.falseNegative : 0;
  }
  return { cost, flagged, caught };
};
const frauds = check.y.reduce((s, v) => s + v, 0);
console.log(
  `\nCosts: investigating a claim ${COSTS.falsePositive}, missing a fraud ${COSTS.falseNegative}. Threshold chosen on ${choose.y.length} claims: ${best.threshold.toFixed(4)}.`,
);
console.log(`On the other ${check.y.length} held-out claims (${frauds} fraud):`);
console.log(
  table(
    ["policy", "claims investigated", "frauds caught", "total cost"],
    [
      ["investigate none", 0, 0, costAt(Number.POSITIVE_INFINITY).cost],
      ["investigate all", check.y.length, frauds, costAt(Number.NEGATIVE_INFINITY).cost],
      ["model, P ≥ 0.5", costAt(0.5).flagged, costAt(0.5).caught, costAt(0.5).cost],
      [
        `model, P ≥ ${best.threshold.toFixed(3)} (cost-optimal)`,
        costAt(best.threshold).flagged,
        costAt(best.threshold).caught,
        costAt(best.threshold).cost,
      ],
    ].map((r) => r.map((c) => (typeof c === "number" ? c.toLocaleString("en-US") : c))),
  ),
);
console.log(`\nReport: ${result.reportPath}`);
console.log(`Project: ${flags.home} (QUINTET_HOME=${flags.home} quintet models show claims-fraud)`);
await project.store.close();
