import { ValidationError } from "@quintet/core";
import { z } from "zod";
import { Frame } from "../data/frame.js";
import { frameFromRecords } from "../data/records.js";
import {
  assertConforms,
  type ConformOptions,
  conformFrame,
  inferSchema,
  parseSchema,
  type Schema,
  type SchemaIssue,
} from "../data/schema.js";
import { splitTarget, type TargetInfo, type TargetOptions } from "../data/target.js";
import { datePartsKind } from "./dates.js";
import { frequencyEncodeKind, oneHotKind, ordinalKind, targetEncodeKind } from "./encoders.js";
import { imputeKind, standardScaleKind } from "./impute-scale.js";
import { type StepSpec, stateSchemas, stepSpec } from "./specs.js";
import { sqlKind } from "./sql.js";
import { textHashKind } from "./text-hash.js";
import type { Feature, FeatureMatrix, FitContext, StepKind, Work } from "./types.js";

const dropKind: StepKind<Extract<StepSpec, { type: "drop" }>, { columns: string[] }> = {
  fit(spec, work, ctx) {
    for (const name of spec.columns) {
      if (!work.frame.has(name) && !ctx.removedFromInputs?.has(name)) {
        throw new ValidationError(`drop: no column "${name}" at this point of the pipeline`, {
          hint: `Columns available here: ${work.frame.names.join(", ")}.`,
          details: { column: name },
        });
      }
    }
    const present = spec.columns.filter((n) => work.frame.has(n));
    return { state: { columns: [...spec.columns] }, work: { ...work, frame: work.frame.drop(present) } };
  },
  transform: (_spec, state, work) => ({
    ...work,
    frame: work.frame.drop(state.columns.filter((n) => work.frame.has(n))),
  }),
};

const KINDS: Record<StepSpec["type"], StepKind<any, any>> = {
  impute: imputeKind,
  standardScale: standardScaleKind,
  oneHot: oneHotKind,
  ordinal: ordinalKind,
  targetEncode: targetEncodeKind,
  frequencyEncode: frequencyEncodeKind,
  dateParts: datePartsKind,
  textHash: textHashKind,
  sql: sqlKind,
  drop: dropKind,
};

/** The target to fit with: a column of the frame, or labels with their meaning. */
export type PipelineTarget = string | { y: ArrayLike<number>; info?: TargetInfo };

export interface PipelineOptions {
  /** Seed for target-encoding folds. Default 0. */
  seed?: number;
  /** How a target column is read (task, positive class, rows with missing labels). */
  targetOptions?: TargetOptions;
  /**
   * A data contract the training data must meet (e.g. the previous model version's):
   * fitting checks the rows against it — errors name the row and column — and keeps it
   * as the pipeline's input schema. Default: inferred from the training data.
   */
  schema?: Schema;
}

export interface TransformOptions extends ConformOptions {
  /** Receives schema warnings (out-of-range values, unexpected missing values, extra columns). */
  onWarning?: (issues: SchemaIssue[]) => void;
}

/** A fitted pipeline as plain JSON, stored beside the model. */
export interface PipelineJSON {
  format: "quintet.pipeline";
  version: 1;
  seed: number;
  /** The input contract: columns, types, ranges, categories. */
  schema: Schema;
  target?: TargetInfo;
  steps: { spec: StepSpec; state: unknown }[];
  output: { featureNames: string[]; categoricalFeatures: number[] };
}

interface Fitted {
  schema: Schema;
  target: TargetInfo | undefined;
  states: unknown[];
  featureNames: string[];
  categorical: boolean[];
}

const targetInfoSchema = z.object({
  name: z.string(),
  task: z.enum(["binary", "multiclass", "regression"]),
  classes: z.array(z.string()).optional(),
});

