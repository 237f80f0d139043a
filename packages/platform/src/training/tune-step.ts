import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { type Store, ValidationError } from "@quintet/core";
import {
  type FeatureMatrix,
  type GbdtParams,
  gbdtObjective,
  gbdtSearchSpace,
  type MetricName,
  openStudy,
  type Params,
  type PrunerSpec,
  type SamplerSpec,
  type SearchSpace,
  stackRows,
  type TargetInfo,
  type TrialRecord,
  type TrialState,
  tuningFolds,
} from "@quintet/ml";
import { z } from "zod";

/** Hyperparameter tuning before the final fit (see {@link TrainTableOptions.tune}). */
export interface TrainTuneOptions {
  /** Start no trial after this many milliseconds. Default 60 s when `trials` is not given either. */
  budgetMs?: number;
  /** Run this many trials (on top of those a continued study already has). */
  trials?: number;
  /** Tree parameters to search; default `gbdtSearchSpace()` minus any parameter given in `params`. */
  space?: SearchSpace;
  /**
   * Study name. Default: the model name and a digest of the data, target, split, seed and
   * space — so training the same thing again continues its study instead of starting over.
   */
  study?: string;
  /** Default TPE with 8 random startup trials. */
  sampler?: SamplerSpec;
  /** Default successive halving from round 20 (η = 3); `{ type: "none" }` turns pruning off. */
  pruner?: PrunerSpec;
  /** Trials at once on worker threads. Default: up to 2, one per core. */
  concurrency?: number;
  /**
   * Folds to score each trial with (stratified k-fold over the train + validation rows);
   * 0 scores on the validation rows. Default `tuningFolds(rows)`: 5 below 20,000 rows, where
   * one validation split is noisy enough to be overfitted by the search, else 0.
   */
  folds?: number;
}

/** What tuning did, kept with the run and returned by trainTable. */
export interface TuningSummary {
  study: string;
  studyId: string;
  /** Validation metric the study optimised (early stopping uses it too). */
  metric: MetricName;
  direction: "maximize" | "minimize";
  /** Folds each trial was scored with; 0 = the validation rows. */
  folds: number;
  /** Trials in the study after this run, by state. */
  trials: number;
  complete: number;
  pruned: number;
  failed: number;
  /** Trials the study already had when this run started (a continued study). */
  previous: number;
  bestTrial: number;
  bestValue: number;
  /** The winning point of the search space (the final model uses these). */
  bestParams: Params;
}

/** One finished trial, for progress displays. */
export interface TrialEvent {
  type: "trial";
  number: number;
  state: TrialState;
  value: number | null;
  metric: MetricName;
  best: { number: number; value: number } | undefined;
  /** Trials this run finished so far. */
  finished: number;
  budget: { trials?: number; budgetMs?: number };
}

const tuneSchema = z
  .object({
    budgetMs: z.number().gt(0).optional(),
    trials: z.number().int().min(1).max(100_000).optional(),
    space: z.record(z.string(), z.unknown()).optional(),
    study: z.string().min(1).max(200).optional(),
    sampler: z.unknown().optional(),
    pruner: z.unknown().optional(),
    concurrency: z.number().int().min(1).max(64).optional(),
    folds: z.union([z.literal(0), z.number().int().min(2).max(20)]).optional(),
  })
  .strict();

/** Rounds and patience of tuned fits when `params` does not set them. */
const TUNED_ROUNDS = 1000;
const TUNED_PATIENCE = 50;

/**
 * Runs a study on the train/validation split (the test rows are never seen) and returns
 * the parameters of the best trial, merged with the fixed ones so the final fit repeats it.
 */
