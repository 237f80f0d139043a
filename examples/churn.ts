/**
 * Churn on the IBM Telco sample: a messy export (TotalCharges is text because of blank
 * values) cleaned, profiled, featurised, tuned and trained by one trainTable call, which
 * tracks the run, writes the HTML report and registers the model. The registered model then
 * scores the held-out customers from their raw rows.
 *
 * Run: npm run example -- churn [--data <dir>] [--home <dir>] [--budget 30s|5m|N trials] [--no-tune]
 */
import { averagePrecision, logLoss, ModelBundle, rocAuc, splitTarget, thresholdScores } from "@quintet/ml";
import { ModelRegistry, trainTable } from "@quintet/platform";
import { DATASETS, dataDir, heldOutSplit, loadExample } from "./datasets.js";
import { exampleFlags, openProject, progress, table } from "./project.js";

const spec = DATASETS.churn;
const flags = exampleFlags("churn");
const raw = await loadExample("churn", dataDir());
const blanks = raw.toRecords().filter((r) => typeof r.TotalCharges === "string" && r.TotalCharges.trim() === "").length;
console.log(
  `Loaded ${raw.rows} customers × ${raw.names.length} columns. TotalCharges was read as ${raw.column("TotalCharges").kind}: ${blanks} rows hold a blank (new customers, tenure 0).`,
);
const { history, test } = heldOutSplit("churn", raw);
console.log(`Holding out ${test.rows} customers for the end; training on ${history.rows}.\n`);

const project = await openProject(flags.home);
const result = await trainTable(
  {
    data: history,
    target: spec.target,
    positive: spec.positive,
    name: "telco-churn",
    exclude: spec.exclude,
    ...(flags.tune ? { tune: flags.tune } : {}),
    onEvent: progress,
  },
  project,
);

console.log("\nCleaning:");
for (const c of result.cleaning) console.log(`  ${c.summary}`);
console.log("Feature choices:");
for (const n of result.featureNotes.slice(0, 8)) console.log(`  ${n}`);
if (result.tuning)
  console.log(
    `Tuning: ${result.tuning.trials} trials (${result.tuning.pruned} pruned), best validation AUC ${result.tuning.bestValue.toFixed(4)} in study ${result.tuning.study}`,
  );

// The registered version scores raw rows: the bundle applies the same cleaning rules and features.
const registry = new ModelRegistry(project.store, project.artifacts);
const { version, bundle } = await registry.loadBundle(`telco-churn/${result.model.version}`);
const model = ModelBundle.fromBytes(bundle);
const scored = await model.predict(test);
const y = splitTarget(test, spec.target, { positive: spec.positive }).y;
const p = scored.values;
const at = thresholdScores(y, p, 0.5);
console.log(`\nHeld-out customers (${test.rows}, scored by ${version.name}/${version.version} from raw rows):`);
console.log(
  table(
    ["metric", "value"],
    [
      ["AUC", rocAuc(y, p).toFixed(4)],
      ["PR-AUC", averagePrecision(y, p).toFixed(4)],
      ["log loss", logLoss(y, p).toFixed(4)],
      ["accuracy @0.5", at.accuracy.toFixed(4)],
      ["recall @0.5", at.recall.toFixed(4)],
    ],
  ),
);
console.log("\nTop features (share of gain):");
console.log(
  table(
    ["feature", "gain"],
    result.importance.slice(0, 8).map((i) => [i.feature, i.gain.toFixed(3)]),
  ),
);
const records = test.toRecords();
const risky = Array.from(p, (v, i) => ({ v, i }))
  .sort((a, b) => b.v - a.v)
  .slice(0, 5);
console.log("\nMost likely to leave:");
console.log(
  table(
    ["customer", "contract", "tenure", "monthly", "P(churn)", "churned"],
    risky.map(({ v, i }) => {
      const r = records[i]!;
      return [
        String(r.customerID),
        String(r.Contract),
        String(r.tenure),
        String(r.MonthlyCharges),
        v.toFixed(3),
        String(r.Churn),
      ];
    }),
  ),
);
console.log(`\nReport: ${result.reportPath}`);
console.log(`Project: ${flags.home} (QUINTET_HOME=${flags.home} quintet models show telco-churn)`);
await project.store.close();
