/** Typed objects from a model: zod schema in, validated object out, with bounded repair and streaming partials. */
export { extractJson } from "./extract-json.js";
export {
  type GenerateObjectOptions,
  type GenerateObjectResult,
  generateObject,
  type ObjectMode,
  toJsonSchema,
} from "./generate-object.js";
export { parsePartialJson } from "./partial-json.js";
export { type DeepPartial, type StreamObjectEvent, streamObject } from "./stream-object.js";
