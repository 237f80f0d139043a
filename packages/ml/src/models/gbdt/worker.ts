/**
 * A histogram worker: waits for a task on the shared control block, then claims and sums
 * chunks of the task's features until none is left (see protocol.ts). Loaded with
 * `new Worker`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { buildHistogram, buildPackedHistogram } from "./histogram.js";
import { Cmd, CTRL, claimChunk, claimTag, type WorkerInit } from "./protocol.js";

const init = workerData as WorkerInit;
const ctrl = new Int32Array(init.ctrl);
const bins = new Uint8Array(init.bins);
const grads = new Float64Array(init.packed ? init.q : init.gh);
const build = init.packed ? buildPackedHistogram : buildHistogram;
const idx = new Uint32Array(init.idx);
const feats = new Int32Array(init.feats);
const pool = new Float64Array(init.pool);
const views: Float64Array[] = [];
for (let s = 0; s + init.slotSize <= pool.length; s += init.slotSize) views.push(pool.subarray(s, s + init.slotSize));

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
  const hist = views[ctrl[CTRL.SLOT]!]!;
  const start = ctrl[CTRL.START]!;
  const end = ctrl[CTRL.END]!;
  const dense = ctrl[CTRL.DENSE] === 1;
  for (let c = claimChunk(ctrl, tag, chunks); c >= 0; c = claimChunk(ctrl, tag, chunks)) {
    try {
      build(
        hist,
        bins,
        init.cols,
        grads,
        idx,
        start,
        end,
        feats,
        ctrl[CTRL.BOUNDS + c]!,
        ctrl[CTRL.BOUNDS + c + 1]!,
        dense,
      );
    } catch {
      Atomics.store(ctrl, CTRL.ERROR, 1);
    }
    Atomics.add(ctrl, CTRL.FINISHED, 1);
    Atomics.notify(ctrl, CTRL.FINISHED);
  }
}
