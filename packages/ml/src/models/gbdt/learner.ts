import type { Rng } from "../../datasets/rng.js";
import { allocTree, MissingKind, SplitKind, type Tree } from "../ensemble/types.js";
import { BIN_STRIDE, type BinnedMatrix, MAX_FLOAT32 } from "./bins.js";
import type { SubtreeIO } from "./protocol.js";
import type { HistogramBuilder, SubtreePlan } from "./serial-builder.js";
import { leafWeight, SplitFinder, SplitInfo, type SplitParams } from "./split.js";

/** How a tree grows. */
export interface GrowParams extends SplitParams {
  /** "depthwise" expands level by level (XGBoost); "lossguide" expands the best leaf first (LightGBM). */
  growPolicy: "depthwise" | "lossguide";
  /** Maximum depth; 0 = unlimited. */
  maxDepth: number;
  /** Maximum leaves; 0 = unlimited. */
  maxLeaves: number;
  /** Multiplies every leaf value. */
  learningRate: number;
  /** Fraction of the tree's features considered at each node (1 = all). */
  colsampleByNode: number;
}

/**
 * A grown tree plus what training needs to update margins without walking it again.
 * The leaf and table arrays are the learner's own buffers: read them before the next grow.
 */
export interface GrownTree {
  tree: Tree;
  numLeaves: number;
  /** Leaf node ids, and the `idx` range `[leafStart, leafEnd)` of the training rows in each. */
  leafNode: Int32Array;
  leafStart: Int32Array;
  leafEnd: Int32Array;
  /** Bin-space routing: node `n` sends bin `b` left when `tables[n * BIN_STRIDE + b] === 1`. */
  tables: Uint8Array;
}

/** Routes row `r` of a binned matrix through a grown tree; returns the leaf node. */
export function binnedLeaf(tree: Tree, tables: Uint8Array, data: BinnedMatrix, r: number): number {
  const { left, right, feature } = tree;
  const rb = r * data.cols;
  let node = 0;
  while (left[node] !== -1) {
    const b = data.bins[rb + feature[node]!]!;
    node = tables[node * BIN_STRIDE + b] === 1 ? left[node]! : right[node]!;
  }
  return node;
}

/** Per-node state of the tree being grown, in typed arrays reused from tree to tree. */
class NodeStore {
  cap = 0;
  n = 0;
  left = new Int32Array(0);
  right = new Int32Array(0);
  start = new Int32Array(0);
  end = new Int32Array(0);
  depth = new Int32Array(0);
  g = new Float64Array(0);
  h = new Float64Array(0);
  /** Histogram slot held for the node, -1 when none. */
  slot = new Int32Array(0);
  /** Index of the node's pending split in the learner's split list, -1 when none. */
  pending = new Int32Array(0);
  feature = new Int32Array(0);
  bin = new Int32Array(0);
  categorical = new Uint8Array(0);
  defaultLeft = new Uint8Array(0);
  gain = new Float64Array(0);
  tables = new Uint8Array(0);

  constructor(initial: number) {
    this.grow(initial);
  }

  private grow(cap: number): void {
    const copy = <T extends Int32Array | Float64Array | Uint8Array>(a: T, size: number): T => {
      const b = new (a.constructor as new (n: number) => T)(size);
      b.set(a);
      return b;
    };
    this.left = copy(this.left, cap);
    this.right = copy(this.right, cap);
    this.start = copy(this.start, cap);
    this.end = copy(this.end, cap);
    this.depth = copy(this.depth, cap);
    this.g = copy(this.g, cap);
    this.h = copy(this.h, cap);
    this.slot = copy(this.slot, cap);
    this.pending = copy(this.pending, cap);
    this.feature = copy(this.feature, cap);
    this.bin = copy(this.bin, cap);
    this.categorical = copy(this.categorical, cap);
    this.defaultLeft = copy(this.defaultLeft, cap);
    this.gain = copy(this.gain, cap);
    this.tables = copy(this.tables, cap * BIN_STRIDE);
    this.cap = cap;
  }

  /** Room for `n` nodes. */
  reserve(n: number): void {
    let cap = this.cap;
    while (cap < n) cap *= 2;
    if (cap > this.cap) this.grow(cap);
  }

