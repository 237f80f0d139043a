import { CancelledError, QuintetError, TimeoutError, ValidationError } from "@quintet/core";
import OpenAI, { APIError, toFile } from "openai";
import { type ChatExample, toJsonl } from "./dataset.js";
import { validateDataset } from "./validate.js";

export type FineTuneStatus = "validating_files" | "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface FineTuneJob {
  id: string;
  status: FineTuneStatus;
  model: string;
  /** The fine-tuned model name once the job succeeded. */
  fineTunedModel: string | null;
  trainingFile: string;
  validationFile: string | null;
  createdAt: number;
  finishedAt: number | null;
  trainedTokens: number | null;
  error: { code: string; message: string; param: string | null } | null;
}

export interface FineTuneEvent {
  id: string;
  createdAt: number;
  level: "info" | "warn" | "error";
  message: string;
  type?: string;
  data?: unknown;
}

export interface FineTuneClientOptions {
  /** Default: OPENAI_API_KEY. */
  apiKey?: string;
  /** OpenAI-compatible base URL, e.g. `http://127.0.0.1:8080/v1`. Default: OPENAI_BASE_URL or api.openai.com. */
  baseURL?: string;
  /** SDK retries on 429/5xx/connection errors (default 2). */
  maxRetries?: number;
  /** Per-request timeout (default 60 s). */
  timeoutMs?: number;
  /** Where OPENAI_API_KEY / OPENAI_BASE_URL are read from (default `process.env`). */
  env?: Record<string, string | undefined>;
}

const TERMINAL: ReadonlySet<FineTuneStatus> = new Set(["succeeded", "failed", "cancelled"]);

function toJob(j: OpenAI.FineTuning.Jobs.FineTuningJob): FineTuneJob {
  return {
    id: j.id,
    status: j.status,
    model: j.model,
    fineTunedModel: j.fine_tuned_model,
    trainingFile: j.training_file,
    validationFile: j.validation_file,
    createdAt: j.created_at,
    finishedAt: j.finished_at,
    trainedTokens: j.trained_tokens,
    error: j.error ? { code: j.error.code, message: j.error.message, param: j.error.param } : null,
  };
}

function toEvent(e: OpenAI.FineTuning.Jobs.FineTuningJobEvent): FineTuneEvent {
  return {
    id: e.id,
    createdAt: e.created_at,
    level: e.level,
    message: e.message,
    ...(e.type ? { type: e.type } : {}),
    ...(e.data !== undefined ? { data: e.data } : {}),
  };
}

/** Events past which {@link FineTuneClient.waitForJob} stops paging back in one poll. */
const MAX_EVENTS_PER_POLL = 10_000;

function wrap(action: string, err: unknown): QuintetError {
  if (err instanceof QuintetError) return err;
  if (err instanceof APIError) {
    const status = err.status;
    const code =
      status === 401
        ? "UNAUTHORIZED"
        : status === 404
          ? "NOT_FOUND"
          : status === 429
            ? "RATE_LIMITED"
            : status === 400
              ? "VALIDATION_FAILED"
              : "PROVIDER_ERROR";
    return new QuintetError(code, `${action} failed${status ? ` (HTTP ${status})` : ""}: ${err.message}`, {
      hint:
        status === 401
          ? "Set OPENAI_API_KEY (or pass apiKey) to a key allowed to fine-tune."
          : status === 429
            ? "The provider is rate limiting; wait and retry, or lower the polling rate."
            : "Check the request against the provider's fine-tuning API and its error message.",
      cause: err,
    });
  }
  if ((err as Error)?.name === "AbortError" || (err as Error)?.name === "APIUserAbortError") {
    return new QuintetError("CANCELLED", `${action} was cancelled`, { cause: err });
  }
  return new QuintetError("PROVIDER_ERROR", `${action} failed: ${(err as Error)?.message ?? String(err)}`, {
    hint: "Check the base URL is reachable and speaks the OpenAI fine-tuning API.",
    cause: err,
  });
}

/**
 * Submits and follows fine-tuning jobs on OpenAI-compatible APIs through the official `openai`
 * SDK (upload file, create job, poll status and events with backoff, cancel).
 */
export class FineTuneClient {
  private readonly client: OpenAI;

