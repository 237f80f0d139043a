import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
  CancelledError,
  ConflictError,
  isBusy,
  NotFoundError,
  processGone,
  type Store,
  ValidationError,
} from "@quintet/core";
import { z } from "zod";
import { Rng } from "../datasets/rng.js";
import { createBuiltinRunner } from "./builtins.js";
import {
  isWorkerObjective,
  type ObjectiveOutcome,
  type ReportFn,
  TrialPruned,
  type WorkerObjective,
} from "./objective.js";
import { TrialWorkerPool } from "./pool.js";
import { type Curve, createPruner, type Pruner, type PrunerSpec, parsePrunerSpec } from "./pruner.js";
import { createSampler, parseSamplerSpec, type Sampler, type SamplerSpec } from "./samplers.js";
import { checkParams, type Params, parseSearchSpace, type SearchSpace, sameSpace } from "./space.js";
import { type Owner, ownerString, parseOwner, rowToTrial, type TuneDb, type TuneTables, tuneDb } from "./storage.js";
import { better, type Direction, type TrialRecord, type TrialState } from "./types.js";

export interface OpenStudyOptions {
  /** The core store the study lives in (tables `tune_studies`, `tune_trials`). */
  store: Store;
  /** Unique per store: opening an existing name continues that study. */
  name: string;
  space: SearchSpace;
  direction: Direction;
  /** Default `{ type: "tpe" }`. */
  sampler?: SamplerSpec;
  /** Default `{ type: "none" }`. */
  pruner?: PrunerSpec;
  /** Seeds the sampler: a serial study with the same seed proposes the same trials. Default 0. */
  seed?: number;
  /** Anything to keep with the study (e.g. what data it tunes on). */
  attrs?: Record<string, unknown>;
}

/** A trial as the objective sees it. */
export interface Trial {
  readonly number: number;
  readonly params: Params;
  /** Aborted when the study is cancelled. */
  readonly signal: AbortSignal;
  /**
   * Records an intermediate value at a step (e.g. a boosting round) and asks the pruner:
   * resolves to true when the trial should stop — then throw {@link TrialPruned}.
   */
  report(step: number, value: number): Promise<boolean>;
  /** Attaches a JSON value to the trial (kept in the store). */
  setAttr(key: string, value: unknown): void;
}

/** An objective run in this thread: returns the value to optimise. */
export type ObjectiveFunction = (trial: Trial) => number | Promise<number>;

export interface OptimizeOptions {
  /** Stop once the study has this many trials in total (a reopened study runs only the rest). */
  trials?: number;
  /** Start no trial after this long (running trials finish). */
  timeoutMs?: number;
  /**
   * Trials at once. Functions run concurrently in this thread; a {@link WorkerObjective}
   * runs on this many worker threads (1 = in this thread). Default 1.
   */
  concurrency?: number;
  /** Keep going when a trial throws (recorded as failed). Default false: the error ends optimize. */
  catchErrors?: boolean;
  signal?: AbortSignal;
  /** Called after every finished trial with the best trial so far. */
  onTrial?: (trial: TrialRecord, best: TrialRecord | undefined) => void;
  /** How often running trials show they are alive. Default 2 s. */
  heartbeatMs?: number;
  /** A running trial whose process has not shown it is alive for this long is run again. Default 60 s. */
  staleAfterMs?: number;
}

export interface OptimizeResult {
  best: TrialRecord | undefined;
  /** Every trial of the study after this call. */
  trials: TrialRecord[];
  /** Trials finished by this call. */
  finished: number;
  /** Running trials of dead processes that this call took back and ran again. */
  resumed: number;
  stoppedBy: "trials" | "time";
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:\-/ ]{0,199}$/;

const openSchema = z.object({
  name: z.string().regex(NAME, "use 1-200 letters, digits, spaces or _ . : - /, starting with a letter or digit"),
  direction: z.enum(["maximize", "minimize"]),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31)
    .optional(),
});

