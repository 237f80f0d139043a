import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { type ArtifactStore, type Store, ValidationError, withSpan } from "@quintet/core";
import {
  autoPipeline,
  type CleanReport,
  cleanFrame,
  type DataProfile,
  type FeatureMatrix,
  type Frame,
  GbdtClassifier,
  type GbdtParams,
  type GbdtProgress,
  GbdtRegressor,
  holdout,
  isMissing,
  loadTable,
  ModelBundle,
  profileFrame,
  shapSummary,
  splitTarget,
  type TargetInfo,
  type Task,
  type TreeEnsemble,
  treeShap,
  tuningFolds,
} from "@quintet/ml";
import { ModelRegistry, type ModelVersion } from "../registry/registry.js";
import { fingerprint, Tracker } from "../tracking/tracker.js";
import { type Evaluation, evaluateModel } from "./evaluate.js";
import { type ReportShap, writeTrainingReport } from "./report.js";
import { type TrainTuneOptions, type TrialEvent, type TuningSummary, tuneTreeParams } from "./tune-step.js";

/** What the workflow is doing, for progress displays. */
export type TrainEvent =
  | {
      type: "phase";
      phase: "load" | "clean" | "profile" | "features" | "tune" | "train" | "evaluate" | "register" | "report";
      message: string;
    }
  | ({ type: "iteration" } & GbdtProgress)
  | TrialEvent;

export interface TrainTableOptions {
  /** A table file (CSV, TSV, Parquet, JSON, JSONL) or a loaded Frame. */
  data: string | Frame;
  /** Column to predict. */
  target: string;
  /** Registered model name (a new version each run). */
  name: string;
  experiment?: string;
  /** Inferred from the target when omitted. */
  task?: Task;
  /** The positive class for binary targets (e.g. "Yes"). */
  positive?: string;
  /** Share of rows held out for the final test metrics. Default 0.2. */
  testShare?: number;
  /** Share of the remaining rows used for early stopping. Default 0.15. */
  validShare?: number;
  /** Tree parameters over the defaults (500 rounds, depth 6, eta 0.05, early stopping 40). */
  params?: Omit<GbdtParams, "objective">;
  /** Columns to leave out of the features (besides ID-like, constant and leaking ones). */
  exclude?: string[];
  seed?: number;
  /**
   * Tune the tree parameters before the final fit: a study (TPE, successive halving, trials on
   * worker threads) scored by 5-fold CV over the train + validation rows on tables under
   * 20,000 rows and on the validation rows above (`tune.folds` overrides), stored in the
   * project store; the test rows are never seen. The best
   * trial's parameters train the final model; the run records the study.
   */
  tune?: TrainTuneOptions;
  /** Aliases for the new version; default `champion` when it is the model's first version. */
  aliases?: string[];
  /** Folder for the HTML report; default `<home>/reports`. */
  reportDir?: string;
  onEvent?: (event: TrainEvent) => void;
  signal?: AbortSignal;
}

export interface TrainTableResult {
  runId: string;
  model: ModelVersion;
  target: TargetInfo;
  rows: { total: number; train: number; valid: number; test: number };
  evaluation: Evaluation;
  /** Validation metric per boosting round, and the round kept. */
  curve: { metric: string; train: number[]; valid: number[]; bestIteration: number | undefined };
  importance: { feature: string; gain: number }[];
  /** Why each column is treated the way it is. */
  featureNotes: string[];
  cleaning: CleanReport[];
  profile: DataProfile;
  reportPath: string;
  /** What tuning did, when `tune` was given. */
  tuning?: TuningSummary;
}

/** Where the workflow keeps things: the project store, artifacts and home folder. */
export interface TrainContext {
  store: Store;
  artifacts: ArtifactStore;
  home: string;
}

const DEFAULT_PARAMS: Omit<GbdtParams, "objective"> = {
  numRounds: 500,
  maxDepth: 6,
  learningRate: 0.05,
  earlyStoppingRounds: 40,
};

/**
 * The tabular workflow end to end: load → clean → profile → features (fitted on train
 * only) → gradient-boosted trees with early stopping → held-out evaluation → a tracked run
 * with its HTML report → a new registered model version (`champion` if it is the first).
 * Everything is recorded under one `ml.train` span. A failure at any step registers nothing.
 *
 * @example
 * const result = await trainTable({ data: "customers.csv", target: "churned", name: "churn" }, ctx);
 * console.log(result.evaluation.metrics.auc, result.model.version, result.reportPath);
 */
