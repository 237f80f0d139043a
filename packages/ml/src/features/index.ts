export * from "./auto.js";
export * from "./pipeline.js";
export {
  DATE_PARTS,
  type DatePart,
  type DatePartsStep,
  type DropStep,
  type FrequencyEncodeStep,
  type ImputeStep,
  type OneHotStep,
  type OrdinalStep,
  type SqlStep,
  type StandardScaleStep,
  type StepSpec,
  stepSpec as featureStepSchema,
  type TargetEncodeStep,
  type TextHashStep,
} from "./specs.js";
export { tokens as textTokens } from "./text-hash.js";
export type { Feature, FeatureMatrix } from "./types.js";
