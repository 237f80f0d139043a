/**
 * The shared-memory protocol between the threaded histogram builder and its workers.
 * The control block is an Int32Array: the builder writes a command, bumps `SEQ` and
 * notifies; each worker does its part and increments `DONE`.
 */

/** Control block slots. */
export const CTRL = {
  /** Command sequence number; workers wait for it to change. */
  SEQ: 0,
  /** Workers finished with the current command. */
  DONE: 1,
  CMD: 2,
  SLOT: 3,
  START: 4,
  END: 5,
  DENSE: 6,
  /** Non-zero once a worker has failed. */
  ERROR: 7,
  /** Worker w builds features `feats[ctrl[PARTS + 2w] .. ctrl[PARTS + 2w + 1])`. */
  PARTS: 8,
} as const;

/** Enough for 64 workers. */
export const CTRL_SIZE = CTRL.PARTS + 128;

export const Cmd = { Build: 1, Exit: 2 } as const;

/** What a worker receives as `workerData`. */
export interface WorkerInit {
  index: number;
  ctrl: SharedArrayBuffer;
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
}