  add(start: number, end: number, depth: number, g: number, h: number): number {
    if (this.n === this.cap) this.grow(this.cap * 2);
    const id = this.n++;
    this.left[id] = -1;
    this.right[id] = -1;
    this.start[id] = start;
    this.end[id] = end;
    this.depth[id] = depth;
    this.g[id] = g;
    this.h[id] = h;
    this.slot[id] = -1;
    this.pending[id] = -1;
    this.feature[id] = -1;
    return id;
  }

  take(node: number, s: SplitInfo): void {
    this.feature[node] = s.feature;
    this.bin[node] = s.bin;
    this.categorical[node] = s.categorical ? 1 : 0;
    this.defaultLeft[node] = s.defaultLeft ? 1 : 0;
    this.gain[node] = s.gain;
    this.tables.set(s.goLeft, node * BIN_STRIDE);
  }
}

/** Levels grown before the frontier's subtrees are handed out as tasks. */
export const SUBTREE_DEPTH = 2;

/**
 * Whether trees of this shape grow their subtrees as tasks (see `TreeLearner.growSubtrees`),
 * and how many tasks and nodes per subtree that takes. Only where the order of expansion
 * does not change the tree (depth-wise, no leaf budget, no per-node feature sampling), with
 * exact gradients, and within a depth whose subtrees fit a fixed node record.
 */
export function subtreePlan(p: GrowParams, packed: boolean): SubtreePlan | undefined {
  if (packed || p.growPolicy !== "depthwise" || p.maxLeaves !== 0 || p.colsampleByNode < 1) return undefined;
  if (p.maxDepth < 4 || p.maxDepth > 12) return undefined;
  return { tasks: 2 ** SUBTREE_DEPTH, maxNodes: 2 ** (p.maxDepth - SUBTREE_DEPTH + 1) - 1 };
}

/** Keep this many histogram slots free so a split can always build both children. */
const RESERVE_SLOTS = 2;

/**
 * Grows one regression tree on gradient statistics over binned data: a histogram per
 * node (the smaller child built, its sibling by subtraction from the parent), stable
 * in-place row partitioning, and depth-wise or best-first expansion. All per-node state
 * lives in buffers reused across trees.
 */
export class TreeLearner {
  private readonly finder: SplitFinder;
  private readonly nodeFeatures: Int32Array;
  private readonly sampleBuf: Int32Array;
  private readonly numBins: Int32Array;
  private readonly nodes = new NodeStore(64);
  private readonly totals = new Float64Array(2);
  /** Pending splits of candidate nodes; `freeSplits` holds the indices not in use. */
  private readonly splits: SplitInfo[] = [];
  private freeSplits: number[] = [];
  private candidates: Int32Array = new Int32Array(64);
  private leafNode = new Int32Array(64);
  private leafStart = new Int32Array(64);
  private leafEnd = new Int32Array(64);
  /** Breadth-first order of the nodes, each node's place in it, and the routing tables in it. */
  private order = new Int32Array(64);
  private rank = new Int32Array(64);
  private tables = new Uint8Array(64 * BIN_STRIDE);

  constructor(
    private readonly data: BinnedMatrix,
    private readonly params: GrowParams,
    private readonly builder: HistogramBuilder,
  ) {
    this.finder = new SplitFinder(data.layout, params);
    this.finder.setScan(builder.scan);
    this.nodeFeatures = new Int32Array(data.cols);
    this.sampleBuf = new Int32Array(data.cols);
    this.numBins = Int32Array.from(data.layout.features, (f) => f.numValueBins + 1);
    if (!data.colBins) throw new Error("TreeLearner needs column-major bins: binMatrix(X, layout, shared, true)");
  }

