import { CancelledError, ValidationError } from "@quintet/core";
import { z } from "zod";
import { Rng } from "../../datasets/rng.js";
import { METRIC_NAMES, type MetricName, metricByName } from "../../metrics/registry.js";
import type { Matrix } from "../ensemble/matrix.js";
import type { Tree, TreeEnsemble } from "../ensemble/types.js";
import { binMatrix, fitBinLayout } from "../gbdt/binning.js";
import { createHistogramBuilder, poolCapacity } from "../gbdt/builder.js";
import { checkLabelArray, checkTrainingMatrix, resolveThreads, rowWeights } from "../gbdt/inputs.js";
import { binnedLeaf, type GrowParams, TreeLearner } from "../gbdt/learner.js";
import { checkLabels } from "../gbdt/objectives.js";
import { checkMetric, optionsError } from "../gbdt/options.js";

/** Hyperparameters of the random forest (scikit-learn's names where they differ). */
export const forestParamsSchema = z
  .object({
    /** "classification" (labels 0..K-1) or "regression". */
    task: z.enum(["classification", "regression"]),
    /** Classes for classification; default: the largest label + 1. */
    numClasses: z.number().int().min(2).max(10_000).optional(),
    /** Trees (bags). Default 100. */
    numTrees: z.number().int().min(1).max(100_000).default(100),
    /** Maximum depth, 0 = unlimited (grow until leaves are pure or too small). Default 0. */
    maxDepth: z.number().int().min(0).max(256).default(0),
    /** Maximum leaves per tree, 0 = unlimited. Default 0. */
    numLeaves: z
      .number()
      .int()
      .min(0)
      .max(1 << 24)
      .default(0),
    /** Minimum (bootstrap-weighted) rows in a leaf. Default 1. */
    minSamplesLeaf: z.number().min(0).default(1),
    /** Minimum impurity decrease (weighted variance reduction × rows) to split. Default 0. */
    minSplitGain: z.number().min(0).default(0),
    /**
     * Features tried at each node: "sqrt", "log2", "all", or a fraction in (0, 1].
     * Default "sqrt" for classification, "all" for regression (as scikit-learn).
     */
    maxFeatures: z.union([z.enum(["sqrt", "log2", "all"]), z.number().gt(0).max(1)]).optional(),
    /** Draw each tree's rows with replacement (true) or use every row (false). Default true. */
    bootstrap: z.boolean().default(true),
    /** Rows drawn per tree as a fraction of the data (scikit-learn's max_samples). Default 1. */
    sampleFraction: z.number().gt(0).max(1).default(1),
    /** Value bins per numeric feature, 2..255. Default 255. */
    maxBins: z.number().int().min(2).max(255).default(255),
    binSampleRows: z.number().int().min(100).default(200_000),
    /** Column indices holding category codes; split as sets ordered by the target mean. */
    categoricalFeatures: z.array(z.number().int().min(0)).default([]),
    /** Out-of-bag metric (needs bootstrap); default auc (binary), mlogloss (multiclass), rmse (regression). */
    oobMetric: z.enum(METRIC_NAMES as [MetricName, ...MetricName[]]).optional(),
    seed: z.number().int().default(0),
    threads: z.union([z.literal("auto"), z.number().int().min(1).max(64)]).default("auto"),
    featureNames: z.array(z.string()).optional(),
  })
  .strict();

export type ForestParams = z.input<typeof forestParamsSchema>;
export type ResolvedForestParams = z.output<typeof forestParamsSchema>;

export interface ForestProgress {
  /** Trees (bags) finished so far. */
  trees: number;
  numTrees: number;
}

/** Everything `trainForest` accepts besides X and y. */
export interface ForestOptions extends ForestParams {
  sampleWeight?: ArrayLike<number>;
  onTree?: (progress: ForestProgress) => void | Promise<void>;
  signal?: AbortSignal;
}

/** A trained random forest: an averaging {@link TreeEnsemble} plus how it was trained. */
export interface ForestModel extends TreeEnsemble {
  kind: "forest";
  params: ResolvedForestParams;
  /** Out-of-bag metric over rows left out of at least one bag (undefined without bootstrap). */
  oobScore: number | undefined;
  oobMetric: MetricName | undefined;
}

const FIT_KEYS = new Set(["sampleWeight", "onTree", "signal"]);