const pipelineJsonSchema = z.object({
  format: z.literal("quintet.pipeline"),
  version: z.literal(1),
  seed: z.number().int(),
  schema: z.unknown(),
  target: targetInfoSchema.optional(),
  steps: z.array(z.object({ spec: stepSpec, state: z.unknown() })),
  output: z.object({ featureNames: z.array(z.string()), categoricalFeatures: z.array(z.number().int().min(0)) }),
});

function zodFail(what: string, error: z.ZodError): ValidationError {
  const issue = error.issues[0]!;
  return new ValidationError(`${what} ${issue.path.join(".") || "(root)"}: ${issue.message}`, {
    details: { path: issue.path },
  });
}

function targetFromLabels(y: Float64Array): TargetInfo {
  const binary = y.every((v) => v === 0 || v === 1);
  return binary ? { name: "y", task: "binary", classes: ["0", "1"] } : { name: "y", task: "regression" };
}

/** Features at the end of the steps: encoder outputs, then untouched numeric and boolean columns. */
function finish(work: Work, stepsDone: number): Feature[] {
  const out = [...work.features];
  for (const c of work.frame.columns) {
    if (work.consumed.has(c.name)) continue;
    if (c.kind === "numeric" || c.kind === "boolean") {
      out.push({ name: c.name, values: c.values, categorical: false });
      continue;
    }
    const fix =
      c.kind === "date"
        ? "add a dateParts step"
        : c.kind === "text"
          ? "add a textHash (free text) or targetEncode/frequencyEncode (codes) step"
          : "add an ordinal, oneHot, targetEncode or frequencyEncode step";
    throw new ValidationError(`column "${c.name}" (${c.kind}) reaches the end of the pipeline without an encoding`, {
      hint: `Models take numbers: ${fix} for "${c.name}", or drop it.`,
      details: { column: c.name, kind: c.kind, steps: stepsDone },
    });
  }
  const seen = new Set<string>();
  for (const f of out) {
    if (seen.has(f.name)) {
      throw new ValidationError(`two features are named "${f.name}"`, {
        hint: "Rename the sql step's output or drop the column it collides with.",
        details: { feature: f.name },
      });
    }
    seen.add(f.name);
  }
  return out;
}

function assemble(features: Feature[], rows: number): FeatureMatrix {
  const cols = features.length;
  const data = new Float64Array(rows * cols);
  features.forEach((f, j) => {
    const v = f.values;
    for (let i = 0; i < rows; i++) {
      const x = v[i]!;
      // Infinities (log(0), x/0 in SQL) are treated as missing: no learner can use them.
      data[i * cols + j] = Number.isFinite(x) ? x : Number.NaN;
    }
  });
  const categoricalFeatures: number[] = [];
  features.forEach((f, j) => {
    if (f.categorical) categoricalFeatures.push(j);
  });
  return { data, rows, cols, featureNames: features.map((f) => f.name), categoricalFeatures };
}

/**
 * A feature pipeline: typed steps fitted on training data only, then applied
 * identically to any later data. It carries its input {@link Schema} (checked, and
 * used to read inputs, on every transform) and serialises to JSON, so the model
 * server applies exactly the training-time transform.
 *
 * Steps: `impute`, `standardScale`, `oneHot`, `ordinal`, `targetEncode` (out of fold
 * on the training rows), `frequencyEncode`, `dateParts`, `textHash`, `sql`, `drop`.
 * Numeric and boolean columns no step consumed pass through; anything else must be
 * encoded or dropped.
 *
 * @example
 * const pipe = new Pipeline([
 *   { type: "dateParts", columns: ["signup_date"] },
 *   { type: "ordinal", columns: ["plan", "region"] },
 *   { type: "targetEncode", columns: ["city"] },
 * ]);
 * const { X, y } = await pipe.fitTransform(train, "churned");
 * const Xtest = await pipe.transform(test);
 * writeFileSync("pipeline.json", JSON.stringify(pipe.toJSON()));
 */