  /**
   * Grows a tree on the rows in `builder.idx[0..nRows)` (reordered in place, grouped by
   * leaf on return) with the gradients in `builder.gh`, over `features[0..featureCount)`
   * (ascending). `rng` draws the per-node feature samples.
   */
  grow(nRows: number, features: Int32Array, featureCount: number, rng: Rng): GrownTree {
    const p = this.params;
    const { pool } = this.builder;
    const nodes = this.nodes;
    nodes.n = 0;
    pool.reset();
    this.builder.setFeatures(features, featureCount);
    this.builder.sumGradients(0, nRows, this.totals);
    nodes.add(0, nRows, 0, this.totals[0]!, this.totals[1]!);
    if (this.builder.packed) this.builder.quantize(nRows, rng.int(0, 2 ** 31));
    this.finder.setEncoding(this.builder.packed, this.builder.gScale, this.builder.hScale);
    this.features = features;
    this.featureCount = featureCount;
    this.rng = rng;
    this.numCand = 0;
    this.head = 0;
    this.leaves = 1;
    if (this.canSplit(0)) {
      const slot = pool.acquire();
      this.builder.build(slot, 0, nRows);
      // Split finding works from histogram sums; take the root's from its histogram too,
      // so they agree with the bins (exactly so for quantized gradients).
      this.finder.totals(pool.view(slot), features[0]!, this.totals);
      nodes.g[0] = this.totals[0]!;
      nodes.h[0] = this.totals[1]!;
      this.prepare(0, slot);
    }
    const local = this.subtreeLearner();
    if (local) {
      // The top levels breadth-first, then each node of the frontier's subtree on its own.
      while (this.head < this.numCand && nodes.depth[this.candidates[this.head]!]! < SUBTREE_DEPTH) {
        this.expand(this.candidates[this.head++]!);
      }
      this.growSubtrees(local);
    }
    while (this.head < this.numCand && (p.maxLeaves === 0 || this.leaves < p.maxLeaves)) {
      let node: number;
      if (p.growPolicy === "lossguide") {
        // The best pending split; ties go to the older node so growth is deterministic.
        let pick = this.head;
        let best = this.splits[nodes.pending[this.candidates[this.head]!]!]!.gain;
        for (let c = this.head + 1; c < this.numCand; c++) {
          const gain = this.splits[nodes.pending[this.candidates[c]!]!]!.gain;
          if (gain > best) {
            best = gain;
            pick = c;
          }
        }
        node = this.candidates[pick]!;
        this.candidates.copyWithin(pick, pick + 1, this.numCand);
        this.numCand--;
      } else if (p.maxLeaves === 0) {
        // Without a leaf budget the order does not change the tree: depth-first keeps at
        // most one pending histogram per level, so deep trees fit a small pool.
        node = this.candidates[--this.numCand]!;
      } else {
        node = this.candidates[this.head++]!;
      }
      this.expand(node);
    }
    for (let c = this.head; c < this.numCand; c++) {
      const node = this.candidates[c]!;
      this.freeSplits.push(nodes.pending[node]!);
      nodes.pending[node] = -1;
    }
    return this.finish();
  }

  /** Candidates: nodes with a pending split, in creation order, from `head` to `numCand`. */
  private numCand = 0;
  private head = 0;
  private leaves = 1;
  /** The tree's features and node-sampling generator, for the current grow. */
  private features: Int32Array = new Int32Array(0);
  private featureCount = 0;
  private rng: Rng | null = null;
  /** The calling thread's learner for subtrees: undefined until asked, null when not used. */
  private local: TreeLearner | null | undefined;

  /** `slot` holds the node's histogram: find its split, keep the slot if there is room. */
  private prepare(node: number, slot: number): void {
    const nodes = this.nodes;
    const { pool } = this.builder;
    const s = this.findSplit(slot, node, this.features, this.featureCount, this.rng!);
    if (s >= 0) {
      nodes.pending[node] = s;
      if (this.numCand === this.candidates.length) this.candidates = grown(this.candidates);
      this.candidates[this.numCand++] = node;
      if (pool.available > RESERVE_SLOTS) {
        nodes.slot[node] = slot;
        return;
      }
    }
    pool.release(slot);
  }

  private buildAndPrepare(node: number): void {
    const { pool } = this.builder;
    const slot = pool.acquire();
    this.builder.build(slot, this.nodes.start[node]!, this.nodes.end[node]!);
    this.prepare(node, slot);
  }