/** Validates and fills in random-forest hyperparameters (fit inputs are ignored). */
export function parseForestParams(options: ForestOptions): ResolvedForestParams {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("forest options must be an object", { hint: 'Pass e.g. { task: "classification" }.' });
  }
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!FIT_KEYS.has(k) && v !== undefined) params[k] = v;
  const r = forestParamsSchema.safeParse(params);
  if (!r.success) throw optionsError(r.error, "random forest");
  const p = r.data;
  if (p.numClasses !== undefined && p.task !== "classification") {
    throw new ValidationError('numClasses is only for task "classification"', { hint: "Drop numClasses." });
  }
  if (p.oobMetric !== undefined && !p.bootstrap) {
    throw new ValidationError("oobMetric needs bootstrap: true (without it there are no out-of-bag rows)");
  }
  return p;
}

/** Features tried per node for `maxFeatures` out of `cols`. */
function featuresPerNode(maxFeatures: ResolvedForestParams["maxFeatures"], task: string, cols: number): number {
  const m = maxFeatures ?? (task === "classification" ? "sqrt" : "all");
  if (m === "all") return cols;
  if (m === "sqrt") return Math.max(1, Math.floor(Math.sqrt(cols)));
  if (m === "log2") return Math.max(1, Math.floor(Math.log2(cols)));
  return Math.max(1, Math.round(m * cols));
}

/**
 * Trains a random forest: each tree is grown on a bootstrap sample of the rows (drawn as
 * integer weights), trying a random subset of features at every node, on the same
 * histogram tree learner as the GBDT (binned features, missing-value directions,
 * categorical set splits). Trees grow until leaves are pure or `minSamplesLeaf` stops them;
 * the forest's output is the mean of its trees.
 *
 * Classification fits, per tree, the class-indicator mean in each leaf (variance
 * reduction, which for two classes ranks splits as Gini does); with K > 2 classes each bag
 * grows one tree per class, so the K outputs are one-vs-rest frequencies that sum to 1
 * only approximately ({@link RandomForestClassifier} renormalises them).
 *
 * @example
 * const forest = await trainForest(X, y, { task: "classification", numTrees: 200 });
 * const p = compileEnsemble(forest).predict(Xtest); // P(y = 1) per row
 */
