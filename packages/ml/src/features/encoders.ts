import { ValidationError } from "@quintet/core";
import { kFold } from "../eval/splits.js";
import { categoryStrings, finite, requireColumn, resolveColumns } from "./columns.js";
import type { FrequencyEncodeStep, OneHotStep, OrdinalStep, StepState, TargetEncodeStep } from "./specs.js";
import type { Feature, FitContext, StepKind, Work } from "./types.js";

const STRINGY = ["categorical", "text"] as const;

function counts(values: readonly (string | null)[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) if (v !== null) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/** Categories by frequency, most frequent first, ties alphabetical: a stable order. */
function byFrequency(m: Map<string, number>): string[] {
  return [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k]) => k);
}

function consume(work: Work, names: readonly string[], features: Feature[]): Work {
  const consumed = new Set(work.consumed);
  for (const n of names) consumed.add(n);
  return { frame: work.frame, features: [...work.features, ...features], consumed };
}

// ---------------------------------------------------------------- one-hot

function applyOneHot(work: Work, state: StepState<"oneHot">): Work {
  const out: Feature[] = [];
  state.columns.forEach((name, j) => {
    const strings = categoryStrings(requireColumn("oneHot", work, name, STRINGY));
    const cats = state.categories[j]!;
    const index = new Map(cats.map((c, k) => [c, k]));
    const width = cats.length + (state.other[j] ? 1 : 0);
    const cols = Array.from({ length: width }, () => new Float64Array(strings.length));
    strings.forEach((s, i) => {
      if (s === null) return;
      const k = index.get(s);
      if (k !== undefined) cols[k]![i] = 1;
      else if (state.other[j]) cols[cats.length]![i] = 1;
    });
    cats.forEach((c, k) => {
      out.push({ name: `${name}=${c}`, values: cols[k]!, categorical: false });
    });
    if (state.other[j]) out.push({ name: `${name}=other`, values: cols[cats.length]!, categorical: false });
  });
  return consume(work, state.columns, out);
}

/**
 * One 0/1 column per frequent category (`plan=team`); rare and unseen categories share
 * `plan=other` when training had rare ones, missing values are all zeros.
 */
export const oneHotKind: StepKind<OneHotStep, StepState<"oneHot">> = {
  fit(spec, work) {
    const cols = resolveColumns("oneHot", spec.columns, work, STRINGY);
    const categories: string[][] = [];
    const other: boolean[] = [];
    for (const name of cols) {
      const m = counts(categoryStrings(work.frame.column(name)));
      const ordered = byFrequency(m).filter((c) => m.get(c)! >= (spec.minCount ?? 1));
      const kept = ordered.slice(0, spec.maxCategories ?? 20);
      categories.push(kept);
      other.push(kept.length < m.size);
    }
    const state = { columns: cols, categories, other };
    return { state, work: applyOneHot(work, state) };
  },
  transform: (_spec, state, work) => applyOneHot(work, state),
};

// ---------------------------------------------------------------- ordinal

function applyOrdinal(work: Work, state: StepState<"ordinal">): Work {
  const out: Feature[] = state.columns.map((name, j) => {
    const strings = categoryStrings(requireColumn("ordinal", work, name, STRINGY));
    const index = new Map(state.categories[j]!.map((c, k) => [c, k]));
    const values = Float64Array.from(strings, (s) => (s === null ? Number.NaN : (index.get(s) ?? Number.NaN)));
    return { name, values, categorical: state.categorical[j]! };
  });
  return consume(work, state.columns, out);
}

/**
 * Category codes 0..k-1 in one column: marked categorical for native categorical tree
 * splits, or a true ordering when `order` gives one. Missing and unseen categories
 * are NaN (missing), which trees route by their learned default.
 */
export const ordinalKind: StepKind<OrdinalStep, StepState<"ordinal">> = {
  fit(spec, work) {
    const cols = resolveColumns("ordinal", spec.columns, work, STRINGY);
    const categories: string[][] = [];
    const categorical: boolean[] = [];
    for (const name of cols) {
      const m = counts(categoryStrings(work.frame.column(name)));
      const given = spec.order?.[name];
      if (given) {
        const missing = [...m.keys()].filter((c) => !given.includes(c));
        if (missing.length > 0) {
          throw new ValidationError(
            `ordinal: order for "${name}" lacks ${missing.map((c) => JSON.stringify(c)).join(", ")}`,
            {
              hint: "List every category the training data has in the order.",
              details: { column: name, missing },
            },
          );
        }
        categories.push([...given]);
      } else categories.push(byFrequency(m));
      categorical.push(spec.categorical ?? !given);
    }
    const state = { columns: cols, categories, categorical };
    return { state, work: applyOrdinal(work, state) };
  },
  transform: (_spec, state, work) => applyOrdinal(work, state),
};

// ---------------------------------------------------------------- frequency

function applyFrequency(work: Work, state: StepState<"frequencyEncode">): Work {
  const out: Feature[] = state.columns.map((name, j) => {
    const strings = categoryStrings(requireColumn("frequencyEncode", work, name, STRINGY));
    const f = state.freqs[j]!;
    return {
      name: `${name}:freq`,
      values: Float64Array.from(strings, (s) => (s === null ? state.missing[j]! : (f[s] ?? 0))),
      categorical: false,
    };
  });
  return consume(work, state.columns, out);
}