export class Pipeline {
  readonly steps: readonly StepSpec[];
  readonly seed: number;
  private readonly targetOptions: TargetOptions;
  private readonly contract: Schema | undefined;
  private fitted: Fitted | undefined;

  constructor(steps: readonly StepSpec[] = [], options: PipelineOptions = {}) {
    if (!Array.isArray(steps)) throw new ValidationError("steps must be an array of step objects");
    this.steps = steps.map((s, i) => {
      const r = stepSpec.safeParse(s);
      if (!r.success) throw zodFail(`step ${i} (${(s as { type?: string })?.type ?? "no type"})`, r.error);
      return r.data;
    });
    this.seed = options.seed ?? 0;
    this.targetOptions = options.targetOptions ?? {};
    this.contract = options.schema === undefined ? undefined : parseSchema(options.schema);
  }

  get isFitted(): boolean {
    return this.fitted !== undefined;
  }

  /** The input contract learned at fit. */
  get schema(): Schema {
    return this.requireFitted().schema;
  }

  get target(): TargetInfo | undefined {
    return this.requireFitted().target;
  }

  get featureNames(): string[] {
    return [...this.requireFitted().featureNames];
  }

  get categoricalFeatures(): number[] {
    const out: number[] = [];
    this.requireFitted().categorical.forEach((c, j) => {
      if (c) out.push(j);
    });
    return out;
  }

  /** Fits every step on the training rows. */
  async fit(frame: Frame, target?: PipelineTarget): Promise<this> {
    await this.fitTransform(frame, target);
    return this;
  }

  /**
   * Fits on the training rows and returns them transformed — the matrix to train on.
   * Target encodings in it are out of fold, unlike `transform` of the same rows, which
   * uses the full-data mapping saved for serving.
   */
  async fitTransform(
    frame: Frame,
    target?: PipelineTarget,
  ): Promise<{ X: FeatureMatrix; y: Float64Array | undefined; target: TargetInfo | undefined }> {
    if (!(frame instanceof Frame))
      throw new ValidationError("fit needs a Frame", { hint: "Load data with loadTable." });
    let inputs = frame;
    let y: Float64Array | undefined;
    let info: TargetInfo | undefined;
    if (typeof target === "string") {
      const s = splitTarget(frame, target, this.targetOptions);
      inputs = s.frame;
      y = s.y;
      info = s.info;
    } else if (target) {
      y = Float64Array.from(target.y);
      if (y.length !== frame.rows) {
        throw new ValidationError(`target has ${y.length} labels for ${frame.rows} rows`, {
          hint: "Pass one label per row.",
        });
      }
      info = target.info ?? targetFromLabels(y);
      if (target.info && frame.has(target.info.name)) {
        throw new ValidationError(`the frame still holds the target column "${target.info.name}"`, {
          hint: "Pass the target's name instead of labels, or drop the column, so it cannot become a feature.",
          details: { column: target.info.name },
        });
      }
    }
    if (inputs.rows === 0) throw new ValidationError("cannot fit a pipeline on zero rows", { hint: "Load some data." });
    // Columns dropped before any step reads them are not part of the input contract:
    // serving need not send them.
    const removedFromInputs = new Set<string>();
    for (const spec of this.steps) {
      if (spec.type !== "drop") break;
      for (const name of spec.columns) {
        if (!inputs.has(name)) {
          throw new ValidationError(`drop: no column "${name}" in the training data`, {
            hint: `Columns: ${inputs.names.join(", ")}.`,
            details: { column: name },
          });
        }
        removedFromInputs.add(name);
      }
      inputs = inputs.drop(spec.columns);
    }
    const schema = this.contract ?? inferSchema(inputs);
    let work: Work = { frame: assertConforms(inputs, schema).frame, features: [], consumed: new Set() };
    const states: unknown[] = [];
    for (let i = 0; i < this.steps.length; i++) {
      const spec = this.steps[i]!;
      const ctx: FitContext = { y, target: info, seed: this.seed + i, removedFromInputs };
      const r = await KINDS[spec.type].fit(spec, work, ctx);
      states.push(r.state);
      work = r.work;
    }
    const features = finish(work, this.steps.length);
    this.fitted = {
      schema,
      target: info,
      states,
      featureNames: features.map((f) => f.name),
      categorical: features.map((f) => f.categorical),
    };
    return { X: assemble(features, inputs.rows), y, target: info };
  }

