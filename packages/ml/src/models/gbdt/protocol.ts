/**
 * The shared-memory protocol between the threaded histogram builder and its workers.
 *
 * A histogram's features are cut into chunks. The builder writes the task, then every
 * thread, the builder's own included, claims chunks one at a time from `CLAIM` with a
 * compare-and-swap and counts each finished chunk in `FINISHED`. A worker that the OS
 * has not scheduled simply claims nothing: the builder never waits for a sleeping worker,
 * only for chunks already claimed, which keeps training fast on a busy machine.
 *
 * `CLAIM` holds the task's tag (its sequence number, 20 bits) above the next chunk index
 * (11 bits), or -1 while a task is being written. A worker claims only under the tag it
 * was woken for, so it can never mix the parameters of two tasks.
 */

import type { BinLayout } from "./bins.js";
import type { KernelExports, KernelMemory } from "./kernels.js";
import type { SplitFinder, SplitInfo, SplitParams } from "./split.js";

/** Control block slots. */
export const CTRL = {
  /** Task sequence number; workers wait for it to change. */
  SEQ: 0,
  CLAIM: 1,
  /** Chunks finished in the current task. */
  FINISHED: 2,
  CMD: 3,
  SLOT: 4,
  START: 5,
  END: 6,
  DENSE: 7,
  /** Non-zero once a worker has failed. */
  ERROR: 8,
  CHUNKS: 9,
  /** Features in the list before the few-bin ones (see kernels.ts `buildChunk`). */
  LARGE: 10,
  /** Chunks the workers have finished, and of those, split-search chunks (for tests and tuning). */
  WORKER_CHUNKS: 11,
  WORKER_SCANS: 12,
  /** `Partition`: the column of bins to split on (a byte offset), and each block's first right row. */
  COLUMN: 13,
  MID: 14,
  /** `Blocks`: the slot of the second row block, and the features in `feats`. */
  BLOCK_SLOT: 16,
  FEATURES: 17,
  /** Row-block chunks the workers have finished (for tests). */
  WORKER_BLOCKS: 18,
  /**
   * Workers asleep (or about to sleep) on `SEQ`, and 1 while the builder sleeps on
   * `FINISHED`: a notify is sent only when someone may sleep. Each is a lock and often a
   * system call, and most tasks find the other side polling.
   */
  SLEEPERS: 19,
  WAITING: 20,
  /** Workers that have attached to this training's buffers and take tasks. */
  READY: 21,
  /** Subtree tasks the workers have grown (for tests). */
  WORKER_SUBTREES: 22,
  /** Chunk c covers `feats[ctrl[BOUNDS + c] .. ctrl[BOUNDS + c + 1])`. */
  BOUNDS: 23,
} as const;

/** Most chunks per task (the chunk index has 11 bits). */
export const MAX_CHUNKS = 2047;

export const CTRL_SIZE = CTRL.BOUNDS + MAX_CHUNKS + 1;

/**
 * `Logistic`: logistic gradients for rows cut into `CHUNKS` chunks of `START` rows (even,
 * so each chunk's pairs of rows are the serial kernel's pairs); `END` is the row count.
 */
export const Cmd = { Build: 1, Exit: 2, Logistic: 3, Scan: 4, Partition: 5, Blocks: 6, Subtree: 7 } as const;

/**
 * `Blocks`: the histogram of rows `idx[START..END)` in two row blocks cut at
 * {@link partitionSplit}, the first into `SLOT`, the second into `BLOCK_SLOT`, each cut
 * into `CHUNKS / 2` runs of the `FEATURES` features at {@link scanBound}: chunk `c` is
 * block `c / (CHUNKS / 2)`, run `c % (CHUNKS / 2)`. The builder then adds the second
 * block into the first. A fixed two-block cut (whatever the thread count; the serial
 * builder cuts the same way) keeps every histogram bit-identical across thread counts,
 * while each thread reads only half the rows.
 */
