import type { FineTuneScript } from "./replies.js";
import { newId } from "./sse.js";

export interface StoredFile {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: "processed";
  content: string;
}

interface FtEvent {
  object: "fine_tuning.job.event";
  id: string;
  created_at: number;
  level: "info" | "warn" | "error";
  message: string;
  type: "message" | "metrics";
  data: Record<string, unknown>;
}

interface Job {
  id: string;
  /** Training steps the job reports as metrics events while running. */
  steps: number;
  stepsDone: number;
  model: string;
  suffix: string | null;
  trainingFile: string;
  validationFile: string | null;
  createdAt: number;
  finishedAt: number | null;
  status: "validating_files" | "queued" | "running" | "succeeded" | "failed" | "cancelled";
  pollsInStage: number;
  pollsPerStage: number;
  outcome: "succeeded" | "failed";
  error: { code: string; message: string; param: string | null } | null;
  trainedTokens: number | null;
  seed: number;
  hyperparameters: Record<string, unknown>;
  events: FtEvent[];
  examples: number;
}

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

const now = () => Math.floor(Date.now() / 1000);

/** Purposes the Files API accepts. */
const FILE_PURPOSES = new Set(["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]);

/** What the real API settles `"auto"` hyperparameters to once the job is validated. */
const AUTO_HYPERPARAMETERS: Record<string, number> = { n_epochs: 3, batch_size: 1, learning_rate_multiplier: 1.8 };

/** Checks a chat-format JSONL training file the way the real API does before training. */
function checkTrainingFile(content: string): { examples: number; tokens: number } | { error: string } {
  const lines = content.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) return { error: "The training file is empty." };
  let tokens = 0;
  for (const [i, line] of lines.entries()) {
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      return { error: `Line ${i + 1} is not valid JSON.` };
    }
    const messages = (row as { messages?: unknown }).messages;
    if (!Array.isArray(messages) || messages.length === 0) {
      return { error: `Line ${i + 1} has no "messages" array.` };
    }
    for (const m of messages as { role?: unknown; content?: unknown }[]) {
      if (typeof m?.role !== "string") return { error: `Line ${i + 1} has a message without a role.` };
      tokens += String(m.content ?? "").split(/\s+/).length;
    }
  }
  return { examples: lines.length, tokens };
}

/** Files and fine-tuning jobs, advancing one stage per poll so clients see a real lifecycle. */
export class FineTuningState {
  readonly files = new Map<string, StoredFile>();
  private readonly jobs = new Map<string, Job>();
  private readonly scripts: FineTuneScript[] = [];

  /** @param baseModels models a job may fine-tune (the served model list); fine-tuned models may be tuned again. */
  constructor(private readonly baseModels: () => readonly string[]) {}

  script(s: FineTuneScript | FineTuneScript[]): void {
    this.scripts.push(...(Array.isArray(s) ? s : [s]));
  }

  reset(): void {
    this.files.clear();
    this.jobs.clear();
    this.scripts.length = 0;
  }

  addFile(filename: string, purpose: string, content: string): StoredFile {
    if (!FILE_PURPOSES.has(purpose)) {
      throw new HttpProblem(
        400,
        `'${purpose}' is not one of ${[...FILE_PURPOSES].map((p) => `'${p}'`).join(", ")} - 'purpose'`,
        "purpose",
      );
    }
    if (purpose === "fine-tune" && !filename.endsWith(".jsonl")) {
      throw new HttpProblem(400, "Invalid file format for Fine-Tuning API. Must be .jsonl", "file");
    }
    const file: StoredFile = {
      id: newId("file-"),
      object: "file",
      bytes: Buffer.byteLength(content),
      created_at: now(),
      filename,
      purpose,
      status: "processed",
      content,
    };
    this.files.set(file.id, file);
    return file;
  }

  fileJson(id: string): Omit<StoredFile, "content"> {
    const f = this.files.get(id);
    if (!f) throw new HttpProblem(404, `No such File object: ${id}`, "id");
    const { content: _content, ...rest } = f;
    return rest;
  }

