/**
 * A histogram worker: waits on the shared control block and sums its share of the
 * features of each node histogram (see protocol.ts). Loaded with `new Worker`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { buildHistogram, buildPackedHistogram } from "./histogram.js";
import { Cmd, CTRL, type WorkerInit } from "./protocol.js";

const init = workerData as WorkerInit;
const ctrl = new Int32Array(init.ctrl);
const bins = new Uint8Array(init.bins);
const grads = new Float64Array(init.packed ? init.q : init.gh);
const build = init.packed ? buildPackedHistogram : buildHistogram;
const idx = new Uint32Array(init.idx);
const feats = new Int32Array(init.feats);
const pool = new Float64Array(init.pool);
const w = init.index;
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
  try {
    build(
      views[ctrl[CTRL.SLOT]!]!,
      bins,
      init.cols,
      grads,
      idx,
      ctrl[CTRL.START]!,
      ctrl[CTRL.END]!,
      feats,
      ctrl[CTRL.PARTS + 2 * w]!,
      ctrl[CTRL.PARTS + 2 * w + 1]!,
      ctrl[CTRL.DENSE] === 1,
    );
  } catch {
    Atomics.store(ctrl, CTRL.ERROR, 1);
  }
  Atomics.add(ctrl, CTRL.DONE, 1);
  Atomics.notify(ctrl, CTRL.DONE);
}