  /** Splits candidate `node` and prepares its children (their histograms, their splits). */
  private expand(node: number): void {
    const nodes = this.nodes;
    const { pool } = this.builder;
    this.split(node);
    this.leaves++;
    const l = nodes.left[node]!;
    const r = nodes.right[node]!;
    const lCan = this.canSplit(l);
    const rCan = this.canSplit(r);
    const parentSlot = nodes.slot[node]!;
    nodes.slot[node] = -1;
    const small = nodes.end[l]! - nodes.start[l]! <= nodes.end[r]! - nodes.start[r]! ? l : r;
    const big = small === l ? r : l;
    const smallCan = small === l ? lCan : rCan;
    const bigCan = small === l ? rCan : lCan;
    if (parentSlot >= 0 && bigCan) {
      // Build the smaller child; the parent minus it is the bigger child.
      const smallSlot = pool.acquire();
      this.builder.build(smallSlot, nodes.start[small]!, nodes.end[small]!);
      this.builder.subtract(parentSlot, smallSlot, this.numBins);
      if (smallCan) this.prepare(small, smallSlot);
      else pool.release(smallSlot);
      this.prepare(big, parentSlot);
      return;
    }
    if (parentSlot >= 0) pool.release(parentSlot);
    if (smallCan) this.buildAndPrepare(small);
    if (bigCan) this.buildAndPrepare(big);
  }

  /**
   * The learner that grows this thread's subtrees, with a builder of its own: only for
   * trees whose shape allows it (see {@link subtreePlan}) and with the wasm kernels.
   */
  private subtreeLearner(): TreeLearner | null {
    if (this.local === undefined) {
      const b = this.builder.subtrees ? this.builder.localBuilder(0) : null;
      this.local = b ? new TreeLearner(this.data, this.params, b) : null;
    }
    return this.local;
  }

  /**
   * Grows the subtree of every candidate left (the frontier) as a task, on whichever
   * thread takes it, then adds each task's nodes in frontier order: the same tree on any
   * number of threads.
   */
  private growSubtrees(local: TreeLearner): void {
    const io = this.builder.subtrees!;
    const nodes = this.nodes;
    const count = this.numCand - this.head;
    if (count === 0) return;
    io.setFeatures(this.features, this.featureCount);
    // Largest subtrees first: threads claim tasks in order, so the last ones to finish are
    // the small ones. Rows decide, then creation order, whatever the thread count.
    const frontier = this.candidates.subarray(this.head, this.numCand);
    frontier.sort((a, b) => nodes.end[b]! - nodes.start[b]! - (nodes.end[a]! - nodes.start[a]!) || a - b);
    for (let t = 0; t < count; t++) {
      const node = this.candidates[this.head + t]!;
      const split = this.splits[nodes.pending[node]!]!;
      io.setTask(
        t,
        nodes.start[node]!,
        nodes.end[node]!,
        nodes.depth[node]!,
        nodes.slot[node]!,
        nodes.g[node]!,
        nodes.h[node]!,
        split,
      );
    }
    const pool = this.builder.pool;
    this.builder.runTasks(count, (t) => local.growTask(io, t, (slot) => pool.view(slot)));
    for (let t = 0; t < count; t++) {
      const node = this.candidates[this.head + t]!;
      const n = io.count(t);
      const base = nodes.n;
      nodes.reserve(base + n - 1);
      // Local id j > 0 becomes base + j - 1; local node 0 is `node` itself.
      io.readNode(t, 0, nodes, node, base - 1);
      for (let j = 1; j < n; j++) {
        io.readNode(t, j, nodes, base + j - 1, base - 1);
        nodes.slot[base + j - 1] = -1;
        nodes.pending[base + j - 1] = -1;
      }
      nodes.n = base + n - 1;
      if (nodes.slot[node]! >= 0) pool.release(nodes.slot[node]!);
      nodes.slot[node] = -1;
      this.freeSplits.push(nodes.pending[node]!);
      nodes.pending[node] = -1;
    }
    this.head = this.numCand;
  }

