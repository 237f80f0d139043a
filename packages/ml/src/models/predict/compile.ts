import { ValidationError } from "@quintet/core";
import { assertMatrix, type Matrix } from "../ensemble/matrix.js";
import { applyLink, goesLeft } from "../ensemble/reference.js";
import { type Link, MissingKind, SplitKind, type Tree, type TreeEnsemble } from "../ensemble/types.js";
import { instantiatePredict, KernelArena } from "../gbdt/kernels.js";
import { PREDICT_FLAGS, type PredictExports, type PredictWalk } from "./predict-assembly.js";

/** Node flag: a missing (NaN) value goes left at this fast node. */
const NAN_LEFT = PREDICT_FLAGS.NAN_LEFT;
/**
 * Node flag: decide with the reference `goesLeft` (zero-as-missing, infinite thresholds,
 * unusual category sets). Rare in practice; keeping them off the fast path keeps it tight.
 */
const SLOW = PREDICT_FLAGS.SLOW;
/**
 * Node flag: a categorical split by bitset (see `catBranch`). With it, NAN_LEFT says where
 * missing values and negative codes go, CAT_SET_LEFT that codes in the set go left, and
 * NAN_IS_ZERO that NaN is read as code 0 (MissingKind.None).
 */
const CAT = PREDICT_FLAGS.CAT;
const CAT_SET_LEFT = PREDICT_FLAGS.CAT_SET_LEFT;
const NAN_IS_ZERO = PREDICT_FLAGS.NAN_IS_ZERO;

/** Category sets with codes up to this use a bitset; larger ones the reference search. */
const MAX_BITSET_CODE = 1 << 16;

/** Rows scored together per tree so the tree's nodes stay in cache across the block. */
const BLOCK_ROWS = 64;

/** A compiled, allocation-free scorer for one {@link TreeEnsemble}. */
export interface Predictor {
  readonly numFeatures: number;
  readonly numGroups: number;
  readonly link: Link;
  /** Raw margins, row-major `rows × numGroups`. */
  predictMargin(m: Matrix): Float64Array;
  /** Predictions after the link (probabilities, means), row-major `rows × numGroups`. */
  predict(m: Matrix): Float64Array;
  /** Raw margins of one row into `out` (length `numGroups`); returns `out`. */
  predictRowMarginInto(row: ArrayLike<number>, out: Float64Array): Float64Array;
  /** Linked prediction of one row into `out` (length `numGroups`); returns `out`. */
  predictRowInto(row: ArrayLike<number>, out: Float64Array): Float64Array;
  /** Linked prediction of one row in a new array of length `numGroups`. */
  predictRow(row: ArrayLike<number>): Float64Array;
}

/** The smallest double greater than `t` (t finite). */
function nextUp64(t: number): number {
  if (t === 0) return Number.MIN_VALUE;
  const f = new Float64Array([t]);
  const b = new BigInt64Array(f.buffer);
  b[0] = t > 0 ? b[0]! + 1n : b[0]! - 1n;
  return f[0]!;
}

/** The smallest float32 greater than `t` (t a finite float32). */
function nextUp32(t: number): number {
  if (t === 0) return 1.401298464324817e-45;
  const f = new Float32Array([t]);
  const b = new Int32Array(f.buffer);
  b[0] = t > 0 ? b[0]! + 1 : b[0]! - 1;
  return f[0]!;
}

/**
 * Flattens every tree of `e` into one set of typed arrays and returns a predictor whose
 * results equal {@link referenceMargin} exactly.
 *
 * Layout: nodes are re-laid breadth-first so the two children of a node sit side by side
 * (`right = left + 1`), which needs one child array instead of two. A leaf has feature -1
 * and keeps its value in the threshold slot. Numeric `x <= t` splits become `x < nextUp(t)`
 * so every fast node is one comparison; float32 models round the row once, not per node.
 */