export function blockChunk(
  c: number,
  chunks: number,
  start: number,
  end: number,
  features: number,
): { block: number; r0: number; r1: number; fi0: number; fi1: number } {
  const runs = chunks >> 1;
  const block = (c / runs) | 0;
  const run = c - block * runs;
  const split = partitionSplit(start, end);
  return {
    block,
    r0: block === 0 ? start : split,
    r1: block === 0 ? split : end,
    fi0: scanBound(features, runs, run),
    fi1: scanBound(features, runs, run + 1),
  };
}

/**
 * `Partition`: rows `idx[START..END)` cut into two blocks at {@link partitionSplit}, each
 * partitioned stably in place by `goLeft[column[row]]` (the right side through the
 * scratch rows of its own block); block `c`'s first right position goes to `MID + c`.
 */
export function partitionSplit(start: number, end: number): number {
  return start + ((end - start) >> 1);
}

/**
 * `Scan`: the split search of histogram `SLOT` over the features `scanFeats[0..START)`, cut
 * into `CHUNKS` runs of consecutive features at `BOUNDS`. The node's totals and the
 * tree's gradient scales are in the task's doubles ({@link SCAN_F64}); each chunk's best
 * split goes to its record in the results buffer ({@link ScanResults}).
 */
export const SCAN_F64 = { G: 0, H: 1, G_SCALE: 2, H_SCALE: 3, PACKED: 4 } as const;

/** Where chunk `c` of a scan over `count` features in `chunks` chunks begins. */
export function scanBound(count: number, chunks: number, c: number): number {
  return Math.round((count * c) / chunks);
}

/** Most chunks a scan is cut into. */
export const MAX_SCAN_CHUNKS = 8;

/** Bytes of one chunk's result record: 5 doubles, 4 int32s, the 256-byte goLeft table. */
const RESULT_BYTES = 5 * 8 + 4 * 4 + 256;

/** The per-chunk best splits of a scan task, in shared memory. */
export class ScanResults {
  readonly buffer: SharedArrayBuffer;
  private readonly f64: Float64Array;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(RESULT_BYTES * MAX_SCAN_CHUNKS);
    this.f64 = new Float64Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    this.u8 = new Uint8Array(this.buffer);
  }

  /** Writes `s` as chunk `c`'s result. */
  write(c: number, s: SplitInfo): void {
    const f = (c * RESULT_BYTES) / 8;
    const i = (c * RESULT_BYTES + 40) / 4;
    this.f64[f] = s.gain;
    this.f64[f + 1] = s.gl;
    this.f64[f + 2] = s.hl;
    this.f64[f + 3] = s.gr;
    this.f64[f + 4] = s.hr;
    this.i32[i] = s.feature;
    this.i32[i + 1] = s.bin;
    this.i32[i + 2] = s.categorical ? 1 : 0;
    this.i32[i + 3] = s.defaultLeft ? 1 : 0;
    if (s.feature >= 0) this.u8.set(s.goLeft, c * RESULT_BYTES + 56);
  }

  /** Whether chunk `c` found a split, and its gain. */
  found(c: number): boolean {
    return this.i32[(c * RESULT_BYTES + 40) / 4]! >= 0;
  }

  gain(c: number): number {
    return this.f64[(c * RESULT_BYTES) / 8]!;
  }

  /** Copies chunk `c`'s result into `out`. */
  read(c: number, out: SplitInfo): void {
    const f = (c * RESULT_BYTES) / 8;
    const i = (c * RESULT_BYTES + 40) / 4;
    out.gain = this.f64[f]!;
    out.gl = this.f64[f + 1]!;
    out.hl = this.f64[f + 2]!;
    out.gr = this.f64[f + 3]!;
    out.hr = this.f64[f + 4]!;
    out.feature = this.i32[i]!;
    out.bin = this.i32[i + 1]!;
    out.categorical = this.i32[i + 2] === 1;
    out.defaultLeft = this.i32[i + 3] === 1;
    out.goLeft.set(this.u8.subarray(c * RESULT_BYTES + 56, c * RESULT_BYTES + 56 + 256));
  }
}

