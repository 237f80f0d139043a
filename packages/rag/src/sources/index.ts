/** Sources: files and folders, REST APIs and SQL queries turned into documents. */
export type { LoadOptions, Source, SourceWarning } from "./types.js";