export async function trainTable(options: TrainTableOptions, ctx: TrainContext): Promise<TrainTableResult> {
  const emit = (e: TrainEvent) => options.onEvent?.(e);
  const phase = (p: Extract<TrainEvent, { type: "phase" }>["phase"], message: string) =>
    emit({ type: "phase", phase: p, message });
  const seed = options.seed ?? 42;
  const tracker = new Tracker(ctx.store, ctx.artifacts);
  const registry = new ModelRegistry(ctx.store, ctx.artifacts);

  return withSpan(
    "ml.train",
    `train ${options.name}`,
    { model: options.name, target: options.target },
    async (span) => {
      phase("load", typeof options.data === "string" ? `Loading ${options.data}` : "Using the given frame");
      let frame: Frame;
      let dataFingerprint: string;
      let dataName: string;
      if (typeof options.data === "string") {
        const loaded = await loadTable(options.data);
        frame = loaded.frame;
        dataFingerprint = fingerprint(await readFile(options.data));
        dataName = basename(options.data);
      } else {
        frame = options.data;
        dataFingerprint = fingerprint(JSON.stringify(frame.toRecords()));
        dataName = "frame";
      }
      if (!frame.has(options.target))
        throw new ValidationError(`the table has no column "${options.target}"`, {
          hint: `Pick the target from: ${frame.names.slice(0, 30).join(", ")}`,
        });

      phase("clean", "Cleaning: trimming, coercing types, removing duplicate rows");
      const cleaned = cleanFrame(frame, { exclude: [options.target] });
      frame = cleaned.frame;

      phase("profile", `Profiling ${frame.rows} rows × ${frame.names.length} columns`);
      const targetOptions = {
        onMissing: "drop" as const,
        ...(options.task ? { task: options.task } : {}),
        ...(options.positive ? { positive: options.positive } : {}),
      };
      const labelled = splitTarget(frame, options.target, targetOptions);
      if (labelled.dropped > 0) frame = dropMissingTarget(frame, options.target);
      const profile = profileFrame(frame, { target: options.target, targetOptions, seed });
      const target = labelled.info;
      if (target.task !== "regression" && (target.classes?.length ?? 0) < 2)
        throw new ValidationError(`the target "${options.target}" has a single class`, {
          hint: "A classifier needs at least two classes in the training data.",
        });

      // Test rows are held out before anything is fitted, so nothing learns from them.
      const stratify = target.task !== "regression";
      const [outer] = holdout({ testShare: options.testShare ?? 0.2, stratify, seed }).split({
        n: frame.rows,
        y: labelled.y,
      });
      const rest = frame.take(outer!.train);
      const test = frame.take(outer!.valid);
      const restY = outer!.train.map((i) => labelled.y[i]!);
      const [inner] = holdout({ testShare: options.validShare ?? 0.15, stratify, seed: seed + 1 }).split({
        n: rest.rows,
        y: Float64Array.from(restY),
      });
      const train = rest.take(inner!.train);
      const valid = rest.take(inner!.valid);

      phase("features", "Choosing and fitting feature steps on the training rows");
      const auto = autoPipeline(profile, {
        model: "trees",
        seed,
        ...(options.exclude ? { exclude: options.exclude } : {}),
      });
      const pipeline = auto.pipeline;
      const fitted = await pipeline.fitTransform(train, options.target);
      const yTrain = fitted.y!;
      // A category too rare to reach the training rows may still sit in the held-out ones: score it as missing.
      const Xvalid = await pipeline.transform(valid, { unseenCategories: "missing" });
      const yValid = splitTarget(valid, options.target, targetOptions).y;
      const Xtest = await pipeline.transform(test, { unseenCategories: "missing" });
      const yTest = splitTarget(test, options.target, targetOptions).y;

      let params: Omit<GbdtParams, "objective"> = {
        ...DEFAULT_PARAMS,
        seed,
        categoricalFeatures: fitted.X.categoricalFeatures,
        featureNames: fitted.X.featureNames,
        ...options.params,
      };
      const curve = {
        metric: "",
        train: [] as number[],
        valid: [] as number[],
        bestIteration: undefined as number | undefined,
      };
      const runParams = Object.fromEntries(
        Object.entries(params).filter(([, v]) => ["string", "number", "boolean"].includes(typeof v)),
      ) as Record<string, string | number | boolean>;

      return tracker.withRun(
        {
          experiment: options.experiment ?? options.name,
          params: { ...runParams, target: options.target, task: target.task, features: fitted.X.cols },
          tags: { model: options.name },
          dataset: { fingerprint: dataFingerprint, name: dataName, rows: frame.rows, columns: frame.names.length },
        },
        async (run) => {
          span.setAttributes({ "run.id": run.id, rows: frame.rows, features: fitted.X.cols });
          let tuning: TuningSummary | undefined;
          if (options.tune) {
            const folds = options.tune.folds ?? tuningFolds(train.rows + valid.rows);
            phase(
              "tune",
              folds
                ? `Tuning tree parameters by ${folds}-fold cross-validation on ${train.rows + valid.rows} rows`
                : `Tuning tree parameters on ${train.rows} rows, validated on ${valid.rows}`,
            );
            const tuned = await tuneTreeParams({
              store: ctx.store,
              model: options.name,
              tune: options.tune,
              target,
              X: fitted.X,
              y: yTrain,
              Xvalid,
              yValid,
              params,
              fixed: Object.keys(options.params ?? {}),
              identity: {
                data: dataFingerprint,
                target: options.target,
                seed,
                testShare: options.testShare ?? 0.2,
                validShare: options.validShare ?? 0.15,
                exclude: options.exclude ?? [],
              },
              seed,
              ...(options.signal ? { signal: options.signal } : {}),
              onTrial: emit,
            });
            params = tuned.params;
            tuning = tuned.summary;
            for (const t of tuned.trials)
              if (t.state === "complete") await run.logMetric(`tune_valid_${tuning.metric}`, t.value!, t.number);
            await run.logParams({
              ...Object.fromEntries(
                Object.entries(params).filter(([, v]) => ["string", "number", "boolean"].includes(typeof v)),
              ),
              tune_study: tuning.study,
              tune_trials: tuning.trials,
              tune_best_trial: tuning.bestTrial,
              tune_folds: tuning.folds,
            });
            await run.setTags({ "tune.study": tuning.study, "tune.study_id": tuning.studyId });
          }
          phase("train", `Training gradient-boosted trees on ${train.rows} rows, ${fitted.X.cols} features`);
          const onIteration = (p: GbdtProgress) => {
            curve.metric = p.metric;
            if (p.train !== undefined) curve.train.push(p.train);
            if (p.valid !== undefined) curve.valid.push(p.valid);
            curve.bestIteration = p.bestIteration;
            emit({ type: "iteration", ...p });
          };
          const fitOptions = {
            validation: { X: Xvalid, y: yValid },
            onIteration,
            ...(options.signal ? { signal: options.signal } : {}),
          };
          const estimator =
            target.task === "regression"
              ? await new GbdtRegressor(params).fit(fitted.X, yTrain, fitOptions)
              : await new GbdtClassifier(params).fit(fitted.X, yTrain, fitOptions);
          const model = estimator.model;
          for (let i = 0; i < curve.valid.length; i++) {
            await run.logMetrics(
              {
                [`valid_${curve.metric}`]: curve.valid[i]!,
                ...(curve.train[i] !== undefined ? { [`train_${curve.metric}`]: curve.train[i]! } : {}),
              },
              i,
            );
          }

          phase("evaluate", `Scoring ${test.rows} held-out rows`);
          const bundle = ModelBundle.create(pipeline, model);
          const evaluation = evaluateModel(bundle, Xtest, yTest, target);
          await run.logMetrics(prefixed("test_", evaluation.metrics));
          const gains = estimator.featureImportance("gain", { normalize: true });
          const importance = fitted.X.featureNames
            .map((feature, j) => ({ feature, gain: gains[j]! }))
            .sort((a, b) => b.gain - a.gain);

          phase("report", `Explaining up to ${SHAP_ROWS} test rows (TreeSHAP) and writing the HTML report`);
          const shap = shapForReport(model, Xtest, target);
          const reportPath = join(options.reportDir ?? join(ctx.home, "reports"), `${options.name}-${run.id}.html`);
          await writeTrainingReport(reportPath, {
            name: options.name,
            runId: run.id,
            target,
            rows: { total: frame.rows, train: train.rows, valid: valid.rows, test: test.rows },
            evaluation,
            curve,
            importance,
            notes: auto.notes,
            cleaning: cleaned.reports,
            profile,
            ...(shap ? { shap } : {}),
          });
          await run.logArtifact("report.html", await readFile(reportPath), "text/html");

          phase("register", `Registering a new version of ${options.name}`);
          const bytes = bundle.toBytes();
          const existing = (await registry.listModels()).find((m) => m.name === options.name);
          const aliases = options.aliases ?? (existing && existing.versions > 0 ? [] : ["champion"]);
          const version = await registry.register({
            name: options.name,
            bundle: bytes,
            flavor: ModelBundle.flavor,
            runId: run.id,
            dataset: { fingerprint: dataFingerprint, name: dataName, rows: frame.rows },
            metrics: prefixed("test_", evaluation.metrics),
            signature: signatureOf(bundle, target),
            aliases,
          });
          await run.linkArtifact("model.bundle.json", version.digest, version.size, "application/json");
          await run.setTags({ registered: `${version.name}/${version.version}` });
          span.setAttributes({ "model.version": version.version, ...prefixed("test.", evaluation.metrics) });
          return {
            runId: run.id,
            model: version,
            target,
            rows: { total: frame.rows, train: train.rows, valid: valid.rows, test: test.rows },
            evaluation,
            curve,
            importance,
            featureNotes: auto.notes,
            cleaning: cleaned.reports,
            profile,
            reportPath,
            ...(tuning ? { tuning } : {}),
          } satisfies TrainTableResult;
        },
      );
    },
  );
}

