import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { QuintetError } from "@quintet/core";
import type { BinnedMatrix } from "./binning.js";
import {
  buildHistogram,
  buildPackedHistogram,
  HIST_FEATURE_STRIDE,
  HistogramPool,
  PACKED_FEATURE_STRIDE,
} from "./histogram.js";
import { Cmd, CTRL, CTRL_SIZE, claimChunk, claimTag, MAX_CHUNKS, type WorkerInit } from "./protocol.js";

/**
 * Builds node histograms for the tree learner. The learner partitions `idx` in place and
 * the trainer writes gradients into `gh` (interleaved gradient, hessian per row) before
 * each tree; both live in shared memory when threaded so workers read them directly.
 */
export interface HistogramBuilder {
  readonly pool: HistogramPool;
  readonly idx: Uint32Array;
  readonly gh: Float64Array;
  /** Histograms are packed from quantized gradients (see histogram.ts) rather than exact. */
  readonly packed: boolean;
  /** Packed mode: what one unit of quantized gradient and hessian is worth. */
  readonly gScale: number;
  readonly hScale: number;
  /**
   * Packed mode: quantizes the gradients of rows `idx[0..m)` for the next tree, rounding
   * stochastically (unbiased) with a generator seeded by `seed`.
   */
  quantize(m: number, seed: number): void;
  /** Features the histograms of the next tree cover: `feats[0..count)`, ascending. */
  setFeatures(feats: Int32Array, count: number): void;
  /** Fills histogram `slot` from rows `idx[start..end)`. */
  build(slot: number, start: number, end: number): void;
  /** Stops the workers (no-op when serial). */
  close(): Promise<void>;
}

/**
 * Bytes of histogram memory a learner may hold. Depth-limited trees need far less; deep
 * random-forest trees fall back to building both children when the pool is full.
 */
const POOL_BYTES = 256 * 1024 * 1024;

/**
 * Histogram slots for trees of this shape: as many as can be pending at once (the
 * frontier for a leaf budget, one per level for depth-first growth), within POOL_BYTES.
 * A learner that runs out builds both children instead of subtracting.
 */
export function poolCapacity(cols: number, maxDepth: number, maxLeaves: number): number {
  const needed = maxLeaves > 0 ? 2 * maxLeaves : maxDepth > 0 ? maxDepth : 128;
  const byMemory = Math.floor(POOL_BYTES / (Math.max(1, cols) * 4096));
  return Math.max(4, Math.min(needed + 4, byMemory));
}

/** Largest quantization level used per row (more gains nothing measurable). */
const MAX_LEVELS = 1 << 15;

class SerialBuilder implements HistogramBuilder {
  readonly pool: HistogramPool;
  readonly idx: Uint32Array;
  readonly gh: Float64Array;
  /** Packed gradient pair per row (packed mode). */
  readonly q: Float64Array;
  gScale = 1;
  hScale = 1;
  protected readonly feats: Int32Array;
  protected count = 0;
  protected dense = true;

  constructor(
    protected readonly data: BinnedMatrix,
    capacity: number,
    shared: boolean,
    readonly packed: boolean,
  ) {
    const { rows, cols } = data;
    const buf = (bytes: number) => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    this.pool = new HistogramPool(cols, capacity, shared, packed ? PACKED_FEATURE_STRIDE : HIST_FEATURE_STRIDE);
    this.idx = new Uint32Array(buf(rows * 4));
    this.gh = new Float64Array(buf(rows * 16));
    this.q = new Float64Array(buf(packed ? rows * 8 : 8));
    this.feats = new Int32Array(buf(Math.max(1, cols) * 4));
  }

  setFeatures(feats: Int32Array, count: number): void {
    this.feats.set(feats.subarray(0, count));
    this.count = count;
    let dense = true;
    for (let i = 0; i < count; i++) if (feats[i] !== i) dense = false;
    this.dense = dense;
  }

