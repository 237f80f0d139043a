import { Rng } from "../datasets/rng.js";
import { rocAuc } from "../metrics/classification.js";
import { r2 } from "../metrics/regression.js";
import { type Column, type Frame, isMissing, stringsOf } from "./frame.js";
import { guessStringType, parseNumberLike } from "./parse.js";
import { iqrFences, meanStd, quantileSorted, sortedPresent } from "./stats.js";
import { splitTarget, type TargetInfo, type TargetOptions } from "./target.js";

export interface ProfileOptions {
  /** Target column: adds its summary and a leakage score for every other column. */
  target?: string;
  targetOptions?: TargetOptions;
  /** Single-column score (AUC, or R² for regression) at or above which leakage is suspected. Default 0.98. */
  leakageThreshold?: number;
  /** How many most frequent values to list. Default 5. */
  topK?: number;
  /** Tukey fence multiplier for outliers. Default 1.5. */
  outlierK?: number;
  /** Seed of the folds used for leakage scores. Default 7. */
  seed?: number;
}

export interface NumericSummary {
  min: number;
  max: number;
  mean: number;
  std: number;
  quantiles: { p01: number; p05: number; p25: number; p50: number; p75: number; p95: number; p99: number };
  zeros: number;
  negatives: number;
  /** Values outside the Tukey fences. */
  outliers: { count: number; share: number; low: number; high: number };
}

export interface TopValue {
  value: string;
  count: number;
  share: number;
}

/** How well a column alone predicts the target, out of fold. */
export interface LeakageScore {
  metric: "auc" | "r2";
  score: number;
  suspected: boolean;
}

export interface ColumnProfile {
  name: string;
  kind: Column["kind"];
  missing: number;
  missingShare: number;
  distinct: number;
  numeric?: NumericSummary;
  dates?: { min: string; max: string };
  text?: { meanLength: number; maxLength: number };
  top: TopValue[];
  /** At most one distinct value. */
  constant: boolean;
  /** Every value distinct, like a key: useless as a feature, and a leak risk. */
  idLike: boolean;
  /** String columns whose values read as another type (cleaning would coerce them). */
  looksLike?: "numeric" | "boolean" | "date";
  /**
   * String columns where many values are numbers and many are not: usually a
   * number column polluted by codes or notes. Examples are values that are not numbers.
   */
  mixed?: { numericShare: number; examples: { row: string; value: string }[] };
  leakage?: LeakageScore;
  /** Findings in words, e.g. "12.1% missing". */
  warnings: string[];
}

export interface DataProfile {
  rows: number;
  columns: ColumnProfile[];
  /** Rows that repeat an earlier row exactly. */
  duplicateRows: number;
  target?: TargetInfo & { counts?: Record<string, number>; summary?: NumericSummary };
  /** Table-level findings plus every column warning, prefixed with the column name. */
  warnings: string[];
}

const ID_NAME = /(^|[_\s-])(id|uuid|guid|key)$|^id[_\s-]|Id$/i;

function numericSummary(values: Float64Array, k: number): NumericSummary | undefined {
  const s = sortedPresent(values);
  if (s.length === 0) return undefined;
  const { mean, std } = meanStd(s);
  const f = iqrFences(s, k);
  let zeros = 0;
  let negatives = 0;
  let out = 0;
  // With no spread between the quartiles (mostly one value) Tukey fences would call
  // every other value an outlier; no outliers are reported then.
  const spread = f.q3 > f.q1;
  for (const v of s) {
    if (v === 0) zeros++;
    if (v < 0) negatives++;
    if (spread && (v < f.low || v > f.high)) out++;
  }
  const q = (p: number) => quantileSorted(s, p);
  return {
    min: s[0]!,
    max: s[s.length - 1]!,
    mean,
    std,
    quantiles: { p01: q(0.01), p05: q(0.05), p25: q(0.25), p50: q(0.5), p75: q(0.75), p95: q(0.95), p99: q(0.99) },
    zeros,
    negatives,
    outliers: { count: out, share: out / values.length, low: f.low, high: f.high },
  };
}

function distinctSorted(s: Float64Array): number {
  let d = 0;
  for (let i = 0; i < s.length; i++) if (i === 0 || s[i] !== s[i - 1]) d++;
  return d;
}

