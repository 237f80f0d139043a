import { createHash } from "node:crypto";
import { ValidationError } from "@quintet/core";
import { detectPii, type PiiType } from "../guards/pii.js";
import { countChatTokens } from "../text/tokens.js";
import type { ChatExample, SourcedExample } from "./dataset.js";
import { parseJsonl } from "./dataset.js";

export type ProblemCode =
  | "invalid-json"
  | "schema"
  | "empty-content"
  | "role-order"
  | "no-assistant-last"
  | "too-long"
  | "exact-duplicate"
  | "near-duplicate"
  | "pii"
  | "too-few-examples";

export interface DatasetProblem {
  /** 1-based line (or example) number; 0 for dataset-wide problems. */
  line: number;
  severity: "error" | "warning";
  code: ProblemCode;
  message: string;
}

export interface DatasetReport {
  total: number;
  /** Examples without errors (warnings allowed). */
  valid: number;
  problems: DatasetProblem[];
  tokens: { total: number; min: number; max: number; mean: number; p50: number; p95: number };
  /** Tokens the trainer will learn from (assistant turns), which is what fine-tuning bills per epoch. */
  assistantTokens: number;
  duplicates: { exact: Array<[number, number]>; near: Array<[number, number, number]> };
  pii: Array<{ line: number; types: PiiType[] }>;
  /** The lines without errors, in order, ready to write. */
  examples: ChatExample[];
  ok: boolean;
}

export interface ValidateDatasetOptions {
  /** Model name or URI: picks the tokenizer (default gpt-4o-mini). */
  model?: string;
  /** Context limit in tokens per example (default 65536, OpenAI's fine-tuning limit for gpt-4o-mini). */
  contextLimit?: number;
  /** Jaccard similarity (word 3-gram shingles) at which two examples count as near-duplicates (default 0.9). */
  nearDuplicateThreshold?: number;
  /** PII found in an example: a warning (default) or an error. */
  pii?: "warn" | "error" | "ignore";
  /** Fewer examples than this is a dataset-wide error (OpenAI requires 10). */
  minExamples?: number;
}

const ROLES = new Set(["system", "user", "assistant"]);

function checkSchema(value: unknown, line: number, problems: DatasetProblem[]): ChatExample | undefined {
  const err = (code: ProblemCode, message: string) => {
    problems.push({ line, severity: "error", code, message });
    return undefined;
  };
  if (!value || typeof value !== "object" || Array.isArray(value)) return err("schema", "line is not a JSON object");
  const msgs = (value as { messages?: unknown }).messages;
  if (!Array.isArray(msgs) || msgs.length === 0) return err("schema", 'missing or empty "messages" array');
  const out: ChatExample["messages"] = [];
  for (const [i, m] of msgs.entries()) {
    if (!m || typeof m !== "object") return err("schema", `messages[${i}] is not an object`);
    const { role, content, weight } = m as { role?: unknown; content?: unknown; weight?: unknown };
    if (typeof role !== "string" || !ROLES.has(role))
      return err("schema", `messages[${i}].role must be system, user or assistant, got ${JSON.stringify(role)}`);
    if (typeof content !== "string") return err("schema", `messages[${i}].content must be a string`);
    if (!content.trim()) return err("empty-content", `messages[${i}] (${role}) has empty content`);
    if (weight !== undefined && weight !== 0 && weight !== 1)
      return err("schema", `messages[${i}].weight must be 0 or 1`);
    if (weight !== undefined && role !== "assistant")
      return err("schema", `messages[${i}].weight is only allowed on assistant messages`);
    out.push({ role: role as "system", content, ...(weight !== undefined ? { weight: weight as 0 | 1 } : {}) });
  }
  // system? then user, assistant, user, assistant … ending with assistant.
  const body = out[0]!.role === "system" ? out.slice(1) : out;
  if (body.length === 0) return err("role-order", "only a system message; add user and assistant turns");
  for (const [i, m] of body.entries()) {
    const expected = i % 2 === 0 ? "user" : "assistant";
    if (m.role !== expected) {
      const at = out[0]!.role === "system" ? i + 1 : i;
      return err(
        "role-order",
        `messages[${at}] is ${m.role}, expected ${expected} (roles must alternate user/assistant after an optional system message)`,
      );
    }
  }
  if (body.at(-1)!.role !== "assistant")
    return err("no-assistant-last", "the last message must be the assistant's reply");
  return { messages: out };
}

