import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { NotFoundError, ownerProcessGone, processOwner, type Store, ValidationError } from "@quintet/core";
import { type TrackingTables, trackingMigrations } from "./schema.js";

/** Where run artifacts go: the core ArtifactStore satisfies this. */
export interface ArtifactSink {
  put(
    content: Uint8Array | string,
    meta: { name: string; mediaType?: string },
  ): Promise<{ digest: string; size: number }>;
}

/**
 * `interrupted`: the run was never ended and the process that ran it (on this host) is gone —
 * killed or crashed. Reported, not stored: the row still says running.
 */
export const RUN_STATUSES = ["running", "finished", "failed", "interrupted"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type ParamValue = string | number | boolean | null;

/** What a run was trained on: enough to tell two datasets apart and to find the data again. */
export interface DatasetInfo {
  /** sha256 of the data's content (see {@link fingerprint}). */
  fingerprint: string;
  name?: string;
  rows?: number;
  columns?: number;
}

export interface RunInfo {
  id: string;
  experiment: string;
  name: string;
  status: RunStatus;
  params: Record<string, ParamValue>;
  tags: Record<string, string>;
  dataset: DatasetInfo | null;
  gitCommit: string | null;
  startedAt: number;
  endedAt: number | null;
  error: string | null;
  /** Last value of each metric. */
  metrics: Record<string, number>;
  artifacts: { name: string; digest: string; mediaType: string; size: number }[];
}

export interface StartRunOptions {
  experiment?: string;
  name?: string;
  params?: Record<string, ParamValue>;
  tags?: Record<string, string>;
  dataset?: DatasetInfo;
  /** Commit of the code; read from `git rev-parse HEAD` in the working directory when omitted. */
  gitCommit?: string | null;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.\-/ ]{0,127}$/;

/** sha256 over the bytes of a dataset (a file's content or a canonical serialisation of rows). */
export function fingerprint(content: Uint8Array | string): string {
  return createHash("sha256").update(content).digest("hex");
}

/** The commit checked out in `cwd`, or null outside a git work tree (never throws). */
export function currentGitCommit(cwd = process.cwd()): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("git", ["rev-parse", "HEAD"], { cwd, timeout: 2000 }, (err, stdout) =>
      resolve(err ? null : stdout.trim() || null),
    );
  });
}

async function trackingDb(store: Store) {
  await store.migrate("tracking", trackingMigrations);
  return store.db.withTables<TrackingTables>();
}

function newRunId(): string {
  // Time-prefixed so ids sort by start time in listings.
  return `run_${Date.now().toString(36)}${randomBytes(4).toString("hex")}`;
}

function checkName(kind: string, value: string): void {
  if (!NAME_RE.test(value))
    throw new ValidationError(`invalid ${kind} "${value}"`, {
      hint: `use 1-128 letters, digits, spaces or _ . - / starting with a letter or digit`,
    });
}

/**
 * Experiment tracking on the core store (namespace `tracking`): runs with params, tags,
 * per-step metrics, the dataset fingerprint, the git commit and artifacts.
 *
 * @example
 * const tracker = new Tracker(store, artifacts);
 * const report = await tracker.withRun({ experiment: "churn", params: { eta: 0.1 } }, async (run) => {
 *   await run.logMetric("valid_auc", 0.91, 10);
 *   await run.logArtifact("model.json", JSON.stringify(model), "application/json");
 * });
 */
export class Tracker {
  constructor(
    private readonly store: Store,
    private readonly artifacts?: ArtifactSink,
  ) {}

  private db() {
    return trackingDb(this.store);
  }

  async startRun(options: StartRunOptions = {}): Promise<Run> {
    const experiment = options.experiment ?? "default";
    checkName("experiment name", experiment);
    const id = newRunId();
    const name = options.name ?? id;
    checkName("run name", name);
    const gitCommit = options.gitCommit === undefined ? await currentGitCommit() : options.gitCommit;
    const db = await this.db();
    await db
      .insertInto("tracking_runs")
      .values({
        id,
        experiment,
        name,
        status: "running",
        params: JSON.stringify(options.params ?? {}),
        tags: JSON.stringify(options.tags ?? {}),
        dataset: options.dataset ? JSON.stringify(options.dataset) : null,
        git_commit: gitCommit,
        started_at: Date.now(),
        ended_at: null,
        error: null,
        owner: processOwner(),
      })
      .execute();
    return new Run(id, this.store, this.artifacts);
  }

