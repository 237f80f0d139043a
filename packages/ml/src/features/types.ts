import type { Frame } from "../data/frame.js";
import type { TargetInfo } from "../data/target.js";
import type { Matrix } from "../models/ensemble/matrix.js";

/**
 * What a fitted pipeline produces and the tree learners take: a dense row-major
 * float64 matrix (NaN missing) with a name per column and the columns that hold
 * category codes (for native categorical splits).
 */
export interface FeatureMatrix extends Matrix {
  featureNames: string[];
  categoricalFeatures: number[];
}

/** One finished output column. */
export interface Feature {
  name: string;
  values: Float64Array;
  /** Holds category codes 0..k-1 rather than quantities. */
  categorical: boolean;
}

/**
 * The state passed from step to step: input columns still being shaped (`frame`), the
 * finished features, and which input columns an encoder already used (they are not
 * passed through at the end).
 */
export interface Work {
  frame: Frame;
  features: Feature[];
  consumed: Set<string>;
}

/** What fitting knows besides the data. */
export interface FitContext {
  /** Encoded target of the training rows (class index or value). */
  y: Float64Array | undefined;
  target: TargetInfo | undefined;
  /** Seed for anything random (target-encoding folds). */
  seed: number;
  /** Columns removed by the pipeline's leading drop steps before the input schema was taken. */
  removedFromInputs?: ReadonlySet<string>;
}

/**
 * One kind of step: `fit` learns its state from training data and returns the
 * training rows transformed the way training should see them (out of fold for target
 * encoding); `transform` applies a fitted state to new rows. State is plain JSON.
 */
export interface StepKind<Spec, State> {
  fit(spec: Spec, work: Work, ctx: FitContext): Promise<{ state: State; work: Work }> | { state: State; work: Work };
  transform(spec: Spec, state: State, work: Work): Promise<Work> | Work;
}
