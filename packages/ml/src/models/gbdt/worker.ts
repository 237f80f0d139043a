/**
 * A histogram worker: waits for a task on the shared control block, then claims and sums
 * chunks of the task's features until none is left (see protocol.ts). Loaded with
 * `new Worker`.
 */
import { parentPort } from "node:worker_threads";
import { buildHistogram, buildPackedHistogram } from "./histogram.js";
import { buildChunk, type ChunkContext, instantiateKernels } from "./kernels.js";
import { Cmd, CTRL, claimChunk, claimTag, type WorkerInit } from "./protocol.js";

// The worker starts before training has its buffers: they arrive as the first message.
const init = await new Promise<WorkerInit>((resolve) => parentPort!.once("message", resolve));
const ctrl = new Int32Array(init.ctrl);
const at = init.at;
const bins = new Uint8Array(init.bins);
const grads = new Float64Array(init.packed ? init.q : init.gh);
const build = init.packed ? buildPackedHistogram : buildHistogram;
const idx = new Uint32Array(init.idx);
// With kernels, every buffer is a region of their memory.
const feats = new Int32Array(init.feats, at?.feats ?? 0, init.cols);
const pool = new Float64Array(init.pool, at?.pool ?? 0, init.slotSize * init.slots);
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
      }
    : null;

/** Logistic gradients of rows `[r0, r1)`, as builder.ts `logisticChunk`. */
function logisticChunk(r0: number, r1: number): void {
  if (r1 <= r0) return;
  const k = chunk!.kernels;
  k.logistic(at!.margin + r0 * 8, at!.y + r0 * 8, at!.w + r0 * 8, at!.gh + r0 * 16, r1 - r0);
}

parentPort?.postMessage("ready");

let seen = 0;
for (;;) {
  Atomics.wait(ctrl, CTRL.SEQ, seen);
  const seq = Atomics.load(ctrl, CTRL.SEQ);
  if (seq === seen) continue;
  seen = seq;
  if (ctrl[CTRL.CMD] === Cmd.Exit) break;
  const tag = claimTag(seq);
  const chunks = ctrl[CTRL.CHUNKS]!;
  if (ctrl[CTRL.CMD] === Cmd.Logistic) {
    const per = ctrl[CTRL.START]!;
    const rows = ctrl[CTRL.END]!;
    for (let c = claimChunk(ctrl, tag, chunks); c >= 0; c = claimChunk(ctrl, tag, chunks)) {
      try {
        logisticChunk(c * per, Math.min(rows, (c + 1) * per));
      } catch {
        Atomics.store(ctrl, CTRL.ERROR, 1);
      }
      Atomics.add(ctrl, CTRL.FINISHED, 1);
      Atomics.notify(ctrl, CTRL.FINISHED);
    }
    continue;
  }
  const slot = ctrl[CTRL.SLOT]!;
  const start = ctrl[CTRL.START]!;
  const end = ctrl[CTRL.END]!;
  const dense = ctrl[CTRL.DENSE] === 1;
  const numLarge = ctrl[CTRL.LARGE]!;
  for (let c = claimChunk(ctrl, tag, chunks); c >= 0; c = claimChunk(ctrl, tag, chunks)) {
    const fi0 = ctrl[CTRL.BOUNDS + c]!;
    const fi1 = ctrl[CTRL.BOUNDS + c + 1]!;
    try {
      if (chunk) buildChunk(chunk, slot, start, end, fi0, fi1, dense, numLarge);
      else build(views[slot]!, bins, init.cols, grads, idx, start, end, feats, fi0, fi1, dense);
    } catch {
      Atomics.store(ctrl, CTRL.ERROR, 1);
    }
    Atomics.add(ctrl, CTRL.FINISHED, 1);
    Atomics.notify(ctrl, CTRL.FINISHED);
  }
}
