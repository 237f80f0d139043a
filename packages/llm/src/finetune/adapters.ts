import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import {
  ConflictError,
  columnTypes,
  IntegrityError,
  type Migration,
  NotFoundError,
  type Store,
  ValidationError,
} from "@quintet/core";
import { loadNodeLlamaCpp } from "../providers/local/binding.js";
import { assertGgufFile } from "../providers/local/gguf-header.js";

type AdapterTables = {
  llm_adapters: {
    name: string;
    version: string;
    base_model: string;
    path: string;
    bytes: number;
    architecture: string;
    alpha: number | null;
    scale: number;
    description: string | null;
    created_at: number;
  };
};

const migrations: Migration[] = [
  {
    id: "0001_adapters",
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("llm_adapters")
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("base_model", "text", (c) => c.notNull())
        .addColumn("path", "text", (c) => c.notNull())
        .addColumn("bytes", t.bigint, (c) => c.notNull())
        .addColumn("architecture", "text", (c) => c.notNull())
        .addColumn("alpha", t.double)
        .addColumn("scale", t.double, (c) => c.notNull())
        .addColumn("description", "text")
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("llm_adapters_pk", ["name", "version"])
        .execute();
    },
  },
];

/** A registered LoRA adapter version. */
export interface AdapterRecord {
  name: string;
  /** sha256 of the adapter file: identical bytes are the same version. */
  version: string;
  /** What it was trained on: `llama:<absolute path>` for a local GGUF, else the id given (e.g. a Hugging Face repo). */
  baseModel: string;
  /** Absolute path of the adapter GGUF file. */
  path: string;
  bytes: number;
  /** `general.architecture` of the adapter (llama, qwen2, …). */
  architecture: string;
  /** `adapter.lora.alpha` from the file, when present. */
  alpha: number | undefined;
  /** Default strength when serving (1 = as trained). */
  scale: number;
  description: string | undefined;
  createdAt: number;
}

/** A verified adapter, ready for `createLocalLlm(base, { lora: [adapter.lora] })`. */
export interface ResolvedAdapter extends AdapterRecord {
  lora: { path: string; scale: number };
}

