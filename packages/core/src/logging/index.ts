export * from "./logger.js";
export { formatPrettyLine, prettyStream } from "./pretty.js";
export { isSensitiveKey, REDACTED, redactSecrets, redactString } from "./redact.js";
