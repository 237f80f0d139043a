/**
 * A histogram worker: waits for a task on the shared control block, then claims and sums
 * chunks of the task's features until none is left (see protocol.ts). Loaded with
 * `new Worker`.
 */
import { parentPort } from "node:worker_threads";
import type { BinnedMatrix } from "./bins.js";
import { buildHistogram, buildPackedHistogram } from "./histogram.js";
import { buildChunk, type ChunkContext, instantiateKernels } from "./kernels.js";
import { type GrowParams, TreeLearner } from "./learner.js";
import {
  blockChunk,
  Cmd,
  CTRL,
  claimChunk,
  claimTag,
  partitionBlock,
  SCAN_F64,
  ScanResults,
  SubtreeIO,
  scanRun,
  type WorkerInit,
} from "./protocol.js";
import { SerialBuilder } from "./serial-builder.js";
import { SplitFinder, SplitInfo } from "./split.js";
import { warmUpWorker } from "./warmup.js";

/**
 * After a task the worker polls for the next one this long before it sleeps. Tasks of one
 * tree follow each other within microseconds, while waking a sleeping thread takes tens
 * of them: polling is what lets small histograms be shared at all (OpenMP runtimes spin
 * before sleeping for the same reason). Between trees the worker goes to sleep.
 */
const SPIN_MS = 0.5;

/**
 * Serves one training: sets up views of its buffers, reports ready, then takes tasks until
 * `Exit`. A worker serves one training after another, so later trainings in the process
 * skip the start-up and find its code already optimised.
 */
function serve(init: WorkerInit): void {
  const ctrl = new Int32Array(init.ctrl);
  const at = init.at;
  const bins = new Uint8Array(init.bins);
  const grads = new Float64Array(init.packed ? init.q : init.gh);
  const build = init.packed ? buildPackedHistogram : buildHistogram;
  const idx = new Uint32Array(init.idx);
  // With kernels, every buffer is a region of their memory.
  const feats = new Int32Array(init.feats, at?.feats ?? 0, init.cols);
  // The wasm split scan reads histograms only from views of its own memory's buffer.
  const memoryBuffer = init.memory && at ? init.memory.buffer : undefined;
  const poolBuffer = memoryBuffer ?? init.pool;
  const pool = new Float64Array(poolBuffer, at?.pool ?? 0, init.slotSize * init.slots);
  const views: Float64Array[] = [];
  for (let s = 0; s < init.slots; s++) views.push(pool.subarray(s * init.slotSize, (s + 1) * init.slotSize));
  const chunk: ChunkContext | null =
    init.memory && at
      ? {
          kernels: instantiateKernels(init.memory, true),
          at,
          rows: init.rows,
          cols: init.cols,
          slotBytes: init.slotSize * 8,
          packed: init.packed,
          numBins: init.numBins,
          feats,
          pool,
          smallLo: init.smallLo,
        }
      : null;

  const finder = new SplitFinder(init.layout, init.split);
  if (chunk && memoryBuffer) {
    const buffer = memoryBuffer;
    finder.setScan({
      kernels: chunk.kernels,
      buffer,
      out: init.scanOut,
      gain: new Float64Array(buffer, init.scanOut, 2),
    });
  }
  const subtree = subtreeLearner(init, chunk);
  const scanF64 = new Float64Array(init.scanF64);
  const scanFeats = new Int32Array(init.scanFeats);
  const results = new ScanResults(init.results);
  const best = new SplitInfo();

  /** Chunk `c` of a `Scan` task: the best split over its run of features (see builder.ts `findSplit`). */
  function scanChunk(c: number, chunks: number): void {
    finder.setEncoding(scanF64[SCAN_F64.PACKED] === 1, scanF64[SCAN_F64.G_SCALE]!, scanF64[SCAN_F64.H_SCALE]!);
    const hist = views[ctrl[CTRL.SLOT]!]!;
    const count = ctrl[CTRL.START]!;
    scanRun(finder, hist, scanF64[SCAN_F64.G]!, scanF64[SCAN_F64.H]!, scanFeats, count, chunks, c, best, results);
  }

  /** Logistic gradients of rows `[r0, r1)`, as builder.ts `logisticChunk`. */
  function logisticChunk(r0: number, r1: number): void {
    if (r1 <= r0) return;
    const k = chunk!.kernels;
    k.logistic(at!.margin + r0 * 8, at!.y + r0 * 8, at!.w + r0 * 8, at!.gh + r0 * 16, r1 - r0);
  }

  // The builder posts tasks only once every worker has counted itself here.
  Atomics.add(ctrl, CTRL.READY, 1);

  let seen = 0;
  for (;;) {
    if (Atomics.load(ctrl, CTRL.SEQ) === seen) {
      const until = performance.now() + SPIN_MS;
      while (Atomics.load(ctrl, CTRL.SEQ) === seen && performance.now() < until);
    }
    if (Atomics.load(ctrl, CTRL.SEQ) === seen) {
      // Counted before the wait, which rechecks SEQ: a task posted meanwhile is not missed.
      Atomics.add(ctrl, CTRL.SLEEPERS, 1);
      Atomics.wait(ctrl, CTRL.SEQ, seen);
      Atomics.sub(ctrl, CTRL.SLEEPERS, 1);
    }
    const seq = Atomics.load(ctrl, CTRL.SEQ);
    if (seq === seen) continue;
    seen = seq;
    if (ctrl[CTRL.CMD] === Cmd.Exit) return;
    const tag = claimTag(seq);
    const chunks = ctrl[CTRL.CHUNKS]!;
    const cmd = ctrl[CTRL.CMD]!;
    for (let c = claimChunk(ctrl, tag, chunks); c >= 0; c = claimChunk(ctrl, tag, chunks)) {
      try {
        runChunk(cmd, c, chunks);
      } catch {
        Atomics.store(ctrl, CTRL.ERROR, 1);
      }
      if (cmd === Cmd.Scan) Atomics.add(ctrl, CTRL.WORKER_SCANS, 1);
      Atomics.add(ctrl, CTRL.WORKER_CHUNKS, 1);
      Atomics.add(ctrl, CTRL.FINISHED, 1);
      if (Atomics.load(ctrl, CTRL.WAITING) === 1) Atomics.notify(ctrl, CTRL.FINISHED);
    }
  }

  /** Chunk `c` of the current task (its parameters are in the control block, see protocol.ts). */
  function runChunk(cmd: number, c: number, chunks: number): void {
    const start = ctrl[CTRL.START]!;
    const end = ctrl[CTRL.END]!;
    switch (cmd) {
      case Cmd.Scan:
        scanChunk(c, chunks);
        return;
      case Cmd.Partition:
        ctrl[CTRL.MID + c] = partitionBlock(chunk!.kernels, at!, start, end, c, ctrl[CTRL.COLUMN]!);
        return;
      case Cmd.Logistic:
        // START is the rows per chunk here, END the row count.
        logisticChunk(c * start, Math.min(end, (c + 1) * start));
        return;
      case Cmd.Subtree:
        subtree!.learner.growTask(subtree!.io, c, (slot) => views[slot]!);
        Atomics.add(ctrl, CTRL.WORKER_SUBTREES, 1);
        return;
      case Cmd.Blocks: {
        const b = blockChunk(c, chunks, start, end, ctrl[CTRL.FEATURES]!);
        const slot = ctrl[b.block === 0 ? CTRL.SLOT : CTRL.BLOCK_SLOT]!;
        histogramChunk(slot, b.r0, b.r1, b.fi0, b.fi1);
        Atomics.add(ctrl, CTRL.WORKER_BLOCKS, 1);
        return;
      }
      default:
        histogramChunk(ctrl[CTRL.SLOT]!, start, end, ctrl[CTRL.BOUNDS + c]!, ctrl[CTRL.BOUNDS + c + 1]!);
    }
  }

  /** Histogram `slot` for features `feats[fi0..fi1)` over rows `idx[start..end)`. */
  function histogramChunk(slot: number, start: number, end: number, fi0: number, fi1: number): void {
    const dense = ctrl[CTRL.DENSE] === 1;
    if (chunk) buildChunk(chunk, slot, start, end, fi0, fi1, dense, ctrl[CTRL.LARGE]!);
    else build(views[slot]!, bins, init.cols, grads, idx, start, end, feats, fi0, fi1, dense);
  }
}