export interface RegisterAdapterInput {
  name: string;
  /** The adapter GGUF file (relative paths resolve against `cwd`). */
  path: string;
  /** The base model: `llama:<path.gguf>` (checked tensor by tensor against the adapter) or another model id. */
  baseModel: string;
  scale?: number;
  description?: string;
  /** Folder relative paths resolve against (default the working directory). */
  cwd?: string;
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/i;
const NAMESPACE = "llm-adapters";
/** Tokenizer tables are the bulk of a model's header and irrelevant to adapter checks. */
const SKIP_KEYS = [
  "tokenizer.ggml.tokens",
  "tokenizer.ggml.merges",
  "tokenizer.ggml.token_type",
  "tokenizer.ggml.scores",
];

async function table(store: Store) {
  await store.migrate(NAMESPACE, migrations);
  return store.db.withTables<AdapterTables>();
}

function toRecord(r: AdapterTables["llm_adapters"]): AdapterRecord {
  return {
    name: r.name,
    version: r.version,
    baseModel: r.base_model,
    path: r.path,
    bytes: Number(r.bytes),
    architecture: r.architecture,
    alpha: r.alpha ?? undefined,
    scale: r.scale,
    description: r.description ?? undefined,
    createdAt: Number(r.created_at),
  };
}

/** sha256 of a file, streamed so large adapters do not sit in memory. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

interface GgufHeader {
  metadata: Record<string, any>;
  tensors: Map<string, number[]>;
}

async function readHeader(path: string): Promise<GgufHeader> {
  const { readGgufFileInfo } = await loadNodeLlamaCpp();
  const info = await readGgufFileInfo(path, {
    sourceType: "filesystem",
    readTensorInfo: true,
    logWarnings: false,
    ignoreKeys: SKIP_KEYS,
  });
  return {
    metadata: info.metadata as unknown as Record<string, any>,
    tensors: new Map((info.fullTensorInfo ?? []).map((t) => [t.name, t.dimensions.map(Number)])),
  };
}

/**
 * Checks what llama.cpp checks when it applies an adapter: every `W.lora_a` is [in, rank] and
 * `W.lora_b` is [rank, out] for a base tensor `W` of [in, out]. Done at registration so a
 * mismatched adapter is refused with the tensor named, not at serving time.
 */
function checkAgainstBase(adapterPath: string, adapter: GgufHeader, basePath: string, base: GgufHeader): void {
  const baseArch = base.metadata.general?.architecture;
  const arch = adapter.metadata.general?.architecture;
  if (baseArch !== arch) {
    throw new ValidationError(
      `the adapter ${adapterPath} is for architecture "${arch}", the base model ${basePath} is "${baseArch}"`,
      { hint: "Register the adapter with the base model it was trained on." },
    );
  }
  for (const [name, dims] of adapter.tensors) {
    const m = /^(.*)\.lora_([ab])$/.exec(name);
    if (!m) continue;
    const target = base.tensors.get(m[1]!);
    const ok =
      target !== undefined &&
      target.length === 2 &&
      dims.length === 2 &&
      (m[2] === "a" ? dims[0] === target[0] : dims[1] === target[1]);
    if (!ok) {
      throw new ValidationError(
        `the adapter ${adapterPath} does not fit the base model ${basePath}: ${name} is [${dims.join(", ")}] but ${m[1]} is ${
          target ? `[${target.join(", ")}]` : "missing"
        }`,
        { hint: "Register the adapter with the base model it was trained on (same architecture and sizes)." },
      );
    }
  }
}

function localBasePath(baseModel: string, cwd: string): string | undefined {
  if (baseModel.startsWith("llama:")) return resolve(cwd, baseModel.slice("llama:".length));
  return undefined;
}

/**
 * Registers a LoRA adapter (GGUF) under a name. The version is the file's sha256, so
 * registering the same bytes again returns the existing version (`created: false`, with
 * its path updated if the file moved). The file must be a GGUF LoRA adapter; when the base
 * model is a local GGUF (`llama:<path>`), every adapter tensor is checked against it.
 * The store records where the file is and its hash; {@link resolveAdapter} verifies both.
 *
 * @throws ValidationError for a bad name, a file that is not a LoRA adapter, or a base model it does not fit;
 *   NotFoundError for a missing file; ConflictError when the same bytes are registered for another base model.
 */
export async function registerAdapter(
  store: Store,
  input: RegisterAdapterInput,
): Promise<AdapterRecord & { created: boolean }> {
  if (!NAME_RE.test(input.name ?? "")) {
    throw new ValidationError(`invalid adapter name "${input.name}"`, {
      hint: "Use 1-64 letters, digits, . _ or -, starting with a letter or digit (e.g. support-bot).",
    });
  }
  if (typeof input.baseModel !== "string" || input.baseModel.trim() === "") {
    throw new ValidationError(`adapter ${input.name}: baseModel is required`, {
      hint: "Name the model the adapter was trained on: llama:./models/base.gguf or a model id such as Qwen/Qwen2.5-0.5B-Instruct.",
    });
  }
  const scale = input.scale ?? 1;
  if (!Number.isFinite(scale) || scale < 0) {
    throw new ValidationError(`adapter ${input.name}: scale must be a number >= 0, got ${input.scale}`, {
      hint: "1 applies the adapter as trained; 0 turns it off.",
    });
  }
  const cwd = input.cwd ?? process.cwd();
  const path = resolve(cwd, input.path);
  const { bytes } = await assertGgufFile(path);
  const header = await readHeader(path);
  const general = header.metadata.general ?? {};
  const adapterType = header.metadata.adapter?.type;
  if (general.type !== "adapter" || adapterType !== "lora") {
    throw new ValidationError(
      `${path} is not a LoRA adapter (general.type is ${JSON.stringify(general.type)}, adapter.type is ${JSON.stringify(adapterType)})`,
      {
        hint: "Convert the adapter with llama.cpp's convert_lora_to_gguf.py; a full model is served with llama:<path> instead.",
      },
    );
  }
  const basePath = localBasePath(input.baseModel.trim(), cwd);
  if (basePath) {
    await assertGgufFile(basePath);
    checkAgainstBase(path, header, basePath, await readHeader(basePath));
  }
  const baseModel = basePath ? `llama:${basePath}` : input.baseModel.trim();
  const version = await sha256File(path);
  const alpha = typeof header.metadata.adapter?.lora?.alpha === "number" ? header.metadata.adapter.lora.alpha : null;
  const row: AdapterTables["llm_adapters"] = {
    name: input.name,
    version,
    base_model: baseModel,
    path,
    bytes,
    architecture: String(general.architecture ?? "unknown"),
    alpha,
    scale,
    description: input.description ?? null,
    created_at: Date.now(),
  };
  await table(store);
  return store.tx(async (tx) => {
    const db = tx.withTables<AdapterTables>();
    const existing = await db
      .selectFrom("llm_adapters")
      .selectAll()
      .where("name", "=", input.name)
      .where("version", "=", version)
      .executeTakeFirst();
    if (existing) {
      if (existing.base_model !== baseModel) {
        throw new ConflictError(
          `adapter ${input.name}@${version.slice(0, 12)} is already registered for base model ${existing.base_model}`,
          {
            hint: "The same file cannot belong to two base models; register it under another name if that is intended.",
          },
        );
      }
      // Same bytes: the version stands; only its location is refreshed (the file may have moved).
      await db
        .updateTable("llm_adapters")
        .set({ path })
        .where("name", "=", input.name)
        .where("version", "=", version)
        .execute();
      return { ...toRecord({ ...existing, path }), created: false };
    }
    await db.insertInto("llm_adapters").values(row).execute();
    return { ...toRecord(row), created: true };
  });
}

/** Versions of one adapter (or of all), newest first. */
export async function listAdapters(store: Store, name?: string): Promise<AdapterRecord[]> {
  const db = await table(store);
  let q = db.selectFrom("llm_adapters").selectAll();
  if (name !== undefined) q = q.where("name", "=", name);
  const rows = await q.orderBy("created_at", "desc").orderBy("name").orderBy("version").execute();
  return rows.map(toRecord);
}

/**
 * Finds an adapter by `name` (latest version) or `name@<version>` (a sha256 prefix of at
 * least 6 characters), checks the file is still there and still has the registered hash,
 * and returns it with the `lora` entry for `createLocalLlm`/`createLlm(..., { local })`.
 *
 * @example
 * const adapter = await resolveAdapter(store, "support-bot");
 * const llm = await createLocalLlm("./models/base.gguf", { lora: [adapter.lora] });
 * @throws NotFoundError for an unknown name/version or a missing file; IntegrityError (ARTIFACT_CORRUPT) when the file changed.
 */
export async function resolveAdapter(
  store: Store,
  ref: string,
  options: { scale?: number; verify?: boolean } = {},
): Promise<ResolvedAdapter> {
  const at = ref.lastIndexOf("@");
  const name = at > 0 ? ref.slice(0, at) : ref;
  const version = at > 0 ? ref.slice(at + 1) : undefined;
  if (!NAME_RE.test(name) || (version !== undefined && !/^[0-9a-f]{6,64}$/.test(version))) {
    throw new ValidationError(`invalid adapter reference "${ref}"`, {
      hint: "Use <name> for the latest version or <name>@<version> with at least 6 hex characters of the version.",
    });
  }
  const versions = await listAdapters(store, name);
  if (versions.length === 0) {
    throw new NotFoundError(`no adapter named "${name}"`, {
      hint: "Register it first with registerAdapter(store, { name, path, baseModel }).",
    });
  }
  const matches = version === undefined ? versions.slice(0, 1) : versions.filter((v) => v.version.startsWith(version));
  if (matches.length === 0) {
    throw new NotFoundError(`adapter "${name}" has no version ${version}`, {
      hint: `Known versions: ${versions.map((v) => v.version.slice(0, 12)).join(", ")}.`,
    });
  }
  if (matches.length > 1) {
    throw new ValidationError(`version prefix "${version}" of adapter "${name}" is ambiguous`, {
      hint: "Give more characters of the version hash.",
    });
  }
  const record = matches[0]!;
  const size = await stat(record.path).then(
    (s) => s.size,
    () => undefined,
  );
  if (size === undefined) {
    throw new NotFoundError(
      `adapter ${name}@${record.version.slice(0, 12)} is registered at ${record.path}, which is gone`,
      {
        hint: "Put the file back, or register it again from where it is now (the same bytes keep the same version).",
      },
    );
  }
  if (options.verify !== false && (size !== record.bytes || (await sha256File(record.path)) !== record.version)) {
    throw new IntegrityError(
      `adapter ${name}@${record.version.slice(0, 12)} at ${record.path} no longer matches its registered hash`,
      { hint: "The file was changed after registration; restore it, or register the new file as a new version." },
    );
  }
  const scale = options.scale ?? record.scale;
  if (!Number.isFinite(scale) || scale < 0) {
    throw new ValidationError(`scale must be a number >= 0, got ${options.scale}`, {
      hint: "1 applies it as trained.",
    });
  }
  return { ...record, lora: { path: record.path, scale } };
}
