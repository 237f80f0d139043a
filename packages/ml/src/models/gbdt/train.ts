import { CancelledError, ValidationError } from "@quintet/core";
import { Rng } from "../../datasets/rng.js";
import { isBetter, type MetricName, metricByName, type NamedMetric } from "../../metrics/registry.js";
import type { Matrix } from "../ensemble/matrix.js";
import type { Link, Tree, TreeEnsemble } from "../ensemble/types.js";
import { type BinnedMatrix, binMatrix, fitBinLayout } from "./binning.js";
import {
  createHistogramBuilder,
  poolCapacity,
  startHistogramWorkers,
  stopHistogramWorkers,
  threadSettings,
} from "./builder.js";
import { checkLabelArray, checkTrainingMatrix, resolveThreads, rowWeights } from "./inputs.js";
import { binnedLeaf, type GrownTree, type GrowParams, sampleFeatures, TreeLearner } from "./learner.js";
import { checkLabels, makeObjective, type Objective } from "./objectives.js";
import { type GbdtOptions, type GbdtProgress, parseGbdtParams, type ResolvedGbdtParams } from "./options.js";

/** A trained gradient-boosted ensemble: a {@link TreeEnsemble} plus how it was trained. */
export interface GbdtModel extends TreeEnsemble {
  kind: "gbdt";
  params: ResolvedGbdtParams;
  /** Boosting rounds in the model: all of them, or up to the best round with early stopping. */
  numRounds: number;
  /** Best validation round (0-based) when a validation set was given. */
  bestIteration: number | undefined;
  bestScore: number | undefined;
  /** The metric per round, on training rows (when computed) and validation rows. */
  evalHistory: { metric: MetricName; train: number[]; valid: number[] };
}

/** Writes linked predictions of row-major margins (`numGroups` per row) into `out`. */
export function linkMargins(link: Link, margins: Float64Array, numGroups: number, out: Float64Array): Float64Array {
  switch (link) {
    case "identity":
      out.set(margins);
      break;
    case "sigmoid":
      for (let i = 0; i < margins.length; i++) out[i] = 1 / (1 + Math.exp(-margins[i]!));
      break;
    case "exp":
      for (let i = 0; i < margins.length; i++) out[i] = Math.exp(margins[i]!);
      break;
    case "softmax":
      for (let o = 0; o < margins.length; o += numGroups) {
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < numGroups; j++) max = Math.max(max, margins[o + j]!);
        let sum = 0;
        for (let j = 0; j < numGroups; j++) {
          out[o + j] = Math.exp(margins[o + j]! - max);
          sum += out[o + j]!;
        }
        for (let j = 0; j < numGroups; j++) out[o + j]! /= sum;
      }
      break;
  }
  return out;
}

/** Scores margins with a metric (allocates the linked copy in `scratch`). */
function evaluate(
  metric: NamedMetric,
  obj: Objective,
  y: ArrayLike<number>,
  w: Float64Array | undefined,
  margins: Float64Array,
  scratch: Float64Array,
): number {
  linkMargins(obj.link, margins, obj.numGroups, scratch);
  return metric.evaluate({
    yTrue: y,
    yPred: scratch,
    ...(w ? { sampleWeight: w } : {}),
    numClasses: obj.numGroups,
  });
}

/** Adds a grown tree's leaf values to the margins of every row of `data` in group `g`. */
function addTreeToMargins(
  grown: GrownTree,
  data: BinnedMatrix,
  margins: Float64Array,
  numGroups: number,
  g: number,
): void {
  const { tree, tables } = grown;
  for (let r = 0; r < data.rows; r++) margins[r * numGroups + g]! += tree.value[binnedLeaf(tree, tables, data, r)]!;
}

