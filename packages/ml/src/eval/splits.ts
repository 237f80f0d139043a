import { ValidationError } from "@quintet/core";
import { quantileSorted, sortedPresent } from "../data/stats.js";
import { Rng } from "../datasets/rng.js";

/** One train/validation split of row indices (0-based, ascending). */
export interface Fold {
  train: Int32Array;
  valid: Int32Array;
}

/** What a splitter may need besides the row count. */
export interface SplitInput {
  n: number;
  /** Labels, for stratification. */
  y?: ArrayLike<number>;
  /** Group of each row (customer, patient, ...), for group splits. */
  groups?: ArrayLike<number | string>;
  /** Time of each row (any increasing number, e.g. epoch ms), for time-series splits; default row order. */
  times?: ArrayLike<number>;
}

/** Produces folds deterministically: the same input and seed always give the same folds. */
export interface Splitter {
  readonly name: string;
  split(input: SplitInput): Fold[];
}

function checkK(k: number, n: number, what: string): void {
  if (!Number.isInteger(k) || k < 2) {
    throw new ValidationError(`${what}: k must be an integer >= 2, got ${k}`, { hint: "Use k = 5 or 10." });
  }
  if (k > n) {
    throw new ValidationError(`${what}: k = ${k} folds need at least ${k} rows, got ${n}`, {
      hint: "Use fewer folds or more data.",
    });
  }
}

function shuffled(n: number, rng: Rng): Int32Array {
  const a = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/** Builds folds from each row's fold number. */
export function foldsFromAssignment(assign: Int32Array, k: number): Fold[] {
  const sizes = new Int32Array(k);
  for (const f of assign) if (f >= 0) sizes[f]!++;
  const n = assign.length;
  const folds: Fold[] = [];
  for (let f = 0; f < k; f++) {
    const valid = new Int32Array(sizes[f]!);
    const train = new Int32Array(n - sizes[f]!);
    let v = 0;
    let t = 0;
    for (let i = 0; i < n; i++) {
      if (assign[i] === f) valid[v++] = i;
      else train[t++] = i;
    }
    folds.push({ train, valid });
  }
  return folds;
}

export interface KFoldOptions {
  /** Number of folds. Default 5. */
  k?: number;
  /** Shuffle rows before cutting folds. Default true. */
  shuffle?: boolean;
  /** Seed of the shuffle. Default 0. */
  seed?: number;
}

/** Plain k-fold: rows (shuffled by seed) cut into `k` folds of nearly equal size. */
export function kFold(options: KFoldOptions = {}): Splitter {
  const k = options.k ?? 5;
  return {
    name: `kfold(k=${k})`,
    split({ n }) {
      checkK(k, n, "kFold");
      const order =
        options.shuffle === false
          ? Int32Array.from({ length: n }, (_, i) => i)
          : shuffled(n, new Rng(options.seed ?? 0));
      const assign = new Int32Array(n);
      // Contiguous blocks of the (shuffled) order, first n % k folds one larger.
      const base = Math.floor(n / k);
      const extra = n % k;
      let pos = 0;
      for (let f = 0; f < k; f++) {
        const size = base + (f < extra ? 1 : 0);
        for (let j = 0; j < size; j++) assign[order[pos++]!] = f;
      }
      return foldsFromAssignment(assign, k);
    },
  };
}

/** Class of each row for stratification: the labels, or quantile bins of a continuous target. */
function strata(y: ArrayLike<number>): Int32Array {
  let integral = true;
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (Number.isNaN(v)) {
      throw new ValidationError(`stratification: label of row ${i} is missing`, {
        hint: "Drop rows without a label before splitting.",
      });
    }
    if (!Number.isInteger(v)) integral = false;
  }
  const distinct = new Set(Array.from(y)).size;
  if (integral && distinct <= 100) return Int32Array.from(y as ArrayLike<number>);
  // A continuous target is stratified on 10 quantile bins, so every fold spans its range.
  const s = sortedPresent(y);
  const cuts = Array.from({ length: 9 }, (_, b) => quantileSorted(s, (b + 1) / 10));
  return Int32Array.from(y as ArrayLike<number>, (v) => cuts.filter((c) => v > c).length);
}