  /**
   * Task `t` of `io`: grows the subtree below its frontier node (depth-first, as `grow`
   * does without a leaf budget) and writes its nodes, the frontier node first. `source`
   * gives the pool slot that holds the frontier node's histogram.
   */
  growTask(io: SubtreeIO, t: number, source: (slot: number) => Float64Array): void {
    const nodes = this.nodes;
    const { pool } = this.builder;
    const task = io.task(t);
    nodes.n = 0;
    pool.reset();
    this.features = io.feats;
    this.featureCount = io.featCount;
    this.builder.setFeatures(io.feats, io.featCount);
    this.finder.setEncoding(false, 1, 1);
    this.numCand = 0;
    this.head = 0;
    const node = nodes.add(task.start, task.end, task.depth, task.g, task.h);
    const s = this.takeSplit();
    io.splits.read(t, this.splits[s]!);
    nodes.pending[node] = s;
    if (task.slot >= 0) {
      const slot = pool.acquire();
      pool.view(slot).set(source(task.slot));
      nodes.slot[node] = slot;
    }
    this.candidates[this.numCand++] = node;
    while (this.numCand > 0) this.expand(this.candidates[--this.numCand]!);
    io.writeNodes(t, nodes, nodes.n);
  }

  /** Applies the pending split of `node`: partitions its rows and adds the two children. */
  private split(node: number): void {
    const nodes = this.nodes;
    const s = this.splits[nodes.pending[node]!]!;
    const start = nodes.start[node]!;
    const end = nodes.end[node]!;
    const mid = this.builder.partition(start, end, s.feature, s.goLeft);
    nodes.take(node, s);
    const depth = nodes.depth[node]! + 1;
    // Children sums from the histogram scan: what split finding needs. Leaf values are
    // recomputed from the rows themselves once the tree is grown.
    const l = nodes.add(start, mid, depth, s.gl, s.hl);
    const r = nodes.add(mid, end, depth, s.gr, s.hr);
    nodes.left[node] = l;
    nodes.right[node] = r;
    this.freeSplits.push(nodes.pending[node]!);
    nodes.pending[node] = -1;
  }

  private canSplit(node: number): boolean {
    const p = this.params;
    const nodes = this.nodes;
    if (p.maxDepth > 0 && nodes.depth[node]! >= p.maxDepth) return false;
    if (nodes.end[node]! - nodes.start[node]! < 2) return false;
    return nodes.h[node]! >= 2 * p.minChildWeight;
  }

  /** A free entry of `splits` (a new one when none is free); give it back via `freeSplits`. */
  private takeSplit(): number {
    const s = this.freeSplits.pop();
    if (s !== undefined) return s;
    this.splits.push(new SplitInfo());
    return this.splits.length - 1;
  }

  /** Finds the split of `node` from histogram `slot`; returns its index in `splits`, or -1. */
  private findSplit(slot: number, node: number, features: Int32Array, count: number, rng: Rng): number {
    let fs = features;
    let n = count;
    if (this.params.colsampleByNode < 1) {
      n = Math.max(1, Math.round(count * this.params.colsampleByNode));
      sampleFeatures(features, count, n, rng, this.nodeFeatures, this.sampleBuf);
      fs = this.nodeFeatures;
    }
    const s = this.takeSplit();
    const info = this.splits[s]!;
    this.builder.findSplit(this.finder, slot, this.nodes.g[node]!, this.nodes.h[node]!, fs, n, info);
    if (info.found) return s;
    this.freeSplits.push(s);
    return -1;
  }

