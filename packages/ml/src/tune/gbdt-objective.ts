import { ValidationError } from "@quintet/core";
import { kFold, stratifiedKFold } from "../eval/splits.js";
import { isBetter, type MetricName, metricByName } from "../metrics/registry.js";
import type { Matrix } from "../models/ensemble/matrix.js";
import { checkMetric, type GbdtParams, parseGbdtParams } from "../models/gbdt/options.js";
import { trainGbdt } from "../models/gbdt/train.js";
import { type ObjectiveRunner, type ReportFn, TrialPruned, type WorkerObjective } from "./objective.js";
import { floatParam, intParam, type Params, type SearchSpace } from "./space.js";

/** What the built-in `gbdt-cv` objective trains and scores. */
export interface GbdtObjectiveOptions {
  /** Training rows (NaN = missing). */
  X: Matrix;
  y: ArrayLike<number>;
  /** Held-out rows scored every round (early stopping, pruning, the trial's value). */
  validation?: { X: Matrix; y: ArrayLike<number> };
  /** Without `validation`: k-fold cross-validation over X (stratified for classification). Default 5. */
  folds?: number;
  /** Seed of the fold assignment. Default 0. */
  foldSeed?: number;
  /** Fixed parameters; each trial's parameters override them (e.g. objective, numRounds, earlyStoppingRounds). */
  params: GbdtParams;
  /** The score; default auc (binary), mlogloss (multiclass), rmse (regression). */
  metric?: MetricName;
  /** Rounds between intermediate reports (what the pruner sees). Default 10. */
  reportEvery?: number;
}

/** Tables up to this many rows are tuned by cross-validation by default (see {@link tuningFolds}). */
export const CV_TUNING_MAX_ROWS = 20_000;

/**
 * How many folds to score tuning trials with: 5-fold cross-validation for tables under
 * {@link CV_TUNING_MAX_ROWS} rows, 0 (one validation split) above. On a small table one
 * validation split is noisy enough that a few hundred trials overfit it: the winner's
 * validation score rises while its test score falls below the untuned default (measured
 * in bench/ml-workflow). Above the cut a validation split has enough rows and CV would
 * cost five times the trials. The same rule FLAML-style AutoML tools apply.
 */
export function tuningFolds(rows: number): number {
  return rows < CV_TUNING_MAX_ROWS ? 5 : 0;
}

/** The cloneable form sent to workers: matrices live in SharedArrayBuffers. */
interface GbdtObjectiveInit {
  X: Matrix;
  y: Float64Array;
  validation?: { X: Matrix; y: Float64Array };
  folds: number;
  foldSeed: number;
  params: GbdtParams;
  metric: MetricName;
  reportEvery: number;
  threads: number | "auto";
}

function shared(a: ArrayLike<number>): Float64Array {
  if (a instanceof Float64Array && a.buffer instanceof SharedArrayBuffer) return a;
  const out = new Float64Array(new SharedArrayBuffer(a.length * 8));
  for (let i = 0; i < a.length; i++) out[i] = a[i]!;
  return out;
}

function sharedMatrix(m: Matrix, what: string): Matrix {
  if (!m || !(m.data instanceof Float64Array) || m.data.length !== m.rows * m.cols || m.rows < 1)
    throw new ValidationError(`${what} must be a non-empty Matrix { data: Float64Array, rows, cols }`, {
      hint: "Build it with matrixFromRows or a Pipeline's fitTransform.",
    });
  return { data: shared(m.data), rows: m.rows, cols: m.cols };
}

function defaultMetric(objective: GbdtParams["objective"]): MetricName {
  return objective === "binary" ? "auc" : objective === "multiclass" ? "mlogloss" : "rmse";
}

/**
 * The built-in objective for tuning gradient-boosted trees, runnable on worker threads:
 * each trial trains on X with its parameters over `params`, scored every round on the
 * validation rows (or each fold's), and reports the best score so far every `reportEvery`
 * rounds (the mean over folds, trained in lockstep) so successive halving can stop it.
 * The trial's value is the best validation score (the round early stopping keeps); its
 * attributes hold that round.
 *
 * @example
 * const objective = gbdtObjective({ X, y, validation: { X: Xv, y: yv },
 *   params: { objective: "binary", numRounds: 1000, earlyStoppingRounds: 50 } });
 * const study = await openStudy({ store, name: "churn", space: gbdtSearchSpace(), direction: objective.direction });
 * await study.optimize(objective, { timeoutMs: 60_000, concurrency: 2 });
 */