/** The CLAIM tag of task `seq`: its low 20 bits above an 11-bit chunk index. */
export function claimTag(seq: number): number {
  return (seq & 0xfffff) << 11;
}

/**
 * Claims the next chunk of the task tagged `tag` with `chunks` chunks; returns its index,
 * or -1 when the task has no chunk left (or is no longer current).
 */
export function claimChunk(ctrl: Int32Array, tag: number, chunks: number): number {
  for (;;) {
    const v = Atomics.load(ctrl, CTRL.CLAIM);
    if (v < 0 || (v & ~0x7ff) !== tag) return -1;
    const c = v & 0x7ff;
    if (c >= chunks) return -1;
    if (Atomics.compareExchange(ctrl, CTRL.CLAIM, v, v + 1) === v) return c;
  }
}

/** Where each buffer of a builder lives in its wasm memory (byte offsets). */
export interface KernelLayout {
  bins: number;
  colBins: number;
  gh: number;
  q: number;
  idx: number;
  scratch: number;
  feats: number;
  goLeft: number;
  /** The partition kernel's patterns (see kernels.ts `writePartitionShuffles`), shared and read-only. */
  shuffles: number;
  /** Per feature, the doubles of its histogram that subtraction and block joins touch (i32). */
  combineLens: number;
  /** Leaf records (start, end, value) for the margin update (see `addLeafValues`). */
  leaves: number;
  pool: number;
  scanOut: number;
  /** Copies of the margins, labels and weights for the logistic gradients. */
  margin: number;
  y: number;
  w: number;
  /** Each thread's own regions for growing subtrees (the calling thread's first), or none. */
  locals: LocalRegions[];
}

/** What a thread growing a subtree needs of its own in the kernels' memory. */
export interface LocalRegions {
  /** Histogram slots (the learner's capacity, then the block slot). */
  pool: number;
  goLeft: number;
  scanOut: number;
  feats: number;
}

/**
 * Block `c` of a `Partition` task over rows `[start, end)` by the bins at byte offset
 * `column` (and `goLeft` in the kernels' memory): partitions the block in place and
 * returns its first right position. Each block's right rows pass through its own part of
 * the scratch rows, so the two blocks can run at once.
 */
export function partitionBlock(
  k: KernelExports,
  at: KernelLayout,
  start: number,
  end: number,
  c: number,
  column: number,
): number {
  const split = partitionSplit(start, end);
  const b0 = c === 0 ? start : split;
  const b1 = c === 0 ? split : end;
  return k.partition(at.idx, b0, b1, column, at.goLeft, at.scratch + 4 * b0, at.shuffles);
}

/**
 * Chunk `c` of a `Scan` task: the best split of histogram `hist` (node totals `G`, `H`) over
 * its run of `feats[0..count)`, written as record `c` of `results`.
 */
export function scanRun(
  finder: SplitFinder,
  hist: Float64Array,
  G: number,
  H: number,
  feats: Int32Array,
  count: number,
  chunks: number,
  c: number,
  best: SplitInfo,
  results: ScanResults,
): void {
  const b0 = scanBound(count, chunks, c);
  const b1 = scanBound(count, chunks, c + 1);
  finder.find(hist, G, H, feats.subarray(b0, b1), b1 - b0, best);
  results.write(c, best);
}

