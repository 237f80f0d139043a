export { readPromptFile } from "./file.js";
export {
  definePrompt,
  extractFinalAnswer,
  type FinalAnswer,
  PROMPT_STRATEGIES,
  Prompt,
  type PromptDefinition,
  type PromptDefinitionInput,
  PromptDefinitionSchema,
  promptVersion,
  type RenderedPrompt,
} from "./prompt.js";
export {
  diffPrompts,
  type PromptDiff,
  PromptRegistry,
  type PromptSummary,
  type PromptVersionInfo,
  promptText,
} from "./registry.js";
export { parseTemplate, renderTemplate, TEMPLATE_FILTERS, type TemplateFilter, templateVariables } from "./template.js";
export { compileVariables, type VariableSpec, VariableSpecSchema, type VariablesOf } from "./variables.js";