function shingles(text: string): Set<string> {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const out = new Set<string>();
  if (words.length < 3) out.add(words.join(" "));
  for (let i = 0; i + 3 <= words.length; i++) out.add(`${words[i]} ${words[i + 1]} ${words[i + 2]}`);
  return out;
}

function jaccard(a: Set<string>, b: Set<string>): number {
  let inter = 0;
  for (const x of a) if (b.has(x)) inter++;
  return inter / (a.size + b.size - inter || 1);
}

const NUM_HASHES = 64;
const BANDS = 16;

/** MinHash signature over 32-bit hashes of the shingles (seeded FNV-1a variants). */
function minhash(set: Set<string>): Uint32Array {
  const sig = new Uint32Array(NUM_HASHES).fill(0xffffffff);
  for (const s of set) {
    let base = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) base = Math.imul(base ^ s.charCodeAt(i), 0x01000193) >>> 0;
    for (let h = 0; h < NUM_HASHES; h++) {
      // Universal-hash family on top of one base hash: cheap and independent enough for LSH.
      const v = (Math.imul(base ^ (h * 0x9e3779b1), 0x85ebca6b) ^ (h * 0xc2b2ae35)) >>> 0;
      const mixed = (v ^ (v >>> 13)) >>> 0;
      if (mixed < sig[h]!) sig[h] = mixed;
    }
  }
  return sig;
}

