import { z } from "zod";

/**
 * Step specifications: plain, serialisable objects. Every step takes `columns`; when
 * absent, the step applies to every column of the kinds it handles, resolved once at
 * fit time and saved, so serving never re-decides.
 */
const columns = z.array(z.string().min(1)).min(1).optional();

export const imputeSpec = z
  .object({
    type: z.literal("impute"),
    columns,
    /** `median` (default) or `mean` for numbers and dates; categories and booleans use the mode unless `constant`. */
    strategy: z.enum(["median", "mean", "mode", "constant"]).optional(),
    value: z.union([z.number(), z.string()]).optional(),
    /** Add a `<column>:missing` 0/1 column for columns that had missing values in training. */
    indicator: z.boolean().optional(),
  })
  .strict();

export const standardScaleSpec = z.object({ type: z.literal("standardScale"), columns }).strict();

export const oneHotSpec = z
  .object({
    type: z.literal("oneHot"),
    columns,
    /** Most frequent categories kept per column; the rest share `<column>=other`. Default 20. */
    maxCategories: z.number().int().positive().optional(),
    /** Categories seen fewer times than this go to `other`. Default 1. */
    minCount: z.number().int().positive().optional(),
  })
  .strict();

export const ordinalSpec = z
  .object({
    type: z.literal("ordinal"),
    columns,
    /** Category order per column (codes 0..k-1); default most frequent first. */
    order: z.record(z.string(), z.array(z.string()).min(1)).optional(),
    /** Mark the codes as categorical for native categorical splits. Default true (false when `order` is given for that column). */
    categorical: z.boolean().optional(),
  })
  .strict();

export const targetEncodeSpec = z
  .object({
    type: z.literal("targetEncode"),
    columns,
    /** Weight of the prior in `(sum + m·prior) / (count + m)`. Default 10. */
    smoothing: z.number().nonnegative().optional(),
    /** Folds for the out-of-fold encoding of the training rows. Default 5. */
    folds: z.number().int().min(2).optional(),
  })
  .strict();

export const frequencyEncodeSpec = z.object({ type: z.literal("frequencyEncode"), columns }).strict();

export const DATE_PARTS = [
  "year",
  "quarter",
  "month",
  "day",
  "dayOfWeek",
  "dayOfYear",
  "hour",
  "minute",
  "isWeekend",
  "epochDays",
] as const;
export type DatePart = (typeof DATE_PARTS)[number];

export const datePartsSpec = z
  .object({
    type: z.literal("dateParts"),
    columns,
    /** Default year, month, day, dayOfWeek (and hour when training data has times of day). */
    parts: z.array(z.enum(DATE_PARTS)).min(1).optional(),
  })
  .strict();

export const textHashSpec = z
  .object({
    type: z.literal("textHash"),
    columns,
    /** Hash buckets per column. Default 32. */
    buckets: z
      .number()
      .int()
      .min(2)
      .max(1 << 16)
      .optional(),
    /** 1 for words, 2 adds word pairs. Default 1. */
    ngrams: z.union([z.literal(1), z.literal(2)]).optional(),
    /** 1/0 presence instead of counts. Default false. */
    binary: z.boolean().optional(),
  })
  .strict();

export const sqlSpec = z
  .object({
    type: z.literal("sql"),
    /** Name of the new column. */
    name: z.string().min(1),
    /** A DuckDB SQL expression over the frame's columns, e.g. `total_charges / NULLIF(tenure_months, 0)`. */
    expression: z.string().min(1),
    /** Type of the result; default what DuckDB returns at fit. */
    kind: z.enum(["numeric", "boolean", "categorical", "date"]).optional(),
  })
  .strict();

export const dropSpec = z
  .object({
    type: z.literal("drop"),
    columns: z.array(z.string().min(1)).min(1),
    /** Why, for the record (e.g. "ID-like"). */
    reason: z.string().optional(),
  })
  .strict();

export const stepSpec = z.discriminatedUnion("type", [
  imputeSpec,
  standardScaleSpec,
  oneHotSpec,
  ordinalSpec,
  targetEncodeSpec,
  frequencyEncodeSpec,
  datePartsSpec,
  textHashSpec,
  sqlSpec,
  dropSpec,
]);

export type ImputeStep = z.infer<typeof imputeSpec>;
export type StandardScaleStep = z.infer<typeof standardScaleSpec>;
export type OneHotStep = z.infer<typeof oneHotSpec>;
export type OrdinalStep = z.infer<typeof ordinalSpec>;
export type TargetEncodeStep = z.infer<typeof targetEncodeSpec>;
export type FrequencyEncodeStep = z.infer<typeof frequencyEncodeSpec>;
export type DatePartsStep = z.infer<typeof datePartsSpec>;
export type TextHashStep = z.infer<typeof textHashSpec>;
export type SqlStep = z.infer<typeof sqlSpec>;
export type DropStep = z.infer<typeof dropSpec>;
/** Any pipeline step. */
export type StepSpec = z.infer<typeof stepSpec>;

/** Fitted states, validated when a pipeline is read back from JSON. */
const names = z.array(z.string());
const num = z.number();
export const stateSchemas = {
  impute: z.object({
    columns: names,
    fills: z.array(z.union([num, z.string()])),
    indicators: names,
  }),
  standardScale: z.object({ columns: names, means: z.array(num), stds: z.array(num) }),
  oneHot: z.object({ columns: names, categories: z.array(names), other: z.array(z.boolean()) }),
  ordinal: z.object({ columns: names, categories: z.array(names), categorical: z.array(z.boolean()) }),
  targetEncode: z.object({
    columns: names,
    /** Output suffixes: `te` for binary/regression, `te=<class>` per class for multiclass. */
    outputs: names,
    prior: z.array(num),
    /** Per column: category → encoded value per output; `missing` for missing values. */
    maps: z.array(z.record(z.string(), z.array(num))),
    missing: z.array(z.array(num)),
  }),
  frequencyEncode: z.object({ columns: names, freqs: z.array(z.record(z.string(), num)), missing: z.array(num) }),
  dateParts: z.object({ columns: names, parts: z.array(z.enum(DATE_PARTS)) }),
  textHash: z.object({ columns: names }),
  sql: z.object({ kind: z.enum(["numeric", "boolean", "categorical", "date"]) }),
  drop: z.object({ columns: names }),
} as const;

export type StepState<T extends StepSpec["type"]> = z.infer<(typeof stateSchemas)[T]>;