  createJob(body: Record<string, unknown>): Record<string, unknown> {
    const model = body.model;
    if (typeof model !== "string" || !model)
      throw new HttpProblem(400, "Missing required parameter: 'model'.", "model");
    const trainingFile = body.training_file;
    if (typeof trainingFile !== "string") {
      throw new HttpProblem(400, "Missing required parameter: 'training_file'.", "training_file");
    }
    if (!this.baseModels().includes(model) && !this.fineTunedModels().includes(model)) {
      throw new HttpProblem(
        400,
        `Model ${model} is not available for fine-tuning or does not exist.`,
        "model",
        "model_not_available",
      );
    }
    const file = this.files.get(trainingFile);
    if (!file) throw new HttpProblem(400, `invalid training_file: ${trainingFile}`, "training_file");
    const validationFile = typeof body.validation_file === "string" ? body.validation_file : null;
    if (validationFile && !this.files.has(validationFile)) {
      throw new HttpProblem(400, `invalid validation_file: ${validationFile}`, "validation_file");
    }
    for (const [param, id] of [
      ["training_file", trainingFile],
      ["validation_file", validationFile],
    ] as const) {
      const purpose = id ? this.files.get(id)?.purpose : undefined;
      if (purpose !== undefined && purpose !== "fine-tune") {
        throw new HttpProblem(
          400,
          `File ${id} has purpose '${purpose}'; files for fine-tuning must be uploaded with purpose 'fine-tune'.`,
          param,
          "invalid_file_purpose",
        );
      }
    }
    if (body.suffix !== undefined && (typeof body.suffix !== "string" || body.suffix.length > 64)) {
      throw new HttpProblem(400, "suffix must be a string of at most 64 characters.", "suffix");
    }
    const script = this.scripts.shift() ?? {};
    const check = checkTrainingFile(file.content);
    const method = body.method as { supervised?: { hyperparameters?: Record<string, unknown> } } | undefined;
    const job: Job = {
      id: newId("ftjob-"),
      steps: script.steps ?? 1,
      stepsDone: 0,
      model,
      suffix: typeof body.suffix === "string" ? body.suffix : null,
      trainingFile,
      validationFile,
      createdAt: now(),
      finishedAt: null,
      status: "validating_files",
      pollsInStage: 0,
      pollsPerStage: script.pollsPerStage ?? 1,
      outcome: "error" in check ? "failed" : (script.outcome ?? "succeeded"),
      error:
        "error" in check
          ? { code: "invalid_training_file", message: check.error, param: "training_file" }
          : script.outcome === "failed"
            ? { code: "training_failed", message: "The job failed.", param: null, ...script.error }
            : null,
      trainedTokens: "error" in check ? null : check.tokens,
      seed: typeof body.seed === "number" ? body.seed : 42,
      hyperparameters: {
        n_epochs: "auto",
        batch_size: "auto",
        learning_rate_multiplier: "auto",
        ...method?.supervised?.hyperparameters,
      },
      events: [],
      examples: "error" in check ? 0 : check.examples,
    };
    this.event(job, "info", `Created fine-tuning job: ${job.id}`);
    this.event(job, "info", `Validating training file: ${trainingFile}`);
    this.jobs.set(job.id, job);
    return this.jobJson(job);
  }

  private event(job: Job, level: FtEvent["level"], message: string, data: Record<string, unknown> = {}): void {
    job.events.push({
      object: "fine_tuning.job.event",
      id: newId("ftevent-"),
      created_at: now(),
      level,
      message,
      type: Object.keys(data).length ? "metrics" : "message",
      data,
    });
  }

  private get(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new HttpProblem(404, `Could not find fine-tuning job ${id}.`, "fine_tuning_job_id");
    return job;
  }

  /** One poll: moves the job on by a stage once it has been seen `pollsPerStage` times in it. */
  poll(id: string): Record<string, unknown> {
    const job = this.get(id);
    this.advance(job);
    return this.jobJson(job);
  }