  /** Runs `fn` inside a run that ends `finished`, or `failed` with the error, and rethrows. */
  async withRun<T>(options: StartRunOptions, fn: (run: Run) => Promise<T>): Promise<T> {
    const run = await this.startRun(options);
    try {
      const result = await fn(run);
      await run.end("finished");
      return result;
    } catch (err) {
      await run.end("failed", err).catch(() => {});
      throw err;
    }
  }

  async getRun(id: string): Promise<RunInfo> {
    const db = await this.db();
    const row = await db.selectFrom("tracking_runs").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new NotFoundError(`run "${id}" not found`, { hint: "list runs with `quintet runs ls`" });
    return (await this.hydrate([row]))[0]!;
  }

  async listRuns(filter: { experiment?: string; status?: RunStatus; limit?: number } = {}): Promise<RunInfo[]> {
    const db = await this.db();
    let q = db.selectFrom("tracking_runs").selectAll().orderBy("started_at", "desc").orderBy("id", "desc");
    if (filter.experiment) q = q.where("experiment", "=", filter.experiment);
    const stored = filter.status === "interrupted" ? "running" : filter.status;
    if (stored) q = q.where("status", "=", stored);
    const rows = await q.limit(filter.limit ?? 100).execute();
    const runs = await this.hydrate(rows);
    return filter.status ? runs.filter((r) => r.status === filter.status) : runs;
  }

  /** Every value of one metric in step order, for curves. */
  async metricHistory(runId: string, key: string): Promise<{ step: number; value: number }[]> {
    const db = await this.db();
    return db
      .selectFrom("tracking_metrics")
      .select(["step", "value"])
      .where("run_id", "=", runId)
      .where("key", "=", key)
      .orderBy("step")
      .execute();
  }

  /**
   * Side by side: the union of params and final metrics of the given runs, with a flag on
   * rows whose values differ.
   */
  async compareRuns(ids: readonly string[]): Promise<RunComparison> {
    if (ids.length < 2)
      throw new ValidationError("compare needs at least two run ids", { hint: "pass two or more ids" });
    const runs = await Promise.all(ids.map((id) => this.getRun(id)));
    const rows = (pick: (r: RunInfo) => Record<string, ParamValue | number>) => {
      const keys = [...new Set(runs.flatMap((r) => Object.keys(pick(r))))].sort();
      return keys.map((key) => {
        const values = runs.map((r) => pick(r)[key] ?? null);
        return { key, values, differs: new Set(values.map((v) => JSON.stringify(v))).size > 1 };
      });
    };
    return { runs, params: rows((r) => r.params), metrics: rows((r) => r.metrics) };
  }

  private async hydrate(rows: TrackingTables["tracking_runs"][]): Promise<RunInfo[]> {
    if (rows.length === 0) return [];
    const db = await this.db();
    const ids = rows.map((r) => r.id);
    // The last step of each metric is its reported value.
    const metrics = await db
      .selectFrom("tracking_metrics")
      .select(["run_id", "key", "step", "value"])
      .where("run_id", "in", ids)
      .orderBy("step")
      .execute();
    const artifacts = await db
      .selectFrom("tracking_artifacts")
      .selectAll()
      .where("run_id", "in", ids)
      .orderBy("at")
      .execute();
    return rows.map((r) => {
      const last: Record<string, number> = {};
      for (const m of metrics) if (m.run_id === r.id) last[m.key] = m.value;
      return {
        id: r.id,
        experiment: r.experiment,
        name: r.name,
        status:
          r.status === "running" && r.owner && ownerProcessGone(r.owner) ? "interrupted" : (r.status as RunStatus),
        params: JSON.parse(r.params),
        tags: JSON.parse(r.tags),
        dataset: r.dataset ? JSON.parse(r.dataset) : null,
        gitCommit: r.git_commit,
        startedAt: r.started_at,
        endedAt: r.ended_at,
        error: r.error,
        metrics: last,
        artifacts: artifacts
          .filter((a) => a.run_id === r.id)
          .map((a) => ({ name: a.name, digest: a.digest, mediaType: a.media_type, size: a.size })),
      };
    });
  }
}