export async function tuneTreeParams(args: {
  store: Store;
  model: string;
  tune: TrainTuneOptions;
  target: TargetInfo;
  X: FeatureMatrix;
  y: Float64Array;
  Xvalid: FeatureMatrix;
  yValid: Float64Array;
  params: Omit<GbdtParams, "objective">;
  /** Given parameters, held fixed (removed from the default space). */
  fixed: readonly string[];
  /** What else defines the study (data fingerprint, split, seed...), hashed into its default name. */
  identity: Record<string, unknown>;
  seed: number;
  signal?: AbortSignal;
  onTrial?: (event: TrialEvent) => void;
}): Promise<{ params: Omit<GbdtParams, "objective">; summary: TuningSummary; trials: TrialRecord[] }> {
  const parsed = tuneSchema.safeParse(args.tune);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(`tune option "${issue.path.join(".")}": ${issue.message}`, {
      hint: "Give tune: { budgetMs?: number, trials?: number, space?, study?, sampler?, pruner?, concurrency?, folds? }.",
    });
  }
  const tune = args.tune;
  const budget = {
    ...(tune.trials !== undefined ? { trials: tune.trials } : {}),
    ...(tune.budgetMs !== undefined || tune.trials === undefined ? { budgetMs: tune.budgetMs ?? 60_000 } : {}),
  };
  let space = tune.space;
  if (!space) {
    space = Object.fromEntries(Object.entries(gbdtSearchSpace()).filter(([k]) => !args.fixed.includes(k)));
    if (Object.keys(space).length === 0)
      throw new ValidationError("every tuned parameter is fixed by params, so there is nothing to tune", {
        hint: "Drop some of the given parameters, or pass tune.space.",
      });
  }
  const task = args.target.task;
  const objectiveName: GbdtParams["objective"] =
    task === "binary" ? "binary" : task === "multiclass" ? "multiclass" : "squared";
  const metric: MetricName = task === "binary" ? "auc" : task === "multiclass" ? "mlogloss" : "rmse";
  const base: GbdtParams = {
    ...args.params,
    numRounds: args.fixed.includes("numRounds") ? args.params.numRounds : TUNED_ROUNDS,
    earlyStoppingRounds: args.fixed.includes("earlyStoppingRounds") ? args.params.earlyStoppingRounds : TUNED_PATIENCE,
    evalMetric: metric,
    objective: objectiveName,
    ...(task === "multiclass" ? { numClasses: args.target.classes?.length ?? 2 } : {}),
  };
  const folds = tune.folds ?? tuningFolds(args.X.rows + args.Xvalid.rows);
  const objective = folds
    ? gbdtObjective({
        ...stackRows({ X: args.X, y: args.y }, { X: args.Xvalid, y: args.yValid }),
        folds,
        foldSeed: args.seed,
        params: base,
        metric,
        reportEvery: 10,
      })
    : gbdtObjective({
        X: args.X,
        y: args.y,
        validation: { X: args.Xvalid, y: args.yValid },
        params: base,
        metric,
        reportEvery: 10,
      });
  const digest = createHash("sha256")
    .update(JSON.stringify({ ...args.identity, space, folds, base: { ...base, featureNames: undefined } }))
    .digest("hex")
    .slice(0, 12);
  const study = await openStudy({
    store: args.store,
    name: tune.study ?? `${args.model}-${digest}`,
    space,
    direction: objective.direction,
    sampler: tune.sampler ?? { type: "tpe", startupTrials: 8 },
    pruner: tune.pruner ?? { type: "successiveHalving", minResource: 20, reductionFactor: 3, minTrials: 3 },
    seed: args.seed,
    attrs: { model: args.model, metric, ...args.identity },
  });
  const previous = (await study.trials()).length;
  let finished = 0;
  const result = await study.optimize(objective, {
    ...(budget.trials !== undefined ? { trials: previous + budget.trials } : {}),
    ...(budget.budgetMs !== undefined ? { timeoutMs: budget.budgetMs } : {}),
    concurrency: tune.concurrency ?? Math.max(1, Math.min(2, availableParallelism())),
    ...(args.signal ? { signal: args.signal } : {}),
    onTrial: (t, best) => {
      finished++;
      args.onTrial?.({
        type: "trial",
        number: t.number,
        state: t.state,
        value: t.value,
        metric,
        best: best ? { number: best.number, value: best.value! } : undefined,
        finished,
        budget,
      });
    },
  });
  const best = result.best;
  if (!best) {
    const failed = result.trials.find((t) => t.state === "failed");
    throw new ValidationError(
      `tuning found no complete trial in ${result.trials.length} trials${failed ? `: ${failed.error}` : ""}`,
      { hint: "Give tuning a larger budget (e.g. --budget 5m) or turn pruning off." },
    );
  }
  const count = (s: TrialState) => result.trials.filter((t) => t.state === s).length;
  const { objective: _, ...tuned } = { ...base, ...(best.params as Partial<GbdtParams>) };
  return {
    params: tuned,
    trials: result.trials,
    summary: {
      study: study.name,
      studyId: study.id,
      metric,
      direction: objective.direction,
      folds,
      trials: result.trials.length,
      complete: count("complete"),
      pruned: count("pruned"),
      failed: count("failed"),
      previous,
      bestTrial: best.number,
      bestValue: best.value!,
      bestParams: best.params,
    },
  };
}