/** Test rows the report's SHAP summary explains (evenly spread over the test split). */
const SHAP_ROWS = 1000;
/** Dots across the report's beeswarm plots: each is ~250 bytes of SVG. */
const SHAP_DOTS = 2400;

/** SHAP values of up to {@link SHAP_ROWS} test rows, summarised for the report's charts. */
function shapForReport(model: TreeEnsemble, Xtest: FeatureMatrix, target: TargetInfo): ReportShap | undefined {
  if (Xtest.rows === 0) return undefined;
  const n = Math.min(SHAP_ROWS, Xtest.rows);
  const pick = Array.from({ length: n }, (_, i) => Math.floor((i * Xtest.rows) / n));
  const data = new Float64Array(n * Xtest.cols);
  pick.forEach((r, i) => {
    data.set(Xtest.data.subarray(r * Xtest.cols, (r + 1) * Xtest.cols), i * Xtest.cols);
  });
  const X = { data, rows: n, cols: Xtest.cols };
  const shap = treeShap(model, X);
  const options = { featureNames: Xtest.featureNames, categoricalFeatures: Xtest.categoricalFeatures };
  const classes = target.task === "multiclass" ? target.classes : undefined;
  if (classes && shap.groups > 1) {
    return {
      rows: n,
      outcome: `softmax scores of ${target.name} (one per class)`,
      classes,
      overall: shapSummary(shap, X, { ...options, group: "all" }),
      // One dot plot per class would crowd the report; the first four classes show the pattern.
      beeswarms: classes.slice(0, 4).map((c, g, shown) => ({
        title: `SHAP values for ${target.name} = ${c}`,
        summary: shapSummary(shap, X, {
          ...options,
          group: g,
          top: 8,
          pointsPerFeature: Math.floor(SHAP_DOTS / (8 * shown.length)),
        }),
      })),
    };
  }
  const outcome =
    target.task === "binary" ? `log-odds of ${target.name} = ${target.classes?.[1] ?? "1"}` : `${target.name}`;
  // Mean |SHAP| uses every explained row; the dots are spread-out rows within the budget.
  const summary = shapSummary(shap, X, { ...options, group: 0, top: 10, pointsPerFeature: SHAP_DOTS / 10 });
  return { rows: n, outcome, overall: summary, beeswarms: [{ title: `SHAP values per row (${outcome})`, summary }] };
}

function prefixed(prefix: string, metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(metrics)
      .filter(([, v]) => Number.isFinite(v))
      .map(([k, v]) => [`${prefix}${k}`, v]),
  );
}

function dropMissingTarget(frame: Frame, target: string): Frame {
  const column = frame.column(target);
  const keep: number[] = [];
  for (let i = 0; i < frame.rows; i++) if (!isMissing(column, i)) keep.push(i);
  return frame.take(keep);
}

function signatureOf(bundle: ModelBundle, target: TargetInfo) {
  return {
    inputs: bundle.schema.columns.map((c) => ({
      name: c.name,
      type: c.kind,
      nullable: c.nullable,
      ...(c.categories ? { categories: c.categories } : {}),
    })),
    outputs:
      target.task === "regression"
        ? [{ name: target.name, type: "number" }]
        : [
            { name: `${target.name}_probability`, type: "number" },
            { name: target.name, type: "string" },
          ],
  };
}

export type { FeatureMatrix };