/**
 * Stratified k-fold: every fold keeps the class proportions of the whole (continuous
 * targets are stratified on quantile bins). Needs `y`.
 */
export function stratifiedKFold(options: KFoldOptions = {}): Splitter {
  const k = options.k ?? 5;
  return {
    name: `stratified-kfold(k=${k})`,
    split({ n, y }) {
      checkK(k, n, "stratifiedKFold");
      if (!y || y.length !== n) {
        throw new ValidationError("stratifiedKFold needs y with one label per row", { hint: "Pass y to the split." });
      }
      const cls = strata(y);
      const rng = new Rng(options.seed ?? 0);
      const order = options.shuffle === false ? Int32Array.from({ length: n }, (_, i) => i) : shuffled(n, rng);
      const byClass = new Map<number, number[]>();
      for (const i of order) {
        const list = byClass.get(cls[i]!) ?? [];
        list.push(i);
        byClass.set(cls[i]!, list);
      }
      // Deal each class round-robin, continuing where the previous class stopped, so
      // both the class mix and the fold sizes stay balanced.
      const assign = new Int32Array(n);
      let next = 0;
      for (const key of [...byClass.keys()].sort((a, b) => a - b)) {
        for (const i of byClass.get(key)!) {
          assign[i] = next;
          next = (next + 1) % k;
        }
      }
      return foldsFromAssignment(assign, k);
    },
  };
}

export interface GroupKFoldOptions {
  k?: number;
  /** Seed that orders groups of equal size before assignment. Default 0. */
  seed?: number;
}

/**
 * Group k-fold: all rows of a group land in the same fold, so a model is never scored
 * on a customer (patient, device...) it trained on. Groups go largest first to the
 * lightest fold, balancing fold sizes. Needs `groups`.
 */
export function groupKFold(options: GroupKFoldOptions = {}): Splitter {
  const k = options.k ?? 5;
  return {
    name: `group-kfold(k=${k})`,
    split({ n, groups }) {
      if (!groups || groups.length !== n) {
        throw new ValidationError("groupKFold needs groups with one entry per row", {
          hint: "Pass groups to the split.",
        });
      }
      const members = new Map<number | string, number[]>();
      for (let i = 0; i < n; i++) {
        const g = groups[i]!;
        const list = members.get(g) ?? [];
        list.push(i);
        members.set(g, list);
      }
      if (members.size < k) {
        throw new ValidationError(`groupKFold: ${members.size} groups cannot fill k = ${k} folds`, {
          hint: "Use k <= the number of distinct groups.",
        });
      }
      const keys = [...members.keys()];
      const tie = shuffled(keys.length, new Rng(options.seed ?? 0));
      const rank = new Map(keys.map((g, i) => [g, tie[i]!]));
      keys.sort((a, b) => members.get(b)!.length - members.get(a)!.length || rank.get(a)! - rank.get(b)!);
      const load = new Float64Array(k);
      const assign = new Int32Array(n);
      for (const g of keys) {
        let f = 0;
        for (let j = 1; j < k; j++) if (load[j]! < load[f]!) f = j;
        for (const i of members.get(g)!) assign[i] = f;
        load[f]! += members.get(g)!.length;
      }
      return foldsFromAssignment(assign, k);
    },
  };
}

export interface TimeSeriesSplitOptions {
  /** Number of splits. Default 5. */
  splits?: number;
  /** Rows left out between the end of training and the start of validation (to stop leakage through lags). Default 0. */
  gap?: number;
  /** Validation rows per split. Default `floor(n / (splits + 1))`. */
  testSize?: number;
  /** Cap on training rows (a sliding instead of an expanding window). */
  maxTrainSize?: number;
}

