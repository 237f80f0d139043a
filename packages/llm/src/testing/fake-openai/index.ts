/**
 * A protocol-faithful fake of the OpenAI API (chat completions with tool calls and SSE
 * streaming, embeddings, models, files and fine-tuning jobs) and of Anthropic's Messages
 * API, on loopback, scripted per test. For Quintet's own tests and for users' tests of
 * code built on `@quintet/llm`.
 */
export { hashedEmbedding } from "./embeddings.js";
export type {
  ChatReply,
  CompletionReply,
  EmbeddingsReply,
  ErrorReply,
  FineTuneScript,
  HangReply,
  RawReply,
  ScriptedToolCall,
} from "./replies.js";
export {
  type ChatHandler,
  type EmbeddingsHandler,
  type FakeOpenAI,
  type FakeOpenAIOptions,
  type RecordedRequest,
  startFakeOpenAI,
} from "./server.js";