export interface RunComparison {
  runs: RunInfo[];
  params: { key: string; values: (ParamValue | number)[]; differs: boolean }[];
  metrics: { key: string; values: (ParamValue | number)[]; differs: boolean }[];
}

/** A live run: log as you go; every call is durable when its promise resolves. */
export class Run {
  private steps = new Map<string, number>();

  constructor(
    readonly id: string,
    private readonly store: Store,
    private readonly artifacts?: ArtifactSink,
  ) {}

  private db() {
    return trackingDb(this.store);
  }

  /** Records a metric value; `step` defaults to one past the last step logged for this key. */
  async logMetric(key: string, value: number, step?: number): Promise<void> {
    if (!Number.isFinite(value))
      throw new ValidationError(`metric "${key}" is ${value}, not a finite number`, {
        hint: "log only finite numbers",
      });
    const s = step ?? (this.steps.get(key) ?? -1) + 1;
    this.steps.set(key, Math.max(s, this.steps.get(key) ?? -1));
    const db = await this.db();
    await db
      .insertInto("tracking_metrics")
      .values({ run_id: this.id, key, step: s, value, at: Date.now() })
      .onConflict((oc) => oc.columns(["run_id", "key", "step"]).doUpdateSet({ value, at: Date.now() }))
      .execute();
  }

  async logMetrics(values: Record<string, number>, step?: number): Promise<void> {
    for (const [k, v] of Object.entries(values)) await this.logMetric(k, v, step);
  }

  /** Merges params into the run's params. */
  async logParams(params: Record<string, ParamValue>): Promise<void> {
    await this.merge("params", params);
  }

  async setTags(tags: Record<string, string>): Promise<void> {
    await this.merge("tags", tags);
  }

  private async merge(column: "params" | "tags", values: Record<string, unknown>): Promise<void> {
    await this.store.tx(async (tx) => {
      const db = tx.withTables<TrackingTables>();
      const row = await db
        .selectFrom("tracking_runs")
        .select(column)
        .where("id", "=", this.id)
        .executeTakeFirstOrThrow();
      const merged = { ...JSON.parse(row[column]), ...values };
      await db
        .updateTable("tracking_runs")
        .set({ [column]: JSON.stringify(merged) })
        .where("id", "=", this.id)
        .execute();
    });
  }

  /** Stores content in the artifact store and links it to the run under `name`. */
  async logArtifact(name: string, content: Uint8Array | string, mediaType = "application/octet-stream") {
    if (!this.artifacts)
      throw new ValidationError("this tracker has no artifact store", {
        hint: "create the Tracker with an ArtifactStore",
      });
    const { digest, size } = await this.artifacts.put(content, { name, mediaType });
    await this.linkArtifact(name, digest, size, mediaType);
    return { digest, size };
  }

  /** Links an artifact that is already stored (e.g. a model bundle) to the run. */
  async linkArtifact(name: string, digest: string, size: number, mediaType: string): Promise<void> {
    const db = await this.db();
    await db
      .insertInto("tracking_artifacts")
      .values({ run_id: this.id, name, digest, media_type: mediaType, size, at: Date.now() })
      .onConflict((oc) => oc.columns(["run_id", "name"]).doUpdateSet({ digest, size, media_type: mediaType }))
      .execute();
  }

  async end(status: Exclude<RunStatus, "running">, error?: unknown): Promise<void> {
    const db = await this.db();
    const message = error === undefined ? null : error instanceof Error ? error.message : String(error);
    await db
      .updateTable("tracking_runs")
      .set({ status, ended_at: Date.now(), error: message })
      .where("id", "=", this.id)
      .execute();
  }
}