  quantize(m: number, seed: number): void {
    const { idx, gh, q } = this;
    let gmax = 0;
    let hmax = 0;
    for (let k = 0; k < m; k++) {
      const r = idx[k]!;
      gmax = Math.max(gmax, Math.abs(gh[2 * r]!));
      hmax = Math.max(hmax, gh[2 * r + 1]!);
    }
    // Levels such that no node's sums can leave the exact-integer range of the packing.
    const qg = Math.min(MAX_LEVELS, Math.floor((2 ** 25 - 1) / m));
    const qh = Math.min(MAX_LEVELS, Math.floor((2 ** 26 - 1) / m));
    this.gScale = gmax > 0 ? gmax / qg : 1;
    this.hScale = hmax > 0 ? hmax / qh : 1;
    const gi = 1 / this.gScale;
    const hi = 1 / this.hScale;
    // xorshift32: cheap, and the same sequence however the work is threaded.
    let x = seed >>> 0 || 0x9e3779b9;
    for (let k = 0; k < m; k++) {
      const r = idx[k]!;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const u1 = (x >>> 0) / 4294967296;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const u2 = (x >>> 0) / 4294967296;
      const g = Math.max(-qg, Math.min(qg, Math.floor(gh[2 * r]! * gi + u1)));
      const h = Math.max(0, Math.min(qh, Math.floor(gh[2 * r + 1]! * hi + u2)));
      q[r] = g * 2 ** 26 + h;
    }
  }

  build(slot: number, start: number, end: number): void {
    const d = this.data;
    if (this.packed) {
      buildPackedHistogram(
        this.pool.view(slot),
        d.bins,
        d.cols,
        this.q,
        this.idx,
        start,
        end,
        this.feats,
        0,
        this.count,
        this.dense,
      );
    } else {
      buildHistogram(
        this.pool.view(slot),
        d.bins,
        d.cols,
        this.gh,
        this.idx,
        start,
        end,
        this.feats,
        0,
        this.count,
        this.dense,
      );
    }
  }

  async close(): Promise<void> {}
}

/**
 * Below this many (row × feature) cells a histogram is built on the calling thread: waking
 * a worker costs tens of microseconds.
 */
const MIN_PARALLEL_CELLS = 64 * 1024;

/** Features per chunk, about: fewer means more passes over the rows, more means coarser sharing. */
const CHUNK_FEATURES = 8;

/** How long to wait for a claimed chunk before concluding a worker has died. */
const WORKER_TIMEOUT_MS = 120_000;

/**
 * Shares each histogram's features between the calling thread and `workers` worker
 * threads: all of them claim chunks of features until none is left (see protocol.ts).
 * Every feature is still summed by one thread in row order, so the histograms are
 * bit-identical to the serial builder's, and so is the model.
 */