export async function trainForest(X: Matrix, y: ArrayLike<number>, options: ForestOptions): Promise<ForestModel> {
  const params = parseForestParams(options);
  checkTrainingMatrix(X);
  checkLabelArray(y, X.rows);
  const classify = params.task === "classification";
  let numClasses = 1;
  if (classify) {
    numClasses = params.numClasses ?? 2;
    if (params.numClasses === undefined)
      for (let i = 0; i < y.length; i++) numClasses = Math.max(numClasses, y[i]! + 1);
    checkLabels(numClasses === 2 ? "binary" : "multiclass", y, numClasses, true);
  } else {
    checkLabels("squared", y, 1, true);
  }
  for (const f of params.categoricalFeatures) {
    if (f >= X.cols) throw new ValidationError(`categoricalFeatures lists column ${f}, but X has ${X.cols} columns`);
  }
  if (params.featureNames && params.featureNames.length !== X.cols) {
    throw new ValidationError(`featureNames has ${params.featureNames.length} names but X has ${X.cols} columns`);
  }
  const weights = rowWeights(options.sampleWeight, X.rows);
  const G = classify && numClasses > 2 ? numClasses : 1;
  const oobMetricName: MetricName | undefined = params.bootstrap
    ? (params.oobMetric ?? (classify ? (G > 1 ? "mlogloss" : "auc") : "rmse"))
    : undefined;
  if (oobMetricName) checkMetric(classify ? (G > 1 ? "multiclass" : "binary") : "squared", oobMetricName);

  const layout = fitBinLayout(X, {
    maxBins: params.maxBins,
    categoricalFeatures: params.categoricalFeatures,
    sampleRows: params.binSampleRows,
    seed: params.seed,
  });
  const threads = resolveThreads(params.threads, X.rows, X.cols);
  const data = binMatrix(X, layout, threads > 1, true);
  const n = X.rows;
  const perNode = featuresPerNode(params.maxFeatures, params.task, X.cols);
  const grow: GrowParams = {
    // Plain means in the leaves: no shrinkage, no regularisation.
    lambda: 0,
    alpha: 0,
    minChildWeight: params.minSamplesLeaf,
    minSplitGain: params.minSplitGain,
    maxDeltaStep: 0,
    maxCatToOnehot: 4,
    catSmooth: 0,
    catL2: 0,
    maxCatThreshold: 64,
    growPolicy: params.numLeaves > 0 ? "lossguide" : "depthwise",
    maxDepth: params.maxDepth,
    maxLeaves: params.numLeaves,
    learningRate: 1,
    colsampleByNode: perNode / X.cols,
  };
  const capacity = poolCapacity(X.cols, params.maxDepth, params.numLeaves);
  const builder = await createHistogramBuilder(data, capacity, threads, grow);
  const learner = new TreeLearner(data, grow, builder);

  const rng = new Rng(params.seed);
  const allFeatures = Int32Array.from({ length: X.cols }, (_, i) => i);
  const counts = new Uint32Array(n);
  const rowsOf = new Uint32Array(n);
  const oobSum = new Float64Array(oobMetricName ? n * G : 0);
  const oobCount = new Uint32Array(oobMetricName ? n : 0);
  const trees: Tree[] = [];
  const treeGroup: number[] = [];
  const draws = Math.max(1, Math.round(n * params.sampleFraction));
  const gh = builder.gh;
  try {
    for (let t = 0; t < params.numTrees; t++) {
      if (options.signal?.aborted) throw new CancelledError(`training cancelled after ${t} trees`);
      counts.fill(0);
      if (params.bootstrap) {
        for (let k = 0; k < draws; k++) counts[Math.floor(rng.next() * n)]!++;
      } else if (draws === n) {
        counts.fill(1);
      } else {
        // Without replacement: a partial Fisher–Yates shuffle of row ids.
        for (let r = 0; r < n; r++) rowsOf[r] = r;
        for (let k = 0; k < draws; k++) {
          const j = k + Math.floor(rng.next() * (n - k));
          const tmp = rowsOf[k]!;
          rowsOf[k] = rowsOf[j]!;
          rowsOf[j] = tmp;
          counts[rowsOf[k]!] = 1;
        }
      }
      let m = 0;
      for (let r = 0; r < n; r++) if (counts[r]! > 0 && weights[r]! > 0) rowsOf[m++] = r;
      for (let g = 0; g < G; g++) {
        // Squared loss from a zero margin: the leaf value -G/H is the weighted label mean.
        for (let r = 0; r < n; r++) {
          const w = counts[r]! * weights[r]!;
          const target = G > 1 ? (y[r] === g ? 1 : 0) : y[r]!;
          gh[2 * r] = -w * target;
          gh[2 * r + 1] = w;
        }
        builder.idx.set(rowsOf.subarray(0, m));
        const grown = learner.grow(m, allFeatures, X.cols, rng);
        if (oobMetricName) {
          for (let r = 0; r < n; r++) {
            if (counts[r] !== 0) continue;
            oobSum[r * G + g]! += grown.tree.value[binnedLeaf(grown.tree, grown.tables, data, r)]!;
            if (g === 0) oobCount[r]!++;
          }
        }
        trees.push(grown.tree);
        treeGroup.push(g);
      }
      if (options.onTree) await options.onTree({ trees: t + 1, numTrees: params.numTrees });
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    await builder.close();
  }

  return {
    kind: "forest",
    numFeatures: X.cols,
    ...(params.featureNames ? { featureNames: params.featureNames } : {}),
    ...(params.categoricalFeatures.length > 0 ? { categoricalFeatures: [...params.categoricalFeatures] } : {}),
    numGroups: G,
    treeGroup: Int32Array.from(treeGroup),
    baseMargin: new Array<number>(G).fill(0),
    link: "identity",
    averageTrees: true,
    float32: true,
    objective: "reg:squarederror",
    trees,
    params,
    oobMetric: oobMetricName,
    oobScore: oobMetricName ? oobScore(oobMetricName, y, oobSum, oobCount, G) : undefined,
  };
}

/** The metric over rows that were out of bag at least once, on their averaged OOB predictions. */
function oobScore(
  name: MetricName,
  y: ArrayLike<number>,
  sum: Float64Array,
  count: Uint32Array,
  G: number,
): number | undefined {
  const rows: number[] = [];
  for (let r = 0; r < count.length; r++) if (count[r]! > 0) rows.push(r);
  if (rows.length === 0) return undefined;
  const yt = new Float64Array(rows.length);
  const yp = new Float64Array(rows.length * G);
  rows.forEach((r, i) => {
    yt[i] = y[r]!;
    let total = 0;
    for (let g = 0; g < G; g++) total += sum[r * G + g]! / count[r]!;
    for (let g = 0; g < G; g++) {
      const v = sum[r * G + g]! / count[r]!;
      // One-vs-rest class frequencies, renormalised to a distribution.
      yp[i * G + g] = G > 1 ? (total > 0 ? v / total : 1 / G) : v;
    }
  });
  try {
    return metricByName(name).evaluate({ yTrue: yt, yPred: yp, numClasses: G });
  } catch (err) {
    // E.g. AUC when every out-of-bag row has the same label: there is no score to give.
    if (err instanceof ValidationError) return undefined;
    throw err;
  }
}