/** What a worker receives as `workerData`. */
export interface WorkerInit {
  ctrl: SharedArrayBuffer;
  /** Set when histograms run in the wasm kernels: their shared memory and buffer offsets. */
  memory?: KernelMemory;
  at?: KernelLayout;
  /** Bins per feature, the missing bin included. */
  numBins: Int32Array;
  /** Per feature, the first bin of its small-kernel pass (kernels.ts `ChunkContext.smallLo`). */
  smallLo: Uint8Array;
  rows: number;
  bins: SharedArrayBuffer;
  cols: number;
  gh: SharedArrayBuffer;
  /** Packed gradient pairs, read instead of `gh` when `packed`. */
  q: SharedArrayBuffer;
  packed: boolean;
  idx: SharedArrayBuffer;
  feats: SharedArrayBuffer;
  pool: SharedArrayBuffer;
  slotSize: number;
  /** Histogram slots in `pool`. */
  slots: number;
  /** Split search (`Scan` tasks): the bins, the split rules, and the task's buffers. */
  layout: BinLayout;
  split: SplitParams;
  scanF64: SharedArrayBuffer;
  scanFeats: SharedArrayBuffer;
  results: SharedArrayBuffer;
  /** Byte offset of this worker's wasm scan output (16 bytes), when kernels run. */
  scanOut: number;
  /** `Subtree` tasks (see {@link SubtreeIO}), when training grows subtrees; `split` is then the full GrowParams. */
  subtrees?: {
    buffer: SharedArrayBuffer;
    splits: SharedArrayBuffer;
    tasks: number;
    maxNodes: number;
    capacity: number;
    /** This worker's region in `KernelLayout.locals`. */
    local: number;
  };
}

/** Ints per node record of a {@link SubtreeIO} output. */
const NODE_INTS = 8;
/** Doubles per node record. */
const NODE_F64 = 3;
/** Ints per task input: start, end, depth, source slot. */
const TASK_INTS = 4;

/** The fields of a node that a grown subtree hands back (see learner.ts `NodeStore`). */
export interface NodeFields {
  left: Int32Array;
  right: Int32Array;
  start: Int32Array;
  end: Int32Array;
  depth: Int32Array;
  feature: Int32Array;
  bin: Int32Array;
  categorical: Uint8Array;
  defaultLeft: Uint8Array;
  g: Float64Array;
  h: Float64Array;
  gain: Float64Array;
  tables: Uint8Array;
}

/**
 * `Subtree` tasks: chunk `k` grows the subtree below frontier node `k` of the tree (its
 * rows, depth, sums, pending split and the pool slot of its histogram are the task's
 * input) with the thread's own learner, and writes the nodes it made (the frontier node
 * first, children by local id) to output `k`. The tree's features come first.
 */
export class SubtreeIO {
  readonly buffer: SharedArrayBuffer;
  /** The tree's features (`featCount` of them) and, per task, the input ints and doubles. */
  readonly feats: Int32Array;
  private readonly head: Int32Array;
  private readonly taskInts: Int32Array;
  private readonly taskF64: Float64Array;
  readonly splits: ScanResults;
  private readonly counts: Int32Array;
  private readonly ints: Int32Array;
  private readonly f64: Float64Array;
  private readonly tables: Uint8Array;

  constructor(
    cols: number,
    readonly tasks: number,
    readonly maxNodes: number,
    buffer?: SharedArrayBuffer,
    splits?: SharedArrayBuffer,
  ) {
    const sizes = [
      8 * tasks * (2 + NODE_F64 * maxNodes), // doubles first, for alignment
      4 * (2 + cols + tasks * (TASK_INTS + 1 + NODE_INTS * maxNodes)),
      tasks * maxNodes * 256,
    ];
    this.buffer = buffer ?? new SharedArrayBuffer(sizes[0]! + sizes[1]! + sizes[2]!);
    let o = 0;
    this.taskF64 = new Float64Array(this.buffer, o, 2 * tasks);
    o += 16 * tasks;
    this.f64 = new Float64Array(this.buffer, o, NODE_F64 * maxNodes * tasks);
    o += 8 * NODE_F64 * maxNodes * tasks;
    this.head = new Int32Array(this.buffer, o, 2);
    o += 8;
    this.feats = new Int32Array(this.buffer, o, cols);
    o += 4 * cols;
    this.taskInts = new Int32Array(this.buffer, o, TASK_INTS * tasks);
    o += 4 * TASK_INTS * tasks;
    this.counts = new Int32Array(this.buffer, o, tasks);
    o += 4 * tasks;
    this.ints = new Int32Array(this.buffer, o, NODE_INTS * maxNodes * tasks);
    o += 4 * NODE_INTS * maxNodes * tasks;
    this.tables = new Uint8Array(this.buffer, o, 256 * maxNodes * tasks);
    this.splits = new ScanResults(splits);
  }

