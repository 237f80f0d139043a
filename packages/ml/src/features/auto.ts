import type { ColumnProfile, DataProfile } from "../data/profile.js";
import { Pipeline } from "./pipeline.js";
import type { DatePart, StepSpec } from "./specs.js";

export interface AutoPipelineOptions {
  /** The model the features feed. Trees take NaN and category codes natively; linear models need imputed, scaled, one-hot inputs. Default "trees". */
  model?: "trees" | "linear";
  /** Most categories encoded as codes (trees) or one-hot (linear); above it, target + frequency encoding. Default 64 (trees) / 15 (linear). */
  maxCategories?: number;
  /** Keep columns suspected of leakage instead of dropping them. Default false. */
  keepSuspectedLeakage?: boolean;
  /** Columns to leave out. */
  exclude?: string[];
  /** Seed for target-encoding folds. */
  seed?: number;
}

/** A proposed pipeline and why each column is treated the way it is. */
export interface AutoPipeline {
  pipeline: Pipeline;
  /** One line per decision, e.g. `customer_id: dropped (ID-like)`. */
  notes: string[];
}

const LINEAR_DATE_PARTS: DatePart[] = ["year", "month", "dayOfWeek", "epochDays"];

function isFreeText(p: ColumnProfile): boolean {
  const meanLength = p.text?.meanLength ?? 0;
  const spaced = p.top.filter((t) => /\s/.test(t.value.trim())).length;
  return meanLength >= 20 || (p.top.length > 0 && spaced >= p.top.length / 2);
}

/**
 * Picks sensible feature steps for a table from its profile (run on cleaned data, with
 * the target if there is one): drops ID-like, constant, empty and suspected-leakage
 * columns; splits dates into parts; low-cardinality categories become native
 * categorical codes (trees) or one-hot columns (linear); high-cardinality ones get
 * out-of-fold target encoding plus frequency encoding; free text is hashed. For linear
 * models, numbers are imputed (with missing indicators) and standardised.
 *
 * @example
 * const profile = profileFrame(frame, { target: "churned" });
 * const { pipeline, notes } = autoPipeline(profile);
 * const { X, y } = await pipeline.fitTransform(frame, "churned");
 */
export function autoPipeline(profile: DataProfile, options: AutoPipelineOptions = {}): AutoPipeline {
  const model = options.model ?? "trees";
  const maxCategories = options.maxCategories ?? (model === "trees" ? 64 : 15);
  const targetName = profile.target?.name;
  const hasTarget = targetName !== undefined;
  const exclude = new Set(options.exclude ?? []);
  const notes: string[] = [];
  const drop: string[] = [];
  const dates: string[] = [];
  const numeric: string[] = [];
  const booleans: string[] = [];
  const codes: string[] = [];
  const highCard: string[] = [];
  const text: string[] = [];

  for (const p of profile.columns) {
    if (p.name === targetName) continue;
    const why = exclude.has(p.name)
      ? "excluded"
      : p.missing === profile.rows
        ? "every value missing"
        : p.constant
          ? "constant"
          : p.idLike
            ? "ID-like"
            : p.leakage?.suspected && !options.keepSuspectedLeakage
              ? `suspected leakage (${p.leakage.metric.toUpperCase()} ${p.leakage.score.toFixed(3)} alone)`
              : undefined;
    if (why) {
      drop.push(p.name);
      notes.push(`${p.name}: dropped (${why})`);
      continue;
    }
    if (p.looksLike)
      notes.push(
        `${p.name}: holds ${p.looksLike} values as strings; run cleanFrame first to use them as ${p.looksLike}`,
      );
    switch (p.kind) {
      case "numeric":
        numeric.push(p.name);
        notes.push(
          `${p.name}: numeric${model === "linear" ? ", imputed and standardised" : ", as is (missing handled by the trees)"}`,
        );
        break;
      case "boolean":
        booleans.push(p.name);
        notes.push(`${p.name}: boolean as 0/1`);
        break;
      case "date":
        dates.push(p.name);
        notes.push(`${p.name}: date split into parts`);
        break;
      case "categorical":
        if (p.distinct <= maxCategories) {
          codes.push(p.name);
          notes.push(
            `${p.name}: ${p.distinct} categories, ${model === "trees" ? "native categorical codes" : "one-hot"}`,
          );
        } else {
          highCard.push(p.name);
          notes.push(
            `${p.name}: ${p.distinct} categories, ${hasTarget ? "out-of-fold target encoding + " : ""}frequency encoding`,
          );
        }
        break;
      case "text":
        if (isFreeText(p)) {
          text.push(p.name);
          notes.push(`${p.name}: free text, hashed words`);
        } else {
          highCard.push(p.name);
          notes.push(
            `${p.name}: ${p.distinct} distinct codes, ${hasTarget ? "out-of-fold target encoding + " : ""}frequency encoding`,
          );
        }
        break;
    }
  }

  const steps: StepSpec[] = [];
  // Leading drops also keep those columns out of the input schema: serving need not send them.
  if (drop.length > 0) steps.push({ type: "drop", columns: drop, reason: "auto" });
  if (dates.length > 0) {
    steps.push(
      model === "linear"
        ? { type: "dateParts", columns: dates, parts: LINEAR_DATE_PARTS }
        : { type: "dateParts", columns: dates },
    );
  }
  if (model === "linear") {
    const parts = dates.flatMap((d) => LINEAR_DATE_PARTS.map((p) => `${d}:${p}`));
    const nums = [...numeric, ...parts];
    if (nums.length > 0) steps.push({ type: "impute", columns: nums, strategy: "median", indicator: true });
    if (booleans.length > 0) steps.push({ type: "impute", columns: booleans, strategy: "mode" });
    if (nums.length > 0) steps.push({ type: "standardScale", columns: nums });
    if (codes.length > 0) steps.push({ type: "oneHot", columns: codes, maxCategories });
  } else if (codes.length > 0) {
    steps.push({ type: "ordinal", columns: codes });
  }
  if (highCard.length > 0) {
    if (hasTarget) steps.push({ type: "targetEncode", columns: highCard });
    steps.push({ type: "frequencyEncode", columns: highCard });
  }
  if (text.length > 0) steps.push({ type: "textHash", columns: text, buckets: 32 });
  return { pipeline: new Pipeline(steps, options.seed === undefined ? {} : { seed: options.seed }), notes };
}