/**
 * Trains a histogram gradient-boosted tree ensemble on `X` (rows × features, NaN =
 * missing) and labels `y`.
 *
 * Features are binned once (quantiles of up to 255 bins from a sample, missing values in
 * a bin of their own whose direction each split learns), then every round fits one tree
 * per output group to the objective's gradients and hessians. Categorical features
 * (`categoricalFeatures`) split into category sets ordered by gradient statistics, or
 * one-vs-rest when few categories reach a node. Histograms are built on worker threads for
 * large data; the model is identical for any thread count and fixed by `seed`.
 *
 * The result is a {@link TreeEnsemble}: score it with `compileEnsemble`, export it with
 * `saveXgboostJson`.
 *
 * @example
 * const model = await trainGbdt(X, y, { objective: "binary", numRounds: 200, maxDepth: 6 });
 * const p = compileEnsemble(model).predict(Xtest); // P(y = 1) per row
 */
export async function trainGbdt(X: Matrix, y: ArrayLike<number>, options: GbdtOptions): Promise<GbdtModel> {
  const params = parseGbdtParams(options);
  checkTrainingMatrix(X);
  checkLabelArray(y, X.rows);
  const numClasses = params.objective === "multiclass" ? (params.numClasses ?? inferClasses(y)) : 1;
  checkLabels(params.objective, y, numClasses, true);
  for (const f of params.categoricalFeatures) {
    if (f >= X.cols) {
      throw new ValidationError(`categoricalFeatures lists column ${f}, but X has ${X.cols} columns`, {
        hint: "List categorical features by 0-based column index.",
      });
    }
  }
  if (params.featureNames && params.featureNames.length !== X.cols) {
    throw new ValidationError(`featureNames has ${params.featureNames.length} names but X has ${X.cols} columns`);
  }
  const weights = rowWeights(options.sampleWeight, X.rows);
  const obj = makeObjective(params.objective, {
    numClasses,
    huberSlope: params.huberSlope,
    poissonMaxDeltaStep: params.poissonMaxDeltaStep,
    baseScore: params.baseScore,
  });
  // scalePosWeight is a weight on positive rows, in the loss and in the starting margin.
  if (params.scalePosWeight !== 1)
    for (let r = 0; r < X.rows; r++) if (y[r] === 1) weights[r]! *= params.scalePosWeight;

  const valid = options.validation;
  let vWeights: Float64Array | undefined;
  if (valid) {
    checkTrainingMatrix(valid.X as Matrix, "validation.X");
    if (valid.X.cols !== X.cols) {
      throw new ValidationError(`validation.X has ${valid.X.cols} columns but X has ${X.cols}`, {
        hint: "Validation rows need the same features as the training rows.",
      });
    }
    checkLabelArray(valid.y, valid.X.rows, "validation.y");
    checkLabels(params.objective, valid.y, numClasses, false);
    if (valid.sampleWeight) vWeights = rowWeights(valid.sampleWeight, valid.X.rows, "validation.sampleWeight");
  }

  const metricName = params.evalMetric ?? obj.defaultMetric;
  const metric = metricByName(metricName);
  const evalTrain = params.evalTrain ?? options.onIteration !== undefined;

  const G = obj.numGroups;
  const work = X.rows * X.cols * params.numRounds * G;
  const threads = work < threadSettings.minWork ? 1 : resolveThreads(params.threads, X.rows, X.cols);
  // Workers load their code while this thread bins the data.
  const crew = startHistogramWorkers(threads, X.cols);
  let data: BinnedMatrix;
  let vData: BinnedMatrix | undefined;
  try {
    const layout = fitBinLayout(X, {
      maxBins: params.maxBins,
      categoricalFeatures: params.categoricalFeatures,
      sampleRows: params.binSampleRows,
      seed: params.seed,
    });
    data = binMatrix(X, layout, threads > 1, true);
    vData = valid ? binMatrix(valid.X as Matrix, layout) : undefined;
  } catch (err) {
    await stopHistogramWorkers(crew);
    throw err;
  }
  const grow: GrowParams = {
    lambda: params.lambda,
    alpha: params.alpha,
    minChildWeight: params.minChildWeight,
    minSplitGain: params.minSplitGain,
    maxDeltaStep: params.maxDeltaStep,
    maxCatToOnehot: params.maxCatToOnehot,
    catSmooth: params.catSmooth,
    catL2: params.catL2,
    maxCatThreshold: params.maxCatThreshold,
    growPolicy: params.growPolicy,
    maxDepth: params.maxDepth,
    maxLeaves: params.numLeaves,
    learningRate: params.learningRate,
    colsampleByNode: params.colsampleByNode,
  };
  const builder = await createHistogramBuilder(
    data,
    poolCapacity(X.cols, params.maxDepth, params.numLeaves),
    threads,
    grow,
    params.quantizedGradients,
    crew,
  );

  const n = X.rows;
  const base = obj.baseMargin(y, weights);
  const margins = builder.marginArray(n * G);
  for (let r = 0; r < n; r++) for (let g = 0; g < G; g++) margins[r * G + g] = base[g]!;
  const vMargins = new Float64Array(vData ? vData.rows * G : 0);
  for (let r = 0; r < (vData?.rows ?? 0); r++) for (let g = 0; g < G; g++) vMargins[r * G + g] = base[g]!;
  const trainScratch = evalTrain ? new Float64Array(n * G) : new Float64Array(0);
  const validScratch = new Float64Array(vMargins.length);

  const trees: Tree[] = [];
  const treeGroup: number[] = [];
  const history = { metric: metricName, train: [] as number[], valid: [] as number[] };
  let bestIteration: number | undefined;
  let bestScore: number | undefined;
  const rng = new Rng(params.seed);
  const allFeatures = Int32Array.from({ length: X.cols }, (_, i) => i);
  const feats = new Int32Array(X.cols);
  const featTmp = new Int32Array(X.cols);
  const treeFeatures = Math.max(1, Math.round(X.cols * params.colsampleByTree));
  const sampled = new Uint32Array(n);
  const inSample = new Uint8Array(n).fill(1);
  const learner = new TreeLearner(data, grow, builder);

  try {
    for (let iter = 0; iter < params.numRounds; iter++) {
      if (options.signal?.aborted) throw new CancelledError(`training cancelled after ${iter} rounds`);
      // Without subsampling every round takes all rows, in order: `sampled` is filled once.
      const m = params.subsample < 1 || iter === 0 ? sampleRows(n, params.subsample, rng, sampled, inSample) : n;
      obj.prepare(margins);
      for (let g = 0; g < G; g++) {
        let fc = X.cols;
        let fs = allFeatures;
        if (treeFeatures < X.cols) {
          sampleFeatures(allFeatures, X.cols, treeFeatures, rng, feats, featTmp);
          fc = treeFeatures;
          fs = feats;
        }
        if (obj.name === "binary") builder.logisticGradients(y, margins, weights);
        else if (obj.name === "squared") builder.squaredGradients(y, margins, weights);
        else obj.gradients(g, y, margins, weights, builder.gh);
        builder.idx.set(sampled.subarray(0, m));
        const grown = learner.grow(m, fs, fc, rng);
        const { tree, numLeaves, leafNode, leafStart, leafEnd } = grown;
        const idx = builder.idx;
        if (obj.refitLeaf) {
          for (let l = 0; l < numLeaves; l++) {
            const v = obj.refitLeaf(idx, leafStart[l]!, leafEnd[l]!, y, margins, weights);
            tree.value[leafNode[l]!] = v * params.learningRate;
          }
        }
        if (!builder.addLeafValues(margins, numLeaves, leafNode, leafStart, leafEnd, tree.value)) {
          for (let l = 0; l < numLeaves; l++) {
            addToRows(margins, idx, leafStart[l]!, leafEnd[l]!, G, g, tree.value[leafNode[l]!]!);
          }
        }
        if (m < n) {
          for (let r = 0; r < n; r++) {
            if (inSample[r] === 0) margins[r * G + g]! += tree.value[binnedLeaf(tree, grown.tables, data, r)]!;
          }
        }
        if (vData) addTreeToMargins(grown, vData, vMargins, G, g);
        trees.push(tree);
        treeGroup.push(g);
      }

      const trainScore = evalTrain ? evaluate(metric, obj, y, weights, margins, trainScratch) : undefined;
      const validScore = vData ? evaluate(metric, obj, valid!.y, vWeights, vMargins, validScratch) : undefined;
      if (trainScore !== undefined) history.train.push(trainScore);
      if (validScore !== undefined) {
        history.valid.push(validScore);
        if (bestScore === undefined || isBetter(metric, validScore, bestScore)) {
          bestScore = validScore;
          bestIteration = iter;
        }
      }
      if (options.onIteration) {
        const progress: GbdtProgress = {
          iteration: iter,
          numRounds: params.numRounds,
          metric: metricName,
          train: trainScore,
          valid: validScore,
          bestIteration,
        };
        await options.onIteration(progress);
      }
      if (params.earlyStoppingRounds !== undefined && iter - (bestIteration ?? -1) >= params.earlyStoppingRounds) break;
      // Let timers, progress output and abort signals run between rounds.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    await builder.close();
  }

  // With early stopping keep the rounds up to the best one (all of them if the metric
  // never produced a comparable value).
  const rounds =
    params.earlyStoppingRounds !== undefined && bestIteration !== undefined ? bestIteration + 1 : trees.length / G;
  return {
    kind: "gbdt",
    numFeatures: X.cols,
    ...(params.featureNames ? { featureNames: params.featureNames } : {}),
    ...(params.categoricalFeatures.length > 0 ? { categoricalFeatures: [...params.categoricalFeatures] } : {}),
    numGroups: G,
    treeGroup: Int32Array.from(treeGroup.slice(0, rounds * G)),
    baseMargin: base,
    link: obj.link,
    averageTrees: false,
    float32: true,
    objective: obj.xgboostName,
    trees: trees.slice(0, rounds * G),
    params,
    numRounds: rounds,
    bestIteration,
    bestScore,
    evalHistory: history,
  };
}

/**
 * Adds `v` to group `g` of the margins of rows `idx[start..end)`. A function of its own:
 * inside the long-running async training loop the same loop is optimised poorly.
 */
function addToRows(
  margins: Float64Array,
  idx: Uint32Array,
  start: number,
  end: number,
  G: number,
  g: number,
  v: number,
): void {
  for (let k = start; k < end; k++) margins[idx[k]! * G + g]! += v;
}

/** Classes of multiclass labels when numClasses is not given: the largest label + 1. */
function inferClasses(y: ArrayLike<number>): number {
  let max = -1;
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (!Number.isInteger(v) || v < 0) {
      throw new ValidationError(`label y[${i}] = ${v} is not a class index (a non-negative integer)`, {
        hint: "Multiclass labels must be integers 0..numClasses-1.",
      });
    }
    if (v > max) max = v;
  }
  return Math.max(2, max + 1);
}

/**
 * Draws this round's rows (each kept with probability `rate`) into `out`, ascending, and
 * flags them in `inSample`; returns how many. With `rate` 1 every row is used.
 */
function sampleRows(n: number, rate: number, rng: Rng, out: Uint32Array, inSample: Uint8Array): number {
  if (rate >= 1) {
    for (let r = 0; r < n; r++) out[r] = r;
    return n;
  }
  let m = 0;
  for (let r = 0; r < n; r++) {
    const keep = rng.next() < rate;
    inSample[r] = keep ? 1 : 0;
    if (keep) out[m++] = r;
  }
  if (m === 0) {
    // A tiny table can draw no rows at all; one row keeps the round well defined.
    out[m++] = 0;
    inSample[0] = 1;
  }
  return m;
}