  get featCount(): number {
    return this.head[0]!;
  }

  setFeatures(feats: Int32Array, count: number): void {
    this.head[0] = count;
    this.feats.set(feats.subarray(0, count));
  }

  /** Writes task `k`'s input. */
  setTask(
    k: number,
    start: number,
    end: number,
    depth: number,
    slot: number,
    g: number,
    h: number,
    split: SplitInfo,
  ): void {
    const i = k * TASK_INTS;
    this.taskInts[i] = start;
    this.taskInts[i + 1] = end;
    this.taskInts[i + 2] = depth;
    this.taskInts[i + 3] = slot;
    this.taskF64[2 * k] = g;
    this.taskF64[2 * k + 1] = h;
    this.splits.write(k, split);
  }

  task(k: number): { start: number; end: number; depth: number; slot: number; g: number; h: number } {
    const i = k * TASK_INTS;
    return {
      start: this.taskInts[i]!,
      end: this.taskInts[i + 1]!,
      depth: this.taskInts[i + 2]!,
      slot: this.taskInts[i + 3]!,
      g: this.taskF64[2 * k]!,
      h: this.taskF64[2 * k + 1]!,
    };
  }

  /** Writes nodes `0..n` of `nodes` as task `k`'s output. */
  writeNodes(k: number, nodes: NodeFields, n: number): void {
    if (n > this.maxNodes) throw new Error(`a subtree grew ${n} nodes, more than the ${this.maxNodes} reserved`);
    this.counts[k] = n;
    const base = k * this.maxNodes;
    for (let i = 0; i < n; i++) {
      const o = (base + i) * NODE_INTS;
      this.ints[o] = nodes.left[i]!;
      this.ints[o + 1] = nodes.right[i]!;
      this.ints[o + 2] = nodes.start[i]!;
      this.ints[o + 3] = nodes.end[i]!;
      this.ints[o + 4] = nodes.depth[i]!;
      this.ints[o + 5] = nodes.feature[i]!;
      this.ints[o + 6] = nodes.bin[i]!;
      this.ints[o + 7] = nodes.categorical[i]! | (nodes.defaultLeft[i]! << 1);
      const f = (base + i) * NODE_F64;
      this.f64[f] = nodes.g[i]!;
      this.f64[f + 1] = nodes.h[i]!;
      this.f64[f + 2] = nodes.gain[i]!;
    }
    this.tables.set(nodes.tables.subarray(0, n * 256), base * 256);
  }

  /** Nodes in task `k`'s output. */
  count(k: number): number {
    return this.counts[k]!;
  }

  /** Copies output node `i` of task `k` into `nodes` at `at`, its child ids shifted by `shift`. */
  readNode(k: number, i: number, nodes: NodeFields, at: number, shift: number): void {
    const base = k * this.maxNodes;
    const o = (base + i) * NODE_INTS;
    const l = this.ints[o]!;
    const r = this.ints[o + 1]!;
    nodes.left[at] = l < 0 ? l : l + shift;
    nodes.right[at] = r < 0 ? r : r + shift;
    nodes.start[at] = this.ints[o + 2]!;
    nodes.end[at] = this.ints[o + 3]!;
    nodes.depth[at] = this.ints[o + 4]!;
    nodes.feature[at] = this.ints[o + 5]!;
    nodes.bin[at] = this.ints[o + 6]!;
    nodes.categorical[at] = this.ints[o + 7]! & 1;
    nodes.defaultLeft[at] = this.ints[o + 7]! >> 1;
    const f = (base + i) * NODE_F64;
    nodes.g[at] = this.f64[f]!;
    nodes.h[at] = this.f64[f + 1]!;
    nodes.gain[at] = this.f64[f + 2]!;
    nodes.tables.set(this.tables.subarray((base + i) * 256, (base + i + 1) * 256), at * 256);
  }
}