/** Near-duplicate pairs: MinHash LSH (16 bands × 4 rows) for candidates, then exact Jaccard. */
export function findNearDuplicates(texts: readonly string[], threshold = 0.9): Array<[number, number, number]> {
  const sets = texts.map(shingles);
  const rows = NUM_HASHES / BANDS;
  const buckets = new Map<string, number[]>();
  sets.forEach((s, i) => {
    const sig = minhash(s);
    for (let b = 0; b < BANDS; b++) {
      const key = `${b}:${Array.from(sig.subarray(b * rows, b * rows + rows)).join(",")}`;
      const list = buckets.get(key);
      if (list) list.push(i);
      else buckets.set(key, [i]);
    }
  });
  const seen = new Set<string>();
  const out: Array<[number, number, number]> = [];
  for (const list of buckets.values()) {
    for (let x = 0; x < list.length; x++) {
      for (let y = x + 1; y < list.length; y++) {
        const [i, j] = [list[x]!, list[y]!];
        const key = `${i},${j}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const sim = jaccard(sets[i]!, sets[j]!);
        if (sim >= threshold) out.push([i, j, sim]);
      }
    }
  }
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

/**
 * Validates a chat fine-tuning dataset (JSONL text or parsed examples): schema and role order,
 * token length against the context limit with the model's tokenizer, exact and near
 * duplicates, and PII. Every problem carries its line number.
 */
export function validateDataset(
  input: string | readonly ChatExample[],
  options: ValidateDatasetOptions = {},
): DatasetReport {
  const model = options.model ?? "gpt-4o-mini";
  const contextLimit = options.contextLimit ?? 65536;
  const threshold = options.nearDuplicateThreshold ?? 0.9;
  if (!(threshold > 0 && threshold <= 1)) {
    throw new ValidationError(`nearDuplicateThreshold must be in (0, 1], got ${threshold}`, { hint: "Use 0.8–0.95." });
  }
  const piiMode = options.pii ?? "warn";
  const lines =
    typeof input === "string" ? parseJsonl(input) : input.map((value, i) => ({ line: i + 1, value, error: undefined }));
  const problems: DatasetProblem[] = [];
  const good: Array<{ line: number; ex: ChatExample; tokens: number; text: string }> = [];
  let assistantTokens = 0;
  for (const l of lines) {
    if (l.error) {
      problems.push({ line: l.line, severity: "error", code: "invalid-json", message: l.error });
      continue;
    }
    const ex = checkSchema(l.value, l.line, problems);
    if (!ex) continue;
    const tokens = countChatTokens(ex.messages, model);
    if (tokens > contextLimit) {
      problems.push({
        line: l.line,
        severity: "error",
        code: "too-long",
        message: `${tokens} tokens exceeds the context limit of ${contextLimit}`,
      });
      continue;
    }
    assistantTokens += ex.messages
      .filter((m) => m.role === "assistant" && m.weight !== 0)
      .reduce((a, m) => a + countChatTokens([m], model) - 3, 0);
    good.push({ line: l.line, ex, tokens, text: ex.messages.map((m) => `${m.role}: ${m.content}`).join("\n") });
  }

  const exact: Array<[number, number]> = [];
  const firstByHash = new Map<string, number>();
  const dupLines = new Set<number>();
  for (const g of good) {
    const h = createHash("sha256").update(g.text).digest("hex");
    const first = firstByHash.get(h);
    if (first !== undefined) {
      exact.push([first, g.line]);
      dupLines.add(g.line);
      problems.push({
        line: g.line,
        severity: "warning",
        code: "exact-duplicate",
        message: `duplicate of line ${first}`,
      });
    } else firstByHash.set(h, g.line);
  }
  const unique = good.filter((g) => !dupLines.has(g.line));
  const near = findNearDuplicates(
    unique.map((g) => g.text),
    threshold,
  ).map(([i, j, s]) => [unique[i]!.line, unique[j]!.line, s] as [number, number, number]);
  for (const [a, b, s] of near) {
    problems.push({
      line: b,
      severity: "warning",
      code: "near-duplicate",
      message: `${(s * 100).toFixed(0)}% similar to line ${a}`,
    });
  }

  const pii: DatasetReport["pii"] = [];
  const piiErrorLines = new Set<number>();
  if (piiMode !== "ignore") {
    for (const g of good) {
      const types = [...new Set(detectPii(g.ex.messages.map((m) => m.content).join("\n")).map((m) => m.type))];
      if (types.length === 0) continue;
      pii.push({ line: g.line, types });
      problems.push({
        line: g.line,
        severity: piiMode === "error" ? "error" : "warning",
        code: "pii",
        message: `contains ${types.join(", ")}`,
      });
      if (piiMode === "error") piiErrorLines.add(g.line);
    }
  }

  const kept = good.filter((g) => !piiErrorLines.has(g.line));
  const minExamples = options.minExamples ?? 10;
  if (kept.length < minExamples) {
    problems.push({
      line: 0,
      severity: "error",
      code: "too-few-examples",
      message: `${kept.length} valid examples, need at least ${minExamples}`,
    });
  }
  const tokenCounts = kept.map((g) => g.tokens).sort((a, b) => a - b);
  const total = tokenCounts.reduce((a, b) => a + b, 0);
  problems.sort((a, b) => a.line - b.line);
  return {
    total: lines.length,
    valid: kept.length,
    problems,
    tokens: {
      total,
      min: tokenCounts[0] ?? 0,
      max: tokenCounts.at(-1) ?? 0,
      mean: tokenCounts.length ? total / tokenCounts.length : 0,
      p50: percentile(tokenCounts, 50),
      p95: percentile(tokenCounts, 95),
    },
    assistantTokens,
    duplicates: { exact, near },
    pii,
    examples: kept.map((g) => g.ex),
    ok: !problems.some((p) => p.severity === "error"),
  };
}

export interface SplitOptions {
  /** Share held out for validation (default 0.1). */
  validationFraction?: number;
  seed?: number;
  /** Split each group separately so both sides keep the same mix (e.g. by source). */
  stratifyBy?: (example: SourcedExample | ChatExample) => string;
}

function shuffle<T>(items: T[], seed: number): T[] {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Seeded train/validation split, optionally stratified; the same seed gives the same split. */
export function splitDataset<T extends ChatExample>(
  examples: readonly T[],
  options: SplitOptions = {},
): { train: T[]; validation: T[] } {
  const fraction = options.validationFraction ?? 0.1;
  if (!(fraction >= 0 && fraction < 1)) {
    throw new ValidationError(`validationFraction must be in [0, 1), got ${fraction}`, { hint: "Use 0.1 to 0.2." });
  }
  const groups = new Map<string, T[]>();
  for (const ex of examples) {
    const key = options.stratifyBy ? options.stratifyBy(ex) : "";
    const g = groups.get(key);
    if (g) g.push(ex);
    else groups.set(key, [ex]);
  }
  const train: T[] = [];
  const validation: T[] = [];
  for (const key of [...groups.keys()].sort()) {
    const g = shuffle([...groups.get(key)!], (options.seed ?? 42) ^ hashString(key));
    const n = Math.round(g.length * fraction);
    validation.push(...g.slice(0, n));
    train.push(...g.slice(n));
  }
  return { train, validation };
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