  constructor(options: FineTuneClientOptions = {}) {
    const env = options.env ?? process.env;
    const apiKey = options.apiKey ?? env.OPENAI_API_KEY;
    if (!apiKey) {
      throw new QuintetError(
        "PROVIDER_NOT_CONFIGURED",
        "no API key for the fine-tuning API (OPENAI_API_KEY is not set)",
        {
          hint: "Set OPENAI_API_KEY (and OPENAI_BASE_URL for another OpenAI-compatible provider), or pass { apiKey, baseURL }.",
        },
      );
    }
    const baseURL = options.baseURL ?? env.OPENAI_BASE_URL;
    this.client = new OpenAI({
      apiKey,
      ...(baseURL ? { baseURL } : {}),
      maxRetries: options.maxRetries ?? 2,
      timeout: options.timeoutMs ?? 60_000,
    });
  }

  /** Uploads a JSONL training/validation file (`purpose: fine-tune`); returns the file id. */
  async uploadFile(content: string | Uint8Array, filename = "train.jsonl", signal?: AbortSignal): Promise<string> {
    try {
      const file = await this.client.files.create(
        {
          file: await toFile(typeof content === "string" ? Buffer.from(content, "utf8") : content, filename),
          purpose: "fine-tune",
        },
        signal ? { signal } : {},
      );
      return file.id;
    } catch (err) {
      throw wrap(`uploading ${filename}`, err);
    }
  }

  async createJob(params: {
    model: string;
    trainingFile: string;
    validationFile?: string;
    suffix?: string;
    seed?: number;
    hyperparameters?: {
      nEpochs?: number | "auto";
      batchSize?: number | "auto";
      learningRateMultiplier?: number | "auto";
    };
    signal?: AbortSignal;
  }): Promise<FineTuneJob> {
    if (params.suffix !== undefined && !/^[a-zA-Z0-9_-]{1,64}$/.test(params.suffix)) {
      throw new ValidationError(`invalid fine-tune suffix "${params.suffix}"`, {
        hint: "Use up to 64 letters, digits, - and _.",
      });
    }
    const hp = params.hyperparameters;
    try {
      const job = await this.client.fineTuning.jobs.create(
        {
          model: params.model,
          training_file: params.trainingFile,
          ...(params.validationFile ? { validation_file: params.validationFile } : {}),
          ...(params.suffix ? { suffix: params.suffix } : {}),
          ...(params.seed !== undefined ? { seed: params.seed } : {}),
          ...(hp
            ? {
                method: {
                  type: "supervised" as const,
                  supervised: {
                    hyperparameters: {
                      ...(hp.nEpochs !== undefined ? { n_epochs: hp.nEpochs } : {}),
                      ...(hp.batchSize !== undefined ? { batch_size: hp.batchSize } : {}),
                      ...(hp.learningRateMultiplier !== undefined
                        ? { learning_rate_multiplier: hp.learningRateMultiplier }
                        : {}),
                    },
                  },
                },
              }
            : {}),
        },
        params.signal ? { signal: params.signal } : {},
      );
      return toJob(job);
    } catch (err) {
      throw wrap(`creating a fine-tuning job on ${params.model}`, err);
    }
  }

  async getJob(id: string, signal?: AbortSignal): Promise<FineTuneJob> {
    try {
      return toJob(await this.client.fineTuning.jobs.retrieve(id, signal ? { signal } : {}));
    } catch (err) {
      throw wrap(`reading fine-tuning job ${id}`, err);
    }
  }

  /** Recent jobs, newest first (one page of at most `limit`). */
  async listJobs(options: { limit?: number; signal?: AbortSignal } = {}): Promise<FineTuneJob[]> {
    try {
      const page = await this.client.fineTuning.jobs.list(
        { limit: options.limit ?? 20 },
        options.signal ? { signal: options.signal } : {},
      );
      return page.data.map(toJob);
    } catch (err) {
      throw wrap("listing fine-tuning jobs", err);
    }
  }

  /** The most recent events (the API lists newest first), returned oldest first. */
  async listEvents(id: string, options: { limit?: number; signal?: AbortSignal } = {}): Promise<FineTuneEvent[]> {
    try {
      const page = await this.client.fineTuning.jobs.listEvents(
        id,
        { limit: options.limit ?? 50 },
        options.signal ? { signal: options.signal } : {},
      );
      return page.data.map(toEvent).reverse();
    } catch (err) {
      throw wrap(`listing events of fine-tuning job ${id}`, err);
    }
  }

  async cancel(id: string, signal?: AbortSignal): Promise<FineTuneJob> {
    try {
      return toJob(await this.client.fineTuning.jobs.cancel(id, signal ? { signal } : {}));
    } catch (err) {
      throw wrap(`cancelling fine-tuning job ${id}`, err);
    }
  }