const optimizeSchema = z
  .object({
    trials: z.number().int().min(1).max(1_000_000).optional(),
    timeoutMs: z.number().gt(0).optional(),
    concurrency: z.number().int().min(1).max(256).optional(),
    catchErrors: z.boolean().optional(),
    heartbeatMs: z.number().gt(0).optional(),
    staleAfterMs: z.number().gt(0).optional(),
  })
  .passthrough();

/** A per-trial generator: depends only on the study seed and the trial number. */
function trialRng(seed: number, number: number): Rng {
  let h = (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(number + 1, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  return new Rng(h);
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === "23505" || /UNIQUE constraint failed/.test(e?.message ?? "");
}

/** Opens the study called `name`, creating it if it does not exist. See {@link Study}. */
export async function openStudy(options: OpenStudyOptions): Promise<Study> {
  return Study.open(options);
}

/**
 * A hyperparameter search kept in the core store. Trials are proposed by a sampler (TPE
 * or random) from the trials before them, may be pruned by successive halving on the
 * values they report, and run serially, concurrently in this thread, or on worker threads.
 * Every trial is written as it starts, reports and ends, so a process killed midway loses
 * nothing: reopening the study by name runs the interrupted trials again (same number, same
 * parameters) and continues.
 *
 * @example
 * const study = await openStudy({
 *   store, name: "churn-gbdt", direction: "maximize", seed: 1,
 *   space: { learningRate: floatParam(0.01, 0.3, { log: true }), maxDepth: intParam(2, 10) },
 *   pruner: { type: "successiveHalving", minResource: 20 },
 * });
 * const { best } = await study.optimize(gbdtObjective({ X, y, validation, params }), { timeoutMs: 60_000, concurrency: 2 });
 * console.log(best?.value, best?.params);
 */
export class Study {
  private readonly owner: Owner;
  private sampler: Sampler;
  private pruner: Pruner;
  /** Curves of trials this object knows about (refreshed from the store at each claim). */
  private readonly curves = new Map<number, [number, number][]>();
  private claimLock: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: Store,
    private readonly db: TuneDb,
    readonly id: string,
    readonly name: string,
    readonly direction: Direction,
    readonly space: SearchSpace,
    readonly samplerSpec: SamplerSpec,
    readonly prunerSpec: PrunerSpec,
    readonly seed: number,
    readonly attrs: Record<string, unknown>,
  ) {
    this.owner = { host: hostname(), pid: process.pid, token: randomBytes(6).toString("hex") };
    this.sampler = createSampler(samplerSpec);
    this.pruner = createPruner(prunerSpec);
  }

  /**
   * Opens or creates a study. Reopening checks the direction and search space match the
   * stored ones (ConflictError otherwise); a new sampler or pruner spec replaces the stored one.
   */
  static async open(options: OpenStudyOptions): Promise<Study> {
    const parsed = openSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ValidationError(`study option "${issue.path.join(".")}": ${issue.message}`, {
        hint: 'Give { store, name, space, direction: "maximize" | "minimize" }.',
      });
    }
    const space = parseSearchSpace(options.space);
    const sampler = parseSamplerSpec(options.sampler ?? { type: "tpe" });
    const pruner = parsePrunerSpec(options.pruner ?? { type: "none" });
    const db = await tuneDb(options.store);
    for (let attempt = 0; ; attempt++) {
      const existing = await db
        .selectFrom("tune_studies")
        .selectAll()
        .where("name", "=", options.name)
        .executeTakeFirst();
      if (existing) {
        const storedSpace = JSON.parse(existing.space) as SearchSpace;
        if (existing.direction !== options.direction)
          throw new ConflictError(
            `study "${options.name}" exists and ${existing.direction}s; this call asks to ${options.direction}`,
            { hint: "Use another study name, or the stored direction." },
          );
        if (!sameSpace(storedSpace, space))
          throw new ConflictError(`study "${options.name}" exists with a different search space`, {
            hint: `Use another study name, or the stored space: ${existing.space}`,
          });
        const samplerJson = JSON.stringify(sampler);
        const prunerJson = JSON.stringify(pruner);
        if (samplerJson !== existing.sampler || prunerJson !== existing.pruner)
          await db
            .updateTable("tune_studies")
            .set({ sampler: samplerJson, pruner: prunerJson })
            .where("id", "=", existing.id)
            .execute();
        return new Study(
          options.store,
          db,
          existing.id,
          existing.name,
          existing.direction as Direction,
          storedSpace,
          sampler,
          pruner,
          Number(existing.seed),
          JSON.parse(existing.attrs) as Record<string, unknown>,
        );
      }
      const id = `study_${Date.now().toString(36)}${randomBytes(4).toString("hex")}`;
      const seed = options.seed ?? 0;
      try {
        await db
          .insertInto("tune_studies")
          .values({
            id,
            name: options.name,
            direction: options.direction,
            space: JSON.stringify(space),
            sampler: JSON.stringify(sampler),
            pruner: JSON.stringify(pruner),
            seed,
            attrs: JSON.stringify(options.attrs ?? {}),
            created_at: Date.now(),
          })
          .execute();
        return new Study(
          options.store,
          db,
          id,
          options.name,
          options.direction,
          space,
          sampler,
          pruner,
          seed,
          options.attrs ?? {},
        );
      } catch (err) {
        // Another process created it first: open theirs.
        if (!isUniqueViolation(err) || attempt > 2) throw err;
      }
    }
  }

  /** Opens an existing study by name with its stored space, direction, sampler and pruner. */
  static async load(store: Store, name: string): Promise<Study> {
    const db = await tuneDb(store);
    const row = await db.selectFrom("tune_studies").selectAll().where("name", "=", name).executeTakeFirst();
    if (!row) {
      const names = await db
        .selectFrom("tune_studies")
        .select("name")
        .orderBy("created_at", "desc")
        .limit(20)
        .execute();
      throw new NotFoundError(`no study named "${name}"`, {
        hint: names.length ? `Studies: ${names.map((n) => n.name).join(", ")}` : "Create it with openStudy({ ... }).",
      });
    }
    return new Study(
      store,
      db,
      row.id,
      row.name,
      row.direction as Direction,
      JSON.parse(row.space) as SearchSpace,
      JSON.parse(row.sampler) as SamplerSpec,
      JSON.parse(row.pruner) as PrunerSpec,
      Number(row.seed),
      JSON.parse(row.attrs) as Record<string, unknown>,
    );
  }

  /** Every trial, by number. */
  async trials(): Promise<TrialRecord[]> {
    const rows = await this.db
      .selectFrom("tune_trials")
      .selectAll()
      .where("study_id", "=", this.id)
      .orderBy("number")
      .execute();
    return rows.map(rowToTrial);
  }

  /** The complete trial with the best value (the earliest on ties), if any. */
  async bestTrial(): Promise<TrialRecord | undefined> {
    return this.bestOf(await this.trials());
  }

  private bestOf(trials: readonly TrialRecord[]): TrialRecord | undefined {
    let best: TrialRecord | undefined;
    for (const t of trials)
      if (t.state === "complete" && t.value !== null && Number.isFinite(t.value))
        if (!best || better(this.direction, t.value, best.value!)) best = t;
    return best;
  }

  /** Queues a point to try next (before any sampled one), e.g. the current defaults. */
  async enqueue(params: Params): Promise<number> {
    checkParams(this.space, params);
    return this.withClaimLock(() =>
      this.store.tx(async (raw) => {
        const db = raw.withTables<TuneTables>();
        const number = await this.nextNumber(db as unknown as TuneDb);
        await db
          .insertInto("tune_trials")
          .values(this.newRow(number, "waiting", params))
          .execute();
        return number;
      }),
    );
  }

  private newRow(number: number, state: TrialState, params: Params): TuneTables["tune_trials"] {
    const running = state === "running";
    return {
      study_id: this.id,
      number,
      state,
      params: JSON.stringify(params),
      value: null,
      intermediate: "[]",
      attrs: "{}",
      attempts: running ? 1 : 0,
      owner: running ? ownerString(this.owner) : null,
      heartbeat_at: running ? Date.now() : null,
      started_at: running ? Date.now() : null,
      ended_at: null,
      error: null,
    };
  }

  private async nextNumber(db: TuneDb): Promise<number> {
    const r = await db
      .selectFrom("tune_trials")
      .select((eb) => eb.fn.max("number").as("max"))
      .where("study_id", "=", this.id)
      .executeTakeFirst();
    return r?.max === null || r?.max === undefined ? 0 : Number(r.max) + 1;
  }

  private withClaimLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.claimLock.then(fn, fn);
    this.claimLock = run.catch(() => undefined);
    return run;
  }

  /** Running trials whose process is gone (or silent too long) go back to waiting. */
  private async reclaimStale(staleAfterMs: number): Promise<number> {
    const running = await this.db
      .selectFrom("tune_trials")
      .select(["number", "owner", "heartbeat_at"])
      .where("study_id", "=", this.id)
      .where("state", "=", "running")
      .execute();
    let n = 0;
    const now = Date.now();
    for (const r of running) {
      const o = parseOwner(r.owner);
      const silent = now - Number(r.heartbeat_at ?? 0) > staleAfterMs;
      const dead = o !== undefined && processGone(o.host, o.pid);
      if (!(o === undefined || silent || dead)) continue;
      const res = await this.db
        .updateTable("tune_trials")
        .set({ state: "waiting", owner: null, heartbeat_at: null, intermediate: "[]" })
        .where("study_id", "=", this.id)
        .where("number", "=", r.number)
        .where("state", "=", "running")
        .where("owner", r.owner === null ? "is" : "=", r.owner)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) > 0) n++;
    }
    return n;
  }

  /**
   * Takes the next trial: the lowest waiting one, else a new one with sampled parameters,
   * unless the study already has `cap` trials. One transaction, so processes sharing a
   * study never take the same trial.
   */
  private claim(cap: number | undefined): Promise<TrialRecord | null> {
    return this.withClaimLock(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.store.tx(async (raw) => {
            const db = raw.withTables<TuneTables>() as unknown as TuneDb;
            const rows = (
              await db.selectFrom("tune_trials").selectAll().where("study_id", "=", this.id).orderBy("number").execute()
            ).map(rowToTrial);
            for (const t of rows)
              if (!this.curves.has(t.number) || t.state !== "running") this.curves.set(t.number, t.intermediate);
            const waiting = rows.find((t) => t.state === "waiting");
            const now = Date.now();
            if (waiting) {
              await db
                .updateTable("tune_trials")
                .set({
                  state: "running",
                  owner: ownerString(this.owner),
                  heartbeat_at: now,
                  started_at: now,
                  attempts: waiting.attempts + 1,
                  intermediate: "[]",
                })
                .where("study_id", "=", this.id)
                .where("number", "=", waiting.number)
                .where("state", "=", "waiting")
                .execute();
              this.curves.set(waiting.number, []);
              return {
                ...waiting,
                state: "running" as const,
                attempts: waiting.attempts + 1,
                intermediate: [],
                startedAt: now,
              };
            }
            if (cap !== undefined && rows.length >= cap) return null;
            const number = rows.length === 0 ? 0 : rows[rows.length - 1]!.number + 1;
            const history = rows.filter((t) => t.number < number && (t.state === "complete" || t.state === "pruned"));
            const params = this.sampler.sample(this.space, history, trialRng(this.seed, number), this.direction);
            const row = this.newRow(number, "running", params);
            await db.insertInto("tune_trials").values(row).execute();
            this.curves.set(number, []);
            return rowToTrial(row);
          });
        } catch (err) {
          if ((isUniqueViolation(err) || isBusy(err)) && attempt < 10) continue;
          throw err;
        }
      }
    });
  }

  private async report(trial: TrialRecord, step: number, value: number): Promise<boolean> {
    if (!Number.isFinite(step) || typeof value !== "number")
      throw new ValidationError(`trial ${trial.number} reported step ${step}, value ${value}`, {
        hint: "Report a finite step (e.g. the boosting round) and a numeric value; a non-finite value prunes the trial.",
      });
    const curve = this.curves.get(trial.number) ?? [];
    const last = curve[curve.length - 1];
    if (last && step <= last[0])
      throw new ValidationError(`trial ${trial.number} reported step ${step} after step ${last[0]}`, {
        hint: "Report steps in increasing order (e.g. the boosting round).",
      });
    curve.push([step, value]);
    this.curves.set(trial.number, curve);
    await this.db
      .updateTable("tune_trials")
      .set({ intermediate: JSON.stringify(curve), heartbeat_at: Date.now() })
      .where("study_id", "=", this.id)
      .where("number", "=", trial.number)
      .where("owner", "=", ownerString(this.owner))
      .execute();
    const others: Curve[] = [];
    for (const [n, c] of this.curves) if (n !== trial.number && c.length > 0) others.push(c);
    return this.pruner.shouldPrune(curve, others, this.direction);
  }

  private async finish(
    trial: TrialRecord,
    state: TrialState,
    value: number | null,
    attrs: Record<string, unknown>,
    error: string | null,
  ): Promise<TrialRecord> {
    const now = Date.now();
    const curve = this.curves.get(trial.number) ?? [];
    await this.db
      .updateTable("tune_trials")
      .set({
        state,
        value,
        attrs: JSON.stringify(attrs),
        intermediate: JSON.stringify(curve),
        error,
        ended_at: state === "waiting" ? null : now,
        owner: null,
        heartbeat_at: null,
      })
      .where("study_id", "=", this.id)
      .where("number", "=", trial.number)
      .where("owner", "=", ownerString(this.owner))
      .where("state", "=", "running")
      .execute();
    return { ...trial, state, value, attrs, error, intermediate: curve, endedAt: state === "waiting" ? null : now };
  }

  /**
   * Runs trials until the budget is spent: `trials` in total for the study and/or
   * `timeoutMs` for this call (at least one is needed). Interrupted trials of dead processes
   * run first. A trial that throws {@link TrialPruned} is recorded as pruned; any other error
   * fails the trial and, unless `catchErrors`, ends optimize with that error once the other
   * running trials finish. Cancelling (`signal`) stops running trials, puts them back as
   * waiting (a later call runs them again) and rejects with a CancelledError.
   */
  async optimize(
    objective: ObjectiveFunction | WorkerObjective,
    options: OptimizeOptions = {},
  ): Promise<OptimizeResult> {
    const parsed = optimizeSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ValidationError(`optimize option "${issue.path.join(".")}": ${issue.message}`, {
        hint: "trials and concurrency are whole numbers ≥ 1, timeoutMs > 0.",
      });
    }
    if (options.trials === undefined && options.timeoutMs === undefined)
      throw new ValidationError("optimize needs a budget: trials, timeoutMs or both", {
        hint: "E.g. study.optimize(objective, { timeoutMs: 60_000 }) or { trials: 50 }.",
      });
    const isWorker = isWorkerObjective(objective);
    if (!isWorker && typeof objective !== "function")
      throw new ValidationError(
        "the objective must be a function (trial) => number or a worker objective such as gbdtObjective(...)",
      );
    if (isWorker && objective.direction !== this.direction)
      throw new ValidationError(
        `the objective ${objective.direction}s its value but study "${this.name}" ${this.direction}s`,
        { hint: "Open the study with direction: objective.direction." },
      );
    const concurrency = options.concurrency ?? 1;
    const heartbeatMs = options.heartbeatMs ?? 2000;
    const deadline = options.timeoutMs !== undefined ? Date.now() + options.timeoutMs : Number.POSITIVE_INFINITY;
    const outer = options.signal;
    if (outer?.aborted) throw new CancelledError("tuning was cancelled before it started");

    const resumed = await this.reclaimStale(options.staleAfterMs ?? 60_000);
    const stop = new AbortController();
    const onOuterAbort = () => stop.abort();
    outer?.addEventListener("abort", onOuterAbort, { once: true });

    let execute: (params: Params, report: ReportFn, signal: AbortSignal, trial: Trial) => Promise<ObjectiveOutcome>;
    let pool: TrialWorkerPool | undefined;
    if (isWorker && concurrency > 1) {
      pool = await TrialWorkerPool.start(objective, concurrency);
      const p = pool;
      execute = (params, report, signal) => p.run(params, report, signal);
    } else if (isWorker) {
      const runner = createBuiltinRunner(objective.name, objective.init, { inWorker: false });
      execute = (params, report, signal) => runner(params, report, signal);
    } else {
      execute = async (_params, _report, _signal, trial) => ({ value: await objective(trial) });
    }

    const running = new Set<number>();
    const heartbeat = setInterval(() => {
      if (running.size === 0) return;
      void this.db
        .updateTable("tune_trials")
        .set({ heartbeat_at: Date.now() })
        .where("study_id", "=", this.id)
        .where("owner", "=", ownerString(this.owner))
        .where("state", "=", "running")
        .execute()
        .catch(() => undefined);
    }, heartbeatMs);
    heartbeat.unref();

    let finished = 0;
    let firstError: unknown;
    let stoppedBy: OptimizeResult["stoppedBy"] = "trials";
    const onTrial = options.onTrial;
    let best = await this.bestTrial();

    const lane = async () => {
      for (;;) {
        if (stop.signal.aborted || firstError !== undefined) return;
        if (Date.now() >= deadline) {
          stoppedBy = "time";
          return;
        }
        const t = await this.claim(options.trials);
        if (!t) return;
        running.add(t.number);
        const attrs: Record<string, unknown> = {};
        const trialAbort = new AbortController();
        const forward = () => trialAbort.abort();
        stop.signal.addEventListener("abort", forward, { once: true });
        const report: ReportFn = (step, value) => this.report(t, step, value);
        const trial: Trial = {
          number: t.number,
          params: t.params,
          signal: trialAbort.signal,
          report,
          setAttr: (k, v) => {
            attrs[k] = v;
          },
        };
        let done: TrialRecord;
        try {
          const outcome = await execute(t.params, report, trialAbort.signal, trial);
          if (typeof outcome.value !== "number" || Number.isNaN(outcome.value))
            throw new ValidationError(
              `trial ${t.number}: the objective returned ${String(outcome.value)}, not a number`,
              {
                hint: "Return the score to optimise as a finite number.",
              },
            );
          done = await this.finish(t, "complete", outcome.value, { ...outcome.attrs, ...attrs }, null);
        } catch (err) {
          if (stop.signal.aborted) {
            // Cancelled mid-trial: back to waiting, so the next optimize runs it again.
            await this.finish(t, "waiting", null, {}, null);
            running.delete(t.number);
            return;
          }
          if (err instanceof TrialPruned) done = await this.finish(t, "pruned", null, attrs, null);
          else {
            done = await this.finish(t, "failed", null, attrs, (err as Error)?.message ?? String(err));
            if (!options.catchErrors) firstError ??= err;
          }
        } finally {
          stop.signal.removeEventListener("abort", forward);
        }
        running.delete(t.number);
        finished++;
        if (done.state === "complete" && (!best || better(this.direction, done.value!, best.value!))) best = done;
        onTrial?.(done, best);
      }
    };

    try {
      await Promise.all(Array.from({ length: concurrency }, lane));
    } finally {
      clearInterval(heartbeat);
      outer?.removeEventListener("abort", onOuterAbort);
      await pool?.close();
    }
    if (stop.signal.aborted)
      throw new CancelledError(`tuning study "${this.name}" was cancelled after ${finished} trials`);
    if (firstError !== undefined) throw firstError;
    const trials = await this.trials();
    return { best: this.bestOf(trials), trials, finished, resumed, stoppedBy };
  }
}