/**
 * This worker's learner for `Subtree` tasks, with a builder over the training's kernel
 * memory and the region of its own the builder reserved for it.
 */
function subtreeLearner(init: WorkerInit, chunk: ChunkContext | null): { learner: TreeLearner; io: SubtreeIO } | null {
  const plan = init.subtrees;
  const at = init.at;
  if (!plan || !chunk || !at || !init.memory) return null;
  const buf = init.memory.buffer;
  const data: BinnedMatrix = {
    layout: init.layout,
    rows: init.rows,
    cols: init.cols,
    bins: new Uint8Array(buf, at.bins, init.rows * init.cols),
    colBins: new Uint8Array(buf, at.colBins, init.rows * init.cols),
  };
  const r = at.locals[plan.local]!;
  const builder = new SerialBuilder(data, plan.capacity, true, false, undefined, {
    memory: init.memory,
    kernels: chunk.kernels,
    at: { ...at, pool: r.pool, goLeft: r.goLeft, scanOut: r.scanOut, feats: r.feats, locals: [] },
  });
  return {
    learner: new TreeLearner(data, init.split as GrowParams, builder),
    io: new SubtreeIO(init.cols, plan.tasks, plan.maxNodes, plan.buffer, plan.splits),
  };
}

// Before the first training's buffers arrive (see warmup.ts).
warmUpWorker();

// Each training's buffers arrive as a message; the worker waits for the next one between trainings.
for (;;) {
  const init = await new Promise<WorkerInit>((resolve) => parentPort!.once("message", resolve));
  serve(init);
}