export function compileEnsemble(e: TreeEnsemble): Predictor {
  if (!Number.isInteger(e.numFeatures) || e.numFeatures < 0) {
    throw new ValidationError(`ensemble numFeatures must be a non-negative integer, got ${e.numFeatures}`);
  }
  if (!Number.isInteger(e.numGroups) || e.numGroups < 1) {
    throw new ValidationError(`ensemble numGroups must be a positive integer, got ${e.numGroups}`);
  }
  if (e.treeGroup.length !== e.trees.length) {
    throw new ValidationError(`ensemble has ${e.trees.length} trees but ${e.treeGroup.length} treeGroup entries`);
  }
  let total = 0;
  for (const t of e.trees) total += t.left.length;
  const feat = new Int32Array(total);
  const child = new Int32Array(total);
  const thr = new Float64Array(total);
  const flags = new Uint8Array(total);
  const srcTree = new Int32Array(total);
  const srcNode = new Int32Array(total);
  const roots = new Int32Array(e.trees.length);
  const groups = new Int32Array(e.trees.length);
  const float32 = e.float32;
  let next = 0;
  // Category bitsets, each its word count then the words.
  const bitsets: number[] = [];

  for (let ti = 0; ti < e.trees.length; ti++) {
    const tree = e.trees[ti]!;
    const g = e.treeGroup[ti]!;
    if (!Number.isInteger(g) || g < 0 || g >= e.numGroups) {
      throw new ValidationError(`tree ${ti} has group ${g}, outside 0..${e.numGroups - 1}`);
    }
    groups[ti] = g;
    const n = tree.left.length;
    if (n === 0) throw new ValidationError(`tree ${ti} has no nodes`);
    const seen = new Uint8Array(n);
    // Breadth-first queue of (source node, destination slot).
    const qSrc = new Int32Array(n);
    const qDst = new Int32Array(n);
    let head = 0;
    let tail = 0;
    roots[ti] = next;
    qSrc[tail] = 0;
    qDst[tail++] = next++;
    seen[0] = 1;
    while (head < tail) {
      const s = qSrc[head]!;
      const d = qDst[head++]!;
      srcTree[d] = ti;
      srcNode[d] = s;
      const l = tree.left[s]!;
      if (l === -1) {
        feat[d] = -1;
        thr[d] = tree.value[s]!;
        continue;
      }
      const r = tree.right[s]!;
      for (const c of [l, r]) {
        if (!Number.isInteger(c) || c < 0 || c >= n || seen[c]) {
          throw new ValidationError(`tree ${ti} node ${s} has child ${c} that is out of range or reached twice`, {
            hint: "The model file is corrupt: every node except the root must have exactly one parent.",
          });
        }
        seen[c] = 1;
      }
      const f = tree.feature[s]!;
      if (!Number.isInteger(f) || f < 0 || f >= e.numFeatures) {
        throw new ValidationError(`tree ${ti} node ${s} splits on feature ${f}, outside 0..${e.numFeatures - 1}`);
      }
      feat[d] = f;
      child[d] = next;
      qSrc[tail] = l;
      qDst[tail++] = next++;
      qSrc[tail] = r;
      qDst[tail++] = next++;
      compileSplit(tree, s, d, float32, thr, flags, bitsets);
    }
  }

  const counts = new Float64Array(e.numGroups);
  for (let t = 0; t < groups.length; t++) counts[groups[t]!]!++;
  const catBits = Int32Array.from(bitsets);
  const base = new Float64Array(e.numGroups);
  for (let g = 0; g < e.numGroups; g++) base[g] = e.baseMargin[g] ?? 0;

  return new CompiledPredictor(e, {
    feat: feat.subarray(0, next),
    child: child.subarray(0, next),
    thr: thr.subarray(0, next),
    flags: flags.subarray(0, next),
    srcTree,
    srcNode,
    catBits,
    roots,
    groups,
    counts,
    base,
  });
}

