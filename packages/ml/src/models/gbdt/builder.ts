import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { QuintetError } from "@quintet/core";
import type { BinnedMatrix } from "./binning.js";
import { scanRegionBytes } from "./kernel-constants.js";
import { type GrowParams, subtreePlan } from "./learner.js";
import {
  blockChunk,
  Cmd,
  CTRL,
  CTRL_SIZE,
  claimChunk,
  claimTag,
  MAX_CHUNKS,
  MAX_SCAN_CHUNKS,
  partitionBlock,
  partitionSplit,
  SCAN_F64,
  ScanResults,
  scanRun,
  type WorkerInit,
} from "./protocol.js";
import { type HistogramBuilder, SerialBuilder, type SubtreePlan, threadSettings } from "./serial-builder.js";
import { type SplitFinder, SplitInfo } from "./split.js";

export { type HistogramBuilder, kernelSettings, poolCapacity, threadSettings } from "./serial-builder.js";

/**
 * Chunks of work the workers of finished trainings took on, all tasks and split searches
 * among them (how much threading actually shared: tests check the workers took part), and
 * how many workers were started (the rest were reused).
 */
export const threadStats = { workerChunks: 0, workerScans: 0, workerBlocks: 0, workerSubtrees: 0, workersStarted: 0 };

/**
 * Features per chunk, about: fewer means more passes over the rows, more means coarser
 * sharing. With the wasm kernels a pass costs little per row, and on a busy machine one
 * chunk per thread measured fastest (idle threads simply claim nothing).
 */
const CHUNK_FEATURES = 16;

/**
 * A row's logistic gradient costs about as much as this many histogram cells, so the
 * histograms' `minCells` limit also tells when sharing the rows pays for the wake-up.
 */
const LOGISTIC_CELLS_PER_ROW = 8;

/**
 * How long the calling thread polls for the workers' chunks before it sleeps. It has
 * nothing else to do meanwhile, and being woken from a sleep costs tens to hundreds of
 * microseconds on a virtual machine, each time: paired runs on the synthetic table, 2 ms
 * against 0.1 ms, took the 2-thread time from 1.02 to 0.84 of the 1-thread time.
 */
const AWAIT_SPIN_MS = 2;

/** How long to wait for a claimed chunk before concluding a worker has died. */
const WORKER_TIMEOUT_MS = 120_000;

/**
 * Shares each histogram's features between the calling thread and `workers` worker
 * threads: all of them claim chunks of features until none is left (see protocol.ts).
 * Every feature is still summed by one thread in row order, so the histograms are
 * bit-identical to the serial builder's, and so is the model. Binary logistic gradients
 * are shared by rows the same way, each row computed alone.
 */