  private advance(job: Job): void {
    if (["succeeded", "failed", "cancelled"].includes(job.status)) return;
    job.pollsInStage++;
    if (job.status === "running") {
      // Metrics arrive spread over the polls of the running stage, as a real job logs steps.
      const due = Math.min(job.steps, Math.ceil((job.steps * job.pollsInStage) / job.pollsPerStage));
      while (job.stepsDone < due) this.stepEvent(job, ++job.stepsDone);
    }
    if (job.pollsInStage < job.pollsPerStage && job.status !== "validating_files") return;
    job.pollsInStage = 0;
    if (job.status === "validating_files") {
      if (job.error?.code === "invalid_training_file") {
        this.finish(job, "failed");
        return;
      }
      for (const [k, v] of Object.entries(AUTO_HYPERPARAMETERS)) {
        if (job.hyperparameters[k] === "auto" || job.hyperparameters[k] === undefined) job.hyperparameters[k] = v;
      }
      if (job.trainedTokens !== null) job.trainedTokens *= Number(job.hyperparameters.n_epochs);
      job.status = "queued";
      this.event(job, "info", "Files validated, moving job to queued state");
    } else if (job.status === "queued") {
      job.status = "running";
      this.event(job, "info", "Fine-tuning job started");
    } else if (job.status === "running") {
      this.finish(job, job.outcome);
    }
  }

  /** A metrics event like the real API's: loss falling smoothly over the steps. */
  private stepEvent(job: Job, step: number): void {
    const loss = Math.round((0.1 + 2 * Math.exp((-3 * step) / job.steps)) * 1e4) / 1e4;
    this.event(job, "info", `Step ${step}/${job.steps}: training loss=${loss}`, {
      step,
      total_steps: job.steps,
      train_loss: loss,
      train_mean_token_accuracy: Math.round((1 - loss / 2.2) * 1e4) / 1e4,
    });
  }

  private finish(job: Job, status: "succeeded" | "failed"): void {
    job.status = status;
    job.finishedAt = now();
    if (status === "succeeded") {
      this.event(job, "info", `New fine-tuned model created: ${this.fineTunedModel(job)}`);
      this.event(job, "info", "The job has successfully completed");
    } else {
      this.event(job, "error", job.error?.message ?? "The job failed.");
    }
  }

  cancel(id: string): Record<string, unknown> {
    const job = this.get(id);
    if (["succeeded", "failed", "cancelled"].includes(job.status)) {
      throw new HttpProblem(400, `Job ${id} has already completed: ${job.status}.`, null, "invalid_cancel");
    }
    job.status = "cancelled";
    job.finishedAt = now();
    this.event(job, "info", "Fine-tuning job cancelled");
    return this.jobJson(job);
  }

  /** Events newest first, as the API lists them, with `limit` and `after` paging. */
  events(id: string, limit: number, after: string | null): Record<string, unknown> {
    const job = this.get(id);
    const newestFirst = [...job.events].reverse();
    const start = after ? newestFirst.findIndex((e) => e.id === after) + 1 : 0;
    const page = newestFirst.slice(start, start + limit);
    return { object: "list", data: page, has_more: start + limit < newestFirst.length };
  }

  /** Jobs newest first, with `limit` and `after` paging. */
  list(limit: number, after: string | null): Record<string, unknown> {
    const newestFirst = [...this.jobs.values()].reverse();
    const start = after ? newestFirst.findIndex((j) => j.id === after) + 1 : 0;
    const page = newestFirst.slice(start, start + limit);
    return { object: "list", data: page.map((j) => this.jobJson(j)), has_more: start + limit < newestFirst.length };
  }

  /** Models the succeeded jobs produced, for GET /models. */
  fineTunedModels(): string[] {
    return [...this.jobs.values()].filter((j) => j.status === "succeeded").map((j) => this.fineTunedModel(j));
  }

  private fineTunedModel(job: Job): string {
    return `ft:${job.model}:quintet-fake${job.suffix ? `:${job.suffix}` : ""}:${job.id.slice(6, 14)}`;
  }

  private jobJson(job: Job): Record<string, unknown> {
    return {
      object: "fine_tuning.job",
      id: job.id,
      model: job.model,
      created_at: job.createdAt,
      finished_at: job.finishedAt,
      fine_tuned_model: job.status === "succeeded" ? this.fineTunedModel(job) : null,
      organization_id: "org-quintet-fake",
      result_files: [],
      status: job.status,
      validation_file: job.validationFile,
      training_file: job.trainingFile,
      hyperparameters: job.hyperparameters,
      method: { type: "supervised", supervised: { hyperparameters: job.hyperparameters } },
      trained_tokens: job.status === "succeeded" ? job.trainedTokens : null,
      error: job.status === "failed" ? job.error : null,
      user_provided_suffix: job.suffix,
      seed: job.seed,
      estimated_finish: null,
      integrations: [],
      metadata: null,
    };
  }
}