  private finish(): GrownTree {
    const p = this.params;
    const nodes = this.nodes;
    // Exact gradient sums, leaves from their rows, internal nodes from their children
    // (which always have larger ids), so leaf values carry no histogram rounding.
    for (let i = nodes.n - 1; i >= 0; i--) {
      let g = 0;
      let h = 0;
      if (nodes.left[i] === -1) {
        this.builder.sumGradients(nodes.start[i]!, nodes.end[i]!, this.totals);
        g = this.totals[0]!;
        h = this.totals[1]!;
      } else {
        const l = nodes.left[i]!;
        const r = nodes.right[i]!;
        g = nodes.g[l]! + nodes.g[r]!;
        h = nodes.h[l]! + nodes.h[r]!;
      }
      nodes.g[i] = g;
      nodes.h[i] = h;
    }
    const tree = allocTree(nodes.n);
    if (this.leafNode.length < nodes.n) {
      this.leafNode = new Int32Array(nodes.cap);
      this.leafStart = new Int32Array(nodes.cap);
      this.leafEnd = new Int32Array(nodes.cap);
      this.order = new Int32Array(nodes.cap);
      this.rank = new Int32Array(nodes.cap);
    }
    if (this.tables.length < nodes.n * BIN_STRIDE) this.tables = new Uint8Array(nodes.cap * BIN_STRIDE);
    // Nodes are stored breadth-first, left before right, whatever order they were grown
    // in (depth-first, or subtrees on several threads): the same tree, the same arrays.
    const { order, rank } = this;
    order[0] = 0;
    let queued = 1;
    for (let q = 0; q < queued; q++) {
      const i = order[q]!;
      if (nodes.left[i] !== -1) {
        order[queued++] = nodes.left[i]!;
        order[queued++] = nodes.right[i]!;
      }
    }
    for (let q = 0; q < nodes.n; q++) rank[order[q]!] = q;
    let numLeaves = 0;
    for (let q = 0; q < nodes.n; q++) {
      const i = order[q]!;
      tree.value[q] = leafWeight(nodes.g[i]!, nodes.h[i]!, p) * p.learningRate;
      tree.cover[q] = nodes.h[i]!;
      tree.missing[q] = MissingKind.NaN;
      if (nodes.left[i] === -1) {
        this.leafNode[numLeaves] = q;
        this.leafStart[numLeaves] = nodes.start[i]!;
        this.leafEnd[numLeaves++] = nodes.end[i]!;
        continue;
      }
      tree.left[q] = rank[nodes.left[i]!]!;
      tree.right[q] = rank[nodes.right[i]!]!;
      const f = nodes.feature[i]!;
      const fb = this.data.layout.features[f]!;
      tree.feature[q] = f;
      tree.gain[q] = nodes.gain[i]!;
      tree.defaultLeft[q] = nodes.defaultLeft[i]!;
      if (nodes.categorical[i] === 1) {
        tree.kind[q] = SplitKind.Categorical;
        // The stored set is the side missing does not take, so codes unseen in training
        // (binned as missing) and missing values go the same way in bin and value space.
        const wantLeft = nodes.defaultLeft[i] === 1 ? 0 : 1;
        const codes: number[] = [];
        const t = i * BIN_STRIDE;
        for (let b = 1; b <= fb.numValueBins; b++) if (nodes.tables[t + b] === wantLeft) codes.push(fb.codes[b - 1]!);
        tree.categories[q] = Int32Array.from(codes);
        tree.categoryLeft[q] = wantLeft;
      } else {
        tree.kind[q] = SplitKind.LessThan;
        const bin = nodes.bin[i]!;
        // "Every value left, missing right" has no cut above it: any float32 is below MAX_FLOAT32.
        tree.threshold[q] = bin <= fb.cuts.length ? fb.cuts[bin - 1]! : MAX_FLOAT32;
      }
    }
    this.tablesFilled = false;
    const learner = this;
    return {
      tree,
      numLeaves,
      leafNode: this.leafNode,
      leafStart: this.leafStart,
      leafEnd: this.leafEnd,
      get tables() {
        return learner.routingTables();
      },
    };
  }

  /** Whether `tables` holds the routing of the last grown tree. */
  private tablesFilled = false;

  /**
   * The last grown tree's routing tables in breadth-first order, copied when first asked
   * for: only row sampling and validation read them, and copying 256 bytes per node
   * every tree cost a small table's training a few percent.
   */
  private routingTables(): Uint8Array {
    if (this.tablesFilled) return this.tables;
    const { nodes, order, tables } = this;
    for (let q = 0; q < nodes.n; q++) {
      const i = order[q]!;
      if (nodes.left[i] === -1) continue;
      tables.set(nodes.tables.subarray(i * BIN_STRIDE, (i + 1) * BIN_STRIDE), q * BIN_STRIDE);
    }
    this.tablesFilled = true;
    return tables;
  }
}

function grown(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * Picks `k` of `features[0..count)` without replacement into `out[0..k)`, ascending.
 * `tmp` is scratch of at least `count` entries.
 */
export function sampleFeatures(
  features: Int32Array,
  count: number,
  k: number,
  rng: Rng,
  out: Int32Array,
  tmp: Int32Array,
): void {
  tmp.set(features.subarray(0, count));
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng.next() * (count - i));
    const t = tmp[i]!;
    tmp[i] = tmp[j]!;
    tmp[j] = t;
  }
  out.set(tmp.subarray(0, k));
  out.subarray(0, k).sort();
}