class ThreadedBuilder extends SerialBuilder {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SIZE * 4));
  private seq = 0;
  private chunks = 1;

  private readonly workers: Worker[];
  /** Split search tasks: the node's totals and scales, its feature list, each chunk's best. */
  private readonly scanF64 = new Float64Array(new SharedArrayBuffer(8 * 8));
  private readonly scanFeats: Int32Array;
  private readonly results = new ScanResults();
  private readonly chunkBest = new SplitInfo();

  constructor(
    data: BinnedMatrix,
    capacity: number,
    private readonly crew: HistogramWorkers,
    packed: boolean,
    split: GrowParams,
    plan: SubtreePlan | undefined,
  ) {
    super(data, capacity, true, packed, plan && { ...plan, threads: crew.workers.length + 1 });
    this.workers = crew.workers;
    this.scanFeats = new Int32Array(new SharedArrayBuffer(Math.max(1, data.cols) * 4));
    for (const [w, worker] of this.workers.entries()) {
      const init: WorkerInit = {
        ctrl: this.ctrl.buffer as SharedArrayBuffer,
        ...(this.memory ? { memory: this.memory, at: this.at! } : {}),
        bins: this.bins.buffer as SharedArrayBuffer,
        cols: data.cols,
        gh: this.gh.buffer as SharedArrayBuffer,
        q: this.q.buffer as SharedArrayBuffer,
        packed: this.packed,
        idx: this.idx.buffer as SharedArrayBuffer,
        feats: this.feats.buffer as SharedArrayBuffer,
        pool: this.pool.buffer.buffer as SharedArrayBuffer,
        slotSize: this.pool.slotSize,
        slots: this.pool.total,
        numBins: this.numBins,
        smallLo: this.smallLo,
        rows: data.rows,
        layout: data.layout,
        split,
        scanF64: this.scanF64.buffer as SharedArrayBuffer,
        scanFeats: this.scanFeats.buffer as SharedArrayBuffer,
        results: this.results.buffer,
        scanOut: this.at ? this.at.scanOut + scanRegionBytes(data.cols) * (w + 1) : 0,
        ...(this.subtrees && plan
          ? {
              subtrees: {
                buffer: this.subtrees.buffer,
                splits: this.subtrees.splits.buffer,
                tasks: plan.tasks,
                maxNodes: plan.maxNodes,
                capacity,
                local: w + 1,
              },
            }
          : {}),
      };
      worker.postMessage(init);
    }
  }

  /** Set once every worker has joined (see {@link joined}). */
  private live = false;

  /**
   * Whether every worker has attached to this training's buffers. Until then each step
   * runs on the calling thread alone, which gives the same results, so training never
   * waits for a worker to start: a new worker joins after tens of milliseconds, once it
   * has loaded and warmed up. A worker that failed to start fails the training (its error
   * arrives between rounds).
   */
  private joined(): boolean {
    if (this.live) return true;
    for (let i = 0; i < this.workers.length; i++) {
      const failed = this.crew.failures[i];
      if (failed !== undefined) throw workerFailed(failed);
    }
    this.live = Atomics.load(this.ctrl, CTRL.READY) === this.workers.length;
    return this.live;
  }

  /** Resolves once every worker has joined (see `threadSettings.awaitWorkers`). */
  async ready(): Promise<void> {
    while (!this.joined()) await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }

  /**
   * Subtree tasks go to every thread: each claims whole tasks and grows them with its own
   * learner and builder (the workers' were set up with their buffers).
   */
  override runTasks(count: number, run: (k: number) => void): void {
    if (!this.kernels || count < 2 || !this.joined()) {
      super.runTasks(count, run);
      return;
    }
    const c = this.ctrl;
    const tag = this.post(Cmd.Subtree, count, () => {});
    for (let k = this.claim(tag, count); k >= 0; k = this.claim(tag, count)) {
      run(k);
      Atomics.add(c, CTRL.FINISHED, 1);
    }
    this.await(count);
  }

  override setFeatures(feats: Int32Array, count: number): void {
    super.setFeatures(feats, count);
    const threads = this.workers.length + 1;
    this.chunks = Math.min(
      MAX_CHUNKS,
      Math.max(1, Math.min(count, Math.max(threads, Math.ceil(count / CHUNK_FEATURES)))),
    );
    // Chunk bounds only change here, between trees, when no task is running.
    for (let c = 0; c <= this.chunks; c++) this.ctrl[CTRL.BOUNDS + c] = Math.round((count * c) / this.chunks);
  }

  /**
   * Shares the rows between the threads in chunks claimed like histogram chunks: each row's
   * gradients depend on that row only, so any sharing gives the serial values.
   */
  protected override logisticRows(rows: number): void {
    if (rows * LOGISTIC_CELLS_PER_ROW < threadSettings.minCells || !this.joined()) {
      super.logisticRows(rows);
      return;
    }
    const chunks = this.workers.length + 1;
    // Even chunk sizes: the kernel works on pairs of rows.
    const per = Math.ceil(rows / chunks / 2) * 2;
    const tag = this.post(Cmd.Logistic, chunks, (c) => {
      c[CTRL.START] = per;
      c[CTRL.END] = rows;
    });
    const c = this.ctrl;
    for (let k = this.claim(tag, chunks); k >= 0; k = this.claim(tag, chunks)) {
      this.logisticChunk(k * per, Math.min(rows, (k + 1) * per));
      Atomics.add(c, CTRL.FINISHED, 1);
    }
    this.await(chunks);
  }

  /**
   * Long ranges are partitioned in two blocks at once, one per thread, then joined (see
   * `joinBlocks`): the same order as the serial partition, row for row.
   */
  override partition(start: number, end: number, feature: number, goLeft: Uint8Array): number {
    if (!this.kernels || end - start < threadSettings.minPartitionRows || !this.joined()) {
      return super.partition(start, end, feature, goLeft);
    }
    const at = this.at!;
    this.goLeft.set(goLeft.subarray(0, 256));
    const column = at.colBins + feature * this.data.rows;
    const tag = this.post(Cmd.Partition, 2, (c) => {
      c[CTRL.START] = start;
      c[CTRL.END] = end;
      c[CTRL.COLUMN] = column;
    });
    const c = this.ctrl;
    for (let k = this.claim(tag, 2); k >= 0; k = this.claim(tag, 2)) {
      c[CTRL.MID + k] = partitionBlock(this.kernels, at, start, end, k, column);
      Atomics.add(c, CTRL.FINISHED, 1);
    }
    this.await(2);
    return this.joinBlocks(start, partitionSplit(start, end), c[CTRL.MID]!, c[CTRL.MID + 1]!);
  }

  /** The calling thread's next chunk of the current task, or -1 (see `threadSettings.callerClaims`). */
  private claim(tag: number, chunks: number): number {
    return threadSettings.callerClaims ? claimChunk(this.ctrl, tag, chunks) : -1;
  }

  /** Writes a task with `chunks` chunks, wakes the workers, and returns its claim tag. */
  private post(cmd: number, chunks: number, fill: (c: Int32Array) => void): number {
    const c = this.ctrl;
    // Close claims while the task is written, so no late worker mixes two tasks.
    Atomics.store(c, CTRL.CLAIM, -1);
    c[CTRL.CMD] = cmd;
    c[CTRL.CHUNKS] = chunks;
    fill(c);
    Atomics.store(c, CTRL.FINISHED, 0);
    this.seq++;
    const tag = claimTag(this.seq);
    Atomics.store(c, CTRL.CLAIM, tag);
    Atomics.store(c, CTRL.SEQ, this.seq);
    // A worker counts itself in SLEEPERS before it waits on SEQ, and its wait rechecks SEQ:
    // one that is not counted yet will see the new task without being woken.
    if (Atomics.load(c, CTRL.SLEEPERS) > 0) Atomics.notify(c, CTRL.SEQ);
    return tag;
  }

  override build(slot: number, start: number, end: number): void {
    if ((end - start) * this.count < threadSettings.minCells || !this.joined()) {
      super.build(slot, start, end);
      return;
    }
    const c = this.ctrl;
    if (end - start >= threadSettings.blockRows) {
      // Each block's features in one run per two threads: with two threads, one block each.
      const chunks = 2 * Math.min(this.count, Math.ceil((this.workers.length + 1) / 2));
      const count = this.count;
      const tag = this.post(Cmd.Blocks, chunks, (c) => {
        c[CTRL.SLOT] = slot;
        c[CTRL.BLOCK_SLOT] = this.pool.blockSlot;
        c[CTRL.START] = start;
        c[CTRL.END] = end;
        c[CTRL.FEATURES] = count;
        c[CTRL.DENSE] = this.dense ? 1 : 0;
        c[CTRL.LARGE] = this.numLarge;
      });
      for (let k = this.claim(tag, chunks); k >= 0; k = this.claim(tag, chunks)) {
        const b = blockChunk(k, chunks, start, end, count);
        this.buildChunk(b.block === 0 ? slot : this.pool.blockSlot, b.r0, b.r1, b.fi0, b.fi1);
        Atomics.add(c, CTRL.FINISHED, 1);
      }
      this.await(chunks);
      this.addBlock(slot);
      return;
    }
    const tag = this.post(Cmd.Build, this.chunks, (c) => {
      c[CTRL.SLOT] = slot;
      c[CTRL.START] = start;
      c[CTRL.END] = end;
      c[CTRL.DENSE] = this.dense ? 1 : 0;
      c[CTRL.LARGE] = this.numLarge;
    });
    for (let k = this.claim(tag, this.chunks); k >= 0; k = this.claim(tag, this.chunks)) {
      this.buildChunk(slot, start, end, c[CTRL.BOUNDS + k]!, c[CTRL.BOUNDS + k + 1]!);
      Atomics.add(c, CTRL.FINISHED, 1);
    }
    this.await(this.chunks);
  }

  /**
   * Cuts the features into runs that the threads claim like histogram chunks, each run
   * searched with a fresh best. The runs' bests are then taken in feature order, a later
   * one only when its gain is strictly higher: the split the serial search finds, which
   * keeps the first of equal gains.
   */
  override findSplit(
    finder: SplitFinder,
    slot: number,
    G: number,
    H: number,
    features: Int32Array,
    count: number,
    out: SplitInfo,
  ): void {
    const chunks = Math.min(
      this.workers.length + 1,
      MAX_SCAN_CHUNKS,
      Math.floor(count / threadSettings.scanChunkFeatures),
    );
    if (chunks < 2 || !this.joined()) {
      super.findSplit(finder, slot, G, H, features, count, out);
      return;
    }
    this.scanFeats.set(features.subarray(0, count));
    const f = this.scanF64;
    f[SCAN_F64.G] = G;
    f[SCAN_F64.H] = H;
    f[SCAN_F64.G_SCALE] = this.gScale;
    f[SCAN_F64.H_SCALE] = this.hScale;
    f[SCAN_F64.PACKED] = this.packed ? 1 : 0;
    const tag = this.post(Cmd.Scan, chunks, (c) => {
      c[CTRL.SLOT] = slot;
      c[CTRL.START] = count;
    });
    const c = this.ctrl;
    const hist = this.pool.view(slot);
    for (let k = this.claim(tag, chunks); k >= 0; k = this.claim(tag, chunks)) {
      scanRun(finder, hist, G, H, this.scanFeats, count, chunks, k, this.chunkBest, this.results);
      Atomics.add(c, CTRL.FINISHED, 1);
    }
    this.await(chunks);
    out.reset();
    for (let k = 0; k < chunks; k++) {
      if (this.results.found(k) && (!out.found || this.results.gain(k) > out.gain)) this.results.read(k, out);
    }
  }

  /** Waits until all `chunks` chunks of the current task are finished. */
  private await(chunks: number): void {
    const c = this.ctrl;
    // Only chunks a worker has claimed are left: wait for those.
    // A claimed chunk is usually moments from done: poll before sleeping (AWAIT_SPIN_MS).
    const spinUntil = performance.now() + AWAIT_SPIN_MS;
    while (Atomics.load(c, CTRL.FINISHED) < chunks && performance.now() < spinUntil);
    const deadline = Date.now() + WORKER_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(c, CTRL.FINISHED);
      if (done >= chunks) break;
      // Workers notify FINISHED only while WAITING is set (see protocol.ts).
      Atomics.store(c, CTRL.WAITING, 1);
      const woke = Atomics.wait(c, CTRL.FINISHED, done, 1000);
      Atomics.store(c, CTRL.WAITING, 0);
      if (woke === "timed-out" && Date.now() > deadline) {
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
    threadStats.workerChunks += Atomics.load(this.ctrl, CTRL.WORKER_CHUNKS);
    threadStats.workerScans += Atomics.load(this.ctrl, CTRL.WORKER_SCANS);
    threadStats.workerBlocks += Atomics.load(this.ctrl, CTRL.WORKER_BLOCKS);
    threadStats.workerSubtrees += Atomics.load(this.ctrl, CTRL.WORKER_SUBTREES);
    Atomics.store(this.ctrl, CTRL.CLAIM, -1);
    this.ctrl[CTRL.CMD] = Cmd.Exit;
    Atomics.store(this.ctrl, CTRL.SEQ, ++this.seq);
    Atomics.notify(this.ctrl, CTRL.SEQ);
    // Healthy workers go back to the pool for the next training; they leave this
    // training's loop on Exit before they read the next one's buffers.
    if (this.ctrl[CTRL.ERROR] === 0) releaseHistogramWorkers(this.crew);
    else await stopHistogramWorkers(this.crew);
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

/** Worker threads started ahead of their builder, so they load while the data is binned. */
export interface HistogramWorkers {
  readonly workers: Worker[];
  /** A worker's startup error, by index, until a builder takes over. */
  readonly failures: unknown[];
}

/**
 * Starts the `threads - 1` workers a threaded builder over `cols` features will use, or
 * returns undefined when it will not use any. Hand them to {@link createHistogramBuilder},
 * or to {@link stopHistogramWorkers} if training ends before.
 */
export function startHistogramWorkers(threads: number, cols: number): HistogramWorkers | undefined {
  if (threads <= 1 || cols < 2) return undefined;
  const crew: HistogramWorkers = { workers: [], failures: [] };
  for (let w = 0; w < Math.min(threads, cols) - 1; w++) {
    let worker = idleWorkers.pop();
    if (!worker) {
      const { entry, eval: isEval } = workerEntry();
      worker = new Worker(entry, { eval: isEval });
      // Idle or not, a worker never keeps the process alive.
      worker.unref();
      worker.once("exit", () => {
        const i = idleWorkers.indexOf(worker!);
        if (i >= 0) idleWorkers.splice(i, 1);
      });
      threadStats.workersStarted++;
    }
    // Kept until the crew ends, so an early failure is neither lost nor uncaught.
    const onError = (err: unknown) => {
      crew.failures[w] ??= err;
    };
    worker.on("error", onError);
    errorListeners.set(worker, onError);
    crew.workers.push(worker);
  }
  return crew;
}

/**
 * Workers waiting for their next training. Starting one costs tens of milliseconds and its
 * code starts cold, so repeated trainings in one process (tuning, cross-validation)
 * reuse them; idle workers are unreferenced and cost only their memory.
 */
const idleWorkers: Worker[] = [];
const MAX_IDLE_WORKERS = 8;
const errorListeners = new WeakMap<Worker, (err: unknown) => void>();

function detach(worker: Worker): void {
  const listener = errorListeners.get(worker);
  if (listener) worker.off("error", listener);
  errorListeners.delete(worker);
}

/** Hands the crew's workers back to the pool (after their builder sent Exit). */
function releaseHistogramWorkers(crew: HistogramWorkers): void {
  for (const [w, worker] of crew.workers.entries()) {
    detach(worker);
    if (crew.failures[w] === undefined && idleWorkers.length < MAX_IDLE_WORKERS) idleWorkers.push(worker);
    else void worker.terminate();
  }
}

export async function stopHistogramWorkers(crew: HistogramWorkers | undefined): Promise<void> {
  if (!crew) return;
  for (const worker of crew.workers) detach(worker);
  await Promise.all(crew.workers.map((w) => w.terminate()));
}

/**
 * A histogram builder over `data`: serial when `threads <= 1`, otherwise the calling thread
 * plus `threads - 1` workers (`crew` from {@link startHistogramWorkers}, or started here),
 * which join the work once they have started (see `threadSettings.awaitWorkers`).
 */
export async function createHistogramBuilder(
  data: BinnedMatrix,
  capacity: number,
  threads: number,
  grow: GrowParams,
  packed = false,
  crew?: HistogramWorkers,
): Promise<HistogramBuilder> {
  const workers = crew ?? startHistogramWorkers(threads, data.cols);
  // Serial training grows depth-first: the same trees (nodes are stored breadth-first
  // either way) without the subtree tasks' copies.
  if (!workers) return new SerialBuilder(data, capacity, false, packed);
  const plan = subtreePlan(grow, packed);
  let b: ThreadedBuilder | undefined;
  try {
    if (!(data.bins.buffer instanceof SharedArrayBuffer)) {
      throw new QuintetError("INTERNAL", "threaded histograms need bins in shared memory (binMatrix(..., true))");
    }
    b = new ThreadedBuilder(data, capacity, workers, packed, grow, plan);
    if (threadSettings.awaitWorkers) await b.ready();
  } catch (err) {
    await stopHistogramWorkers(workers);
    throw err;
  }
  return b;
}