class ThreadedBuilder extends SerialBuilder {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SIZE * 4));
  private readonly workers: Worker[] = [];
  private seq = 0;
  private chunks = 1;

  constructor(data: BinnedMatrix, capacity: number, numWorkers: number, packed: boolean) {
    super(data, capacity, true, packed);
    const { entry, eval: isEval } = workerEntry();
    for (let w = 0; w < numWorkers; w++) {
      const init: WorkerInit = {
        ctrl: this.ctrl.buffer as SharedArrayBuffer,
        bins: data.bins.buffer as SharedArrayBuffer,
        cols: data.cols,
        gh: this.gh.buffer as SharedArrayBuffer,
        q: this.q.buffer as SharedArrayBuffer,
        packed: this.packed,
        idx: this.idx.buffer as SharedArrayBuffer,
        feats: this.feats.buffer as SharedArrayBuffer,
        pool: this.pool.buffer.buffer as SharedArrayBuffer,
        slotSize: this.pool.slotSize,
      };
      const worker = new Worker(entry, { workerData: init, eval: isEval });
      worker.unref();
      this.workers.push(worker);
    }
  }

  /** Resolves once every worker has loaded and is waiting for work. */
  async ready(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const onError = (err: unknown) => reject(workerFailed(err));
            w.once("message", () => {
              w.off("error", onError);
              resolve();
            });
            w.once("error", onError);
          }),
      ),
    );
  }

  override setFeatures(feats: Int32Array, count: number): void {
    super.setFeatures(feats, count);
    const threads = this.workers.length + 1;
    this.chunks = Math.min(
      MAX_CHUNKS,
      Math.max(1, Math.min(count, Math.max(2 * threads, Math.ceil(count / CHUNK_FEATURES)))),
    );
    // Chunk bounds only change here, between trees, when no task is running.
    for (let c = 0; c <= this.chunks; c++) this.ctrl[CTRL.BOUNDS + c] = Math.round((count * c) / this.chunks);
  }

  override build(slot: number, start: number, end: number): void {
    if ((end - start) * this.count < MIN_PARALLEL_CELLS) {
      super.build(slot, start, end);
      return;
    }
    const c = this.ctrl;
    // Close claims while the task is written, so no late worker mixes two tasks.
    Atomics.store(c, CTRL.CLAIM, -1);
    c[CTRL.CMD] = Cmd.Build;
    c[CTRL.SLOT] = slot;
    c[CTRL.START] = start;
    c[CTRL.END] = end;
    c[CTRL.DENSE] = this.dense ? 1 : 0;
    c[CTRL.CHUNKS] = this.chunks;
    Atomics.store(c, CTRL.FINISHED, 0);
    this.seq++;
    const tag = claimTag(this.seq);
    Atomics.store(c, CTRL.CLAIM, tag);
    Atomics.store(c, CTRL.SEQ, this.seq);
    Atomics.notify(c, CTRL.SEQ);
    const d = this.data;
    const build = this.packed ? buildPackedHistogram : buildHistogram;
    const grads = this.packed ? this.q : this.gh;
    const hist = this.pool.view(slot);
    for (let k = claimChunk(c, tag, this.chunks); k >= 0; k = claimChunk(c, tag, this.chunks)) {
      build(
        hist,
        d.bins,
        d.cols,
        grads,
        this.idx,
        start,
        end,
        this.feats,
        c[CTRL.BOUNDS + k]!,
        c[CTRL.BOUNDS + k + 1]!,
        this.dense,
      );
      Atomics.add(c, CTRL.FINISHED, 1);
    }
    // Only chunks a worker has claimed are left: wait for those.
    // A claimed chunk is usually moments from done: spin briefly before sleeping.
    const spinUntil = performance.now() + 0.1;
    while (Atomics.load(c, CTRL.FINISHED) < this.chunks && performance.now() < spinUntil);
    const deadline = Date.now() + WORKER_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(c, CTRL.FINISHED);
      if (done >= this.chunks) break;
      if (Atomics.wait(c, CTRL.FINISHED, done, 1000) === "timed-out" && Date.now() > deadline) {
        throw new QuintetError("INTERNAL", "a histogram worker stopped responding", {
          hint: "Train with threads: 1 and report this, with the data shape, as a bug.",
        });
      }
    }
    if (c[CTRL.ERROR] !== 0) {
      throw new QuintetError("INTERNAL", "a histogram worker failed", {
        hint: "Train with threads: 1 and report this, with the data shape, as a bug.",
      });
    }
  }

  override async close(): Promise<void> {
    Atomics.store(this.ctrl, CTRL.CLAIM, -1);
    this.ctrl[CTRL.CMD] = Cmd.Exit;
    Atomics.store(this.ctrl, CTRL.SEQ, ++this.seq);
    Atomics.notify(this.ctrl, CTRL.SEQ);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function workerFailed(err: unknown): QuintetError {
  return new QuintetError("INTERNAL", `histogram worker failed to start: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
    hint: "Train with threads: 1 to avoid worker threads.",
  });
}

/**
 * How to start a worker. Built code runs `worker.js` directly. From source (tests,
 * `--conditions=source`) the worker is `worker.ts`: a worker does not inherit the tsx
 * loader, so a small bootstrap registers tsx's ESM hooks inside it first.
 */
function workerEntry(): { entry: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith(".ts")) return { entry: new URL("./worker.js", import.meta.url), eval: false };
  const req = createRequire(import.meta.url);
  const pkgPath = req.resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as {
    exports: Record<string, { import?: { default?: string } } | string>;
  };
  const api = pkg.exports["./esm/api"];
  const rel = typeof api === "object" ? api.import?.default : undefined;
  if (!rel) throw new QuintetError("INTERNAL", "cannot find tsx's ESM API to run the histogram worker from source");
  const apiUrl = pathToFileURL(join(dirname(pkgPath), rel)).href;
  const workerUrl = new URL("./worker.ts", import.meta.url).href;
  const code = `import(${JSON.stringify(apiUrl)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl)}); });`;
  return { entry: code, eval: true };
}

/**
 * A histogram builder over `data`: serial when `threads <= 1`, otherwise the calling thread
 * plus `threads - 1` workers (their startup is awaited here).
 */
export async function createHistogramBuilder(
  data: BinnedMatrix,
  capacity: number,
  threads: number,
  packed = false,
): Promise<HistogramBuilder> {
  if (threads <= 1 || data.cols < 2) return new SerialBuilder(data, capacity, false, packed);
  if (!(data.bins.buffer instanceof SharedArrayBuffer)) {
    throw new QuintetError("INTERNAL", "threaded histograms need bins in shared memory (binMatrix(..., true))");
  }
  const b = new ThreadedBuilder(data, capacity, Math.min(threads, data.cols) - 1, packed);
  try {
    await b.ready();
  } catch (err) {
    await b.close();
    throw err;
  }
  return b;
}