  /**
   * Applies the fitted steps to new rows (a Frame or plain objects). Inputs are first
   * read through the schema: a missing column, a value of the wrong type or an unseen
   * category raises a ValidationError naming the row and column; extra columns (such as
   * the target) are ignored.
   */
  async transform(
    input: Frame | readonly Record<string, unknown>[],
    options: TransformOptions = {},
  ): Promise<FeatureMatrix> {
    const fitted = this.requireFitted();
    const frame = input instanceof Frame ? input : frameFromRecords(input);
    const { onWarning, ...conform } = options;
    const { frame: conformed, issues } = assertConforms(frame, fitted.schema, { extraColumns: "drop", ...conform });
    const warnings = issues.filter((i) => i.severity === "warning" && i.problem !== "extra-column");
    if (warnings.length > 0) onWarning?.(warnings);
    let work: Work = { frame: conformed, features: [], consumed: new Set() };
    for (let i = 0; i < this.steps.length; i++) {
      const spec = this.steps[i]!;
      work = await KINDS[spec.type].transform(spec, fitted.states[i], work);
    }
    const features = finish(work, this.steps.length);
    const names = features.map((f) => f.name);
    if (names.join("\u0000") !== fitted.featureNames.join("\u0000")) {
      throw new ValidationError("the pipeline produced different features than at fit", {
        hint: "Refit the pipeline; its saved state does not match its steps.",
        details: { expected: fitted.featureNames, got: names },
      });
    }
    return assemble(features, conformed.rows);
  }

  /** Schema issues of new rows without transforming them (errors and warnings). */
  check(input: Frame | readonly Record<string, unknown>[], options: ConformOptions = {}): SchemaIssue[] {
    const frame = input instanceof Frame ? input : frameFromRecords(input);
    return conformFrame(frame, this.requireFitted().schema, { extraColumns: "drop", ...options }).issues;
  }

  toJSON(): PipelineJSON {
    const f = this.requireFitted();
    return {
      format: "quintet.pipeline",
      version: 1,
      seed: this.seed,
      schema: f.schema,
      ...(f.target ? { target: f.target } : {}),
      steps: this.steps.map((spec, i) => ({ spec, state: f.states[i] })),
      output: { featureNames: [...f.featureNames], categoricalFeatures: this.categoricalFeatures },
    };
  }

  /** Reads a fitted pipeline back from {@link Pipeline.toJSON} output, validating every part. */
  static fromJSON(json: unknown): Pipeline {
    const r = pipelineJsonSchema.safeParse(json);
    if (!r.success) throw zodFail("pipeline", r.error);
    const j = r.data;
    const schema = parseSchema(j.schema);
    const p = new Pipeline(
      j.steps.map((s) => s.spec),
      { seed: j.seed },
    );
    const states = j.steps.map((s, i) => {
      const st = stateSchemas[s.spec.type].safeParse(s.state);
      if (!st.success) throw zodFail(`pipeline step ${i} (${s.spec.type}) state`, st.error);
      return st.data;
    });
    const categorical = j.output.featureNames.map((_, k) => j.output.categoricalFeatures.includes(k));
    p.fitted = { schema, target: j.target, states, featureNames: j.output.featureNames, categorical };
    return p;
  }

  private requireFitted(): Fitted {
    if (!this.fitted) {
      throw new ValidationError("the pipeline is not fitted", {
        hint: "Call fit or fitTransform on training data first.",
      });
    }
    return this.fitted;
  }
}