/**
 * Time-series split: each validation block comes after all of its training rows, in
 * `times` order (row order when absent); training windows expand (or slide with
 * `maxTrainSize`). Deterministic: there is nothing to shuffle.
 */
export function timeSeriesSplit(options: TimeSeriesSplitOptions = {}): Splitter {
  const splits = options.splits ?? 5;
  const gap = options.gap ?? 0;
  return {
    name: `time-series(splits=${splits}${gap ? `, gap=${gap}` : ""})`,
    split({ n, times }) {
      if (!Number.isInteger(splits) || splits < 2) {
        throw new ValidationError(`timeSeriesSplit: splits must be an integer >= 2, got ${splits}`);
      }
      const testSize = options.testSize ?? Math.floor(n / (splits + 1));
      if (testSize < 1 || n - splits * testSize - gap < 1) {
        throw new ValidationError(
          `timeSeriesSplit: ${n} rows are too few for ${splits} splits of ${testSize} rows (gap ${gap})`,
          {
            hint: "Use fewer splits, a smaller testSize or gap, or more data.",
          },
        );
      }
      let order = Int32Array.from({ length: n }, (_, i) => i);
      if (times) {
        if (times.length !== n) throw new ValidationError("timeSeriesSplit: times needs one entry per row");
        for (let i = 0; i < n; i++) {
          if (Number.isNaN(times[i]!)) {
            throw new ValidationError(`timeSeriesSplit: time of row ${i} is missing`, {
              hint: "Drop rows without a time.",
            });
          }
        }
        order = order.sort((a, b) => times[a]! - times[b]! || a - b);
      }
      const folds: Fold[] = [];
      for (let s = 0; s < splits; s++) {
        const start = n - (splits - s) * testSize;
        const trainEnd = start - gap;
        const trainStart = options.maxTrainSize ? Math.max(0, trainEnd - options.maxTrainSize) : 0;
        const train = order.slice(trainStart, trainEnd).sort();
        const valid = order.slice(start, start + testSize).sort();
        folds.push({ train, valid });
      }
      return folds;
    },
  };
}

export interface HoldoutOptions {
  /** Share of rows held out for validation. Default 0.2. */
  testShare?: number;
  /** Keep class proportions (needs `y`). Default false. */
  stratify?: boolean;
  seed?: number;
}

/** One shuffled train/validation split (a train/test split). */
export function holdout(options: HoldoutOptions = {}): Splitter {
  const share = options.testShare ?? 0.2;
  return {
    name: `holdout(${share})`,
    split(input) {
      if (!(share > 0 && share < 1)) {
        throw new ValidationError(`holdout: testShare must be between 0 and 1, got ${share}`);
      }
      const n = input.n;
      const rng = new Rng(options.seed ?? 0);
      const assign = new Int32Array(n);
      const groups: number[][] = [];
      if (options.stratify) {
        if (!input.y) throw new ValidationError("holdout with stratify needs y", { hint: "Pass y to the split." });
        const cls = strata(input.y);
        const by = new Map<number, number[]>();
        for (const i of shuffled(n, rng)) {
          const l = by.get(cls[i]!) ?? [];
          l.push(i);
          by.set(cls[i]!, l);
        }
        for (const key of [...by.keys()].sort((a, b) => a - b)) groups.push(by.get(key)!);
      } else groups.push(Array.from(shuffled(n, rng)));
      for (const g of groups) {
        const take = Math.round(g.length * share);
        g.forEach((i, pos) => {
          assign[i] = pos < take ? 0 : 1;
        });
      }
      const [valid, train] = foldsFromAssignment(assign, 2).map((f) => f.valid);
      if (valid!.length === 0 || train!.length === 0) {
        throw new ValidationError(`holdout: ${n} rows are too few to hold out ${share}`, { hint: "Use more data." });
      }
      return [{ train: train!, valid: valid! }];
    },
  };
}
