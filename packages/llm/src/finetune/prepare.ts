import { ValidationError } from "@quintet/core";
import { type ChatExample, examplesFromTraces, parseJsonl, type TraceRow } from "./dataset.js";
import {
  type DatasetProblem,
  type DatasetReport,
  splitDataset,
  type ValidateDatasetOptions,
  validateDataset,
} from "./validate.js";

export interface PrepareDatasetOptions extends ValidateDatasetOptions {
  /** Share held out for validation (default 0.1). */
  validationFraction?: number;
  /** Seed of the split (default 42): the same input and seed give the same files. */
  seed?: number;
  /**
   * Drop exact repeats of an earlier example (default true), so one example cannot land in
   * both train and validation; each dropped line is listed as a warning.
   */
  dropDuplicates?: boolean;
}

export interface PreparedDataset {
  /** What the input held, by kind of line. */
  input: { lines: number; examples: number; traceSpans: number };
  /** Trace spans that could not become examples, and why (failed calls, tool conversations, other span kinds). */
  skipped: Array<{ line: number; ref: string | undefined; reason: string }>;
  /** Validation of everything that was (or became) a chat example, with input line numbers. */
  report: DatasetReport;
  /** The examples without errors, split. */
  train: ChatExample[];
  validation: ChatExample[];
  /**
   * True when the kept examples make a dataset (no dataset-wide error such as too few
   * examples). Lines with errors are left out and listed in `report.problems`.
   */
  usable: boolean;
}

function isTraceRow(v: unknown): v is TraceRow {
  return (
    typeof v === "object" &&
    v !== null &&
    typeof (v as TraceRow).kind === "string" &&
    typeof (v as TraceRow).attributes === "object" &&
    (v as TraceRow).attributes !== null
  );
}

/**
 * Turns a JSONL file of chat examples (`{"messages": […]}`) and/or exported trace spans
 * (`{"kind": "llm.call", "attributes": {…}}`, see {@link TRACE_ATTRIBUTES}) into a
 * validated train/validation split. Every problem names the line of the input it came from;
 * lines with errors and exact repeats are dropped, other warnings (near-duplicates, PII) are
 * kept and reported.
 */
export function prepareDataset(text: string, options: PrepareDatasetOptions = {}): PreparedDataset {
  const { validationFraction, seed, dropDuplicates = true, ...validateOptions } = options;
  if (validationFraction !== undefined && !(validationFraction >= 0 && validationFraction < 1)) {
    throw new ValidationError(`validationFraction must be in [0, 1), got ${validationFraction}`, {
      hint: "Use 0.1 to 0.2.",
    });
  }
  const lines = parseJsonl(text);
  const values: unknown[] = [];
  const inputLine: number[] = [];
  const extra: DatasetProblem[] = [];
  const skipped: PreparedDataset["skipped"] = [];
  let examples = 0;
  let traceSpans = 0;
  const firstSeen = new Map<string, number>();
  const add = (value: unknown, line: number) => {
    const messages = (value as { messages?: unknown } | null)?.messages;
    if (dropDuplicates && Array.isArray(messages)) {
      const key = JSON.stringify(messages);
      const first = firstSeen.get(key);
      if (first !== undefined) {
        extra.push({
          line,
          severity: "warning",
          code: "exact-duplicate",
          message: `duplicate of line ${first}, dropped`,
        });
        return;
      }
      firstSeen.set(key, line);
    }
    values.push(value);
    inputLine.push(line);
  };
  for (const l of lines) {
    if (l.error) {
      extra.push({ line: l.line, severity: "error", code: "invalid-json", message: l.error });
      continue;
    }
    if (isTraceRow(l.value) && !("messages" in (l.value as object))) {
      traceSpans++;
      const row = l.value;
      const ref = row.spanId ?? row.traceId;
      if (row.kind !== "llm.call") {
        skipped.push({ line: l.line, ref, reason: `a ${row.kind} span, not an llm.call` });
        continue;
      }
      const built = examplesFromTraces([row]);
      if (built.examples.length === 0) {
        skipped.push({ line: l.line, ref, reason: built.skipped[0]?.reason ?? "not usable" });
        continue;
      }
      add({ messages: built.examples[0]!.messages }, l.line);
      continue;
    }
    if (typeof l.value === "object" && l.value !== null && "messages" in l.value) examples++;
    // Anything else goes to validation too, which names what is wrong with its shape.
    add(l.value, l.line);
  }
  const report = validateDataset(values as ChatExample[], validateOptions);
  const at = (n: number) => (n === 0 ? 0 : inputLine[n - 1]!);
  const problems = [...extra, ...report.problems.map((p) => ({ ...p, line: at(p.line) }))].sort(
    (a, b) => a.line - b.line,
  );
  // validateDataset numbered the examples it saw; problems and pairs are re-numbered to input lines.
  const relined: DatasetReport = {
    ...report,
    total: lines.length,
    problems: problems.map((p) =>
      p.code === "exact-duplicate" || p.code === "near-duplicate"
        ? { ...p, message: p.message.replace(/line (\d+)/, (_, n: string) => `line ${at(Number(n))}`) }
        : p,
    ),
    duplicates: {
      exact: report.duplicates.exact.map(([a, b]) => [at(a), at(b)]),
      near: report.duplicates.near.map(([a, b, s]) => [at(a), at(b), s]),
    },
    pii: report.pii.map((p) => ({ ...p, line: at(p.line) })),
    ok: !problems.some((p) => p.severity === "error"),
  };
  const usable = !problems.some((p) => p.severity === "error" && p.line === 0);
  const { train, validation } = usable
    ? splitDataset(report.examples, {
        ...(validationFraction !== undefined ? { validationFraction } : {}),
        ...(seed !== undefined ? { seed } : {}),
      })
    : { train: [], validation: [] };
  return { input: { lines: lines.length, examples, traceSpans }, skipped, report: relined, train, validation, usable };
}