function topValues(counts: Map<string, number>, rows: number, k: number): TopValue[] {
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, k)
    .map(([value, count]) => ({ value, count, share: count / rows }));
}

function stringCounts(values: readonly (string | null)[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) if (v !== null) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/**
 * Bins a column for the leakage score: quantile bins for numbers and dates, one bin
 * per value for everything else, missing in a bin of its own (bin 0).
 */
function binColumn(c: Column): Int32Array {
  const n = c.kind === "categorical" ? c.codes.length : c.values.length;
  const bins = new Int32Array(n);
  if (c.kind === "categorical") {
    for (let i = 0; i < n; i++) bins[i] = c.codes[i]! + 1;
    return bins;
  }
  if (c.kind === "text") {
    const ids = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const v = c.values[i];
      if (v === null) continue;
      let id = ids.get(v);
      if (id === undefined) ids.set(v, (id = ids.size + 1));
      bins[i] = id;
    }
    return bins;
  }
  const s = sortedPresent(c.values);
  const cuts: number[] = [];
  for (let b = 1; b < 20; b++) {
    const q = quantileSorted(s, b / 20);
    if (cuts.length === 0 || q > cuts[cuts.length - 1]!) cuts.push(q);
  }
  for (let i = 0; i < n; i++) {
    const v = c.values[i]!;
    if (Number.isNaN(v)) continue;
    let lo = 0;
    let hi = cuts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (v <= cuts[mid]!) hi = mid;
      else lo = mid + 1;
    }
    bins[i] = lo + 1;
  }
  return bins;
}

/**
 * Out-of-fold binned target means: each row is scored by its bin's mean target over the
 * other folds (shrunk towards the prior), so a key-like column with a bin per row
 * scores like noise, while a column that encodes the target scores near perfect.
 */
function oofBinnedPrediction(bins: Int32Array, y: Float64Array, folds: Int32Array, k: number): Float64Array {
  let maxBin = 0;
  for (const b of bins) if (b > maxBin) maxBin = b;
  const sum = new Float64Array((maxBin + 1) * k);
  const cnt = new Float64Array((maxBin + 1) * k);
  const foldSum = new Float64Array(k);
  const foldCnt = new Float64Array(k);
  const binSum = new Float64Array(maxBin + 1);
  const binCnt = new Float64Array(maxBin + 1);
  let total = 0;
  for (let i = 0; i < y.length; i++) {
    const b = bins[i]!;
    const f = folds[i]!;
    sum[b * k + f]! += y[i]!;
    cnt[b * k + f]!++;
    binSum[b]! += y[i]!;
    binCnt[b]!++;
    foldSum[f]! += y[i]!;
    foldCnt[f]!++;
    total += y[i]!;
  }
  const pred = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const b = bins[i]!;
    const f = folds[i]!;
    const s = binSum[b]! - sum[b * k + f]!;
    const c = binCnt[b]! - cnt[b * k + f]!;
    const prior = (total - foldSum[f]!) / (y.length - foldCnt[f]!);
    pred[i] = (s + prior) / (c + 1);
  }
  return pred;
}