/** Each category's share of the training rows (unseen categories 0): high-cardinality columns in one number. */
export const frequencyEncodeKind: StepKind<FrequencyEncodeStep, StepState<"frequencyEncode">> = {
  fit(spec, work) {
    const cols = resolveColumns("frequencyEncode", spec.columns, work, STRINGY);
    const n = Math.max(1, work.frame.rows);
    const freqs: Record<string, number>[] = [];
    const missing: number[] = [];
    for (const name of cols) {
      const strings = categoryStrings(work.frame.column(name));
      const f: Record<string, number> = {};
      for (const [k, c] of counts(strings)) f[k] = c / n;
      freqs.push(f);
      missing.push(strings.filter((s) => s === null).length / n);
    }
    const state = { columns: cols, freqs, missing };
    return { state, work: applyFrequency(work, state) };
  },
  transform: (_spec, state, work) => applyFrequency(work, state),
};

// ---------------------------------------------------------------- target

const MISSING_KEY = "\u0000missing";

/** Target columns to average: the label itself, or one 0/1 indicator per class. */
function targetOutputs(ctx: FitContext): { suffixes: string[]; columns: Float64Array[] } {
  const { y, target } = ctx;
  if (!y || !target) {
    throw new ValidationError("targetEncode needs a target", {
      hint: "Fit the pipeline with a target column or label vector.",
    });
  }
  if (target.task !== "multiclass") return { suffixes: ["te"], columns: [y] };
  const classes = target.classes ?? [];
  return {
    suffixes: classes.map((c) => `te=${c}`),
    columns: classes.map((_, k) => Float64Array.from(y, (v) => (v === k ? 1 : 0))),
  };
}

interface Stats {
  sum: Map<string, Float64Array>;
  count: Map<string, number>;
}

function accumulate(keys: readonly string[], targets: Float64Array[], rows: ArrayLike<number>): Stats {
  const sum = new Map<string, Float64Array>();
  const count = new Map<string, number>();
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r]!;
    const key = keys[i]!;
    let s = sum.get(key);
    if (!s) sum.set(key, (s = new Float64Array(targets.length)));
    for (let t = 0; t < targets.length; t++) s[t]! += targets[t]![i]!;
    count.set(key, (count.get(key) ?? 0) + 1);
  }
  return { sum, count };
}

function meanOf(targets: Float64Array[], rows: ArrayLike<number>): number[] {
  return targets.map((t) => {
    let s = 0;
    for (let r = 0; r < rows.length; r++) s += t[rows[r]!]!;
    return rows.length > 0 ? s / rows.length : 0;
  });
}

function smoothed(stats: Stats, key: string, prior: number[], m: number): number[] {
  const s = stats.sum.get(key);
  const c = stats.count.get(key) ?? 0;
  // Without smoothing, a category no other fold saw has no mean: use the prior.
  if (c + m === 0) return [...prior];
  return prior.map((p, t) => ((s ? s[t]! : 0) + m * p) / (c + m));
}

function applyTargetEncode(work: Work, state: StepState<"targetEncode">): Work {
  const out: Feature[] = [];
  state.columns.forEach((name, j) => {
    const strings = categoryStrings(requireColumn("targetEncode", work, name, STRINGY));
    const map = state.maps[j]!;
    state.outputs.forEach((suffix, t) => {
      const values = Float64Array.from(strings, (s) =>
        s === null ? state.missing[j]![t]! : (map[s]?.[t] ?? state.prior[t]!),
      );
      out.push({ name: `${name}:${suffix}`, values, categorical: false });
    });
  });
  return consume(work, state.columns, out);
}

/**
 * Replaces a category by the smoothed mean target of its training rows
 * (`(sum + m·prior) / (count + m)`; per class for multiclass). The saved mapping uses
 * all training rows, but the training rows themselves are encoded out of fold — each
 * row by the other folds only — so no row's encoding ever includes its own label and
 * the model cannot learn to trust a leaked target.
 */
export const targetEncodeKind: StepKind<TargetEncodeStep, StepState<"targetEncode">> = {
  fit(spec, work, ctx) {
    const cols = resolveColumns("targetEncode", spec.columns, work, STRINGY);
    const { suffixes, columns: targets } = targetOutputs(ctx);
    const n = work.frame.rows;
    const m = spec.smoothing ?? 10;
    const all = Int32Array.from({ length: n }, (_, i) => i);
    const prior = meanOf(targets, all).map((p) => finite(p, 0));
    const k = Math.min(spec.folds ?? 5, n);
    const folds = k >= 2 ? kFold({ k, seed: ctx.seed }).split({ n }) : [];
    const maps: Record<string, number[]>[] = [];
    const missing: number[][] = [];
    const out: Feature[] = [];
    for (const name of cols) {
      const keys = categoryStrings(work.frame.column(name)).map((s) => s ?? MISSING_KEY);
      const full = accumulate(keys, targets, all);
      const map: Record<string, number[]> = {};
      for (const key of full.count.keys()) if (key !== MISSING_KEY) map[key] = smoothed(full, key, prior, m);
      maps.push(map);
      missing.push(full.count.has(MISSING_KEY) ? smoothed(full, MISSING_KEY, prior, m) : prior);
      const encoded = targets.map(() => new Float64Array(n));
      for (const fold of folds) {
        const stats = accumulate(keys, targets, fold.train);
        const foldPrior = meanOf(targets, fold.train);
        for (const i of fold.valid) {
          const e = smoothed(stats, keys[i]!, foldPrior, m);
          for (let t = 0; t < targets.length; t++) encoded[t]![i] = e[t]!;
        }
      }
      for (let t = 0; t < suffixes.length; t++) {
        out.push({ name: `${name}:${suffixes[t]}`, values: encoded[t]!, categorical: false });
      }
    }
    const state = { columns: cols, outputs: suffixes, prior, maps, missing };
    return { state, work: consume(work, cols, out) };
  },
  transform: (_spec, state, work) => applyTargetEncode(work, state),
};
