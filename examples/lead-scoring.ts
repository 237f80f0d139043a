/**
 * Lead scoring on UCI Bank Marketing (bank-full.csv, ';'-separated): who to call in a
 * term-deposit campaign. `duration` is dropped — it is only known after the call (UCI's
 * leakage note). The registered model ranks the held-out clients by probability; the lift
 * at the top 10% says how much better than calling at random that list is.
 *
 * Run: npm run example -- lead-scoring [--data <dir>] [--home <dir>] [--budget 30s|5m|N trials] [--no-tune]
 */
import { averagePrecision, liftGainAt, ModelBundle, rocAuc, splitTarget } from "@quintet/ml";
import { ModelRegistry, trainTable } from "@quintet/platform";
import { DATASETS, dataDir, heldOutSplit, loadExample } from "./datasets.js";
import { exampleFlags, openProject, progress, table } from "./project.js";

const spec = DATASETS["lead-scoring"];
const flags = exampleFlags("lead-scoring");
const raw = await loadExample("lead-scoring", dataDir());
const { history, test } = heldOutSplit("lead-scoring", raw);
console.log(
  `Loaded ${raw.rows} clients × ${raw.names.length} columns; leaving out ${spec.exclude.join(", ")} (known only after the call). Holding out ${test.rows} clients.\n`,
);

const project = await openProject(flags.home);
const result = await trainTable(
  {
    data: history,
    target: spec.target,
    positive: spec.positive,
    name: "bank-leads",
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
const { version, bundle } = await registry.loadBundle(`bank-leads/${result.model.version}`);
const scored = await ModelBundle.fromBytes(bundle).predict(test);
const y = splitTarget(test, spec.target, { positive: spec.positive }).y;
const p = scored.values;
const base = y.reduce((s, v) => s + v, 0) / y.length;
console.log(
  `\nHeld-out clients: ${test.rows}, ${(base * 100).toFixed(1)}% subscribed. Scored by ${version.name}/${version.version}: AUC ${rocAuc(y, p).toFixed(4)}, PR-AUC ${averagePrecision(y, p).toFixed(4)}.`,
);
console.log("\nCalling the clients with the highest scores first:");
console.log(
  table(
    ["call the top", "clients", "subscribers reached", "hit rate", "lift"],
    [0.05, 0.1, 0.2, 0.3, 0.5].map((f) => {
      const l = liftGainAt(y, p, f);
      return [
        `${f * 100}%`,
        l.selected,
        `${(l.gain * 100).toFixed(1)}%`,
        `${(l.precision * 100).toFixed(1)}%`,
        `${l.lift.toFixed(2)}×`,
      ];
    }),
  ),
);
const top10 = liftGainAt(y, p, 0.1);
console.log(
  `\nLift at the top 10%: ${top10.lift.toFixed(2)} — ${(top10.precision * 100).toFixed(1)}% of those calls succeed, against ${(base * 100).toFixed(1)}% for random calls.`,
);
const records = test.toRecords();
const ranked = Array.from(p, (v, i) => ({ v, i })).sort((a, b) => b.v - a.v);
console.log("\nFirst ten on the call list:");
console.log(
  table(
    ["age", "job", "balance", "last outcome", "month", "P(yes)", "subscribed"],
    ranked.slice(0, 10).map(({ v, i }) => {
      const r = records[i]!;
      return [
        String(r.age),
        String(r.job),
        String(r.balance),
        String(r.poutcome),
        String(r.month),
        v.toFixed(3),
        String(r.y),
      ];
    }),
  ),
);
console.log(`\nReport: ${result.reportPath}`);
console.log(`Project: ${flags.home} (QUINTET_HOME=${flags.home} quintet models show bank-leads)`);
await project.store.close();
