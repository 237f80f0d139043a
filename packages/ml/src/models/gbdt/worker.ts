/**
 * A histogram worker: waits for a task on the shared control block, then claims and sums
 * chunks of the task's features until none is left (see protocol.ts). Loaded with
 * `new Worker`.
 */
import { parentPort } from "node:worker_threads";
import { buildHistogram, buildPackedHistogram } from "./histogram.js";
import { instantiateKernels } from "./kernels.js";
import { Cmd, CTRL, claimChunk, claimTag, type WorkerInit } from "./protocol.js";

// The worker starts before training has its buffers: they arrive as the first message.
const init = await new Promise<WorkerInit>((resolve) => parentPort!.once("message", resolve));
const ctrl = new Int32Array(init.ctrl);
const at = init.at;
const kernels = init.memory ? instantiateKernels(init.memory, true) : null;
const bins = new Uint8Array(init.bins);
const grads = new Float64Array(init.packed ? init.q : init.gh);
const build = init.packed ? buildPackedHistogram : buildHistogram;
const idx = new Uint32Array(init.idx);
// With kernels, every buffer is a region of their memory.
const feats = new Int32Array(init.feats, at?.feats ?? 0, init.cols);
const pool = new Float64Array(init.pool, at?.pool ?? 0, init.slotSize * init.slots);
const stride = init.packed ? 256 : 512;
const views: Float64Array[] = [];
for (let s = 0; s < init.slots; s++) views.push(pool.subarray(s * init.slotSize, (s + 1) * init.slotSize));

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
  const slot = ctrl[CTRL.SLOT]!;
  const hist = views[slot]!;
  const start = ctrl[CTRL.START]!;
  const end = ctrl[CTRL.END]!;
  const dense = ctrl[CTRL.DENSE] === 1;
  for (let c = claimChunk(ctrl, tag, chunks); c >= 0; c = claimChunk(ctrl, tag, chunks)) {
    const fi0 = ctrl[CTRL.BOUNDS + c]!;
    const fi1 = ctrl[CTRL.BOUNDS + c + 1]!;
    try {
      if (kernels && at) {
        for (let i = fi0; i < fi1; i++) hist.fill(0, feats[i]! * stride, (feats[i]! + 1) * stride);
        const h = at.pool + slot * init.slotSize * 8;
        if (init.packed) {
          if (dense) kernels.packedDense(h, at.bins, init.cols, at.q, at.idx, start, end, fi0, fi1);
          else kernels.packedSparse(h, at.bins, init.cols, at.q, at.idx, start, end, at.feats, fi0, fi1);
        } else if (dense) kernels.histDense(h, at.bins, init.cols, at.gh, at.idx, start, end, fi0, fi1);
        else kernels.histSparse(h, at.bins, init.cols, at.gh, at.idx, start, end, at.feats, fi0, fi1);
      } else {
        build(hist, bins, init.cols, grads, idx, start, end, feats, fi0, fi1, dense);
      }
    } catch {
      Atomics.store(ctrl, CTRL.ERROR, 1);
    }
    Atomics.add(ctrl, CTRL.FINISHED, 1);
    Atomics.notify(ctrl, CTRL.FINISHED);
  }
}