function compileSplit(
  tree: Tree,
  s: number,
  d: number,
  float32: boolean,
  thr: Float64Array,
  flags: Uint8Array,
  bitsets: number[],
): void {
  const kind = tree.kind[s]!;
  const missing = tree.missing[s]!;
  if (kind === SplitKind.Categorical && missing !== MissingKind.Zero) {
    const set = tree.categories[s];
    // The reference searches the set by bisection: only an ascending set of codes is sure
    // to mean the same there and as bits.
    let ascending = set !== null && set !== undefined;
    for (let i = 0; ascending && i < set!.length; i++) {
      const c = set![i]!;
      if (!Number.isInteger(c) || c < 0 || c > MAX_BITSET_CODE || (i > 0 && c <= set![i - 1]!)) ascending = false;
    }
    if (ascending && (missing === MissingKind.NaN || missing === MissingKind.None)) {
      const words = set!.length > 0 ? (set![set!.length - 1]! >> 5) + 1 : 0;
      const start = bitsets.length;
      bitsets.push(words);
      for (let w = 0; w < words; w++) bitsets.push(0);
      for (const c of set!) bitsets[start + 1 + (c >> 5)]! |= 1 << (c & 31);
      thr[d] = start;
      flags[d] =
        CAT |
        (tree.defaultLeft[s] === 1 ? NAN_LEFT : 0) |
        (tree.categoryLeft[s] === 1 ? CAT_SET_LEFT : 0) |
        (missing === MissingKind.None ? NAN_IS_ZERO : 0);
      return;
    }
  }
  let t = tree.threshold[s]!;
  if (float32) t = Math.fround(t);
  if (kind === SplitKind.Categorical || missing === MissingKind.Zero || !Number.isFinite(t)) {
    flags[d] = SLOW;
    return;
  }
  if (kind !== SplitKind.LessThan && kind !== SplitKind.LessOrEqual) {
    throw new ValidationError(`node ${s} has unknown split kind ${kind}`);
  }
  if (missing !== MissingKind.NaN && missing !== MissingKind.None) {
    throw new ValidationError(`node ${s} has unknown missing kind ${missing}`);
  }
  // NaN with MissingKind.None is compared as 0, so its direction is fixed per node.
  const nanLeft =
    missing === MissingKind.NaN ? tree.defaultLeft[s] === 1 : kind === SplitKind.LessThan ? 0 < t : 0 <= t;
  flags[d] = nanLeft ? NAN_LEFT : 0;
  thr[d] = kind === SplitKind.LessThan ? t : float32 ? nextUp32(t) : nextUp64(t);
}

interface Layout {
  feat: Int32Array;
  child: Int32Array;
  thr: Float64Array;
  flags: Uint8Array;
  srcTree: Int32Array;
  srcNode: Int32Array;
  /** Category bitsets of CAT nodes (a node's `thr` is the start of its own). */
  catBits: Int32Array;
  roots: Int32Array;
  groups: Int32Array;
  counts: Float64Array;
  base: Float64Array;
}

/** The predictor module's instance and its memory's layout (byte offsets) and views. */
interface WasmPredictor {
  k: PredictExports;
  at: {
    feat: number;
    child: number;
    thr: number;
    flags: number;
    cat: number;
    roots: number;
    groups: number;
    rows: number;
    margins: number;
  };
  rows: Float64Array;
  margins: Float64Array;
}

class CompiledPredictor implements Predictor {
  readonly numFeatures: number;
  readonly numGroups: number;
  readonly link: Link;
  private readonly e: TreeEnsemble;
  private readonly L: Layout;
  private readonly rowBuf: Float64Array;
  private readonly blockBuf: Float64Array;

  constructor(e: TreeEnsemble, layout: Layout) {
    this.e = e;
    this.L = layout;
    this.numFeatures = e.numFeatures;
    this.numGroups = e.numGroups;
    this.link = e.link;
    this.rowBuf = new Float64Array(e.numFeatures);
    this.blockBuf = new Float64Array(e.numFeatures * BLOCK_ROWS);
  }

  /** Leaf value of tree `t` for the row at `xs[off..off+numFeatures)`. */
  private leaf(t: number, xs: Float64Array, off: number): number {
    const { feat, child, thr, flags } = this.L;
    let n = this.L.roots[t]!;
    let f = feat[n]!;
    while (f >= 0) {
      const x = xs[off + f]!;
      const fl = flags[n]!;
      // Branch-free for the common case (a present value at a plain numeric node).
      if (fl < SLOW && !Number.isNaN(x)) n = child[n]! + +(x >= thr[n]!);
      else if (fl >= CAT) n = child[n]! + this.catBranch(n, x, fl);
      else if (fl >= SLOW) n = this.slow(n, x) ? child[n]! : child[n]! + 1;
      else n = child[n]! + (fl === NAN_LEFT ? 0 : 1);
      f = feat[n]!;
    }
    return thr[n]!;
  }