export function gbdtObjective(options: GbdtObjectiveOptions): WorkerObjective {
  if (typeof options !== "object" || options === null)
    throw new ValidationError("gbdtObjective needs { X, y, params, validation | folds }");
  const X = sharedMatrix(options.X, "X");
  if (!options.y || options.y.length !== X.rows)
    throw new ValidationError(`y has ${options.y?.length ?? 0} labels but X has ${X.rows} rows`, {
      hint: "Give one label per training row.",
    });
  if (!options.params || typeof options.params !== "object")
    throw new ValidationError('gbdtObjective needs params with at least { objective: "binary" | ... }');
  parseGbdtParams(options.params, { fitInputs: false });
  const metric = options.metric ?? defaultMetric(options.params.objective);
  const named = metricByName(metric);
  checkMetric(options.params.objective, metric);
  let validation: GbdtObjectiveInit["validation"];
  if (options.validation) {
    const vX = sharedMatrix(options.validation.X, "validation.X");
    if (vX.cols !== X.cols)
      throw new ValidationError(`validation.X has ${vX.cols} columns but X has ${X.cols}`, {
        hint: "Validation rows need the same features as the training rows.",
      });
    if (options.validation.y?.length !== vX.rows)
      throw new ValidationError(
        `validation.y has ${options.validation.y?.length ?? 0} labels but validation.X has ${vX.rows} rows`,
      );
    validation = { X: vX, y: shared(options.validation.y) };
  }
  const folds = options.folds ?? 5;
  if (!validation && (!Number.isInteger(folds) || folds < 2 || folds > X.rows))
    throw new ValidationError(`folds must be a whole number from 2 to the row count, got ${folds}`, {
      hint: "Use folds: 5, or pass a validation set.",
    });
  const reportEvery = options.reportEvery ?? 10;
  if (!Number.isInteger(reportEvery) || reportEvery < 1)
    throw new ValidationError(`reportEvery must be a whole number ≥ 1, got ${reportEvery}`);
  const { threads, ...params } = options.params;
  const init: GbdtObjectiveInit = {
    X,
    y: shared(options.y),
    ...(validation ? { validation } : {}),
    folds,
    foldSeed: options.foldSeed ?? 0,
    params,
    metric,
    reportEvery,
    threads: threads ?? "auto",
  };
  return { kind: "worker", name: "gbdt-cv", init, direction: named.direction === "higher" ? "maximize" : "minimize" };
}

function takeRows(m: Matrix, y: Float64Array, rows: Int32Array): { X: Matrix; y: Float64Array } {
  const data = new Float64Array(rows.length * m.cols);
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
    out[i] = y[r]!;
  }
  return { X: { data, rows: rows.length, cols: m.cols }, y: out };
}

/**
 * Makes folds wait for each other at every report step, so the reported value is the mean
 * over all folds at the same round. A fold that stopped early counts with its final best.
 */
class FoldBarrier {
  private readonly done = new Set<number>();
  private readonly waiting = new Map<number, { arrived: Set<number>; resolvers: ((prune: boolean) => void)[] }>();
  private readonly best: number[];
  private pruned = false;

  constructor(
    private readonly k: number,
    private readonly report: ReportFn,
  ) {
    this.best = new Array(k).fill(Number.NaN);
  }

  setBest(fold: number, value: number): void {
    this.best[fold] = value;
  }

  arrive(fold: number, step: number): Promise<boolean> {
    if (this.pruned) return Promise.resolve(true);
    let w = this.waiting.get(step);
    if (!w) {
      w = { arrived: new Set(), resolvers: [] };
      this.waiting.set(step, w);
    }
    w.arrived.add(fold);
    const p = new Promise<boolean>((resolve) => w.resolvers.push(resolve));
    this.check(step);
    return p;
  }

  finish(fold: number): void {
    this.done.add(fold);
    for (const step of [...this.waiting.keys()]) this.check(step);
  }

