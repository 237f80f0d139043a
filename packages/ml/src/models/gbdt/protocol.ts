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

import type { KernelMemory } from "./kernels.js";

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
  /** Chunk c covers `feats[ctrl[BOUNDS + c] .. ctrl[BOUNDS + c + 1])`. */
  BOUNDS: 11,
} as const;

/** Most chunks per task (the chunk index has 11 bits). */
export const MAX_CHUNKS = 2047;

export const CTRL_SIZE = CTRL.BOUNDS + MAX_CHUNKS + 1;

/**
 * `Logistic`: logistic gradients for rows cut into `CHUNKS` chunks of `START` rows (even,
 * so each chunk's pairs of rows are the serial kernel's pairs); `END` is the row count.
 */
export const Cmd = { Build: 1, Exit: 2, Logistic: 3 } as const;

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

/** What a worker receives as `workerData`. */
export interface WorkerInit {
  ctrl: SharedArrayBuffer;
  /** Set when histograms run in the wasm kernels: their shared memory and buffer offsets. */
  memory?: KernelMemory;
  at?: {
    bins: number;
    colBins: number;
    gh: number;
    q: number;
    idx: number;
    feats: number;
    pool: number;
    margin: number;
    y: number;
    w: number;
  };
  /** Bins per feature, the missing bin included. */
  numBins: Int32Array;
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
}
