/** Tiny GGUF models generated on the spot, so the local inference path is testable offline. */
export { type ByteBpeVocab, buildByteBpeVocab, gpt2ByteToUnicode, TINY_CORPUS, TokenType } from "./byte-bpe.js";
export {
  encodeGguf,
  GgmlType,
  type GgmlTypeName,
  type GgufFile,
  type GgufTensor,
  type GgufValue,
  GgufValueType,
  toHalf,
  writeGgufFile,
} from "./gguf-writer.js";
export {
  type TinyLlamaInfo,
  type TinyLlamaOptions,
  type TinyLoraInfo,
  type TinyLoraOptions,
  writeTinyLlamaGguf,
  writeTinyLoraGguf,
} from "./tiny-llama.js";
