/** Sources: files and folders, single URLs, REST APIs and SQL queries turned into documents. */
export { FileSource, type FileSourceOptions, fileSource, SUPPORTED_EXTENSIONS } from "./files.js";
export { type FieldMapping, getPath, parseFieldMapping, parseTimestamp, recordToDocument } from "./mapping.js";
export { type ExtractedHtml, htmlToMarkdown } from "./parsers/html.js";
export { type ExtractedPdf, pdfToText } from "./parsers/pdf.js";
export { RestSource, type RestSourceOptions, restSource } from "./rest.js";
export { SqlSource, type SqlSourceOptions, sqlSource } from "./sql.js";
export type { LoadOptions, Source, SourceWarning } from "./types.js";
export { assertFetchableUrl, isNonPublicAddress, UrlSource, type UrlSourceOptions } from "./url.js";