function leakageScore(c: Column, y: Float64Array, info: TargetInfo, folds: Int32Array, k: number, threshold: number) {
  const bins = binColumn(c);
  if (info.task === "regression") {
    const score = r2(y, oofBinnedPrediction(bins, y, folds, k));
    return { metric: "r2" as const, score, suspected: score >= threshold };
  }
  const classes = info.classes!.length;
  let total = 0;
  let used = 0;
  for (let cls = info.task === "binary" ? 1 : 0; cls < classes; cls++) {
    const yk = y.map((v) => (v === cls ? 1 : 0));
    const p = oofBinnedPrediction(bins, yk, folds, k);
    total += rocAuc(yk, p);
    used++;
  }
  const score = total / used;
  return { metric: "auc" as const, score, suspected: score >= threshold };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(x < 0.001 ? 2 : 1)}%`;
}

function profileColumn(frame: Frame, c: Column, options: ProfileOptions): ColumnProfile {
  const rows = frame.rows;
  let missing = 0;
  for (let i = 0; i < rows; i++) if (isMissing(c, i)) missing++;
  const present = rows - missing;
  const k = options.outlierK ?? 1.5;
  const topK = options.topK ?? 5;
  const p: ColumnProfile = {
    name: c.name,
    kind: c.kind,
    missing,
    missingShare: rows === 0 ? 0 : missing / rows,
    distinct: 0,
    top: [],
    constant: false,
    idLike: false,
    warnings: [],
  };
  if (c.kind === "numeric" || c.kind === "boolean" || c.kind === "date") {
    const s = sortedPresent(c.values);
    p.distinct = distinctSorted(s);
    const counts = new Map<string, number>();
    if (c.kind !== "date" && p.distinct <= 50) {
      for (const v of s) {
        const key = c.kind === "boolean" ? String(v === 1) : String(v);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      p.top = topValues(counts, rows, topK);
    }
    if (c.kind === "numeric") {
      const summary = numericSummary(c.values, k);
      if (summary) p.numeric = summary;
      let integral = true;
      for (const v of s) if (!Number.isInteger(v)) integral = false;
      const span = s.length > 0 ? s[s.length - 1]! - s[0]! + 1 : 0;
      p.idLike =
        integral &&
        present >= 20 &&
        p.distinct === present &&
        present >= 0.95 * rows &&
        (ID_NAME.test(c.name) || span <= 2 * present);
    }
    if (c.kind === "date" && s.length > 0) {
      p.dates = { min: new Date(s[0]!).toISOString(), max: new Date(s[s.length - 1]!).toISOString() };
    }
  } else {
    const strings = stringsOf(c);
    const counts = stringCounts(strings);
    p.distinct = counts.size;
    p.top = topValues(counts, rows, topK);
    let len = 0;
    let maxLen = 0;
    for (const v of strings) {
      if (v === null) continue;
      len += v.length;
      if (v.length > maxLen) maxLen = v.length;
    }
    if (c.kind === "text") p.text = { meanLength: present === 0 ? 0 : len / present, maxLength: maxLen };
    p.idLike =
      present >= 20 && p.distinct >= 0.99 * present && present >= 0.95 * rows && (p.text?.meanLength ?? 0) <= 40;
    const guess = guessStringType(strings);
    if (guess.kind !== "string") p.looksLike = guess.kind;
    else if (ID_NAME.test(c.name) && p.distinct >= 0.99 * present && present >= 20) p.idLike = true;
    const numericShare = guess.present === 0 ? 0 : guess.numbers / guess.present;
    if (numericShare >= 0.3 && guess.kind !== "numeric" && guess.kind !== "boolean") {
      const examples: { row: string; value: string }[] = [];
      for (let i = 0; i < strings.length && examples.length < 3; i++) {
        const v = strings[i];
        if (v !== null && v !== undefined && parseNumberLike(v) === undefined)
          examples.push({ row: frame.rowLabel(i), value: v });
      }
      p.mixed = { numericShare, examples };
    }
  }
  p.constant = p.distinct <= 1;
  if (present === 0) p.warnings.push("every value is missing");
  else if (p.constant) p.warnings.push("constant: a single value");
  if (missing > 0 && present > 0) p.warnings.push(`${pct(p.missingShare)} missing`);
  if (p.idLike) p.warnings.push("ID-like: every value distinct; drop it from the features");
  if (p.looksLike) p.warnings.push(`stored as strings but reads as ${p.looksLike}; clean it to coerce the type`);
  if (p.mixed) {
    const e = p.mixed.examples[0];
    p.warnings.push(
      `mixed types: ${pct(p.mixed.numericShare)} of values are numbers, others are not${e ? ` (e.g. ${JSON.stringify(e.value)} at ${e.row})` : ""}; fix or blank those values`,
    );
  }
  if (p.numeric && p.numeric.outliers.count > 0) {
    const o = p.numeric.outliers;
    p.warnings.push(`${o.count} outlier${o.count > 1 ? "s" : ""} outside [${fmt(o.low)}, ${fmt(o.high)}] (IQR x ${k})`);
  }
  if (c.kind === "categorical" && p.distinct > 0) {
    const rare = p.top.length > 0 ? [...stringCounts(stringsOf(c)).values()].filter((n) => n < 0.01 * rows).length : 0;
    if (rare > 0) p.warnings.push(`${rare} rare categor${rare > 1 ? "ies" : "y"} (< 1% of rows)`);
    const lowerCase = new Set(stringsOf(c).flatMap((v) => (v === null ? [] : [v.trim().toLowerCase()])));
    if (lowerCase.size < p.distinct) {
      p.warnings.push(
        `${p.distinct - lowerCase.size} categor${p.distinct - lowerCase.size > 1 ? "ies" : "y"} differ only by case or spaces`,
      );
    }
  }
  return p;
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4);
}

function rowKey(frame: Frame, i: number): string {
  const parts: string[] = [];
  for (const c of frame.columns) {
    if (c.kind === "categorical") parts.push(c.codes[i]! < 0 ? "\u0000" : c.dictionary[c.codes[i]!]!);
    else if (c.kind === "text") parts.push(c.values[i] ?? "\u0000");
    else parts.push(String(c.values[i]));
  }
  return parts.join("\u0001");
}

/** Indices of rows that repeat an earlier row exactly (in `columns`, default all). */
export function duplicateRowIndices(frame: Frame, columns?: readonly string[]): { index: number; firstSeen: number }[] {
  const f = columns ? frame.select(columns) : frame;
  const seen = new Map<string, number>();
  const out: { index: number; firstSeen: number }[] = [];
  for (let i = 0; i < f.rows; i++) {
    const key = rowKey(f, i);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else out.push({ index: i, firstSeen: first });
  }
  return out;
}

/**
 * Profiles every column: type, missing share, distinct count, min/max/quantiles, top
 * values, IQR outliers, constant and ID-like columns, strings that read as another
 * type; with a target, also the target's balance and each column's single-column
 * out-of-fold score (AUC or R²), flagging columns that predict it almost perfectly
 * as suspected leakage.
 *
 * @example
 * const profile = profileFrame(frame, { target: "churned" });
 * for (const w of profile.warnings) console.log(w);
 */
export function profileFrame(frame: Frame, options: ProfileOptions = {}): DataProfile {
  const columns = frame.columns.map((c) => profileColumn(frame, c, options));
  const targetProfile = columns.find((p) => p.name === options.target);
  if (targetProfile?.looksLike) {
    // Labels stay as written; only inputs need their type coerced.
    targetProfile.warnings = targetProfile.warnings.filter((w) => !w.startsWith("stored as strings"));
  }
  const duplicateRows = duplicateRowIndices(frame).length;
  const warnings: string[] = [];
  if (frame.rows === 0) warnings.push("the table has no rows");
  if (duplicateRows > 0) warnings.push(`${duplicateRows} duplicate row${duplicateRows > 1 ? "s" : ""}`);
  const out: DataProfile = { rows: frame.rows, columns, duplicateRows, warnings };
  if (options.target !== undefined) {
    const split = splitTarget(frame, options.target, { onMissing: "drop", ...options.targetOptions });
    const { y, info } = split;
    const tcol = frame.column(options.target);
    if (info.task === "regression") {
      const summary = tcol.kind === "numeric" ? numericSummary(y, options.outlierK ?? 1.5) : undefined;
      out.target = { ...info, ...(summary ? { summary } : {}) };
    } else {
      const counts: Record<string, number> = {};
      for (const v of y) counts[info.classes![v]!] = (counts[info.classes![v]!] ?? 0) + 1;
      out.target = { ...info, counts };
      const minority = Math.min(...Object.values(counts)) / y.length;
      if (minority < 0.05) warnings.push(`target "${info.name}" is imbalanced: smallest class ${pct(minority)}`);
    }
    if (split.dropped > 0) warnings.push(`target "${info.name}" is missing on ${split.dropped} rows`);
    const k = 5;
    const rng = new Rng(options.seed ?? 7);
    const folds = new Int32Array(y.length);
    const order = Array.from({ length: y.length }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(0, i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    order.forEach((row, pos) => {
      folds[row] = pos % k;
    });
    const threshold = options.leakageThreshold ?? 0.98;
    for (const p of columns) {
      if (p.name === info.name) continue;
      const c = split.frame.column(p.name);
      if (y.length < 2 * k) continue;
      p.leakage = leakageScore(c, y, info, folds, k, threshold);
      if (p.leakage.suspected) {
        p.warnings.push(
          `suspected leakage: alone it predicts "${info.name}" with ${p.leakage.metric.toUpperCase()} ${p.leakage.score.toFixed(3)}; check it is known at prediction time`,
        );
      }
    }
  }
  for (const p of columns) for (const w of p.warnings) warnings.push(`${p.name}: ${w}`);
  return out;
}