  private check(step: number): void {
    const w = this.waiting.get(step);
    if (!w) return;
    for (let f = 0; f < this.k; f++) if (!w.arrived.has(f) && !this.done.has(f)) return;
    this.waiting.delete(step);
    let sum = 0;
    let n = 0;
    for (const v of this.best)
      if (Number.isFinite(v)) {
        sum += v;
        n++;
      }
    const mean = n > 0 ? sum / n : Number.NaN;
    void this.report(step, mean).then(
      (prune) => {
        if (prune) this.pruned = true;
        for (const r of w.resolvers) r(prune);
      },
      () => {
        for (const r of w.resolvers) r(true);
      },
    );
  }
}

/**
 * Builds the `gbdt-cv` runner over its (shared) data; folds are cut once per thread. On a
 * worker each trial trains single-threaded: the parallelism is across trials.
 */
export function createGbdtRunner(raw: unknown, context: { inWorker: boolean }): ObjectiveRunner {
  const init = raw as GbdtObjectiveInit;
  const threads = context.inWorker ? 1 : init.threads;
  const metric = metricByName(init.metric);
  const classify = init.params.objective === "binary" || init.params.objective === "multiclass";
  const folds = init.validation
    ? [{ X: init.X, y: init.y, vX: init.validation.X, vy: init.validation.y }]
    : (classify
        ? stratifiedKFold({ k: init.folds, seed: init.foldSeed })
        : kFold({ k: init.folds, seed: init.foldSeed })
      )
        .split({ n: init.X.rows, y: init.y })
        .map((f) => {
          const tr = takeRows(init.X, init.y, f.train);
          const va = takeRows(init.X, init.y, f.valid);
          return { X: tr.X, y: tr.y, vX: va.X, vy: va.y };
        });

  return async (params: Params, report: ReportFn, signal: AbortSignal) => {
    const k = folds.length;
    const barrier = new FoldBarrier(k, report);
    const results = await Promise.allSettled(
      folds.map(async (fold, f) => {
        let best: number | undefined;
        try {
          const model = await trainGbdt(fold.X, fold.y, {
            ...init.params,
            ...(params as Partial<GbdtParams>),
            evalMetric: init.metric,
            evalTrain: false,
            threads,
            validation: { X: fold.vX, y: fold.vy },
            signal,
            onIteration: async (p) => {
              if (p.valid !== undefined && (best === undefined || isBetter(metric, p.valid, best))) best = p.valid;
              if (best !== undefined) barrier.setBest(f, best);
              if ((p.iteration + 1) % init.reportEvery === 0) {
                if (await barrier.arrive(f, p.iteration + 1)) throw new TrialPruned();
              }
            },
          });
          const history = model.evalHistory.valid;
          const value = model.bestScore ?? history[history.length - 1] ?? Number.NaN;
          barrier.setBest(f, value);
          return { value, rounds: model.numRounds, bestIteration: model.bestIteration };
        } finally {
          barrier.finish(f);
        }
      }),
    );
    const failed = results.find((r) => r.status === "rejected" && !(r.reason instanceof TrialPruned));
    if (failed) throw (failed as PromiseRejectedResult).reason;
    if (results.some((r) => r.status === "rejected")) throw new TrialPruned();
    const ok = results.map(
      (r) => (r as PromiseFulfilledResult<{ value: number; rounds: number; bestIteration: number | undefined }>).value,
    );
    const value = ok.reduce((s, r) => s + r.value, 0) / k;
    return {
      value,
      attrs: {
        metric: init.metric,
        rounds: k === 1 ? ok[0]!.rounds : Math.round(ok.reduce((s, r) => s + r.rounds, 0) / k),
        ...(k > 1 ? { foldValues: ok.map((r) => r.value) } : {}),
      },
    };
  };
}

/**
 * A search space for gradient-boosted trees that suits most tables: learning rate and the
 * L1/L2 penalties on log scales, depth, minimum child weight, row and column sampling. The
 * number of rounds is left to early stopping.
 */
export function gbdtSearchSpace(): SearchSpace {
  return {
    learningRate: floatParam(0.01, 0.3, { log: true }),
    maxDepth: intParam(2, 10),
    minChildWeight: floatParam(0.1, 50, { log: true }),
    subsample: floatParam(0.5, 1),
    colsampleByTree: floatParam(0.4, 1),
    lambda: floatParam(0.001, 30, { log: true }),
    alpha: floatParam(0.001, 10, { log: true }),
  };
}