  /** 0 when value `x` goes left at CAT node `n` (flags `fl`), 1 when right: as `goesLeft`. */
  private catBranch(n: number, x: number, fl: number): number {
    let v = x;
    if (Number.isNaN(v)) {
      if ((fl & NAN_IS_ZERO) === 0) return fl & NAN_LEFT ? 0 : 1;
      v = 0;
    }
    if (v < 0) return fl & NAN_LEFT ? 0 : 1;
    const bits = this.L.catBits;
    const start = this.L.thr[n]!;
    const code = Math.trunc(v);
    const hit = code < bits[start]! * 32 ? (bits[start + 1 + (code >> 5)]! >>> (code & 31)) & 1 : 0;
    return (fl & CAT_SET_LEFT ? hit : 1 - hit) === 1 ? 0 : 1;
  }

  /**
   * The predictor module over a copy of the layout, made on first use; null when it cannot
   * run here or the ensemble has nodes only the reference can decide (SLOW).
   */
  private wasm(): WasmPredictor | null {
    if (this.wasmState !== undefined) return this.wasmState;
    this.wasmState = null;
    const L = this.L;
    if (L.flags.some((f) => f === SLOW)) return null;
    const n = L.feat.length;
    const a = new KernelArena();
    const at = {
      feat: a.alloc(n * 4),
      child: a.alloc(n * 4),
      thr: a.alloc(n * 8),
      flags: a.alloc(n),
      cat: a.alloc(L.catBits.length * 4),
      roots: a.alloc(L.roots.length * 4),
      groups: a.alloc(L.groups.length * 4),
      rows: a.alloc(BLOCK_ROWS * this.numFeatures * 8),
      margins: a.alloc(BLOCK_ROWS * this.numGroups * 8),
    };
    const memory = a.create(false);
    const k = memory && instantiatePredict(memory);
    if (!memory || !k) return null;
    const buf = memory.buffer;
    new Int32Array(buf, at.feat, n).set(L.feat);
    new Int32Array(buf, at.child, n).set(L.child);
    new Float64Array(buf, at.thr, n).set(L.thr);
    new Uint8Array(buf, at.flags, n).set(L.flags);
    new Int32Array(buf, at.cat, L.catBits.length).set(L.catBits);
    new Int32Array(buf, at.roots, L.roots.length).set(L.roots);
    new Int32Array(buf, at.groups, L.groups.length).set(L.groups);
    this.wasmState = {
      k,
      at,
      rows: new Float64Array(buf, at.rows, BLOCK_ROWS * this.numFeatures),
      margins: new Float64Array(buf, at.margins, BLOCK_ROWS * this.numGroups),
    };
    return this.wasmState;
  }

  private wasmState: WasmPredictor | null | undefined;

  /** Runs `fn` over the first `n` rows of the module's row block into its margins block. */
  private walk(w: WasmPredictor, fn: PredictWalk, n: number): void {
    const { at } = w;
    fn(
      at.rows,
      n,
      this.numFeatures,
      this.L.roots.length,
      at.roots,
      at.groups,
      this.numGroups,
      at.feat,
      at.child,
      at.thr,
      at.flags,
      at.cat,
      at.margins,
    );
  }

  private slow(n: number, x: number): boolean {
    const tree = this.e.trees[this.L.srcTree[n]!]!;
    return goesLeft(tree, this.L.srcNode[n]!, x, this.e.float32);
  }

