/** Answers: grounded generation with inline citations and guard verdicts; extractive cited answers without an LLM. */
export {
  ABSTAIN_TEXT,
  type AnswerOptions,
  type AnswerResult,
  type AnswerSource,
  answerQuestion,
  assertAnswered,
} from "./answer.js";
export {
  type ExtractedSentence,
  type ExtractiveAnswer,
  type ExtractiveOptions,
  extractiveAnswer,
} from "./extractive.js";
export { type AnswerPassage, passagesFromLive, passagesFromRetrieval, termCoverage } from "./passages.js";
