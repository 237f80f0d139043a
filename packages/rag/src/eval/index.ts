/** Evaluation: BEIR datasets, retrieval metrics, configuration runs with tuning, reports. */
export { type BeirDataset, type BeirDoc, beirDocuments, corpusFiles, loadBeir, parseQrels } from "./beir.js";
export { evaluateRun, type Judgements, mrrAtK, ndcgAtK, type RunMetrics, recallAtK } from "./metrics.js";
export { formatEvalTable, renderEvalHtml, renderEvalMarkdown, writeEvalReport } from "./report.js";
export {
  type BeirEvalOptions,
  type BeirEvalReport,
  type ConfigResult,
  DEFAULT_EVAL_LSA,
  describeFusion,
  EVAL_CONFIGS,
  type EvalStage,
  fitBeirLsa,
  runBeirEval,
} from "./run.js";
