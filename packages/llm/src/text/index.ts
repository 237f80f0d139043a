export { type Sentence, splitSentences } from "./sentences.js";
export { stem } from "./stem.js";
export { ENGLISH_STOPWORDS } from "./stopwords.js";
export {
  charNgrams,
  contentTerms,
  extractNumbers,
  normalizeAnswer,
  type Token,
  type TokenizeOptions,
  terms,
  tokenize,
} from "./tokenize.js";
export { countChatTokens, countTokens, encodingForModelName } from "./tokens.js";