  /** Copies one row into `dst` at `off`, rounding to float32 when the model compares so. */
  private load(src: ArrayLike<number>, srcOff: number, dst: Float64Array, dstOff: number, rowNo: number): void {
    const c = this.numFeatures;
    const f32 = this.e.float32;
    for (let j = 0; j < c; j++) {
      const v = src[srcOff + j]!;
      if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY || typeof v !== "number") {
        throw new ValidationError(`row ${rowNo}, feature ${j} is ${String(v)}`, {
          hint: "Features must be finite numbers; use NaN for a missing value.",
        });
      }
      dst[dstOff + j] = f32 ? Math.fround(v) : v;
    }
  }

  private finishRow(out: Float64Array, o: number): void {
    const G = this.numGroups;
    const { counts, base } = this.L;
    const avg = this.e.averageTrees;
    for (let g = 0; g < G; g++) {
      if (avg && counts[g]! > 0) out[o + g]! /= counts[g]!;
      out[o + g]! += base[g]!;
    }
  }

  predictRowMarginInto(row: ArrayLike<number>, out: Float64Array): Float64Array {
    if (row.length !== this.numFeatures) {
      throw new ValidationError(`row has ${row.length} features, the model expects ${this.numFeatures}`, {
        hint: "Pass the features in the same order and number as at training time.",
      });
    }
    if (out.length < this.numGroups) {
      throw new ValidationError(`output buffer has length ${out.length}, needs ${this.numGroups}`);
    }
    const w = this.wasm();
    if (w) {
      const { k, rows: block, margins } = w;
      this.load(row, 0, block, 0, 0);
      margins.fill(0, 0, this.numGroups);
      this.walk(w, k.predictRows, 1);
      for (let g = 0; g < this.numGroups; g++) out[g] = margins[g]!;
      this.finishRow(out, 0);
      return out;
    }
    const xs = this.rowBuf;
    this.load(row, 0, xs, 0, 0);
    out.fill(0, 0, this.numGroups);
    const { roots, groups } = this.L;
    if (this.numGroups === 1) {
      let s = 0;
      for (let t = 0; t < roots.length; t++) s += this.leaf(t, xs, 0);
      out[0] = s;
    } else {
      for (let t = 0; t < roots.length; t++) out[groups[t]!]! += this.leaf(t, xs, 0);
    }
    this.finishRow(out, 0);
    return out;
  }

  predictRowInto(row: ArrayLike<number>, out: Float64Array): Float64Array {
    this.predictRowMarginInto(row, out);
    applyLink(this.link, out.length === this.numGroups ? out : out.subarray(0, this.numGroups));
    return out;
  }

  predictRow(row: ArrayLike<number>): Float64Array {
    return this.predictRowInto(row, new Float64Array(this.numGroups));
  }

  predictMargin(m: Matrix): Float64Array {
    assertMatrix(m);
    if (m.cols !== this.numFeatures) {
      throw new ValidationError(`matrix has ${m.cols} features, the model expects ${this.numFeatures}`, {
        hint: "Pass the features in the same order and number as at training time.",
      });
    }
    const G = this.numGroups;
    const c = this.numFeatures;
    const out = new Float64Array(m.rows * G);
    const w = this.wasm();
    if (w) {
      // The same walk in the predictor module, a block of rows per call.
      const { k, rows: block, margins } = w;
      for (let r0 = 0; r0 < m.rows; r0 += BLOCK_ROWS) {
        const r1 = Math.min(m.rows, r0 + BLOCK_ROWS);
        for (let r = r0; r < r1; r++) this.load(m.data, r * c, block, (r - r0) * c, r);
        margins.fill(0);
        this.walk(w, k.predictBlock, r1 - r0);
        out.set(margins.subarray(0, (r1 - r0) * G), r0 * G);
        for (let r = r0; r < r1; r++) this.finishRow(out, r * G);
      }
      return out;
    }
    const { roots, groups, feat, child, thr, flags } = this.L;
    const buf = this.blockBuf;
    for (let r0 = 0; r0 < m.rows; r0 += BLOCK_ROWS) {
      const r1 = Math.min(m.rows, r0 + BLOCK_ROWS);
      for (let r = r0; r < r1; r++) this.load(m.data, r * c, buf, (r - r0) * c, r);
      for (let t = 0; t < roots.length; t++) {
        const g = groups[t]!;
        const root = roots[t]!;
        for (let r = r0; r < r1; r++) {
          // Inlined copy of leaf(): the batch loop is hot enough that the call shows.
          const off = (r - r0) * c;
          let n = root;
          let f = feat[n]!;
          while (f >= 0) {
            const x = buf[off + f]!;
            const fl = flags[n]!;
            if (fl < SLOW && !Number.isNaN(x)) n = child[n]! + +(x >= thr[n]!);
            else if (fl >= CAT) n = child[n]! + this.catBranch(n, x, fl);
            else if (fl >= SLOW) n = this.slow(n, x) ? child[n]! : child[n]! + 1;
            else n = child[n]! + (fl === NAN_LEFT ? 0 : 1);
            f = feat[n]!;
          }
          out[r * G + g]! += thr[n]!;
        }
      }
      for (let r = r0; r < r1; r++) this.finishRow(out, r * G);
    }
    return out;
  }

  predict(m: Matrix): Float64Array {
    const out = this.predictMargin(m);
    const G = this.numGroups;
    if (this.link === "softmax") {
      for (let r = 0; r < m.rows; r++) applyLink("softmax", out.subarray(r * G, r * G + G));
    } else {
      applyLink(this.link, out);
    }
    return out;
  }
}