  /**
   * Events newer than the ones in `seen`, oldest first. The API lists newest first in pages,
   * so this pages back until it meets an event already seen: a burst of events between two
   * polls (hundreds of training steps) is reported whole, not just its last page.
   */
  private async unseenEvents(id: string, seen: ReadonlySet<string>, signal?: AbortSignal): Promise<FineTuneEvent[]> {
    const fresh: FineTuneEvent[] = [];
    try {
      const pages = this.client.fineTuning.jobs.listEvents(id, { limit: 100 }, signal ? { signal } : {});
      for await (const e of pages) {
        if (seen.has(e.id) || fresh.length >= MAX_EVENTS_PER_POLL) break;
        fresh.push(toEvent(e));
      }
    } catch (err) {
      throw wrap(`listing events of fine-tuning job ${id}`, err);
    }
    return fresh.reverse();
  }

  /**
   * Polls a job until it reaches a terminal status, reporting each new event once and in
   * order. The poll
   * interval starts at `initialIntervalMs`, grows ×1.5 while nothing changes up to
   * `maxIntervalMs`, and snaps back when a new event arrives.
   */
  async waitForJob(
    id: string,
    options: {
      onEvent?: (event: FineTuneEvent) => void;
      onStatus?: (job: FineTuneJob) => void;
      initialIntervalMs?: number;
      maxIntervalMs?: number;
      timeoutMs?: number;
      signal?: AbortSignal;
    } = {},
  ): Promise<FineTuneJob> {
    const initial = options.initialIntervalMs ?? 2000;
    const max = options.maxIntervalMs ?? 60_000;
    const deadline = options.timeoutMs !== undefined ? Date.now() + options.timeoutMs : Number.POSITIVE_INFINITY;
    const seen = new Set<string>();
    let interval = initial;
    let lastStatus: FineTuneStatus | undefined;
    const stopped = () => new CancelledError(`stopped following fine-tuning job ${id}; it keeps running`);
    for (;;) {
      if (options.signal?.aborted) throw stopped();
      const job = await this.getJob(id, options.signal);
      const events = await this.unseenEvents(id, seen, options.signal);
      for (const e of events) {
        seen.add(e.id);
        options.onEvent?.(e);
      }
      const fresh = events.length;
      if (job.status !== lastStatus) {
        lastStatus = job.status;
        options.onStatus?.(job);
      }
      if (TERMINAL.has(job.status)) return job;
      interval = fresh > 0 ? initial : Math.min(max, Math.round(interval * 1.5));
      if (Date.now() + interval > deadline) {
        throw new TimeoutError(`fine-tuning job ${id} is still ${job.status} after ${options.timeoutMs} ms`, {
          hint: "The job keeps running on the provider; follow it later with `quintet finetune status <id>`.",
        });
      }
      await new Promise<void>((resolve, reject) => {
        const signal = options.signal;
        const onAbort = () => {
          clearTimeout(t);
          reject(stopped());
        };
        const t = setTimeout(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        }, interval);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  /**
   * Validates, uploads and submits a dataset in one step. Refuses a dataset with errors
   * (nothing is uploaded), so a bad file never costs a job.
   */
  async submit(params: {
    model: string;
    train: readonly ChatExample[];
    validation?: readonly ChatExample[];
    suffix?: string;
    seed?: number;
    contextLimit?: number;
    hyperparameters?: {
      nEpochs?: number | "auto";
      batchSize?: number | "auto";
      learningRateMultiplier?: number | "auto";
    };
    signal?: AbortSignal;
  }): Promise<FineTuneJob> {
    const report = validateDataset(params.train, {
      model: params.model,
      ...(params.contextLimit ? { contextLimit: params.contextLimit } : {}),
    });
    if (!report.ok) {
      const errors = report.problems.filter((p) => p.severity === "error");
      throw new ValidationError(
        `training set has ${errors.length} error(s): ${errors
          .slice(0, 3)
          .map((e) => `line ${e.line}: ${e.message}`)
          .join("; ")}`,
        {
          hint: "Run validateDataset() (or `quintet finetune prepare`) and fix the listed lines.",
          details: { problems: errors },
        },
      );
    }
    const trainingFile = await this.uploadFile(toJsonl(params.train), "train.jsonl", params.signal);
    const validationFile = params.validation?.length
      ? await this.uploadFile(toJsonl(params.validation), "validation.jsonl", params.signal)
      : undefined;
    return this.createJob({
      model: params.model,
      trainingFile,
      ...(validationFile ? { validationFile } : {}),
      ...(params.suffix ? { suffix: params.suffix } : {}),
      ...(params.seed !== undefined ? { seed: params.seed } : {}),
      ...(params.hyperparameters ? { hyperparameters: params.hyperparameters } : {}),
      ...(params.signal ? { signal: params.signal } : {}),
    });
  }
}
